// A model whose `router` differs from the one its last `up` applied: the update switches routers.
// It is one update: the new router's objects are registered by the program, and the engine
// deletes the old router's objects, which the program no longer registers, only after the program
// has ended, so once every new object exists (see docs/gateway-api.md#switching-routers). This
// file names what a switch creates and removes, for the preview, the commands and the program to
// say so. Pure.
import { versionServiceName } from "../../components/routers/gateway-api-names";
import type { RouterKind } from "../../components/routers/kinds";
import type { RoutingObjectName } from "../../components/routers/router";
import { routingObjectNames } from "../../components/routers/object-names";
import { deploymentName } from "../../components/routing";
import type { ResolvedModelCanaryArgs } from "../../components/validation";
import { modelOutputsOf } from "./models";

/** Under a command, the switches it found, handed to the program (JSON), which would otherwise read the outputs again. */
export const routerSwitchesEnvVar = "MODEL_CANARY_ROUTER_SWITCHES";

export interface RouterSwitch {
    model: string;
    from: RouterKind;
    to: RouterKind;
    /** The new router's objects, created first, the route last. */
    created: RoutingObjectName[];
    /** The old router's objects, deleted once the new ones exist. */
    removed: RoutingObjectName[];
}

/** The router a model's last `up` applied, from its outputs (they name `router` for any router but `istio`); undefined when it was never deployed. */
export function appliedRouter(modelOutputs: Record<string, unknown>): RouterKind | undefined {
    if (modelOutputs.split === undefined) return undefined;
    return modelOutputs.router === "gateway-api" ? "gateway-api" : "istio";
}

/** The old router's objects as the outputs of the model's last `up` name them. */
export function appliedObjects(modelOutputs: Record<string, unknown>, from: RouterKind, namespace: string): RoutingObjectName[] {
    if (Array.isArray(modelOutputs.routingObjects)) return modelOutputs.routingObjects as RoutingObjectName[];
    if (from !== "istio") return [];
    const named = (kind: string, name: unknown) => (typeof name === "string" ? [{ apiVersion: "networking.istio.io/v1", kind, namespace, name }] : []);
    return [...named("DestinationRule", modelOutputs.destinationRuleName), ...named("VirtualService", modelOutputs.virtualServiceName)];
}

/** The models whose `router` differs from the one their last `up` applied; models not deployed yet are new, not switched. */
export function routerSwitches(models: { name: string; resolved: ResolvedModelCanaryArgs }[], outputs: Record<string, unknown>): RouterSwitch[] {
    return models.flatMap((m) => {
        const applied = modelOutputsOf(outputs, m.name);
        const from = appliedRouter(applied);
        if (from === undefined || from === m.resolved.router) return [];
        return [{ model: m.name, from, to: m.resolved.router, created: routingObjectNames[m.resolved.router](m.resolved), removed: appliedObjects(applied, from, m.resolved.namespace) }];
    });
}

/** `the Service default/model-service-v1`, `the HTTPRoute default/model-service`, joined with commas and "and". */
export function describeObjects(objects: RoutingObjectName[], quote: (text: string) => string = (t) => `\`${t}\``): string {
    const each = objects.map((o) => `the ${o.kind} ${quote(`${o.namespace}/${o.name}`)}`);
    return each.length <= 1 ? each.join("") : `${each.slice(0, -1).join(", ")} and ${each.at(-1)}`;
}

/** What the update does, in one sentence: the preview, `up` and a plain `pulumi up` say it. */
export function describeRouterSwitch(s: RouterSwitch, quote: (text: string) => string = (t) => `\`${t}\``): string {
    return `model ${quote(s.model)} switches router from ${quote(s.from)} to ${quote(s.to)}: this update creates ${describeObjects(s.created, quote)} first, `
        + `and deletes ${describeObjects(s.removed, quote)} only after they exist, so the host always has a route (while both exist, Istio follows the ${routeKind(s)})`;
}

/** The Gateway API route of a switch (HTTPRoute or GRPCRoute), which Istio follows over a VirtualService for the same host. */
export function routeKind(s: RouterSwitch): string {
    return [...s.created, ...s.removed].find((o) => o.kind.endsWith("Route"))?.kind ?? "HTTPRoute";
}

/** An object a model's config makes on the cluster, with the key (below the model's entry) that names it. */
export interface Made extends RoutingObjectName {
    model: string;
    path: string[];
    key: string;
}

/** The key that names each of a model's routing objects: the route and Services by `serviceName`, a version's by its `stable.version`/`canary.version`, the Istio router's by their name keys. */
function keyOf(r: ResolvedModelCanaryArgs, o: RoutingObjectName): string {
    if (o.kind === "VirtualService") return "virtualServiceName";
    if (o.kind === "DestinationRule" && r.router === "istio") return "destinationRuleName";
    if (o.kind === "HTTPRoute" || o.kind === "GRPCRoute") return "serviceName";
    // A version's Service, and its DestinationRule, which is named the same.
    if (o.name === versionServiceName(r.serviceName, r.stable.version)) return "stable.version";
    return r.canary && o.name === versionServiceName(r.serviceName, r.canary.version) ? "canary.version" : "serviceName";
}

/**
 * Every object the models' config makes: each router's routing objects and the model's Service
 * (what a switch's deletion could meet), and each version's Deployment (what a removed model's
 * deletion could meet too).
 */
export function madeObjects(models: { name: string; path: string[]; resolved: ResolvedModelCanaryArgs }[]): Made[] {
    return models.flatMap((m) => {
        const r = m.resolved;
        const versions = [["stable", r.stable.version], ...(r.canary ? [["canary", r.canary.version]] : [])];
        return [
            ...[
                { apiVersion: "v1", kind: "Service", namespace: r.namespace, name: r.serviceName },
                ...routingObjectNames[r.router](r),
            ].map((o) => ({ ...o, model: m.name, path: m.path, key: keyOf(r, o) })),
            ...versions.map(([role, v]) => ({ apiVersion: "apps/v1", kind: "Deployment", namespace: r.namespace, name: deploymentName(r.app, v), model: m.name, path: m.path, key: `${role}.version` })),
        ];
    });
}

/**
 * Problems where a router switch would delete what this update makes: an object of the old router
 * (which the engine deletes once the new objects exist) with the kind, namespace and name of one
 * that a model's config makes now, the switching model's own new router (`destinationRuleName`
 * equal to a version Service's DestinationRule `<serviceName>-<version>`) or another model's. The
 * update would apply the new object over the old one and then delete it. Each names the switch,
 * the object, the model and key making it, and what to change. Pure.
 */
export function routerSwitchCollisions(switches: RouterSwitch[], models: { name: string; path: string[]; resolved: ResolvedModelCanaryArgs }[]): string[] {
    const made = madeObjects(models);
    return switches.flatMap((s) => s.removed.flatMap((old) => makersOf(old, made).map((m) => {
        const key = madeKey(m);
        const maker = m.model === s.model ? `model \`${m.model}\`'s new router makes it too (${key})` : `model \`${m.model}\` makes it too (${key})`;
        // A name key can simply name another object; a version's DestinationRule comes with `trafficPolicy`, which can follow the switch.
        const fix = m.key === "destinationRuleName" || m.key === "virtualServiceName" ? `set ${key} to another name`
            : m.kind === "DestinationRule" ? `switch in two updates: first without \`${[...m.path, "trafficPolicy"].join(".")}\` (no version DestinationRules), then set it again`
                : `change ${key}, or make that object in an update after the switch`;
        return deletedAfterApplied(`model \`${s.model}\` switches router from \`${s.from}\` to \`${s.to}\`, which deletes the old router's`, old, maker, fix);
    })));
}

/**
 * What the update makes with the kind, namespace and name of `old`, an object it deletes at its
 * end (a switched router's, a removed model's): each such object is applied over the old one and
 * then deleted with it.
 */
export function makersOf(old: RoutingObjectName, made: Made[]): Made[] {
    return made.filter((m) => m.kind === old.kind && m.namespace === old.namespace && m.name === old.name);
}

/** The key naming a made object, below its model's entry, as a message shows it: `` `models.fraud.serviceName` ``. */
export function madeKey(m: Made): string {
    return `\`${[...m.path, m.key].join(".")}\``;
}

/** The refusal of an update that would delete `old` after applying it: `deletes` says who deletes it, `maker` who makes it, `fix` what to do. */
export function deletedAfterApplied(deletes: string, old: RoutingObjectName, maker: string, fix: string): string {
    return `${deletes} ${old.kind} \`${old.namespace}/${old.name}\`, but ${maker}: the update would apply it over the old one and then delete it. Nothing was applied: ${fix}`;
}

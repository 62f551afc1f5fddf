// A model whose `router` differs from the one its last `up` applied: the update switches routers.
// It is one update: the new router's objects are registered by the program, and the engine
// deletes the old router's objects, which the program no longer registers, only after the program
// has ended, so once every new object exists (see docs/gateway-api.md#switching-routers). This
// file names what a switch creates and removes, for the preview, the commands and the program to
// say so. Pure.
import type { RouterKind } from "../../components/routers/kinds";
import type { RoutingObjectName } from "../../components/routers/router";
import { routingObjectNames } from "../../components/routers/object-names";
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
function appliedObjects(modelOutputs: Record<string, unknown>, from: RouterKind, namespace: string): RoutingObjectName[] {
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

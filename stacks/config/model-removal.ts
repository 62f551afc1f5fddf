// A model the stack's last `up` applied that the config no longer has (removed, or renamed), or a
// version a kept model no longer has: the update deletes its objects, which the program no longer
// registers, only after every object it registers exists. When a model (a new one, the renamed
// one, or one applied before) now makes an object with the kind, namespace and name of one of
// them, under another Pulumi resource, the update applies the new object over the old one and
// then deletes it. This file finds those, from the last `up`'s outputs, so they are refused
// before anything is applied. Pure.
import { versionDestinationRuleName, versionServiceName } from "../../components/routers/gateway-api-names";
import type { RoutingObjectName } from "../../components/routers/router";
import type { ResolvedModelCanaryArgs } from "../../components/validation";
import { isRecord, modelOutputsOf, shorthandModel } from "./models";
import { appliedObjects, appliedRouter, deletedAfterApplied, madeKey, madeObjects, makersOf } from "./router-switch";

/** The models the last `up` applied, by name: the `models` output's entries, or the shorthand stack's one model. */
function appliedModels(outputs: Record<string, unknown>): string[] {
    if (isRecord(outputs.models)) return Object.keys(outputs.models);
    return outputs.split !== undefined ? [shorthandModel] : [];
}

/** What a model's last `up` made, as its outputs name it: each version's Deployment, the Service and its router's objects. */
function appliedModelObjects(modelOutputs: Record<string, unknown>): RoutingObjectName[] {
    const namespace = modelOutputs.namespace;
    const router = appliedRouter(modelOutputs);
    if (typeof namespace !== "string" || router === undefined) return [];
    const deployments = isRecord(modelOutputs.deploymentNames) ? Object.values(modelOutputs.deploymentNames).filter((n): n is string => typeof n === "string") : [];
    return [
        ...deployments.map((name) => ({ apiVersion: "apps/v1", kind: "Deployment", namespace, name })),
        ...(typeof modelOutputs.serviceName === "string" ? [{ apiVersion: "v1", kind: "Service", namespace, name: modelOutputs.serviceName }] : []),
        ...appliedObjects(modelOutputs, router, namespace),
    ];
}

/** What the update deletes of a model the last `up` applied, at the end, after every object the config makes exists: why, and the first of the two updates that avoid it. */
interface Deleted {
    model: string;
    /** `is removed from the config`, `drops version \`v2\``. */
    why: string;
    /** `without model \`fraud\``. */
    first: string;
    objects: RoutingObjectName[];
}

/**
 * A kept model's objects whose Pulumi resources go with a version it no longer has: the version's
 * Deployment and, when it stays on the Gateway API router, its Service and DestinationRule (a
 * router switch's are routerSwitchCollisions'). Its other objects keep their resources: a new name
 * or namespace replaces the object in place, the old one deleted first.
 */
function droppedVersions(m: { name: string; resolved: ResolvedModelCanaryArgs }, modelOutputs: Record<string, unknown>): Deleted[] {
    const namespace = modelOutputs.namespace;
    const router = appliedRouter(modelOutputs);
    if (typeof namespace !== "string" || router === undefined || !isRecord(modelOutputs.deploymentNames)) return [];
    const r = m.resolved;
    const current = new Set([r.stable.version, ...(r.canary ? [r.canary.version] : [])]);
    const serviceName = modelOutputs.serviceName;
    return Object.entries(modelOutputs.deploymentNames).filter(([v]) => !current.has(v)).map(([v, deployment]) => ({
        model: m.name, why: `drops version \`${v}\``, first: `without version \`${v}\` of model \`${m.name}\``,
        objects: [
            ...(typeof deployment === "string" ? [{ apiVersion: "apps/v1", kind: "Deployment", namespace, name: deployment }] : []),
            ...(router === "gateway-api" && r.router === "gateway-api" && typeof serviceName === "string"
                ? appliedObjects(modelOutputs, router, namespace).filter((o) => (o.kind === "Service" && o.name === versionServiceName(serviceName, v)) || (o.kind === "DestinationRule" && o.name === versionDestinationRuleName(serviceName, v)))
                : []),
        ],
    }));
}

/**
 * Problems where the update would delete, with a model removed from the config (the last `up`
 * applied it, this config does not have it) or with a version a kept model drops, an object a
 * model makes in the same update: one with the kind, namespace and name of one of those objects,
 * under another Pulumi resource. Each names the removed model (or the version), the object, the
 * model and key making it, and what to do: two updates, the deletion first.
 */
export function removedModelCollisions(models: { name: string; path: string[]; resolved: ResolvedModelCanaryArgs }[], outputs: Record<string, unknown>): string[] {
    const configured = new Set(models.map((m) => m.name));
    const applied = appliedModels(outputs);
    const made = madeObjects(models);
    const deleted: Deleted[] = [
        ...applied.filter((name) => !configured.has(name)).map((name) => ({ model: name, why: "is removed from the config", first: `without model \`${name}\``, objects: appliedModelObjects(modelOutputsOf(outputs, name)) })),
        ...models.filter((m) => applied.includes(m.name)).flatMap((m) => droppedVersions(m, modelOutputsOf(outputs, m.name))),
    ];
    return deleted.flatMap((d) => d.objects.flatMap((old) => makersOf(old, made).map((m) => {
        const key = madeKey(m);
        // A model the last `up` applied already changes a key; a new one (the renamed model) is added.
        const then = applied.includes(m.model) ? `then set ${key}` : `then with model \`${m.model}\``;
        return deletedAfterApplied(`model \`${d.model}\` ${d.why}, which deletes its`, old, `model \`${m.model}\` makes it too (${key})`, `do it in two updates, first ${d.first}, ${then}`);
    })));
}

// A model the stack's last `up` applied that the config no longer has (removed, or renamed): the
// update deletes its objects, which the program no longer registers, only after every object it
// registers exists. When another model (a new one, or the renamed one) now makes an object with
// the kind, namespace and name of one of them, under another Pulumi resource, the update applies
// the new object over the old one and then deletes it. This file finds those, from the last
// `up`'s outputs, so they are refused before anything is applied. Pure.
import type { RoutingObjectName } from "../../components/routers/router";
import type { ResolvedModelCanaryArgs } from "../../components/validation";
import { isRecord, modelOutputsOf, shorthandModel } from "./models";
import { appliedObjects, appliedRouter, madeObjects } from "./router-switch";

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

/**
 * Problems where a model removed from the config (the last `up` applied it, this config does not
 * have it) would delete an object another model makes in the same update: one with the kind,
 * namespace and name of one of the removed model's objects. Each names the removed model, the
 * object, the model and key making it, and what to do: two updates, the removal first.
 */
export function removedModelCollisions(models: { name: string; path: string[]; resolved: ResolvedModelCanaryArgs }[], outputs: Record<string, unknown>): string[] {
    const configured = new Set(models.map((m) => m.name));
    const applied = appliedModels(outputs);
    const made = madeObjects(models);
    return applied.filter((name) => !configured.has(name)).flatMap((removed) => appliedModelObjects(modelOutputsOf(outputs, removed)).flatMap((old) => made
        .filter((m) => m.kind === old.kind && m.namespace === old.namespace && m.name === old.name)
        .map((m) => {
            const key = `\`${[...m.path, m.key].join(".")}\``;
            // A model the last `up` applied already changes a key; a new one (the renamed model) is added.
            const then = applied.includes(m.model) ? `then set ${key}` : `then with model \`${m.model}\``;
            return `model \`${removed}\` is removed from the config, which deletes its ${old.kind} \`${old.namespace}/${old.name}\`, but model \`${m.model}\` makes it too (${key}): `
                + `the update would apply it over the old one and then delete it. Nothing was applied: do it in two updates, first without model \`${removed}\`, ${then}`;
        })));
}

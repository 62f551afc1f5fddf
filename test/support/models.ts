// What the tests of stacks with several models (render mode, the real engine) read and write: a
// model's entry, its rendered split and manifests, and a stack's state resource by resource.
import type * as auto from "@pulumi/pulumi/automation";
import { TestProject } from "./engine";

/** A model at 1% of its canary: v1 stable, v2 canary, images named after the model. */
export function modelEntry(name: string) {
    return {
        stable: { version: "v1", image: `registry/${name}:v1` },
        canary: { version: "v2", image: `registry/${name}:v2` },
        canaryWeight: 1,
    };
}

/** The `models` map of a settings file's config, to edit. */
export type Models = Record<string, Record<string, unknown>>;

/** The default route's weights of a model's rendered VirtualService, by subset. */
export function modelSplit(project: TestProject, model: string): Record<string, number> {
    const vs = project.rendered().get(`VirtualService/${model}-virtual-service`);
    return Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
}

/** Every resource of the stack's state by URN, with what a step could change (inputs, outputs, dependencies, provider, parent). */
export async function stateResources(stack: auto.Stack): Promise<Map<string, string>> {
    const state = await stack.exportStack();
    const list = (state.deployment as { resources?: Array<Record<string, unknown>> }).resources ?? [];
    return new Map(list.map((r) => [r.urn as string, JSON.stringify([r.inputs, r.outputs, r.dependencies, r.provider, r.parent])]));
}

/** The rendered manifests of a model, by `Kind/name`. */
export function renderedModel(project: TestProject, model: string): Record<string, string> {
    return Object.fromEntries([...project.rendered()].filter(([k]) => k.split("/")[1].startsWith(`${model}-`)).map(([k, v]) => [k, JSON.stringify(v)]));
}

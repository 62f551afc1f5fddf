// `model-canary preview`: a real preview of the stack's next step, written as a pull-request comment.
import * as fs from "fs";
import { defaultRouteMirror, Mirror, trafficSplit } from "../components";
import { checkConfig, openStack, previewStack, readOutputs, StackRef } from "../stacks/automation";
import { ModelConfig, selectModel } from "../stacks/config";
import { modelOutputsOf } from "../stacks/models";
import { PreviewReport, renderPreviewMarkdown, RoutingState } from "./markdown";

/** The routing a deployed stack serves, from its outputs; undefined before the first `up`. */
export function routingFromOutputs(outputs: Record<string, unknown>): RoutingState | undefined {
    if (typeof outputs.stableVersion !== "string" || typeof outputs.split !== "object" || outputs.split === null) return undefined;
    return {
        stableVersion: outputs.stableVersion,
        canaryVersion: typeof outputs.canaryVersion === "string" ? outputs.canaryVersion : null,
        split: outputs.split as RoutingState["split"],
        mirror: isMirror(outputs.mirror) ? outputs.mirror : null,
        ...(isCounts(outputs.replicas) ? { replicas: outputs.replicas } : {}),
        headerRoutes: Array.isArray(outputs.headerRoutes) ? outputs.headerRoutes as RoutingState["headerRoutes"] : [],
    };
}

function isMirror(value: unknown): value is Mirror {
    return typeof value === "object" && value !== null && typeof (value as Mirror).version === "string" && typeof (value as Mirror).percent === "number";
}

function isCounts(value: unknown): value is Record<string, number> {
    return typeof value === "object" && value !== null && Object.values(value).every((n) => typeof n === "number");
}

function configuredRouting(model: ModelConfig): RoutingState {
    const r = model.resolved;
    return { stableVersion: r.stable.version, canaryVersion: r.canary?.version ?? null, split: trafficSplit(r), mirror: defaultRouteMirror(r) ?? null,
        replicas: { [r.stable.version]: r.stable.replicas, ...(r.canary ? { [r.canary.version]: r.canary.replicas } : {}) },
        autoReplicas: r.canary?.autoReplicas !== undefined, headerRoutes: r.headerRoutes };
}

/**
 * Runs the preview (of the whole stack: the engine previews every model) and returns the report;
 * the stack must exist. `model` (`--model`) picks the model whose routing the comment shows;
 * without it, a stack of several models shows each one's.
 */
export async function previewReport(ref: StackRef, onOutput?: (out: string) => void, model?: string): Promise<PreviewReport> {
    const stack = await openStack(ref);
    const config = checkConfig(stack);
    const all = Object.values(config.models);
    const chosen = model !== undefined || all.length === 1 ? selectModel(config, model, ref.stack) : undefined;
    const outputs = await readOutputs(stack);
    const result = await previewStack(stack, { onOutput });
    const shown = chosen ?? all[0];
    return {
        stack: ref.stack,
        ...(model !== undefined ? { model } : {}),
        before: routingFromOutputs(modelOutputsOf(outputs, shown.name)),
        after: configuredRouting(shown),
        ...(chosen ? {} : { models: all.map((m) => ({ name: m.name, before: routingFromOutputs(modelOutputsOf(outputs, m.name)), after: configuredRouting(m) })) }),
        steps: result.steps,
        changes: result.changes,
        diff: result.stdout,
    };
}

/** Writes the comment to `file` (`-` for standard output) and returns it. */
export async function writePreviewMarkdown(ref: StackRef, file: string, model?: string): Promise<string> {
    const markdown = renderPreviewMarkdown(await previewReport(ref, undefined, model));
    if (file === "-") process.stdout.write(markdown);
    else fs.writeFileSync(file, markdown);
    return markdown;
}

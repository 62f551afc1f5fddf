// `model-canary preview`: a real preview of the stack's next step, written as a pull-request comment.
import { terminalText } from "../components/syntax";
import * as fs from "fs";
import * as path from "path";
import { defaultRouteMirror, Mirror, trafficSplit } from "../components/routing";
import { checkConfig, openStack, previewStack, readOutputs, StackRef } from "../stacks/operations/automation";
import { ModelConfig, selectModel } from "../stacks/config/config";
import { modelOutputsOf } from "../stacks/config/models";
import { routerSwitches } from "../stacks/config/router-switch";
import { githubCommentLimit, renderPreviewComment } from "./limit";
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

function configuredRouting(model: ModelConfig, outputs: Record<string, unknown>): RoutingState {
    const r = model.resolved;
    const [routerSwitch] = routerSwitches([model], outputs);
    return { ...(routerSwitch ? { routerSwitch } : {}), stableVersion: r.stable.version, canaryVersion: r.canary?.version ?? null, split: trafficSplit(r), mirror: defaultRouteMirror(r) ?? null,
        replicas: { [r.stable.version]: r.stable.replicas, ...(r.canary ? { [r.canary.version]: r.canary.replicas } : {}) },
        autoReplicas: r.canary?.autoReplicas !== undefined, headerRoutes: r.headerRoutes };
}

/**
 * Runs the preview and returns the report; the stack must exist. Without `model`, the engine
 * previews every model and a stack of several shows each one's routing. With `model`
 * (`--model`), the comment shows that model's routing and the preview is of what `up --model`
 * would apply: that model only when the update can be scoped (stacks/operations/scope.ts), else the whole
 * stack, told to `onMessage` with the reason.
 */
export async function previewReport(ref: StackRef, onOutput?: (out: string) => void, model?: string, onMessage?: (message: string) => void): Promise<PreviewReport> {
    const stack = await openStack(ref);
    const config = checkConfig(stack);
    const all = Object.values(config.models);
    const chosen = model !== undefined || all.length === 1 ? selectModel(config, model, ref.stack) : undefined;
    const outputs = await readOutputs(stack, model !== undefined ? { model } : {});
    const result = await previewStack(stack, {
        onOutput,
        ...(model !== undefined ? {
            model,
            beforeWhole: (reason: string) => { if (all.length > 1) onMessage?.(`model-canary: previewing every model of stack \`${ref.stack}\`, not only \`${model}\`: ${reason}`); },
        } : {}),
    });
    const shown = chosen ?? all[0];
    return {
        stack: ref.stack,
        ...(model !== undefined ? { model } : {}),
        before: routingFromOutputs(modelOutputsOf(outputs, shown.name)),
        after: configuredRouting(shown, outputs),
        ...(chosen ? {} : { models: all.map((m) => ({ name: m.name, before: routingFromOutputs(modelOutputsOf(outputs, m.name)), after: configuredRouting(m, outputs) })) }),
        steps: result.steps,
        changes: result.changes,
        diff: result.stdout,
    };
}

/** Where the whole comment goes when the one in `file` is shortened: `preview-dev.md` -> `preview-dev.full.md`. */
export function fullCommentFile(file: string): string {
    return `${file.replace(/\.md$/i, "")}.full.md`;
}

/**
 * Writes the comment to `file` (`-` for standard output) and returns it. A comment over the cap
 * (limit.ts) is shortened; the whole one is then written beside it (`fullCommentFile`) when
 * `file` is a file, and `onMessage` is told.
 */
export async function writePreviewMarkdown(ref: StackRef, file: string, model?: string, onMessage?: (message: string) => void): Promise<string> {
    const report = await previewReport(ref, undefined, model, onMessage);
    const full = file === "-" ? undefined : fullCommentFile(file);
    const comment = renderPreviewComment(report, { fullFile: full === undefined ? undefined : path.basename(full) });
    if (comment.shortened && full !== undefined) fs.writeFileSync(full, renderPreviewMarkdown(report));
    if (file === "-") process.stdout.write(terminalText(comment.markdown));
    else fs.writeFileSync(file, comment.markdown);
    if (comment.shortened) {
        onMessage?.(`model-canary: the comment is shortened to ${comment.markdown.length} characters (GitHub refuses comments over ${githubCommentLimit})${full !== undefined ? `; the whole comment is in ${full}` : "; write it to a file with `--markdown FILE` to get the whole one in FILE.full.md"}`);
    }
    return comment.markdown;
}

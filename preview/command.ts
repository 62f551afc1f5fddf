// `model-canary preview`: a real preview of the stack's next step, written as a pull-request comment.
import * as fs from "fs";
import { defaultRouteMirror, Mirror, trafficSplit } from "../components";
import { checkConfig, openStack, previewStack, readOutputs, StackRef } from "../stacks/automation";
import { PreviewReport, renderPreviewMarkdown, RoutingState } from "./markdown";

/** The routing a deployed stack serves, from its outputs; undefined before the first `up`. */
export function routingFromOutputs(outputs: Record<string, unknown>): RoutingState | undefined {
    if (typeof outputs.stableVersion !== "string" || typeof outputs.split !== "object" || outputs.split === null) return undefined;
    return {
        stableVersion: outputs.stableVersion,
        canaryVersion: typeof outputs.canaryVersion === "string" ? outputs.canaryVersion : null,
        split: outputs.split as RoutingState["split"],
        mirror: isMirror(outputs.mirror) ? outputs.mirror : null,
        headerRoutes: Array.isArray(outputs.headerRoutes) ? outputs.headerRoutes as RoutingState["headerRoutes"] : [],
    };
}

function isMirror(value: unknown): value is Mirror {
    return typeof value === "object" && value !== null && typeof (value as Mirror).version === "string" && typeof (value as Mirror).percent === "number";
}

/** Runs the preview and returns the report; the stack must exist. */
export async function previewReport(ref: StackRef, onOutput?: (out: string) => void): Promise<PreviewReport> {
    const stack = await openStack(ref);
    const resolved = checkConfig(stack).resolved;
    const before = routingFromOutputs(await readOutputs(stack));
    const result = await previewStack(stack, { onOutput });
    return {
        stack: ref.stack,
        before,
        after: { stableVersion: resolved.stable.version, canaryVersion: resolved.canary?.version ?? null, split: trafficSplit(resolved), mirror: defaultRouteMirror(resolved) ?? null, headerRoutes: resolved.headerRoutes },
        steps: result.steps,
        changes: result.changes,
        diff: result.stdout,
    };
}

/** Writes the comment to `file` (`-` for standard output) and returns it. */
export async function writePreviewMarkdown(ref: StackRef, file: string): Promise<string> {
    const markdown = renderPreviewMarkdown(await previewReport(ref));
    if (file === "-") process.stdout.write(markdown);
    else fs.writeFileSync(file, markdown);
    return markdown;
}

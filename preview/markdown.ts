// Pure rendering of a pull-request comment from a real preview: the traffic split before and
// after, header-route changes, resource change counts, and a loud warning when a Deployment would
// be replaced or deleted (that restarts or removes model pods).
import { describeMirror, Mirror, TrafficSplit } from "../components/routing";
import { visibleControls, visibleFormatCharacters } from "../components/syntax";
import type { HeaderRoute } from "../components/types";
import { describeObjects, routeKind, RouterSwitch } from "../stacks/config/router-switch";
import { ResourceStep } from "../stacks/operations/automation";

/** What the stack serves: from its outputs (before) or its config (after). */
export interface RoutingState {
    stableVersion: string;
    canaryVersion?: string | null;
    split: TrafficSplit;
    /** The shadow stage's mirror of default traffic; absent or null when there is none. */
    mirror?: Mirror | null;
    /** Pods per version; absent for stacks deployed before it was recorded. */
    replicas?: Record<string, number>;
    /** True when the canary's replicas follow its traffic (`canary.replicas: auto`). */
    autoReplicas?: boolean;
    headerRoutes: HeaderRoute[];
    /** The switch of routers this update makes to reach this routing (`after` only), with the objects it creates and deletes. */
    routerSwitch?: RouterSwitch;
}

export interface PreviewReport {
    stack: string;
    /** The model the comment is about (`--model`), for a stack of several. */
    model?: string;
    /** Undefined when the stack (or the model) has never been deployed. */
    before?: RoutingState;
    after: RoutingState;
    /** For a stack of several models previewed without `--model`: each model's routing, shown in turn instead of `before`/`after`. */
    models?: { name: string; before?: RoutingState; after: RoutingState }[];
    steps: ResourceStep[];
    changes: Record<string, number>;
    /** The raw `pulumi preview --diff` text. */
    diff: string;
}

/**
 * Marks the comment so a workflow can find and update it instead of adding another. Characters
 * outside Pulumi's stack-name alphabet are percent-encoded, so no name can end the HTML comment.
 */
export function commentMarker(stack: string, model?: string): string {
    const name = stack.replace(/[^A-Za-z0-9._\/-]/gu, (c) => encodeURIComponent(c));
    // A model name is a DNS label: nothing in it can end the comment either.
    return `<!-- model-canary-preview:${name}${model === undefined ? "" : ` model=${model}`} -->`;
}

/**
 * Config-derived text (versions, header names and values, resource names) as an inline code
 * span: nothing inside one is Markdown or HTML, not even a bare URL. The delimiter is longer
 * than any backtick run in the text, so the text cannot close it; control characters are shown
 * as escapes. In a table cell `|` is escaped too, as GitHub splits cells before reading code.
 */
export function code(text: string, inTable = false): string {
    // A bidirectional override (U+202E) would make the comment show other text than the value holds.
    let body = visibleFormatCharacters(visibleControls(text));
    if (inTable) body = body.replace(/\|/g, "\\|");
    const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(longest + 1);
    const pad = body.startsWith("`") || body.endsWith("`") || /^ .* $/.test(body) ? " " : "";
    return `${fence}${pad}${body}${pad}${fence}`;
}

/**
 * A fenced code block whose fence is longer than any backtick run in `content`, so no line of
 * the content (say a diff showing "```" or "</details>") can close it, and with control
 * characters other than tabs and newlines shown as escapes.
 */
export function fencedBlock(content: string, info = ""): string[] {
    const body = visibleFormatCharacters(visibleControls(content.replace(/\r\n/g, "\n"), /[\n\t]/));
    const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(Math.max(3, longest + 1));
    return [`${fence}${info}`, body, fence];
}

const destructive = new Set(["replace", "create-replacement", "delete-replaced", "delete", "discard", "discard-replaced"]);

/**
 * Deployments whose pods would be restarted or removed, one entry per Deployment: the engine
 * reports a replacement as several steps (create-replacement, replace, delete-replaced).
 */
export function destructiveDeploymentSteps(steps: ResourceStep[]): ResourceStep[] {
    const byUrn = new Map<string, ResourceStep>();
    for (const s of steps) {
        if (s.type !== "kubernetes:apps/v1:Deployment" || !destructive.has(s.op)) continue;
        const op = s.op === "delete" ? "delete" : "replace";
        const seen = byUrn.get(s.urn);
        byUrn.set(s.urn, { ...s, op, diffs: [...new Set([...(seen?.diffs ?? []), ...s.diffs])] });
    }
    return [...byUrn.values()];
}

function role(version: string, state: RoutingState | undefined): string {
    if (!state) return "";
    if (state.stableVersion === version) return "stable";
    if (state.canaryVersion === version) return "canary";
    return "";
}

function percent(split: TrafficSplit | undefined, version: string): string {
    return `${Number(split?.[version] ?? 0)}%`;
}

export function describeRoute(route: HeaderRoute): string {
    const kind = route.exact !== undefined ? "exact" : route.prefix !== undefined ? "prefix" : "regex";
    return `${code(route.header)} ${kind} ${code(String(route.exact ?? route.prefix ?? route.regex))} → ${code(route.version)}`;
}

function splitTable(before: RoutingState | undefined, after: RoutingState): string[] {
    const versions = [...new Set([
        before?.stableVersion, before?.canaryVersion, after.stableVersion, after.canaryVersion,
        ...Object.keys(before?.split ?? {}), ...Object.keys(after.split),
    ].filter((v): v is string => typeof v === "string"))];
    const rows = versions.map((v) => {
        const from = percent(before?.split, v);
        const to = percent(after.split, v);
        const roles = [...new Set([role(v, before), role(v, after)].filter((r) => r))].join(" → ") || "removed";
        return `| ${code(v, true)} | ${roles} | ${before ? from : "—"} | ${to} | ${before ? (from === to ? "unchanged" : `${from} → ${to}`) : "new"} |`;
    });
    return ["| Version | Role | Before | After | Change |", "|---|---|---:|---:|---|", ...rows];
}

/** The shadow stage: what is mirrored before and after, and that the mirror target serves no user. */
function mirrorChanges(before: RoutingState | undefined, after: RoutingState): string[] {
    const was = before?.mirror ? describeMirror(before.mirror, (t) => code(t)) : undefined;
    const now = after.mirror ? describeMirror(after.mirror, (t) => code(t)) : undefined;
    if (!was && !now) return [];
    if (was === now) return [`**Shadow (unchanged):** the default route ${now}.`, ""];
    if (!now) return [`**Shadow ends:** the mirror is removed (it ${was!.replace(/^mirrors/, "mirrored")}).`, ""];
    return [`**Shadow:** the default route ${now}.${was ? ` Before: ${was}.` : ""}`, ""];
}

/** Replica counts that change, and with `replicas: auto` why, and that running pods stay. */
function replicaChanges(before: RoutingState | undefined, after: RoutingState): string[] {
    if (!before?.replicas || !after.replicas) return [];
    const changed = Object.entries(after.replicas).filter(([v, n]) => before.replicas![v] !== undefined && before.replicas![v] !== n);
    if (changed.length === 0) return [];
    const list = changed.map(([v, n]) => `${code(v)} ${Number(before.replicas![v])} → ${Number(n)}`).join(", ");
    const why = after.autoReplicas ? " (`canary.replicas: auto`: the canary's pods follow its traffic)" : "";
    return [`**Replicas:** ${list}${why}. This step also updates ${changed.length === 1 ? "that Deployment's" : "those Deployments'"} \`replicas\`: pods are added or removed, and a change of \`replicas\` alone restarts no running pod.`, ""];
}

function headerChanges(before: RoutingState | undefined, after: RoutingState): string[] {
    const was = (before?.headerRoutes ?? []).map(describeRoute);
    const now = after.headerRoutes.map(describeRoute);
    if (was.length === 0 && now.length === 0) return ["No header routes."];
    if (JSON.stringify(was) === JSON.stringify(now)) return ["Header routes, unchanged (evaluated in this order before the split):", ...now.map((r, i) => `${i + 1}. ${r}`)];
    const lines = ["Header routes (evaluated in this order before the split):", ...now.map((r, i) => `${i + 1}. ${r}${was.includes(r) ? "" : " **(added)**"}`)];
    for (const r of was.filter((r) => !now.includes(r))) lines.push(`- ~~${r}~~ **(removed)**`);
    return lines;
}

function countLine(changes: Record<string, number>): string {
    const names: Record<string, string> = { create: "to create", update: "to update", replace: "to replace", delete: "to delete", same: "unchanged" };
    // A replacement shows as replace + create-replacement + delete-replaced: count it once.
    const ops = [...Object.keys(names), ...Object.keys(changes).filter((op) => !(op in names) && !op.endsWith("-replaced") && op !== "create-replacement")];
    const parts = ops.filter((op) => changes[op]).map((op) => `${Number(changes[op])} ${names[op] ?? code(op)}`);
    return parts.length > 0 ? parts.join(", ") : "no resources";
}

/** The comment's title and, when a Deployment would be replaced or deleted, the warning (at most `maxListed` of them named). */
export function headLines(report: PreviewReport, maxListed = Infinity): string[] {
    const danger = destructiveDeploymentSteps(report.steps);
    const title = report.model === undefined ? `stack ${code(report.stack)}` : `model ${code(report.model)} of stack ${code(report.stack)}`;
    const lines = [commentMarker(report.stack, report.model), `### model-canary preview for ${title}`, ""];
    if (danger.length > 0) {
        lines.push("> [!CAUTION]");
        const verb = danger.every((s) => s.op === "delete") ? "deletes" : danger.every((s) => s.op === "replace") ? "replaces" : "replaces or deletes";
        lines.push(`> **This change ${verb} ${danger.length === 1 ? "a Deployment" : `${danger.length} Deployments`}: model pods will be ${verb === "deletes" ? "removed" : "restarted or removed"}.**`);
        for (const s of danger.slice(0, maxListed)) lines.push(`> - ${code(s.name)}: ${s.op}${s.diffs.length ? ` (changed: ${s.diffs.map((d) => code(d)).join(", ")})` : ""}`);
        if (danger.length > maxListed) lines.push(`> - and ${danger.length - maxListed} more (see the raw diff)`);
        lines.push("");
    }
    return lines;
}

/** One model's routing, before and after: its split table, shadow, replicas and header routes. */
export interface ModelRouting {
    /** Undefined for a report of one model (its lines carry no model heading). */
    name?: string;
    before?: RoutingState;
    after: RoutingState;
}

/** The models a report shows: each of several, or the one. */
export function reportModels(report: PreviewReport): ModelRouting[] {
    return report.models ?? [{ name: undefined, before: report.before, after: report.after }];
}

/** A switch of routers: that the router changes, and that the new route object exists before the old one is removed. */
export function routerSwitchLines(after: RoutingState): string[] {
    const s = after.routerSwitch;
    if (!s) return [];
    return [`**Router changes:** ${code(s.from)} → ${code(s.to)}. This update first creates ${describeObjects(s.created, (t) => code(t))}, `
        + `and deletes ${describeObjects(s.removed, (t) => code(t))} only after they exist: the host always has a route, and while both exist Istio follows the ${routeKind(s)}. `
        + "The split below is served by the new router's objects.", ""];
}

/** A model's section in full. */
export function modelLines(m: ModelRouting): string[] {
    return [
        ...(m.name !== undefined ? [`#### Model ${code(m.name)}`, ""] : []),
        ...routerSwitchLines(m.after),
        ...splitTable(m.before, m.after), "",
        ...mirrorChanges(m.before, m.after),
        ...replicaChanges(m.before, m.after),
        ...headerChanges(m.before, m.after), "",
    ];
}

/** The resource counts and the raw diff in a collapsible block. */
export function tailLines(changes: Record<string, number>, diff: string): string[] {
    return [`**Resources:** ${countLine(changes)}`, "", "<details><summary>pulumi preview --diff</summary>", "", ...fencedBlock(diff.trimEnd(), "diff"), "", "</details>", ""];
}

/** The whole comment, however long (see limit.ts for the one posted). */
export function renderPreviewMarkdown(report: PreviewReport): string {
    return [...headLines(report), ...reportModels(report).flatMap(modelLines), ...tailLines(report.changes, report.diff)].join("\n");
}

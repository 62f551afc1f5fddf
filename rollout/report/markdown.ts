// The Markdown report a reviewer reads at the end of a run: outcome, rollback, thresholds and every
// analysis tick of every step. Pure: a record in, a string out; the CLI decides where it goes.
import { CHECK_NAMES, isMetricError, type CheckResult, type CheckStatus, type MetricValue, type WorkloadMeasurement } from "../../analysis/verdict";
import { AnalysisRecord, planLabels, plannedStepCount, RolloutOutcome, RolloutRecord, StepRecord } from "../record";
import { visibleControls } from "../../components/syntax";
import { PREDICTION_CHECK_NAMES } from "../../analysis/prediction-gate";
import { fmtMs, fmtNum, fmtPct, formatDuration, formatOffset, isFiniteNumber, parseTime, shorten, subjectOf } from "./format";
import { bucketLabels, sharedBuckets, sharesPercent, stepPredictions } from "./predictions";

export interface ReportMarkdownOptions {
    /** Path or URL of the SVG chart (relative to the Markdown file); embedded near the top when given. */
    chartFile?: string;
    /** Path or URL of the prediction-distribution chart; embedded after the thresholds when given. */
    predictionChartFile?: string;
}

/**
 * Outcome in words. The bad endings are bold and marked so that a reviewer skimming a list of
 * reports cannot mistake a rollback for a success.
 */
const OUTCOME_WORDS: Record<RolloutOutcome, string> = {
    running: "⏳ Running",
    completed: "✅ Completed",
    promoted: "✅ Promoted",
    "rolled-back": "❌ **Rolled back**",
    interrupted: "⚠️ **Interrupted**",
    error: "❌ **Error**",
};

const STEP_VERDICT_WORDS: Record<StepRecord["verdict"], string> = {
    passed: "✅ passed",
    failed: "❌ **failed**",
    interrupted: "⚠️ **interrupted**",
    running: "⏳ running",
};

const STATUS_MARKERS: Record<CheckStatus, string> = {
    pass: "✅",
    fail: "❌",
    nodata: "⚠️",
    error: "⚠️",
};

/** Error texts can be whole HTTP bodies; the table shows the start, the record keeps the rest. */
const ERROR_SNIPPET_CHARS = 48;

/**
 * The report a reviewer reads at the end of every run, success or rollback: what happened and
 * why first (title, message, rollback), then the evidence (thresholds and every analysis tick).
 */
export function renderReportMarkdown(record: RolloutRecord, options: ReportMarkdownOptions = {}): string {
    const out: string[] = [];
    const outcome = OUTCOME_WORDS[record.outcome] ?? mdText(String(record.outcome));
    out.push(`# Rollout ${mdText(subjectOf(record))}: ${mdText(record.stableVersion)} → ${mdText(record.canaryVersion)}: ${outcome}`);
    out.push("");
    if (record.message && record.message.trim() !== "") {
        out.push(`> ${mdText(record.message)}`, "");
    }
    if (options.chartFile) {
        out.push(`![canary vs stable](${mdUrl(options.chartFile)})`, "");
    }

    const startMs = parseTime(record.startedAt);
    const finishMs = parseTime(record.finishedAt);
    out.push(`- **Started:** ${fmtTime(record.startedAt)}`);
    out.push(`- **Finished:** ${record.finishedAt ? fmtTime(record.finishedAt) : "not finished"}`);
    out.push(`- **Duration:** ${startMs !== undefined && finishMs !== undefined ? formatDuration(finishMs - startMs) : "unknown (not finished)"}`);
    out.push(`- **Plan:** ${record.plan.length > 0 ? planLabels(record, fmtNum).join(" → ") : "none"}`);
    // Sidecar meshes read `destination`, as every record before the setting did: named only when another reporter was read.
    const reporters = record.reporters ?? [];
    if (reporters.length > 0 && !(reporters.length === 1 && reporters[0] === "destination")) {
        out.push(`- **Request metrics:** ${reporters.map((r) => `\`reporter="${mdText(r)}"\``).join(", else ")}${reporters.length > 1 ? " (per workload, the first with series in the window)" : ""}`);
    }
    out.push("");

    if (record.rollback) out.push(...rollbackSection(record, startMs));
    out.push(...thresholdsSection(record.thresholds));
    if (options.predictionChartFile) {
        out.push("## Predictions", "", `![canary vs stable predictions per step](${mdUrl(options.predictionChartFile)})`, "");
    }

    const total = Math.max(plannedStepCount(record), ...record.steps.map((s) => s.index));
    for (const step of record.steps) out.push(...stepSection(step, total, startMs));

    // Naming the steps that never ran tells the reviewer how far the canary got.
    const lastIndex = Math.max(0, ...record.steps.map((s) => s.index));
    const notReached = planLabels(record, fmtNum).map((label, i) => ({ label, n: i + 1 })).filter((s) => s.n > lastIndex);
    if (notReached.length > 0) {
        out.push(`**Not reached:** ${notReached.map((s) => `step ${s.n}/${total} (${s.label})`).join(", ")}`, "");
    }
    if (record.steps.length === 0) out.push("_No steps were run._", "");

    return out.join("\n").replace(/\n+$/, "") + "\n";
}

function rollbackSection(record: RolloutRecord, startMs: number | undefined): string[] {
    const rb = record.rollback!;
    const decided = parseTime(rb.decidedAt);
    const applied = parseTime(rb.appliedAt);
    const sinceStart = decided !== undefined && startMs !== undefined ? ` (${formatDuration(decided - startMs)} after the start)` : "";
    const recovery = decided !== undefined && applied !== undefined ? ` (${formatDuration(applied - decided)} after the decision)` : "";
    return [
        "## ❌ Rollback",
        "",
        `- **Reason:** ${mdText(rb.reason)}`,
        `- **Decided at:** ${fmtTime(rb.decidedAt)}${sinceStart}`,
        `- **Applied at:** ${fmtTime(rb.appliedAt)}${recovery}`,
        `- **Rollback action:** ${fmtMs(rb.actionMs)} ms`,
        ...(rb.replicasRestoredAt ? [`- **Replicas restored at:** ${fmtTime(rb.replicasRestoredAt)}, by a second \`pulumi up\` (${fmtMs(rb.restoreMs ?? 0)} ms) once no traffic reached the canary`] : []),
        ...(rb.restoreError ? [`- **Replicas not restored:** ${mdText(rb.restoreError)}`] : []),
        "",
    ];
}

/** Readable names and units for the known threshold keys; other keys are shown as recorded. */
const THRESHOLD_LABELS: Record<string, [label: string, show: (v: number) => string]> = {
    minSuccessRate: ["Canary success rate at least", (v) => `${fmtNum(v)}%`],
    maxP99Ms: ["Canary P99 latency at most", (v) => `${fmtNum(v)} ms`],
    maxSuccessRateDropPoints: ["Success-rate drop vs stable at most", (v) => `${fmtNum(v)} points`],
    maxP99Ratio: ["P99 latency vs stable at most", (v) => `${fmtNum(v)}× stable`],
    minRequests: ["Requests per analysis window at least", (v) => `${fmtNum(v)}`],
    failureThreshold: ["Rollback after consecutive non-pass analyses", (v) => `${fmtNum(v)}`],
    predictionMaxPsi: ["Prediction PSI vs stable at most", (v) => `${fmtNum(v)}`],
    predictionMaxKs: ["Prediction KS distance vs stable at most", (v) => `${fmtNum(v)}`],
    predictionMinSamples: ["Predictions per side per analysis window at least", (v) => `${fmtNum(v)}`],
};

function thresholdsSection(thresholds: Record<string, number | null>): string[] {
    const keys = Object.keys(thresholds ?? {});
    if (keys.length === 0) return ["## Thresholds", "", "_None recorded._", ""];
    const rows = keys.map((key) => {
        const v = thresholds[key];
        const [label, show] = THRESHOLD_LABELS[key] ?? [key, (n: number) => fmtNum(n)];
        const value = v === null || v === undefined ? "disabled" : typeof v === "number" && Number.isFinite(v) ? show(v) : String(v);
        return `| ${mdText(label)} | ${mdText(value)} |`;
    });
    return ["## Thresholds", "", "| Threshold | Value |", "| --- | --- |", ...rows, ""];
}

function stepSection(step: StepRecord, total: number, rolloutStartMs: number | undefined): string[] {
    const out: string[] = [];
    out.push(step.mirrorPercent !== undefined
        ? `## Step ${step.index}/${total}: shadow, ${fmtNum(step.mirrorPercent)}% of default traffic mirrored to the canary (weight 0%: it served no user)`
        : `## Step ${step.index}/${total}: weight ${fmtNum(step.weight)}%`, "");
    const verdict = STEP_VERDICT_WORDS[step.verdict] ?? mdText(String(step.verdict));
    out.push(`**Verdict:** ${verdict}${step.reason ? `: ${mdText(step.reason)}` : ""}`, "");

    const stepStart = parseTime(step.startedAt) ?? parseTime(step.appliedAt);
    let since = "";
    if (stepStart !== undefined && rolloutStartMs !== undefined) {
        const d = stepStart - rolloutStartMs;
        since = Math.abs(d) < 1000 ? " (as the rollout started)" : ` (${formatDuration(d)} after the rollout started)`;
    }
    // applyMs 0 is how the engine records a resumed step whose weight was already in place.
    const apply = (step.applyMs > 0 ? `\`pulumi up\` took ${fmtMs(step.applyMs)} ms` : "weight was already applied (resumed), no `pulumi up`")
        + (step.restoreMs !== undefined ? `, then a second one removed pods after the traffic moved (${fmtMs(step.restoreMs)} ms)` : "")
        + (step.restoreError ? `, but removing pods after the traffic moved failed: ${mdText(step.restoreError)}` : "");
    out.push(`**Started:** ${fmtTime(step.startedAt)}${since}; ${apply}; weight applied at ${fmtTime(step.appliedAt)}.`, "");

    if (step.analyses.length === 0) {
        out.push("_No analyses recorded in this step._", "");
        return out;
    }
    out.push("| Time | Success rate (canary / stable) | P99 ms (canary / stable) | Requests (canary / stable) | Checks | Verdict |");
    out.push("| --- | --- | --- | --- | --- | --- |");
    for (const a of step.analyses) out.push(analysisRow(a, stepStart));
    out.push("");
    const pending = step.analyses.filter((a) => a.summary === "pending").length;
    if (pending > 0) out.push(`_${pending} pending analys${pending === 1 ? "is" : "es"}: no data before the step's traffic could have been scraped, counted neither as a pass nor toward \`failureThreshold\`._`, "");
    out.push(...predictionsSection(step, stepStart));
    return out;
}

/** The step's prediction histograms side by side, from one analysis (see `stepPredictions`). */
function predictionsSection(step: StepRecord, stepStartMs: number | undefined): string[] {
    const p = stepPredictions(step);
    if (!p) return [];
    const at = parseTime(p.analysis.at);
    const when = at !== undefined && stepStartMs !== undefined ? `analysis at ${formatOffset(at - stepStartMs)}` : `analysis at ${mdText(p.analysis.at)}`;
    const stats = [p.psi, p.ks].filter((r) => r !== undefined).map((r) => checkCell(r!)).join("; ");
    const out = [`**Predictions** (${when}): ${stats || "no prediction checks"}`, ""];
    const notes = [p.canaryNote ? `canary: ${mdText(shorten(p.canaryNote, 120))}` : "", p.stableNote ? `stable: ${mdText(shorten(p.stableNote, 120))}` : ""].filter(Boolean);
    if (notes.length > 0) out.push(`_${notes.join("; ")}_`, "");
    const layout = sharedBuckets(p);
    if (!layout) {
        if (p.canary && p.stable) out.push("_The two histograms have different bucket bounds; not tabled side by side._", "");
        return out;
    }
    const canary = p.canary ? sharesPercent(p.canary) : undefined;
    const stable = p.stable ? sharesPercent(p.stable) : undefined;
    const total = (h: typeof p.canary) => (h ? fmtNum(h.total) : "none");
    out.push(`| Prediction bucket | Stable (${total(p.stable)}) | Canary (${total(p.canary)}) |`, "| --- | --- | --- |");
    bucketLabels(layout).forEach((label, i) => {
        const cell = (v: number[] | undefined) => (v ? `${v[i].toFixed(1)}%` : "none");
        out.push(`| ${mdText(label)} | ${cell(stable)} | ${cell(canary)} |`);
    });
    out.push("");
    return out;
}

function analysisRow(a: AnalysisRecord, stepStartMs: number | undefined): string {
    const at = parseTime(a.at);
    const time = at !== undefined && stepStartMs !== undefined ? formatOffset(at - stepStartMs) : mdText(a.at);
    const canary = a.measurement?.canary;
    const stable = a.measurement?.stable;
    const pair = (pick: (w: WorkloadMeasurement) => MetricValue, show: (v: number) => string): string =>
        `${metricCell(canary ? pick(canary) : null, show)} / ${metricCell(stable ? pick(stable) : null, show)}`;
    const checks = (a.results ?? []).map(checkCell).join("<br>") || "no checks";
    // A pending tick judged nothing yet (no data before the step's traffic could be scraped): not a failure.
    const verdict = a.summary === "pass" ? "✅ pass" : a.summary === "pending" ? `⏳ pending: ${mdText(shorten(a.pendingReason ?? "no data yet", 200))}` : "❌ fail";
    return `| ${time} | ${pair((w) => w.successRate, fmtPct)} | ${pair((w) => w.p99Ms, fmtMs)} | ${pair((w) => w.requests, fmtNum)} | ${checks} | ${verdict} |`;
}

function metricCell(v: MetricValue | undefined, show: (v: number) => string): string {
    if (isMetricError(v)) return `error: ${mdText(shorten(v.error, ERROR_SNIPPET_CHARS))}`;
    if (typeof v !== "number" || !Number.isFinite(v)) return "no data";
    return show(v);
}

/** Comparison direction of the built-in checks, so a cell can read "99.95% ≥ 99.00%". */
const CHECK_UNITS: Record<string, { op: "≥" | "≤"; show: (v: number) => string; showThreshold?: (v: number) => string }> = {
    [CHECK_NAMES.successRate]: { op: "≥", show: fmtPct },
    [CHECK_NAMES.successRateVsStable]: { op: "≥", show: fmtPct },
    [CHECK_NAMES.p99]: { op: "≤", show: (v) => `${fmtMs(v)} ms` },
    [CHECK_NAMES.p99VsStable]: { op: "≤", show: (v) => `${fmtMs(v)} ms` },
    [PREDICTION_CHECK_NAMES.psi]: { op: "≤", show: (v) => `PSI ${v.toFixed(3)}`, showThreshold: fmtNum },
    [PREDICTION_CHECK_NAMES.ks]: { op: "≤", show: (v) => `KS ${v.toFixed(3)}`, showThreshold: fmtNum },
};

/** One check as "marker name: value vs threshold", or the reason it could not be judged. */
function checkCell(r: CheckResult): string {
    const marker = STATUS_MARKERS[r.status] ?? "⚠️";
    const name = mdText(r.name);
    if (r.status === "nodata") return `${marker} ${name}: no data`;
    if (r.status === "error") return `${marker} ${name}: error: ${mdText(shorten(r.message, ERROR_SNIPPET_CHARS))}`;
    const unit = CHECK_UNITS[r.name];
    if (unit && isFiniteNumber(r.value) && isFiniteNumber(r.threshold)) {
        // The printed operator is the one that holds, so a failing row reads as the violation.
        const op = r.status === "pass" ? unit.op : unit.op === "≥" ? "<" : ">";
        return `${marker} ${name}: ${unit.show(r.value)} ${op} ${(unit.showThreshold ?? unit.show)(r.threshold)}`;
    }
    // Custom checks carry no numbers; their message is the explanation, worth showing on failure.
    return r.status === "pass" ? `${marker} ${name}` : `${marker} ${name}: ${mdText(shorten(r.message, ERROR_SNIPPET_CHARS))}`;
}

/**
 * Free text (stack names, messages, reasons) must not turn into Markdown or HTML: escape the
 * characters that start emphasis, links, code and table cells, and the HTML specials, and keep
 * it on one line.
 */
function mdText(s: string): string {
    return visibleControls(String(s).replace(/\s+/g, " ").trim())
        .replace(/[\\`*_[\]|#~!]/g, (c) => `\\${c}`)
        // A line that starts with a list marker would become a list inside the blockquote.
        .replace(/^([-+])/, "\\$1")
        .replace(/^(\d{1,9})([.)])(?= |$)/, "$1\\$2")
        // Bare URLs would be turned into links: an escape in the scheme or `www.` stops that.
        .replace(/:\/\//g, "\\://")
        .replace(/\b(www)\./gi, "$1\\.")
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;");
}

/** Link targets with spaces or brackets would end the link early; percent-encode them. */
function mdUrl(s: string): string {
    return s.replace(/[\s()<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** "2025-03-01 12:00:05 UTC": one unambiguous zone for readers in any zone. */
function fmtTime(iso: string | undefined): string {
    const t = parseTime(iso);
    if (t === undefined) return iso ? mdText(iso) : "unknown";
    return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}


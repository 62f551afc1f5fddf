// Pure rendering of a rollout's record for the reviewer who reads it at the end of a run: a
// Markdown report (outcome, rollback, thresholds, every analysis tick of every step) and a
// standalone SVG chart of canary vs stable success rate and P99 latency. Strings in, strings
// out: the CLI decides where they are written, so the same record always renders the same way.
import { CHECK_NAMES, isMetricError, type CheckResult, type CheckStatus, type MetricValue, type WorkloadMeasurement } from "../analysis/verdict";
import type { AnalysisRecord, RolloutOutcome, RolloutRecord, StepRecord } from "./record";
import { visibleControls } from "../components/syntax";

export interface ReportMarkdownOptions {
    /** Path or URL of the SVG chart (relative to the Markdown file); embedded near the top when given. */
    chartFile?: string;
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

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
    out.push(`# Rollout ${mdText(record.stack)}: ${mdText(record.stableVersion)} → ${mdText(record.canaryVersion)}: ${outcome}`);
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
    out.push(`- **Plan:** ${record.plan.length > 0 ? record.plan.map((w) => `${fmtNum(w)}%`).join(" → ") : "none"}`);
    out.push("");

    if (record.rollback) out.push(...rollbackSection(record, startMs));
    out.push(...thresholdsSection(record.thresholds));

    const total = Math.max(record.plan.length, ...record.steps.map((s) => s.index));
    for (const step of record.steps) out.push(...stepSection(step, total, startMs));

    // Naming the steps that never ran tells the reviewer how far the canary got.
    const lastIndex = Math.max(0, ...record.steps.map((s) => s.index));
    const notReached = record.plan.map((w, i) => ({ w, n: i + 1 })).filter((s) => s.n > lastIndex);
    if (notReached.length > 0) {
        out.push(`**Not reached:** ${notReached.map((s) => `step ${s.n}/${total} (${fmtNum(s.w)}%)`).join(", ")}`, "");
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
    out.push(`## Step ${step.index}/${total}: weight ${fmtNum(step.weight)}%`, "");
    const verdict = STEP_VERDICT_WORDS[step.verdict] ?? mdText(String(step.verdict));
    out.push(`**Verdict:** ${verdict}${step.reason ? `: ${mdText(step.reason)}` : ""}`, "");

    const stepStart = parseTime(step.startedAt) ?? parseTime(step.appliedAt);
    let since = "";
    if (stepStart !== undefined && rolloutStartMs !== undefined) {
        const d = stepStart - rolloutStartMs;
        since = Math.abs(d) < 1000 ? " (as the rollout started)" : ` (${formatDuration(d)} after the rollout started)`;
    }
    // applyMs 0 is how the engine records a resumed step whose weight was already in place.
    const apply = step.applyMs > 0 ? `\`pulumi up\` took ${fmtMs(step.applyMs)} ms` : "weight was already applied (resumed), no `pulumi up`";
    out.push(`**Started:** ${fmtTime(step.startedAt)}${since}; ${apply}; weight applied at ${fmtTime(step.appliedAt)}.`, "");

    if (step.analyses.length === 0) {
        out.push("_No analyses recorded in this step._", "");
        return out;
    }
    out.push("| Time | Success rate (canary / stable) | P99 ms (canary / stable) | Requests (canary / stable) | Checks | Verdict |");
    out.push("| --- | --- | --- | --- | --- | --- |");
    for (const a of step.analyses) out.push(analysisRow(a, stepStart));
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
    const verdict = a.summary === "pass" ? "✅ pass" : "❌ fail";
    return `| ${time} | ${pair((w) => w.successRate, fmtPct)} | ${pair((w) => w.p99Ms, fmtMs)} | ${pair((w) => w.requests, fmtNum)} | ${checks} | ${verdict} |`;
}

function metricCell(v: MetricValue | undefined, show: (v: number) => string): string {
    if (isMetricError(v)) return `error: ${mdText(shorten(v.error, ERROR_SNIPPET_CHARS))}`;
    if (typeof v !== "number" || !Number.isFinite(v)) return "no data";
    return show(v);
}

/** Comparison direction of the built-in checks, so a cell can read "99.95% ≥ 99.00%". */
const CHECK_UNITS: Record<string, { op: "≥" | "≤"; show: (v: number) => string }> = {
    [CHECK_NAMES.successRate]: { op: "≥", show: fmtPct },
    [CHECK_NAMES.successRateVsStable]: { op: "≥", show: fmtPct },
    [CHECK_NAMES.p99]: { op: "≤", show: (v) => `${fmtMs(v)} ms` },
    [CHECK_NAMES.p99VsStable]: { op: "≤", show: (v) => `${fmtMs(v)} ms` },
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
        return `${marker} ${name}: ${unit.show(r.value)} ${op} ${unit.show(r.threshold)}`;
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

function shorten(s: string, max: number): string {
    const one = String(s).replace(/\s+/g, " ").trim();
    if (one.length <= max) return one;
    // Cut at a word boundary when one is near, so the snippet does not end in half a word.
    let cut = one.slice(0, max - 1);
    const space = cut.lastIndexOf(" ");
    if (space > max * 0.6) cut = cut.slice(0, space);
    return `${cut.trimEnd()}…`;
}

// ---------------------------------------------------------------------------------------------
// Shared formatting helpers
// ---------------------------------------------------------------------------------------------

function isFiniteNumber(v: unknown): v is number {
    return typeof v === "number" && Number.isFinite(v);
}

/** Epoch ms of an ISO time, or undefined when absent or unparseable (never NaN downstream). */
function parseTime(iso: string | undefined): number | undefined {
    if (!iso) return undefined;
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : undefined;
}

/** "2025-03-01 12:00:05 UTC": one unambiguous zone for readers in any zone. */
function fmtTime(iso: string | undefined): string {
    const t = parseTime(iso);
    if (t === undefined) return iso ? mdText(iso) : "unknown";
    return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

/** Percentages always with two decimals, so 99.996 never reads as a passing "100%". */
function fmtPct(v: number): string {
    return `${v.toFixed(2)}%`;
}

function fmtMs(v: number): string {
    if (!Number.isFinite(v)) return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** Plain numbers without float noise: 10 -> "10", 0.5 -> "0.5", 1234.5678 -> "1234.57". */
function fmtNum(v: number): string {
    if (!Number.isFinite(v)) return String(v);
    return String(Number(v.toFixed(2)));
}

/**
 * Human duration with whole-second resolution above a second: "850 ms", "42s", "2m 05s",
 * "1h 02m 05s". Negative values (clock skew) keep their sign.
 */
export function formatDuration(ms: number): string {
    if (!Number.isFinite(ms)) return "unknown";
    if (ms < 0) return `-${formatDuration(-ms)}`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const total = Math.round(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n: number): string => String(n).padStart(2, "0");
    if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
    if (m > 0) return `${m}m ${pad(s)}s`;
    return `${s}s`;
}

/** Offset within a step in whole seconds, e.g. "+3s", "+1m 05s". */
function formatOffset(ms: number): string {
    const whole = Math.round(Math.abs(ms) / 1000) * 1000;
    return `${ms < 0 && whole > 0 ? "-" : "+"}${whole === 0 ? "0s" : formatDuration(whole)}`;
}

// ---------------------------------------------------------------------------------------------
// Axis ticks
// ---------------------------------------------------------------------------------------------

/**
 * Round tick values (steps of 1, 2 or 5 times a power of ten) that cover [min, max] with about
 * `count` intervals (the step nearest to (max - min) / count): the first tick is <= min and the last >= max, so an axis drawn from the
 * first to the last tick contains every value and ends on a label. Equal or reversed bounds are
 * widened so that there are always at least two ticks.
 */
export function niceTicks(min: number, max: number, count: number): number[] {
    if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
    if (max < min) [min, max] = [max, min];
    if (max === min) {
        const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
        min -= pad;
        max += pad;
    }
    const intervals = Math.max(1, Math.round(count));
    const raw = (max - min) / intervals;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / power;
    // Round to the nice step nearest on a log scale, so the tick count stays close to `count`.
    const step = (norm >= Math.sqrt(50) ? 10 : norm >= Math.sqrt(10) ? 5 : norm >= Math.sqrt(2) ? 2 : 1) * power;
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    // The epsilon keeps 100 / 0.2 = 500.00000000000006 from adding an extra tick.
    const first = Math.floor(min / step + 1e-9);
    const last = Math.ceil(max / step - 1e-9);
    const ticks: number[] = [];
    for (let k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(decimals)));
    return ticks;
}

// ---------------------------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------------------------

/** Layout in SVG user units; both charts share the x scale so their ticks line up. */
const SVG = {
    width: 900,
    height: 520,
    left: 76,
    right: 24,
    chartHeight: 180,
    successTop: 78,
    p99Top: 290,
    colors: {
        canary: "#d95f02",
        stable: "#1f6fb5",
        threshold: "#555555",
        step: "#8a8a8a",
        rollback: "#d62728",
        grid: "#e6e6e6",
        axis: "#333333",
        text: "#222222",
        muted: "#777777",
    },
} as const;

const PLOT_WIDTH = SVG.width - SVG.left - SVG.right;

/** Approximate width of the bold 12px "rollback" label, to keep it inside the plot. */
const ROLLBACK_LABEL_WIDTH = 62;

/** Above this many ticks per chart the dots merge into a smear; lines alone read better. */
const MAX_DOTTED_POINTS = 120;

interface Point {
    /** Seconds since the rollout started. */
    t: number;
    canary: MetricValue;
    stable: MetricValue;
}

interface ChartSpec {
    id: "success-rate" | "p99-latency";
    top: number;
    title: string;
    domain: [number, number];
    ticks: number[];
    threshold?: { value: number; label: string };
    points: Point[];
}

/**
 * A standalone chart of canary vs stable success rate and P99 latency over the whole rollout,
 * for the report and for pull-request comments. Self-contained (no fonts, images or scripts
 * fetched) so it renders the same in a browser, on GitHub and in an image converter.
 */
export function renderReportSvg(record: RolloutRecord): string {
    const origin = parseTime(record.startedAt) ?? earliestTime(record) ?? 0;
    const sec = (iso: string | undefined): number | undefined => {
        const t = parseTime(iso);
        return t === undefined ? undefined : (t - origin) / 1000;
    };

    const analyses = record.steps.flatMap((s) => s.analyses);
    const successPoints = collectPoints(analyses, (w) => w.successRate, sec);
    const p99Points = collectPoints(analyses, (w) => w.p99Ms, sec);

    // The time axis covers the whole run, not just the analyses: step starts, rollback, finish.
    const times = [
        ...successPoints.map((p) => p.t),
        ...record.steps.flatMap((s) => [sec(s.startedAt), sec(s.appliedAt)]),
        sec(record.finishedAt),
        sec(record.rollback?.decidedAt),
        sec(record.rollback?.appliedAt),
    ].filter(isFiniteNumber);
    const tMin = Math.min(0, ...times);
    let tMax = Math.max(0, ...times);
    // A run of a few seconds would otherwise get an axis of fractional seconds.
    if (tMax - tMin < 10) tMax = tMin + 10;
    const xTicks = niceTicks(tMin, tMax, 8);
    const xDomain: [number, number] = [xTicks[0], xTicks[xTicks.length - 1]];
    const x = (t: number): number => SVG.left + ((t - xDomain[0]) / (xDomain[1] - xDomain[0])) * PLOT_WIDTH;

    const minSuccess = finiteThreshold(record.thresholds, "minSuccessRate");
    const maxP99 = finiteThreshold(record.thresholds, "maxP99Ms");

    const successValues = numbersOf(successPoints);
    const successLow = Math.min(...successValues, ...(minSuccess !== undefined ? [minSuccess] : []));
    const low = Number.isFinite(successLow) ? successLow : 90;
    // A margin below the lowest value (or the threshold) keeps a line from sitting on the axis.
    const successTicks = niceTicks(Math.max(0, low - Math.max(0.5, (100 - low) * 0.1)), Math.max(100, ...successValues), 5);

    const p99Values = numbersOf(p99Points);
    const p99High = Math.max(0, ...p99Values, ...(maxP99 !== undefined ? [maxP99] : [])) * 1.1;
    const p99Ticks = niceTicks(0, p99High > 0 ? p99High : 100, 5);

    const charts: ChartSpec[] = [
        {
            id: "success-rate",
            top: SVG.successTop,
            title: "Success rate (%)",
            domain: [successTicks[0], successTicks[successTicks.length - 1]],
            ticks: successTicks,
            threshold: minSuccess !== undefined ? { value: minSuccess, label: `min ${fmtNum(minSuccess)}%` } : undefined,
            points: successPoints,
        },
        {
            id: "p99-latency",
            top: SVG.p99Top,
            title: "P99 latency (ms)",
            domain: [p99Ticks[0], p99Ticks[p99Ticks.length - 1]],
            ticks: p99Ticks,
            threshold: maxP99 !== undefined ? { value: maxP99, label: `max ${fmtNum(maxP99)} ms` } : undefined,
            points: p99Points,
        },
    ];

    const body: string[] = [];
    const title = `Rollout ${record.stack}: ${record.stableVersion} → ${record.canaryVersion} (${outcomeText(record.outcome)})`;
    body.push(`<title>${xml(title)}</title>`);
    body.push(`<rect x="0" y="0" width="${SVG.width}" height="${SVG.height}" fill="#ffffff"/>`);
    body.push(text(SVG.left, 24, title, { "font-size": 15, "font-weight": "bold" }));
    body.push(legend());

    for (const chart of charts) body.push(renderChart(chart, x, xTicks, analyses.length === 0));

    // Step starts and the rollback decision span both charts: they explain every change of slope.
    const markerTop = SVG.successTop;
    const markerBottom = SVG.p99Top + SVG.chartHeight;
    let previousLabelX = -Infinity;
    let labelRow = 0;
    for (const step of record.steps) {
        const t = sec(step.startedAt) ?? sec(step.appliedAt);
        if (t === undefined) continue;
        const px = x(t);
        // Steps that start close together (fast resumes) would print their labels on top of each other.
        labelRow = px - previousLabelX < 36 ? (labelRow + 1) % 2 : 0;
        previousLabelX = px;
        body.push(
            `<g class="step-marker">` +
                line(px, markerTop, px, markerBottom, { stroke: SVG.colors.step, "stroke-dasharray": "4 3" }) +
                text(px + 3, markerTop - 6 - labelRow * 12, `${fmtNum(step.weight)}%`, { "font-size": 11, fill: SVG.colors.muted }) +
                `</g>`,
        );
    }
    const decided = sec(record.rollback?.decidedAt);
    if (decided !== undefined) {
        const px = x(decided);
        // Rollbacks happen at the end of the run, near the right edge: put the label on the
        // left of the line when it would not fit on the right.
        const fitsRight = px + 4 + ROLLBACK_LABEL_WIDTH <= SVG.left + PLOT_WIDTH;
        const label = fitsRight
            ? text(px + 4, markerTop + 14, "rollback", haloed({ "font-size": 12, "font-weight": "bold", fill: SVG.colors.rollback }))
            : text(px - 4, markerTop + 14, "rollback", haloed({ "font-size": 12, "font-weight": "bold", fill: SVG.colors.rollback, "text-anchor": "end" }));
        body.push(
            `<g class="rollback-marker">` +
                line(px, markerTop, px, markerBottom, { stroke: SVG.colors.rollback, "stroke-width": 1.5 }) +
                label +
                `</g>`,
        );
    }

    // Shared time axis: labels under the lower chart only.
    const axisY = SVG.p99Top + SVG.chartHeight;
    const xDecimals = decimalsOf(xTicks);
    for (const tick of xTicks) {
        body.push(text(x(tick), axisY + 16, tick.toFixed(xDecimals), { "font-size": 11, "text-anchor": "middle", fill: SVG.colors.text }));
    }
    body.push(text(SVG.left + PLOT_WIDTH / 2, axisY + 38, "Time since rollout start (s)", { "font-size": 12, "text-anchor": "middle", fill: SVG.colors.text }));

    return (
        `<?xml version="1.0" encoding="UTF-8"?>\n` +
        `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG.width}" height="${SVG.height}" viewBox="0 0 ${SVG.width} ${SVG.height}" ` +
        `font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n` +
        body.join("\n") +
        `\n</svg>\n`
    );
}

function renderChart(chart: ChartSpec, x: (t: number) => number, xTicks: number[], noAnalyses: boolean): string {
    const top = chart.top;
    const bottom = top + SVG.chartHeight;
    const [d0, d1] = chart.domain;
    const y = (v: number): number => bottom - ((v - d0) / (d1 - d0)) * SVG.chartHeight;
    const right = SVG.left + PLOT_WIDTH;
    const parts: string[] = [];
    parts.push(`<g class="chart" data-chart="${chart.id}">`);

    // Grid first so that everything else draws over it.
    const yDecimals = decimalsOf(chart.ticks);
    for (const tick of chart.ticks) {
        const py = y(tick);
        parts.push(line(SVG.left, py, right, py, { stroke: SVG.colors.grid }));
        parts.push(text(SVG.left - 6, py + 4, tick.toFixed(yDecimals), { "font-size": 11, "text-anchor": "end", fill: SVG.colors.text }));
    }
    for (const tick of xTicks) parts.push(line(x(tick), top, x(tick), bottom, { stroke: SVG.colors.grid }));
    parts.push(`<rect x="${num(SVG.left)}" y="${num(top)}" width="${num(PLOT_WIDTH)}" height="${SVG.chartHeight}" fill="none" stroke="${SVG.colors.axis}"/>`);
    const midY = top + SVG.chartHeight / 2;
    parts.push(text(20, midY, chart.title, { "font-size": 12, "text-anchor": "middle", fill: SVG.colors.text, transform: `rotate(-90 20 ${num(midY)})` }));

    if (chart.threshold) {
        const py = y(chart.threshold.value);
        parts.push(line(SVG.left, py, right, py, { class: "threshold", stroke: SVG.colors.threshold, "stroke-width": 1.2, "stroke-dasharray": "6 4" }));
        parts.push(text(right - 4, py - 4, chart.threshold.label, haloed({ "font-size": 11, "text-anchor": "end", fill: SVG.colors.threshold })));
    }

    for (const series of ["stable", "canary"] as const) {
        parts.push(`<g class="series ${series}">`);
        for (const segment of segments(chart.points, series)) {
            const coords = segment.map((p) => `${num(x(p.t))},${num(y(p.v))}`);
            // A lone point between gaps has no line; its dot below still shows it (always drawn).
            if (coords.length > 1) {
                parts.push(`<polyline points="${coords.join(" ")}" fill="none" stroke="${SVG.colors[series]}" stroke-width="2" stroke-linejoin="round"/>`);
            }
            if (coords.length > 1 && chart.points.length > MAX_DOTTED_POINTS) continue;
            for (const p of segment) {
                parts.push(`<circle cx="${num(x(p.t))}" cy="${num(y(p.v))}" r="2.5" fill="${SVG.colors[series]}"/>`);
            }
        }
        parts.push(`</g>`);
    }

    // Missing points are gaps in the lines; mark them on the axis so a gap is not mistaken for
    // a quiet period: a red x for a failed query, a grey ring for no data.
    for (const p of chart.points) {
        const px = x(p.t);
        if (isMetricError(p.canary) || isMetricError(p.stable)) {
            parts.push(
                `<g class="error-marker">` +
                    line(px - 4, bottom - 4, px + 4, bottom + 4, { stroke: SVG.colors.rollback, "stroke-width": 2 }) +
                    line(px - 4, bottom + 4, px + 4, bottom - 4, { stroke: SVG.colors.rollback, "stroke-width": 2 }) +
                    `</g>`,
            );
        } else if (!isFiniteNumber(p.canary) || !isFiniteNumber(p.stable)) {
            parts.push(`<circle class="nodata-marker" cx="${num(px)}" cy="${num(bottom)}" r="3.5" fill="#ffffff" stroke="${SVG.colors.muted}" stroke-width="1.5"/>`);
        }
    }

    const hasData = chart.points.some((p) => isFiniteNumber(p.canary) || isFiniteNumber(p.stable));
    if (noAnalyses || !hasData) {
        const note = noAnalyses ? "no analyses recorded" : "no data";
        parts.push(text(SVG.left + PLOT_WIDTH / 2, midY, note, haloed({ class: "note", "font-size": 14, "text-anchor": "middle", fill: SVG.colors.muted })));
    }
    parts.push(`</g>`);
    return parts.join("\n");
}

function legend(): string {
    const c = SVG.colors;
    const y = 48;
    let px = SVG.left;
    const items: string[] = [];
    const swatch = (label: string, attrs: Record<string, string | number>): void => {
        items.push(line(px, y, px + 22, y, attrs) + text(px + 28, y + 4, label, { "font-size": 12, fill: c.text }));
        px += 36 + label.length * 7;
    };
    swatch("canary", { stroke: c.canary, "stroke-width": 2.5 });
    swatch("stable", { stroke: c.stable, "stroke-width": 2.5 });
    swatch("threshold", { stroke: c.threshold, "stroke-width": 1.2, "stroke-dasharray": "6 4" });
    items.push(
        line(px + 7, y - 4, px + 15, y + 4, { stroke: c.rollback, "stroke-width": 2 }) +
            line(px + 7, y + 4, px + 15, y - 4, { stroke: c.rollback, "stroke-width": 2 }) +
            text(px + 22, y + 4, "query error", { "font-size": 12, fill: c.text }),
    );
    px += 100;
    items.push(
        `<circle cx="${px + 11}" cy="${y}" r="3.5" fill="#ffffff" stroke="${c.muted}" stroke-width="1.5"/>` +
            text(px + 22, y + 4, "no data", { "font-size": 12, fill: c.text }),
    );
    return `<g class="legend">${items.join("")}</g>`;
}

function collectPoints(
    analyses: AnalysisRecord[],
    pick: (w: WorkloadMeasurement) => MetricValue,
    sec: (iso: string | undefined) => number | undefined,
): Point[] {
    const points: Point[] = [];
    for (const a of analyses) {
        const t = sec(a.at);
        if (t === undefined) continue;
        const canary = a.measurement?.canary;
        const stable = a.measurement?.stable;
        points.push({ t, canary: canary ? pick(canary) ?? null : null, stable: stable ? pick(stable) ?? null : null });
    }
    // Records are written in order, but a chart must not zigzag if one is not.
    return points.sort((a, b) => a.t - b.t);
}

/** Runs of consecutive measured values: each run is one polyline, gaps are where data is missing. */
function segments(points: Point[], series: "canary" | "stable"): { t: number; v: number }[][] {
    const runs: { t: number; v: number }[][] = [];
    let current: { t: number; v: number }[] = [];
    for (const p of points) {
        const v = p[series];
        if (isFiniteNumber(v)) {
            current.push({ t: p.t, v });
        } else if (current.length > 0) {
            runs.push(current);
            current = [];
        }
    }
    if (current.length > 0) runs.push(current);
    return runs;
}

function numbersOf(points: Point[]): number[] {
    return points.flatMap((p) => [p.canary, p.stable]).filter(isFiniteNumber);
}

function finiteThreshold(thresholds: Record<string, number | null> | undefined, key: string): number | undefined {
    const v = thresholds?.[key];
    return isFiniteNumber(v) ? v : undefined;
}

function earliestTime(record: RolloutRecord): number | undefined {
    const all = record.steps
        .flatMap((s) => [s.startedAt, s.appliedAt, ...s.analyses.map((a) => a.at)])
        .map(parseTime)
        .filter(isFiniteNumber);
    return all.length > 0 ? Math.min(...all) : undefined;
}

function outcomeText(outcome: RolloutOutcome): string {
    return outcome === "rolled-back" ? "rolled back" : String(outcome);
}

/** Enough decimals to tell the ticks apart (0.5 steps need one, 20 steps none). */
function decimalsOf(ticks: number[]): number {
    if (ticks.length < 2) return 0;
    const step = Math.abs(ticks[1] - ticks[0]);
    return step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))) : 0;
}

/** Coordinates with at most two decimals; a non-finite value can never reach the output. */
function num(v: number): string {
    return Number.isFinite(v) ? String(Number(v.toFixed(2))) : "0";
}

/**
 * Escapes text for XML content and attribute values, and drops the control characters XML 1.0
 * forbids, so a stack named "dev<1>" or a message with a stray byte cannot break the document.
 */
function xml(s: string): string {
    return String(s)
        .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&apos;");
}

function attrs(a: Record<string, string | number>): string {
    return Object.entries(a)
        .map(([k, v]) => ` ${k}="${typeof v === "number" ? num(v) : xml(v)}"`)
        .join("");
}

function line(x1: number, y1: number, x2: number, y2: number, a: Record<string, string | number>): string {
    return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}"${attrs(a)}/>`;
}

function text(x: number, y: number, content: string, a: Record<string, string | number>): string {
    return `<text x="${num(x)}" y="${num(y)}"${attrs(a)}>${xml(content)}</text>`;
}

/** A white outline behind text drawn over lines keeps it legible. */
function haloed(a: Record<string, string | number>): Record<string, string | number> {
    return { ...a, stroke: "#ffffff", "stroke-width": 3, "paint-order": "stroke", "stroke-linejoin": "round" };
}

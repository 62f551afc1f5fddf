// The report's timeline chart: canary vs stable success rate and P99 latency over the whole
// rollout, with step starts and the rollback marked. Pure: a record in, an SVG document out.
import { isMetricError, type MetricValue, type WorkloadMeasurement } from "../../analysis/verdict";
import type { AnalysisRecord, RolloutOutcome, RolloutRecord } from "../record";
import { fmtNum, isFiniteNumber, parseTime, subjectOf } from "./format";
import { plotFrame, yGrid, yScale, type PlotArea } from "./plot";
import { haloed, line, num, palette, svgDocument, text } from "./svg";
import { decimalsOf, niceTicks } from "./ticks";

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
        ...palette,
        threshold: "#555555",
        step: "#8a8a8a",
        rollback: "#d62728",
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
            ticks: successTicks,
            threshold: minSuccess !== undefined ? { value: minSuccess, label: `min ${fmtNum(minSuccess)}%` } : undefined,
            points: successPoints,
        },
        {
            id: "p99-latency",
            top: SVG.p99Top,
            title: "P99 latency (ms)",
            ticks: p99Ticks,
            threshold: maxP99 !== undefined ? { value: maxP99, label: `max ${fmtNum(maxP99)} ms` } : undefined,
            points: p99Points,
        },
    ];

    const body: string[] = [];
    const title = `Rollout ${subjectOf(record)}: ${record.stableVersion} → ${record.canaryVersion} (${outcomeText(record.outcome)})`;
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
                text(px + 3, markerTop - 6 - labelRow * 12, step.mirrorPercent !== undefined ? `shadow ${fmtNum(step.mirrorPercent)}%` : `${fmtNum(step.weight)}%`, { "font-size": 11, fill: SVG.colors.muted }) +
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

    return svgDocument(SVG.width, SVG.height, title, body);
}

function renderChart(chart: ChartSpec, x: (t: number) => number, xTicks: number[], noAnalyses: boolean): string {
    const area: PlotArea = { left: SVG.left, top: chart.top, width: PLOT_WIDTH, height: SVG.chartHeight };
    const top = area.top;
    const bottom = top + area.height;
    const y = yScale(area, chart.ticks);
    const right = SVG.left + PLOT_WIDTH;
    const parts: string[] = [];
    parts.push(`<g class="chart" data-chart="${chart.id}">`);

    // Grid first so that everything else draws over it.
    parts.push(...yGrid(area, chart.ticks, y));
    for (const tick of xTicks) parts.push(line(x(tick), top, x(tick), bottom, { stroke: SVG.colors.grid }));
    parts.push(...plotFrame(area, chart.title, 12));
    const midY = top + SVG.chartHeight / 2;

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


// The report's prediction chart: for every step the prediction gate measured, the stable and the
// canary model's prediction histograms side by side (share of predictions per bucket), titled with
// the gate's verdicts. Pure: a record in, an SVG document out (or nothing when no step has one).
import type { CheckResult } from "../../analysis/verdict";
import { planLabels, type RolloutRecord, type StepRecord } from "../record";
import { fmtNum, shorten, subjectOf } from "./format";
import { bucketLabels, sharedBuckets, sharesPercent, stepPredictions, type StepPredictions } from "./predictions";
import { plotFrame, yGrid, yScale, type PlotArea } from "./plot";
import { haloed, num, palette, svgDocument, text } from "./svg";
import { niceTicks } from "./ticks";

const LAYOUT = {
    width: 900,
    left: 76,
    right: 24,
    header: 70,
    panelHeight: 230,
    plotTop: 34,
    plotHeight: 140,
    colors: {
        ...palette,
        fail: "#d62728",
        pass: "#2a7d2a",
    },
} as const;

const PLOT_WIDTH = LAYOUT.width - LAYOUT.left - LAYOUT.right;

/** Above this many buckets only every other label (or fewer) is printed, so labels never overlap. */
const MAX_LABELS = 16;

/**
 * The prediction chart of a rollout, or `undefined` when no step recorded a prediction histogram
 * (the gate was off). Self-contained like the timeline chart: no fonts, images or scripts.
 */
export function renderPredictionsSvg(record: RolloutRecord): string | undefined {
    const panels = record.steps.map((step) => ({ step, p: stepPredictions(step) })).filter((x): x is { step: StepRecord; p: StepPredictions } => x.p !== undefined);
    if (panels.length === 0) return undefined;
    const height = LAYOUT.header + panels.length * LAYOUT.panelHeight;
    const labels = planLabels(record, fmtNum);
    const total = Math.max(labels.length, ...record.steps.map((s) => s.index));

    const body: string[] = [];
    const title = `Predictions, ${subjectOf(record)}: stable ${record.stableVersion} vs canary ${record.canaryVersion}`;
    body.push(text(LAYOUT.left, 24, title, { "font-size": 15, "font-weight": "bold", fill: LAYOUT.colors.text }));
    body.push(legend());
    panels.forEach(({ step, p }, i) => body.push(panel(step, p, total, LAYOUT.header + i * LAYOUT.panelHeight)));

    return svgDocument(LAYOUT.width, height, title, body);
}

function panel(step: StepRecord, p: StepPredictions, total: number, top: number): string {
    const c = LAYOUT.colors;
    const parts: string[] = [`<g class="step-predictions" data-step="${num(step.index)}">`];
    const name = step.mirrorPercent !== undefined ? `shadow (mirror ${fmtNum(step.mirrorPercent)}%, served no user)` : `weight ${fmtNum(step.weight)}%`;
    parts.push(text(LAYOUT.left, top + 16, `Step ${step.index}/${total}: ${name}`, { "font-size": 13, "font-weight": "bold", fill: c.text }));
    const verdicts = [p.psi, p.ks].filter((r): r is CheckResult => r !== undefined);
    let x = LAYOUT.left + 16 + (`Step ${step.index}/${total}: ${name}`.length * 7.6);
    for (const r of verdicts) {
        const label = verdictLabel(r);
        parts.push(text(x, top + 16, label, { class: `verdict ${r.status}`, "font-size": 12, fill: r.status === "pass" ? c.pass : c.fail }));
        x += label.length * 6.8 + 14;
    }

    const area: PlotArea = { left: LAYOUT.left, top: top + LAYOUT.plotTop, width: PLOT_WIDTH, height: LAYOUT.plotHeight };
    const bottom = area.top + area.height;
    const layout = sharedBuckets(p);
    const canary = p.canary && layout ? sharesPercent(p.canary) : undefined;
    const stable = p.stable && layout ? sharesPercent(p.stable) : undefined;
    const high = Math.max(0, ...(canary ?? []), ...(stable ?? []));
    // The axis starts at 0: a bar's height is its share.
    const ticks = niceTicks(0, high > 0 ? high * 1.05 : 10, 4);
    const y = yScale(area, ticks);
    parts.push(...yGrid(area, ticks, y, "%"));
    parts.push(...plotFrame(area, "Share of predictions", 11));
    const midY = area.top + area.height / 2;

    if (layout) {
        const names = bucketLabels(layout);
        const group = PLOT_WIDTH / names.length;
        const bar = Math.min(28, group * 0.38);
        const every = Math.ceil(names.length / MAX_LABELS);
        names.forEach((label, i) => {
            const center = LAYOUT.left + group * (i + 0.5);
            for (const [series, values, dx] of [["stable", stable, -bar], ["canary", canary, 0]] as const) {
                if (!values) continue;
                const v = values[i];
                parts.push(`<rect class="bar ${series}" x="${num(center + dx)}" y="${num(y(v))}" width="${num(bar)}" height="${num(bottom - y(v))}" fill="${c[series]}"/>`);
            }
            if (i % every === 0) parts.push(text(center, bottom + 15, label, { "font-size": 10, "text-anchor": "middle", fill: c.text }));
        });
        parts.push(text(LAYOUT.left + PLOT_WIDTH / 2, bottom + 32, "Prediction bucket (upper bound)", { "font-size": 11, "text-anchor": "middle", fill: c.text }));
    }
    const notes = [
        !layout && p.canary && p.stable ? "different bucket bounds: not charted side by side" : "",
        p.stableNote ? `stable: ${p.stableNote}` : "",
        p.canaryNote ? `canary: ${p.canaryNote}` : "",
    ].filter(Boolean);
    notes.forEach((note, i) => {
        parts.push(text(LAYOUT.left + PLOT_WIDTH / 2, midY + i * 16, shorten(note, 110), haloed({ class: "note", "font-size": 12, "text-anchor": "middle", fill: c.muted })));
    });
    parts.push(`</g>`);
    return parts.join("\n");
}

/** `PSI 1.744 > 0.2`, `KS 0.012 ≤ 0.1`, `PSI: no data`. */
function verdictLabel(r: CheckResult): string {
    const stat = r.name.endsWith("-ks") ? "KS" : "PSI";
    if (r.status === "nodata") return `${stat}: no data`;
    if (r.status === "error") return `${stat}: error`;
    const value = typeof r.value === "number" && Number.isFinite(r.value) ? r.value.toFixed(3) : "?";
    const threshold = typeof r.threshold === "number" && Number.isFinite(r.threshold) ? fmtNum(r.threshold) : "?";
    return `${stat} ${value} ${r.status === "pass" ? "≤" : ">"} ${threshold}`;
}

function legend(): string {
    const c = LAYOUT.colors;
    const y = 48;
    const swatch = (x: number, color: string, label: string) =>
        `<rect x="${x}" y="${y - 8}" width="14" height="10" fill="${color}"/>` + text(x + 20, y + 1, label, { "font-size": 12, fill: c.text });
    return `<g class="legend">${swatch(LAYOUT.left, c.stable, "stable")}${swatch(LAYOUT.left + 80, c.canary, "canary")}</g>`;
}

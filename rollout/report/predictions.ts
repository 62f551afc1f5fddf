// What the report shows of the prediction-distribution gate, for the Markdown and the chart alike:
// per step, the canary's and stable's prediction histograms of one analysis, and the gate's results.
import { readHistogram, proportions, type Histogram } from "../../analysis/distribution";
import { PREDICTION_CHECK_NAMES, type PredictionMeasurement } from "../../analysis/prediction-gate";
import type { CheckResult } from "../../analysis/verdict";
import type { AnalysisRecord, StepRecord } from "../record";

export interface StepPredictions {
    /** The analysis shown: the step's last one with both histograms, else its last one with either. */
    analysis: AnalysisRecord;
    canary?: Histogram;
    stable?: Histogram;
    /** Why a side has no histogram: "no predictions in the window" or the reason it is broken. */
    canaryNote?: string;
    stableNote?: string;
    psi?: CheckResult;
    ks?: CheckResult;
}

/** A bucket's label: `≤ 0.1`, and `> 1` for the one above the last bound. */
export function bucketLabels(h: Histogram): string[] {
    return [...h.bounds.map((b) => `≤ ${b}`), h.bounds.length > 0 ? `> ${h.bounds[h.bounds.length - 1]}` : "all"];
}

/** Shares in percent, per bucket (0 for a histogram without observations). */
export function sharesPercent(h: Histogram): number[] {
    return proportions(h).map((p) => p * 100);
}

function side(m: PredictionMeasurement | undefined): { histogram?: Histogram; note?: string } {
    if (m === undefined) return {};
    if (m === null || (typeof m === "object" && "buckets" in m && m.buckets.length === 0)) return { note: "no predictions in the window" };
    if ("error" in m) return { note: `query failed: ${m.error}` };
    const read = readHistogram(m.buckets);
    if ("error" in read) return { note: read.error };
    if (read.histogram.total <= 0) return { note: "no predictions in the window" };
    return { histogram: read.histogram };
}

/** The step's prediction histograms to show, or undefined when the gate measured nothing in it. */
export function stepPredictions(step: StepRecord): StepPredictions | undefined {
    const measured = step.analyses.filter((a) => a.measurement?.canary?.predictions !== undefined || a.measurement?.stable?.predictions !== undefined);
    if (measured.length === 0) return undefined;
    const read = measured.map((a) => ({ a, c: side(a.measurement.canary?.predictions), s: side(a.measurement.stable?.predictions) }));
    const chosen = [...read].reverse().find((r) => r.c.histogram && r.s.histogram)
        ?? [...read].reverse().find((r) => r.c.histogram || r.s.histogram)
        ?? read[read.length - 1];
    const result = (name: string) => (chosen.a.results ?? []).find((r) => r.name === name);
    // At 100% stable predicts nothing, and the checks compared the canary with stable's last histogram.
    const judged = [result(PREDICTION_CHECK_NAMES.psi), result(PREDICTION_CHECK_NAMES.ks)].some((r) => r?.status === "pass" || r?.status === "fail");
    const stableNote = chosen.s.note && judged && !chosen.s.histogram ? `${chosen.s.note}; the checks compared with its last histogram of this rollout` : chosen.s.note;
    return {
        analysis: chosen.a,
        canary: chosen.c.histogram,
        stable: chosen.s.histogram,
        canaryNote: chosen.c.note,
        stableNote,
        psi: result(PREDICTION_CHECK_NAMES.psi),
        ks: result(PREDICTION_CHECK_NAMES.ks),
    };
}

/** The bucket layout shared by both sides, when they agree (or only one side has one). */
export function sharedBuckets(p: StepPredictions): Histogram | undefined {
    if (p.canary && p.stable) {
        const same = p.canary.bounds.length === p.stable.bounds.length && p.canary.bounds.every((b, i) => b === p.stable!.bounds[i]);
        return same ? p.stable : undefined;
    }
    return p.canary ?? p.stable;
}

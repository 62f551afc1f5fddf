/**
 * The prediction-distribution gate: a model can answer every request quickly with 200 and still
 * predict differently from the model it replaces. Model servers export a histogram of their
 * outputs (default `model_prediction_score_bucket`, labelled `app`, `namespace` and `version`); the
 * gate compares the canary's histogram over the analysis window with the stable version's, by the
 * population stability index and, optionally, the Kolmogorov–Smirnov distance over the bucket
 * bounds. Pure: the settings from config, and the verdicts. As everywhere, "no data" and broken
 * data never pass.
 */
import { show } from "../components/validation";
import { ksDistance, psi, readHistogram, sameBounds, type Histogram } from "./distribution";
import { isMetricError, type CheckResult, type PredictionMeasurement } from "./verdict";

/** The `rollout.predictions` block, resolved. */
export interface PredictionGate {
    /** The histogram's bucket series, e.g. `model_prediction_score_bucket`. */
    metric: string;
    /**
     * The label holding the model's `app` (the pod label every model pod carries), so that two
     * models in one namespace sharing a version name are kept apart; `null` selects by namespace
     * and version alone.
     */
    appLabel: string | null;
    /** The label holding the Kubernetes namespace. */
    namespaceLabel: string;
    /** The label holding the model version (the `version` of `stable` / `canary`). */
    versionLabel: string;
    /** Population stability index above which the canary fails; `null` disables the check. */
    maxPsi: number | null;
    /** Kolmogorov–Smirnov distance above which the canary fails; `null` (default) disables the check. */
    maxKs: number | null;
    /** Predictions each side must have made in the window to be judged. */
    minSamples: number;
}

/**
 * Defaults. `maxPsi` 0.2: in credit-risk model monitoring, where the index comes from, a PSI below
 * 0.1 is read as no significant shift, 0.1 to 0.2 (some use 0.25) as a moderate one and above
 * 0.2 as a significant shift of the population. `minSamples` 1000: two samples of one and the
 * same distribution have a PSI of about (B − 1) × (1/n₁ + 1/n₂) from sampling noise alone (B
 * buckets, n₁ and n₂ observations; it is a chi-square statistic in disguise): with 10 buckets and
 * 1000 predictions on each side that is 0.018 with a standard deviation near 0.008, so noise alone
 * practically never reaches 0.2; with 100 on each side it would be 0.18. KS is off unless set.
 */
export const defaultPredictionGate: Readonly<PredictionGate> = Object.freeze({
    metric: "model_prediction_score_bucket",
    appLabel: "app",
    namespaceLabel: "namespace",
    versionLabel: "version",
    maxPsi: 0.2,
    maxKs: null,
    minSamples: 1000,
});

export const PREDICTION_CHECK_NAMES = {
    psi: "prediction-psi",
    ks: "prediction-ks",
} as const;

// The measurement's type lives with the other measurements in verdict.ts (this module imports
// verdict.ts, never the other way round); re-exported for the gate's callers.
export type { PredictionMeasurement };

export const predictionKeys = ["metric", "appLabel", "namespaceLabel", "versionLabel", "maxPsi", "maxKs", "minSamples"] as const;

const METRIC_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*_bucket$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DECIMAL_RE = /^\d+(\.\d+)?$/;

/**
 * Resolves the `rollout.predictions` block. Absent (or null) means the gate is off; present
 * (even `{}`) turns it on with the defaults for what it does not set. Every problem is returned,
 * naming the key, the value received and what is accepted.
 */
export function resolvePredictionGate(block: unknown, keyPrefix = "rollout.predictions"): { gate?: PredictionGate; problems: string[] } {
    if (block === undefined || block === null) return { problems: [] };
    if (typeof block !== "object" || Array.isArray(block)) {
        return { problems: [`\`${keyPrefix}\` must be an object (e.g. \`{ maxPsi: 0.2 }\`, or \`{}\` for the defaults), got ${show(block)}`] };
    }
    const input = block as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of Object.keys(input)) {
        if (!(predictionKeys as readonly string[]).includes(key)) {
            problems.push(`\`${keyPrefix}.${key}\` is not a known prediction-gate setting; known settings: ${predictionKeys.join(", ")}`);
        }
    }
    const gate: PredictionGate = { ...defaultPredictionGate };

    if (input.metric !== undefined) {
        if (typeof input.metric !== "string" || !METRIC_RE.test(input.metric)) {
            problems.push(`\`${keyPrefix}.metric\` must be the bucket series of a Prometheus histogram (a metric name ending in \`_bucket\`, e.g. \`model_prediction_score_bucket\`), got ${show(input.metric)}`);
        } else gate.metric = input.metric;
    }
    const labelWhat = "a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`)";
    const isLabel = (v: unknown): v is string => typeof v === "string" && LABEL_RE.test(v) && !v.startsWith("__") && v !== "le";
    if (input.appLabel !== undefined) {
        if (input.appLabel !== null && !isLabel(input.appLabel)) {
            problems.push(`\`${keyPrefix}.appLabel\` must be ${labelWhat}, or null to select by namespace and version alone, got ${show(input.appLabel)}`);
        } else gate.appLabel = input.appLabel as string | null;
    }
    for (const key of ["namespaceLabel", "versionLabel"] as const) {
        const v = input[key];
        if (v === undefined) continue;
        if (!isLabel(v)) {
            problems.push(`\`${keyPrefix}.${key}\` must be ${labelWhat}, got ${show(v)}`);
        } else gate[key] = v;
    }
    // Two settings naming one label would select one value for both: each names its own.
    const labels = (["appLabel", "namespaceLabel", "versionLabel"] as const).filter((k) => gate[k] !== null);
    for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++) {
            if (gate[labels[i]] === gate[labels[j]]) {
                problems.push(`\`${keyPrefix}.${labels[i]}\` and \`${keyPrefix}.${labels[j]}\` must differ, both are ${show(gate[labels[i]])}`);
            }
        }
    }

    const number = (key: "maxPsi" | "maxKs" | "minSamples"): number | null | undefined => {
        const v = input[key];
        if (v === undefined || v === null) return v;
        if (typeof v === "number") return v;
        // `pulumi config set --path` may store a number as text; plain decimals only.
        return typeof v === "string" && DECIMAL_RE.test(v) ? Number(v) : NaN;
    };
    const maxPsi = number("maxPsi");
    if (maxPsi !== undefined) {
        if (maxPsi !== null && !(Number.isFinite(maxPsi) && maxPsi > 0 && maxPsi <= 100)) {
            problems.push(`\`${keyPrefix}.maxPsi\` must be a number above 0 (at most 100), or null to disable the check, got ${show(input.maxPsi)}`);
        } else gate.maxPsi = maxPsi;
    }
    const maxKs = number("maxKs");
    if (maxKs !== undefined) {
        if (maxKs !== null && !(Number.isFinite(maxKs) && maxKs > 0 && maxKs < 1)) {
            problems.push(`\`${keyPrefix}.maxKs\` must be a number between 0 and 1 (exclusive: a share of the population), or null to disable the check, got ${show(input.maxKs)}`);
        } else gate.maxKs = maxKs;
    }
    const minSamples = number("minSamples");
    if (minSamples !== undefined) {
        if (minSamples === null || !(Number.isInteger(minSamples) && minSamples >= 1 && minSamples <= 1e9)) {
            problems.push(`\`${keyPrefix}.minSamples\` must be an integer from 1 to 1000000000, got ${show(input.minSamples)}`);
        } else gate.minSamples = minSamples;
    }
    if (problems.length === 0 && gate.maxPsi === null && gate.maxKs === null) {
        problems.push(`\`${keyPrefix}\` checks nothing with both \`maxPsi\` and \`maxKs\` null: set one of them, or remove \`${keyPrefix}\` to turn the gate off`);
    }
    return problems.length > 0 ? { problems } : { gate, problems };
}

type Side = { status: "ok"; histogram: Histogram } | { status: "error" | "nodata"; message: string };

function side(who: "canary" | "stable", m: PredictionMeasurement | undefined, gate: PredictionGate): Side {
    if (isMetricError(m)) return { status: "error", message: `${who} predictions query failed: ${m.error}` };
    if (m === null || m === undefined || m.buckets.length === 0) {
        return { status: "nodata", message: `no ${who} predictions in the analysis window (no \`${gate.metric}\` series); not judged` };
    }
    const read = readHistogram(m.buckets);
    if ("error" in read) return { status: "error", message: `${who} prediction histogram: ${read.error}` };
    // One bucket holds everything: any two such histograms are "equal", which would pass unverified.
    if (read.histogram.bounds.length === 0) return { status: "error", message: `${who} prediction histogram has only the +Inf bucket: it says nothing about the distribution of predictions` };
    const n = read.histogram.total;
    if (!(n >= gate.minSamples)) {
        return { status: "nodata", message: `${who} made ${fmtCount(n)} predictions in the analysis window, fewer than minSamples ${gate.minSamples}; not judged` };
    }
    return { status: "ok", histogram: read.histogram };
}

/**
 * Judges the canary's predictions against the stable version's: one result per enabled check
 * (`prediction-psi`, then `prediction-ks`). For each, in this order:
 *   1. "error"  if a side's query failed, or its histogram cannot be trusted (a NaN or infinite
 *               or negative count, an `le` that is not a number or repeats, no `+Inf` bucket, or
 *               nothing but the `+Inf` bucket);
 *   2. "nodata" if a side has no series, or fewer than `minSamples` predictions;
 *   3. "error"  if the two histograms have different bucket bounds (their buckets cannot be
 *               compared: the model servers are configured differently);
 *   4. "pass" / "fail" by the statistic against its threshold; a value exactly at it passes.
 */
export function evaluatePredictions(canary: PredictionMeasurement | undefined, stable: PredictionMeasurement | undefined, gate: PredictionGate): CheckResult[] {
    const names: { name: string; max: number }[] = [];
    if (gate.maxPsi !== null) names.push({ name: PREDICTION_CHECK_NAMES.psi, max: gate.maxPsi });
    if (gate.maxKs !== null) names.push({ name: PREDICTION_CHECK_NAMES.ks, max: gate.maxKs });

    const c = side("canary", canary, gate);
    const s = side("stable", stable, gate);
    const errors = [c, s].filter((x): x is { status: "error"; message: string } => x.status === "error").map((x) => x.message);
    if (errors.length > 0) return names.map(({ name }) => ({ name, status: "error", message: errors.join("; ") }));
    const nodata = [c, s].find((x): x is { status: "nodata"; message: string } => x.status === "nodata");
    if (nodata) return names.map(({ name }) => ({ name, status: "nodata", message: nodata.message }));
    const ch = (c as { histogram: Histogram }).histogram;
    const sh = (s as { histogram: Histogram }).histogram;
    if (!sameBounds(ch, sh)) {
        const message = `canary and stable prediction histograms have different bucket bounds (canary ${bounds(ch)}; stable ${bounds(sh)}): they cannot be compared bucket by bucket`;
        return names.map(({ name }) => ({ name, status: "error", message }));
    }
    const counts = `${fmtCount(ch.total)} canary and ${fmtCount(sh.total)} stable predictions in ${ch.counts.length} buckets`;
    return names.map(({ name, max }): CheckResult => {
        if (name === PREDICTION_CHECK_NAMES.psi) {
            const v = psi(ch, sh);
            const ok = v <= max * (1 + 1e-9);
            return {
                name, status: ok ? "pass" : "fail", value: v, threshold: max,
                message: ok
                    ? `canary predictions vs stable: PSI ${fmtStat(v)} <= ${max} (${counts})`
                    : `canary predictions shifted from stable: PSI ${fmtStat(v)} > ${max} (${counts})`,
            };
        }
        const { distance, at } = ksDistance(ch, sh);
        const ok = distance <= max * (1 + 1e-9);
        const where = at === undefined ? "" : `, largest at le ${at}`;
        return {
            name, status: ok ? "pass" : "fail", value: distance, threshold: max,
            message: ok
                ? `canary predictions vs stable: KS distance ${fmtStat(distance)} <= ${max} (${counts}${where})`
                : `canary predictions shifted from stable: KS distance ${fmtStat(distance)} > ${max} (${counts}${where})`,
        };
    });
}

/** Whether a side has enough predictions to be judged (the runner keeps such a stable side as a baseline). */
export function hasPredictionData(m: PredictionMeasurement | undefined, gate: PredictionGate): boolean {
    return side("stable", m, gate).status === "ok";
}

function bounds(h: Histogram): string {
    const shown = h.bounds.slice(0, 12).join(", ");
    return `${h.bounds.length} bounds: ${shown}${h.bounds.length > 12 ? ", ..." : ""}`;
}

function fmtStat(v: number): string {
    return v.toFixed(3);
}

function fmtCount(v: number): string {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * Pure canary verdict logic: thresholds, per-check evaluation, summary and the per-step
 * advance / wait / rollback decision. No I/O here; `analyze.ts` gathers the inputs.
 *
 * Principles:
 *   - Only a measured value that meets its threshold passes. Missing traffic ("nodata") and failed
 *     queries ("error") are never a pass, and both count toward rollback; the one exception is a
 *     tick with no data before the step's new traffic could have been scraped, which is pending
 *     (counted neither way: `pending.ts`).
 *   - Thresholds are absolute (canary against a fixed bound) and, optionally, relative (canary
 *     against the stable version measured over the same window).
 */
import type { HistogramSample } from "./distribution";

export type CheckStatus = "pass" | "fail" | "nodata" | "error";

export interface CheckResult {
    /** Stable identifier of the check, e.g. "success-rate" or a custom check's name. */
    name: string;
    status: CheckStatus;
    /** The canary's measured value, when one was measured. */
    value?: number;
    /** The stable version's value, for relative checks. */
    stableValue?: number;
    /** The bound the value was compared against (for relative checks: the effective bound). */
    threshold?: number;
    /** Human-readable explanation including values and thresholds. */
    message: string;
}

/** Names of the built-in metric checks, in the order `evaluate` returns them. */
export const CHECK_NAMES = {
    successRate: "success-rate",
    p99: "p99-latency",
    successRateVsStable: "success-rate-vs-stable",
    p99VsStable: "p99-latency-vs-stable",
} as const;

export interface AnalysisThresholds {
    /** Absolute: canary success rate (percent of requests without a 5xx or a gRPC status other than 0) must be >= this. 0-100. */
    minSuccessRate: number;
    /** Absolute: canary P99 latency in ms must be <= this. Above 0, at most a day (86400000). */
    maxP99Ms: number;
    /**
     * Relative: canary success rate must be >= stable success rate minus this many percentage
     * points. `null` disables the check. 0-100.
     */
    maxSuccessRateDropPoints: number | null;
    /** Relative: canary P99 must be <= this factor times the stable P99. `null` disables. 1..100. */
    maxP99Ratio: number | null;
    /**
     * Minimum number of requests a workload must have received within the analysis window for
     * its metrics to be judged. Below it the canary's checks are "nodata" (and relative checks are
     * "nodata" when the stable version is below it). Integer 1..1e9.
     */
    minRequests: number;
    /** Consecutive non-pass analyses within a step that trigger a rollback. Integer 1..100. */
    failureThreshold: number;
}

/** Defaults, matching Flagger's documented absolute defaults (99 %, 500 ms) where they overlap. */
export const defaultThresholds: Readonly<AnalysisThresholds> = Object.freeze({
    minSuccessRate: 99,
    maxP99Ms: 500,
    maxSuccessRateDropPoints: 0.5,
    maxP99Ratio: 1.2,
    minRequests: 20,
    failureThreshold: 2,
});

/**
 * The largest thresholds accepted. Past them a check would still claim to check while passing any
 * canary (a P99 bound above a day, a ratio above 100x stable), or would never judge (more requests
 * than a window holds), or a failing canary would wait at its weight instead of rolling back.
 */
export const thresholdLimits = Object.freeze({ maxP99Ms: 86_400_000, maxP99Ratio: 100, minRequests: 1_000_000_000, failureThreshold: 100 });

interface FieldSpec {
    nullable: boolean;
    integer: boolean;
    accepts: string;
    valid(v: number): boolean;
}

const FIELDS: Record<keyof AnalysisThresholds, FieldSpec> = {
    minSuccessRate: { nullable: false, integer: false, accepts: "a number from 0 to 100 (percent)", valid: (v) => v >= 0 && v <= 100 },
    maxP99Ms: {
        nullable: false,
        integer: false,
        accepts: `a number of milliseconds above 0 and at most ${thresholdLimits.maxP99Ms} (24h)`,
        valid: (v) => v > 0 && v <= thresholdLimits.maxP99Ms,
    },
    maxSuccessRateDropPoints: {
        nullable: true,
        integer: false,
        accepts: "a number from 0 to 100 (percentage points), or null to disable the check",
        valid: (v) => v >= 0 && v <= 100,
    },
    maxP99Ratio: {
        nullable: true,
        integer: false,
        accepts: `a number from 1 to ${thresholdLimits.maxP99Ratio} (a factor of the stable P99), or null to disable the check`,
        valid: (v) => v >= 1 && v <= thresholdLimits.maxP99Ratio,
    },
    minRequests: { nullable: false, integer: true, accepts: `an integer from 1 to ${thresholdLimits.minRequests}`, valid: (v) => v >= 1 && v <= thresholdLimits.minRequests },
    failureThreshold: {
        nullable: false,
        integer: true,
        accepts: `an integer from 1 to ${thresholdLimits.failureThreshold} (past ${thresholdLimits.failureThreshold} a failing canary would wait at its weight instead of rolling back)`,
        valid: (v) => v >= 1 && v <= thresholdLimits.failureThreshold,
    },
};

// `pulumi config set --path` writes a whole number as a number but a decimal (`0.5`, `1.5`) as
// text, so plain decimal text is read as the number it spells; nothing else is (`1e3`, `0x10`,
// ` 5`, `+5`, `.5`, `NaN`, `Infinity`, `500ms`).
const DECIMAL_TEXT = /^(0|[1-9][0-9]{0,15})(\.[0-9]{1,15})?$/;
const INTEGER_TEXT = /^(0|[1-9][0-9]{0,15})$/;

/** The number a threshold's value spells, or undefined: finite numbers, and plain decimal text. */
function thresholdNumber(v: unknown, integer: boolean): number | undefined {
    const n = typeof v === "number" ? v : typeof v === "string" && (integer ? INTEGER_TEXT : DECIMAL_TEXT).test(v) ? Number(v) : undefined;
    if (n === undefined || !Number.isFinite(n) || (integer && !Number.isInteger(n))) return undefined;
    return n;
}

/**
 * Merges user-supplied thresholds over `defaultThresholds` and checks every field, reporting every
 * problem at once. `undefined` (or an absent key) means "use the default"; `null` disables a
 * relative check and is refused for the other fields. Unknown keys are refused (they are usually
 * typos). Each problem names the key as `<keyPrefix>.<field>`, the value received and what is
 * accepted. `otherKeys` are the block's settings that are not thresholds (checked by the caller,
 * which takes them out first): named among the known settings when a key is unknown.
 */
export function checkThresholds(partial: unknown, keyPrefix = "rollout.analysis", otherKeys: readonly string[] = []): { thresholds?: AnalysisThresholds; problems: string[] } {
    if (partial === undefined || partial === null) return { thresholds: { ...defaultThresholds }, problems: [] };
    if (typeof partial !== "object" || Array.isArray(partial)) {
        return { problems: [`\`${keyPrefix}\` must be an object with threshold fields, got ${describeValue(partial)}`] };
    }
    const input = partial as Record<string, unknown>;
    const known = Object.keys(FIELDS);
    const problems: string[] = [];
    for (const key of Object.keys(input)) {
        if (!known.includes(key)) problems.push(`\`${keyPrefix}.${key}\` is not a known analysis setting; known settings: ${[...known, ...otherKeys].join(", ")}`);
    }
    const out: AnalysisThresholds = { ...defaultThresholds };
    for (const key of known as (keyof AnalysisThresholds)[]) {
        const v = input[key];
        if (v === undefined) continue;
        const spec = FIELDS[key];
        if (v === null && spec.nullable) {
            (out as unknown as Record<string, number | null>)[key] = null;
            continue;
        }
        const n = thresholdNumber(v, spec.integer);
        if (n === undefined || !spec.valid(n)) {
            problems.push(`\`${keyPrefix}.${key}\` must be ${spec.accepts}, got ${describeValue(v)}`);
            continue;
        }
        (out as unknown as Record<string, number | null>)[key] = n;
    }
    return problems.length > 0 ? { problems } : { thresholds: out, problems };
}

/** `checkThresholds`, throwing its problems (joined by "; ") instead of returning them. */
export function resolveThresholds(partial?: unknown, keyPrefix = "rollout.analysis"): AnalysisThresholds {
    const { thresholds, problems } = checkThresholds(partial, keyPrefix);
    if (!thresholds) throw new Error(problems.join("; "));
    return thresholds;
}

/** Outcome of one query: a value, `null` for "no data", or the reason the query failed. */
export type MetricValue = number | null | MetricError;
export interface MetricError {
    error: string;
}

/** What the prediction gate measured for one side: the histogram's buckets, no series (`null`), or why the query failed. */
export type PredictionMeasurement = { buckets: HistogramSample[] } | null | MetricError;

export interface WorkloadMeasurement {
    /** Requests received within the analysis window. */
    requests: MetricValue;
    /** Success rate in percent. */
    successRate: MetricValue;
    /** P99 latency in milliseconds. */
    p99Ms: MetricValue;
    /** The prediction histogram's buckets over the window; only when the prediction gate is on (see `prediction-gate.ts`). */
    predictions?: PredictionMeasurement;
}

export interface Measurement {
    canary: WorkloadMeasurement;
    stable: WorkloadMeasurement;
}

export function isMetricError(v: unknown): v is MetricError {
    return typeof v === "object" && v !== null && typeof (v as MetricError).error === "string";
}

/** Relative tolerance so that values exactly at a threshold are not failed by float rounding. */
const EPS = 1e-9;

/**
 * Judges one measurement. Returns the absolute checks (success rate, P99) and, when enabled,
 * the relative checks against stable, in the order of `CHECK_NAMES`.
 *
 * For each check, in this order of precedence:
 *   1. "error"  if a query the check depends on failed (including the canary's request count,
 *               without which traffic sufficiency is unknown; for relative checks also the
 *               stable value and stable request count);
 *               A request count that cannot be real (NaN, infinite, negative) is an error too;
 *   2. "nodata" if the canary had no or too little traffic (requests null, or < minRequests);
 *               for relative checks also if stable had no or too little traffic;
 *   3. "error"  if, with enough traffic, a value is impossible: a success rate outside 0..100,
 *               a latency that is negative, infinite or NaN (never judged, never a pass);
 *   4. "nodata" if a metric is null (no series);
 *   5. "pass" / "fail" by comparing the values. Values exactly at a threshold pass.
 */
export function evaluate(measurement: Measurement, thresholds: AnalysisThresholds): CheckResult[] {
    const { canary, stable } = measurement;
    const t = thresholds;
    const results: CheckResult[] = [];

    const canaryTraffic = trafficGate("canary", canary.requests, t.minRequests);
    const stableTraffic = trafficGate("stable", stable.requests, t.minRequests);

    // Absolute success rate.
    results.push(
        judge(CHECK_NAMES.successRate, [canaryTraffic], [["canary success rate", canary.successRate, "rate"]], (c) => {
            const ok = c >= t.minSuccessRate - EPS;
            return {
                status: ok ? "pass" : "fail",
                value: c,
                threshold: t.minSuccessRate,
                message: `canary success rate ${pct(c)} ${ok ? ">=" : "<"} ${pct(t.minSuccessRate)}`,
            };
        }),
    );

    // Absolute P99.
    results.push(
        judge(CHECK_NAMES.p99, [canaryTraffic], [["canary P99 latency", canary.p99Ms, "latency"]], (c) => {
            const ok = c <= t.maxP99Ms * (1 + EPS);
            return {
                status: ok ? "pass" : "fail",
                value: c,
                threshold: t.maxP99Ms,
                message: `canary P99 latency ${ms(c)} ${ok ? "<=" : ">"} ${ms(t.maxP99Ms)}`,
            };
        }),
    );

    // Relative success rate.
    const maxDrop = t.maxSuccessRateDropPoints;
    if (maxDrop !== null && maxDrop !== undefined) {
        results.push(
            judge(
                CHECK_NAMES.successRateVsStable,
                [canaryTraffic, stableTraffic],
                [
                    ["canary success rate", canary.successRate, "rate"],
                    ["stable success rate", stable.successRate, "rate"],
                ],
                (c, s) => {
                    const bound = s - maxDrop;
                    const drop = s - c;
                    const ok = c >= bound - EPS;
                    const msg = ok
                        ? `canary success rate ${pct(c)} vs stable ${pct(s)}: ${drop > 0 ? `${pts(drop)} points lower` : "not lower"}, allowed drop ${pts(maxDrop)} points`
                        : `canary success rate ${pct(c)} is ${pts(drop)} points below stable ${pct(s)} (allowed drop ${pts(maxDrop)} points, so >= ${pct(bound)} required)`;
                    return { status: ok ? "pass" : "fail", value: c, stableValue: s, threshold: bound, message: msg };
                },
            ),
        );
    }

    // Relative P99.
    const maxRatio = t.maxP99Ratio;
    if (maxRatio !== null && maxRatio !== undefined) {
        results.push(
            judge(
                CHECK_NAMES.p99VsStable,
                [canaryTraffic, stableTraffic],
                [
                    ["canary P99 latency", canary.p99Ms, "latency"],
                    ["stable P99 latency", stable.p99Ms, "latency"],
                ],
                (c, s) => {
                    const bound = s * maxRatio;
                    const ok = c <= bound * (1 + EPS) + EPS;
                    const ratio = s > 0 ? `${(c / s).toFixed(2)}x` : c > 0 ? "infinitely" : "1.00x";
                    const msg = ok
                        ? `canary P99 latency ${ms(c)} is ${ratio} stable ${ms(s)} (allowed ${maxRatio}x, <= ${ms(bound)})`
                        : `canary P99 latency ${ms(c)} is ${ratio} stable ${ms(s)}, above the allowed ${maxRatio}x (${ms(bound)})`;
                    return { status: ok ? "pass" : "fail", value: c, stableValue: s, threshold: bound, message: msg };
                },
            ),
        );
    }

    return results;
}

type Gate = { status: "ok" } | { status: "error" | "nodata"; message: string };

function trafficGate(who: "canary" | "stable", requests: MetricValue, minRequests: number): Gate {
    if (isMetricError(requests)) {
        return { status: "error", message: `${who} request count query failed: ${requests.error}` };
    }
    if (typeof requests === "number" && impossible(requests, "count")) {
        return { status: "error", message: impossibleMessage(`${who} request count`, requests, "count") };
    }
    if (requests === null || requests === undefined) {
        return {
            status: "nodata",
            message:
                who === "canary"
                    ? `no canary traffic in the analysis window (no request metrics); not judged`
                    : `stable had no traffic in the analysis window, so there is nothing to compare against`,
        };
    }
    if (!(requests >= minRequests)) {
        const n = fmtCount(requests);
        return {
            status: "nodata",
            message:
                who === "canary"
                    ? `canary received ${n} requests in the analysis window, fewer than minRequests ${minRequests}; not judged`
                    : `stable had too little traffic to compare against (${n} requests in the analysis window, fewer than minRequests ${minRequests})`,
        };
    }
    return { status: "ok" };
}

/**
 * What a measured value can be. Prometheus can answer values no real traffic produces (`+Inf` from
 * a division by zero, NaN from 0/0 over buckets that have samples, a negative rate after a counter
 * reset in a recording rule, an exporter bug): such a value judges nothing, and it must never pass.
 */
export type ValueKind = "rate" | "latency" | "count";

const possible: Record<ValueKind, { accepts: string; ok(v: number): boolean }> = {
    rate: { accepts: "a rate is 0 to 100%", ok: (v) => v >= 0 && v <= 100 },
    latency: { accepts: "a latency is a finite number >= 0 ms", ok: (v) => Number.isFinite(v) && v >= 0 },
    count: { accepts: "a count is a finite number >= 0", ok: (v) => Number.isFinite(v) && v >= 0 },
};

/** True when `v` cannot be a real measurement of this kind (NaN, infinite, out of range). */
export function impossible(v: number, kind: ValueKind): boolean {
    return Number.isNaN(v) || !possible[kind].ok(v);
}

function impossibleMessage(label: string, v: number, kind: ValueKind): string {
    return `${label} is ${v}, which is impossible (${possible[kind].accepts}): Prometheus' answer cannot be trusted`;
}

type Verdict = Required<Pick<CheckResult, "status" | "message">> & Omit<CheckResult, "name" | "status" | "message">;

/**
 * Applies the precedence rules: query errors first (metric queries, then traffic gates), then
 * missing traffic, then impossible values (an error: see `ValueKind`), then missing values, then
 * the comparison.
 */
function judge(
    name: string,
    gates: Gate[],
    values: [label: string, value: MetricValue, kind: ValueKind][],
    compare: (...v: number[]) => Verdict,
): CheckResult {
    const errors: string[] = [];
    for (const [label, v] of values) {
        if (isMetricError(v)) errors.push(`${label} query failed: ${v.error}`);
    }
    for (const g of gates) if (g.status === "error") errors.push(g.message);
    if (errors.length > 0) return { name, status: "error", message: errors.join("; ") };

    for (const g of gates) if (g.status === "nodata") return { name, status: "nodata", message: g.message };

    // With enough traffic, every value must be one real traffic can produce.
    const impossibleValues = values.filter(([, v, kind]) => typeof v === "number" && impossible(v, kind));
    if (impossibleValues.length > 0) {
        return { name, status: "error", message: impossibleValues.map(([label, v, kind]) => impossibleMessage(label, v as number, kind)).join("; ") };
    }

    const nums: number[] = [];
    for (const [label, v] of values) {
        if (v === null || v === undefined || typeof v !== "number") {
            return { name, status: "nodata", message: `${label}: no data in the analysis window; not judged` };
        }
        nums.push(v);
    }
    return { name, ...compare(...nums) };
}

/**
 * Overall outcome of one analysis: "pass" only when there is at least one result and every
 * result passed. "nodata" and "error" are not a pass; an empty list is not a pass either
 * (nothing was verified).
 */
export function summarize(results: readonly CheckResult[]): "pass" | "fail" {
    if (results.length === 0) return "fail";
    return results.every((r) => r.status === "pass") ? "pass" : "fail";
}

export type AnalysisSummary = "pass" | "fail";
/**
 * What one tick of a step counts as: its summary, or "pending" when it judged nothing yet (no data
 * before the step's new traffic could have been scraped: see `pending.ts`). A pending tick is
 * neither a pass nor a failure.
 */
export type TickOutcome = AnalysisSummary | "pending";
export type StepDecision = "advance" | "wait" | "rollback";

export interface StepDecisionInput {
    /** Outcomes of the ticks run during the current step, oldest first. */
    outcomes: readonly TickOutcome[];
    /** Time since the current step started (weights applied), in ms. */
    elapsedMs: number;
    /** How long the step must last before it may advance, in ms. */
    intervalMs: number;
    /** Consecutive non-pass analyses that trigger a rollback. */
    failureThreshold: number;
}

export interface StepDecisionResult {
    decision: StepDecision;
    /** Failed analyses since the last pass (or since the step started); pending ticks are not counted. */
    consecutiveFailures: number;
    reason: string;
}

/**
 * Decides what the rollout loop does after an analysis tick at the current step.
 *
 * Intended loop: when a step starts (weights applied), reset `outcomes` to `[]`. Every tick
 * (e.g. every 10 s) run the analysis, append its outcome (`summarize(results)`, or "pending" by
 * `judgeTick` in pending.ts) to `outcomes`, and call `decideStep`:
 *   - "rollback" as soon as the last `failureThreshold` counted analyses are all non-pass. A pass
 *     resets the count. "nodata" and "error" are non-pass, so a canary that gets no traffic or
 *     cannot be measured is rolled back rather than promoted. A pending tick is skipped: it
 *     neither adds to the count nor resets it.
 *   - "advance" when the step's interval has elapsed and the most recent tick passed (a pending
 *     latest tick never advances).
 *   - "wait" otherwise: keep the weights and analyse again next tick. This includes an elapsed
 *     interval whose latest analysis failed without reaching `failureThreshold`: the step is
 *     extended until either a pass (advance) or enough consecutive failures (rollback).
 *
 * Choose the interval at least as long as the metric window, so that the analysis that lets a
 * step advance measured traffic at that step's weight. Rollback is checked before advance.
 */
export function decideStep(input: StepDecisionInput): StepDecisionResult {
    const { outcomes, elapsedMs, intervalMs, failureThreshold } = input;
    if (!Number.isInteger(failureThreshold) || failureThreshold < 1) {
        throw new Error(`failureThreshold must be an integer >= 1, got ${describeValue(failureThreshold)}`);
    }
    if (typeof elapsedMs !== "number" || Number.isNaN(elapsedMs) || typeof intervalMs !== "number" || Number.isNaN(intervalMs)) {
        throw new Error(`elapsedMs and intervalMs must be numbers, got ${describeValue(elapsedMs)} and ${describeValue(intervalMs)}`);
    }
    const consecutiveFailures = countConsecutiveFailures(outcomes);
    if (consecutiveFailures >= failureThreshold) {
        return {
            decision: "rollback",
            consecutiveFailures,
            reason: `${consecutiveFailures} consecutive analyses did not pass (failureThreshold ${failureThreshold})`,
        };
    }
    const last = outcomes.length > 0 ? outcomes[outcomes.length - 1] : undefined;
    const elapsed = elapsedMs >= intervalMs;
    if (elapsed && last === "pass") {
        return { decision: "advance", consecutiveFailures, reason: `interval elapsed and the latest analysis passed` };
    }
    let reason: string;
    if (last === undefined) reason = "no analysis has run in this step yet";
    else if (last === "pending") reason = `the latest analysis is pending, not counted (${consecutiveFailures} of ${failureThreshold} failures before rollback)`;
    else if (!elapsed) reason = `step interval not elapsed yet (${Math.round(elapsedMs / 1000)}s of ${Math.round(intervalMs / 1000)}s)`;
    else
        reason = `interval elapsed but the latest analysis did not pass (${consecutiveFailures} of ${failureThreshold} failures before rollback)`;
    return { decision: "wait", consecutiveFailures, reason };
}

/** Number of trailing failed outcomes, skipping pending ones (which neither count nor reset the count). */
export function countConsecutiveFailures(outcomes: readonly TickOutcome[]): number {
    let n = 0;
    for (let i = outcomes.length - 1; i >= 0 && outcomes[i] !== "pass"; i--) if (outcomes[i] === "fail") n++;
    return n;
}

function pct(v: number): string {
    return `${v.toFixed(2)}%`;
}

function pts(v: number): string {
    return v.toFixed(2);
}

function ms(v: number): string {
    if (!Number.isFinite(v)) return `${v} ms`;
    return `${Number.isInteger(v) ? v : v.toFixed(1)} ms`;
}

function fmtCount(v: number): string {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function describeValue(v: unknown): string {
    if (typeof v === "string") return `${JSON.stringify(v)} (a string)`;
    if (typeof v === "number") return String(v);
    if (v === undefined) return "undefined";
    if (Array.isArray(v)) return `${JSON.stringify(v)} (an array)`;
    try {
        return JSON.stringify(v) ?? String(v);
    } catch {
        return String(v);
    }
}

/**
 * One analysis run: query canary and stable metrics (in parallel), evaluate the thresholds and
 * run the custom checks. A failed query becomes an "error" measurement (and hence "error"
 * checks); it is never dropped or read as "no data".
 */
import { runCustomCheck, type CheckContext, type CustomCheck } from "./custom";
import { evaluatePredictions, type PredictionGate, type PredictionMeasurement } from "./prediction-gate";
import type { InstantQuerier } from "./prometheus";
import { predictionBucketsQuery, workloadQueries, type WorkloadQueries } from "./queries";
import type { Reporter } from "./reporter";
import {
    evaluate,
    summarize,
    type AnalysisThresholds,
    type CheckResult,
    type Measurement,
    type MetricValue,
    type WorkloadMeasurement,
} from "./verdict";

export interface RunAnalysisOptions {
    /** Usually a `PrometheusClient`. */
    prometheus: InstantQuerier;
    namespace: string;
    /** The model's `app` (its pods' `app` label): the prediction gate selects its histogram by it. */
    app: string;
    /** Workload name of the canary (e.g. Deployment `model-v2`). */
    canaryWorkload: string;
    /** Workload name of the stable version (e.g. Deployment `model-v1`). */
    stableWorkload: string;
    /** Prometheus range for rate()/increase(), e.g. "1m". Should span at least 2 scrape intervals. */
    window: string;
    /** Whose request metrics are read, in order of preference (`reporter.ts`); default `["destination"]`. */
    reporters?: readonly Reporter[];
    thresholds: AnalysisThresholds;
    /** The prediction-distribution gate, when on; it selects the versions by `context`'s `canaryVersion` and `stableVersion`. */
    predictions?: PredictionGate;
    customChecks?: readonly CustomCheck[];
    /** Passed to custom checks, together with namespace, workloads and window. */
    context: CheckContext;
    /** Secret config values the custom checks use: never shown in a result. */
    secrets?: readonly string[];
    /** Clock, for tests. */
    now?: () => Date;
    /** Cancels the queries and ends running custom checks at once (their results are then "error"). */
    signal?: AbortSignal;
}

export interface AnalysisReport {
    /** Metric checks (see `evaluate`) followed by custom checks in their given order. */
    results: CheckResult[];
    /** `summarize(results)`. */
    summary: "pass" | "fail";
    measurement: Measurement;
    /** The PromQL that produced `measurement`, for logs and debugging. */
    queries: { canary: WorkloadQueries & { predictions?: string }; stable: WorkloadQueries & { predictions?: string } };
    /** When the analysis started (queries are evaluated at about this time). */
    at: Date;
}

export async function runAnalysis(opts: RunAnalysisOptions): Promise<AnalysisReport> {
    const at = (opts.now ?? (() => new Date()))();
    // Builders throw on invalid input (empty names, bad window): that is a configuration bug,
    // surfaced to the caller rather than reported as a failed analysis.
    const queries: AnalysisReport["queries"] = {
        canary: workloadQueries({ namespace: opts.namespace, workload: opts.canaryWorkload, ...(opts.reporters ? { reporters: opts.reporters } : {}) }, opts.window),
        stable: workloadQueries({ namespace: opts.namespace, workload: opts.stableWorkload, ...(opts.reporters ? { reporters: opts.reporters } : {}) }, opts.window),
    };
    const gate = opts.predictions;
    if (gate) {
        const sel = (version: string) => ({ metric: gate.metric, appLabel: gate.appLabel, namespaceLabel: gate.namespaceLabel, versionLabel: gate.versionLabel, app: opts.app, namespace: opts.namespace, version });
        queries.canary.predictions = predictionBucketsQuery(sel(opts.context.canaryVersion), opts.window);
        queries.stable.predictions = predictionBucketsQuery(sel(opts.context.stableVersion), opts.window);
    }
    const context: CheckContext = {
        namespace: opts.namespace,
        canaryWorkload: opts.canaryWorkload,
        stableWorkload: opts.stableWorkload,
        window: opts.window,
        // A check that queries Prometheus itself reads the reporter the metric checks read.
        ...(opts.reporters ? { reporters: [...opts.reporters] } : {}),
        ...opts.context,
    };

    const [canary, stable, custom] = await Promise.all([
        measure(opts.prometheus, queries.canary, opts.signal),
        measure(opts.prometheus, queries.stable, opts.signal),
        Promise.all((opts.customChecks ?? []).map((c) => runCustomCheck(c, context, { secrets: opts.secrets, signal: opts.signal }))),
    ]);
    const measurement: Measurement = { canary, stable };
    const results = [...judgeMeasurement(measurement, opts.thresholds, gate), ...custom];
    return { results, summary: summarize(results), measurement, queries, at };
}

/** The metric checks of one measurement (see `evaluate`), followed by the prediction gate's when it is on. */
export function judgeMeasurement(measurement: Measurement, thresholds: AnalysisThresholds, gate: PredictionGate | undefined): CheckResult[] {
    const results = evaluate(measurement, thresholds);
    if (gate) results.push(...evaluatePredictions(measurement.canary.predictions, measurement.stable.predictions, gate));
    return results;
}

async function measure(prom: InstantQuerier, q: AnalysisReport["queries"]["canary"], signal?: AbortSignal): Promise<WorkloadMeasurement> {
    const [requests, successRate, p99Ms, predictions] = await Promise.all([
        safeQuery(prom, q.requests, signal),
        safeQuery(prom, q.successRate, signal),
        safeQuery(prom, q.p99Ms, signal),
        q.predictions === undefined ? undefined : safeHistogram(prom, q.predictions, signal),
    ]);
    return predictions === undefined ? { requests, successRate, p99Ms } : { requests, successRate, p99Ms, predictions };
}

/** A histogram's buckets by `le`; a series without `le` is kept with an empty one, so the gate reports it. */
async function safeHistogram(prom: InstantQuerier, expr: string, signal?: AbortSignal): Promise<PredictionMeasurement> {
    try {
        const samples = await prom.queryVector(expr, signal);
        if (samples.length === 0) return null;
        return { buckets: samples.map((s) => ({ le: s.labels.le ?? "", count: s.value })) };
    } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
    }
}

async function safeQuery(prom: InstantQuerier, expr: string, signal?: AbortSignal): Promise<MetricValue> {
    try {
        return await prom.query(expr, signal);
    } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
    }
}

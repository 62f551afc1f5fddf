/**
 * Before a rollout changes anything: is the Prometheus it will judge by usable? A mistyped or
 * unreachable URL would otherwise turn every analysis into "error" and roll back a healthy canary
 * (removing the testers' header routes with it). Three questions, in order:
 *   1. does the URL answer at all (connection, HTTP status, JSON)?
 *   2. does it evaluate a query (`vector(1)` must be 1)?
 *   3. does it hold the stable workload's `istio_requests_total` series under the configured
 *      reporter (`rollout.analysis.reporter`), i.e. is it the Prometheus that scrapes this mesh,
 *      with the workload names and the reporter the analysis will use? In ambient mode without
 *      a waypoint there is no such series at all (ztunnel reports only TCP metrics).
 *   4. with the prediction gate on: does it hold the stable model's prediction histogram under the
 *      configured metric and label names (the app label included)? Otherwise every analysis would be "no data" and a healthy
 *      canary would be rolled back for a naming mistake.
 * Returns the problem (a sentence naming the URL) and what to fix, or undefined when all hold.
 */
import { describeNetworkError, PrometheusError, type InstantQuerier } from "./prometheus";
import { predictionSeriesSelector, seriesCountQuery, type PredictionSelector, type WorkloadSelector } from "./queries";
import { defaultReporter, describeReporters } from "./reporter";

export interface PreflightOptions {
    prometheus: InstantQuerier;
    /** Shown in messages, e.g. `http://localhost:9090`. */
    url: string;
    stable: WorkloadSelector;
    /** The stable version's prediction histogram, when the prediction gate is on. */
    stablePredictions?: PredictionSelector;
    signal?: AbortSignal;
}

export interface PreflightProblem {
    message: string;
    /** The setting to fix, as advice: "fix `rollout.prometheus` (or `--prometheus`)". */
    fix: string;
}

const FIX_URL = "fix `rollout.prometheus` (or `--prometheus`)";

export async function preflightPrometheus(opts: PreflightOptions): Promise<PreflightProblem | undefined> {
    const problem = (message: string, fix = FIX_URL): PreflightProblem => ({ message, fix });
    const where = `Prometheus at ${opts.url}`;
    let probe: number | null;
    try {
        probe = await opts.prometheus.query("vector(1)", opts.signal);
    } catch (err) {
        return problem(`${where} did not answer a query: ${reason(err)}`);
    }
    if (probe !== 1) return problem(`${where} answered the query \`vector(1)\` with ${String(probe)} instead of 1: is that URL a Prometheus server?`);

    const query = seriesCountQuery(opts.stable);
    let series: number | null;
    try {
        series = await opts.prometheus.query(query, opts.signal);
    } catch (err) {
        return problem(`${where} failed the query \`${query}\`: ${reason(err)}`);
    }
    if (series === null || !(series > 0)) {
        const reporters = opts.stable.reporters ?? [defaultReporter];
        const by = reporters.length === 1 && reporters[0] === defaultReporter ? "" : ` reported by ${reporters.map((r) => `\`${r}\``).join(" or ")}`;
        return problem(`${where} has no \`istio_requests_total\` series${by} for the stable workload \`${opts.stable.workload}\` in namespace \`${opts.stable.namespace}\` (\`${query}\` is empty): `
            + "the canary could not be compared with it. Check that this is the Prometheus that scrapes the mesh's proxies and that the stable model receives traffic",
            `check that \`rollout.analysis.reporter\` (${describeReporters(reporters)}) names the proxy that reports the model's requests: \`destination\` with sidecars, \`waypoint\` in ambient mode with a waypoint (without one, ambient reports no request metrics); or ${FIX_URL}`);
    }

    const p = opts.stablePredictions;
    if (p) {
        const selector = predictionSeriesSelector(p);
        const count = `count(${selector})`;
        let buckets: number | null;
        try {
            buckets = await opts.prometheus.query(count, opts.signal);
        } catch (err) {
            return problem(`${where} failed the query \`${count}\`: ${reason(err)}`);
        }
        if (buckets === null || !(buckets > 0)) {
            return problem(`${where} has no \`${p.metric}\` series for the stable version \`${p.version}\` (\`${selector}\` is empty): the prediction gate could not compare the canary's predictions with stable's. `
                + "Check that the model server exports its prediction histogram and that Prometheus gives it these labels",
                "set `rollout.predictions.metric`, `appLabel`, `namespaceLabel` and `versionLabel` to the names the model server and Prometheus use "
                + "(`appLabel: null` if its series carry no app label and no other model in the namespace shares its version names; or remove `rollout.predictions`)");
        }
    }
    return undefined;
}

function reason(err: unknown): string {
    if (err instanceof PrometheusError) return err.message.replace(/^Prometheus query to \S+ failed/, "request failed");
    return describeNetworkError(err);
}

/**
 * Before a rollout changes anything: is the Prometheus it will judge by usable? A mistyped or
 * unreachable URL would otherwise turn every analysis into "error" and roll back a healthy canary
 * (removing the testers' header routes with it). Three questions, in order:
 *   1. does the URL answer at all (connection, HTTP status, JSON)?
 *   2. does it evaluate a query (`vector(1)` must be 1)?
 *   3. does it hold the stable workload's `istio_requests_total` series, i.e. is it the
 *      Prometheus that scrapes this mesh, with the workload names the analysis will use?
 * Returns the problem as a sentence naming the URL, or undefined when all three hold.
 */
import { describeNetworkError, PrometheusError, type InstantQuerier } from "./prometheus";
import { seriesCountQuery, type WorkloadSelector } from "./queries";

export interface PreflightOptions {
    prometheus: InstantQuerier;
    /** Shown in messages, e.g. `http://localhost:9090`. */
    url: string;
    stable: WorkloadSelector;
    signal?: AbortSignal;
}

export async function preflightPrometheus(opts: PreflightOptions): Promise<string | undefined> {
    const where = `Prometheus at ${opts.url}`;
    let probe: number | null;
    try {
        probe = await opts.prometheus.query("vector(1)", opts.signal);
    } catch (err) {
        return `${where} did not answer a query: ${reason(err)}`;
    }
    if (probe !== 1) return `${where} answered the query \`vector(1)\` with ${String(probe)} instead of 1: is that URL a Prometheus server?`;

    const query = seriesCountQuery(opts.stable);
    let series: number | null;
    try {
        series = await opts.prometheus.query(query, opts.signal);
    } catch (err) {
        return `${where} failed the query \`${query}\`: ${reason(err)}`;
    }
    if (series === null || !(series > 0)) {
        return `${where} has no \`istio_requests_total\` series for the stable workload \`${opts.stable.workload}\` in namespace \`${opts.stable.namespace}\` (\`${query}\` is empty): `
            + "the canary could not be compared with it. Check that this is the Prometheus that scrapes the mesh's sidecars and that the stable model receives traffic";
    }
    return undefined;
}

function reason(err: unknown): string {
    if (err instanceof PrometheusError) return err.message.replace(/^Prometheus query to \S+ failed/, "request failed");
    return describeNetworkError(err);
}

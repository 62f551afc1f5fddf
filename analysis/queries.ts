/**
 * PromQL builders over Istio's standard metrics for one workload.
 *
 * All builders are pure: they validate their input and return a query string. Label values are
 * matched literally (`=` with an escaped string), never as regular expressions, so a workload
 * called `model-v2` does not also match `model-v2-shadow`.
 *
 * Every query filters on one `reporter` (`reporter.ts`), `destination` unless the selector says
 * otherwise: with sidecars Istio reports each request twice (once by the client-side proxy,
 * `reporter="source"`, once by the server-side proxy), and only the destination side sees every
 * request that reaches the workload, whoever sent it. In ambient mode the waypoint reports it
 * (`reporter="waypoint"`, the same destination labels). With a list of reporters each query is
 * `Q(first) or (Q(second) unless on() <the first has series in the window>)`: the first reporter
 * with series for the workload in the window is read alone, so the three queries of one workload
 * read the same reporter, and a request both report is never counted twice.
 *
 * Counts over the window come from `seriesCountInWindow` (`window-count.ts`): `increase`, plus the
 * first value of each series born inside the window, which `increase` and `rate` never see (a
 * canary's first `response_code="500"`).
 */
import { defaultReporter, reporters, type Reporter } from "./reporter";
import { seriesCountInWindow } from "./window-count";

/** Identifies the workload whose server-side (destination) metrics are read. */
export interface WorkloadSelector {
    /** Kubernetes namespace of the workload (`destination_workload_namespace`). */
    namespace: string;
    /** Workload name, e.g. the Deployment name `model-v2` (`destination_workload`). */
    workload: string;
    /** Whose series are read, in order of preference (see `reporter.ts`); default `["destination"]`. */
    reporters?: readonly Reporter[];
}

/** Istio's request counter. */
export const REQUESTS_METRIC = "istio_requests_total";
/** Istio's request duration histogram (milliseconds); the `_bucket` series carry `le`. */
export const DURATION_BUCKET_METRIC = "istio_request_duration_milliseconds_bucket";

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [365 * 24 * 3600_000, 7 * 24 * 3600_000, 24 * 3600_000, 3600_000, 60_000, 1000, 1];

/**
 * Parses a Prometheus duration ("30s", "1m", "1m30s", "500ms", "2h") into milliseconds.
 * Units must appear largest first, as Prometheus requires. Throws for anything else, including
 * zero, so that a bad window never reaches a query string.
 */
export function parseDurationMs(duration: string): number {
    if (typeof duration !== "string" || duration === "") {
        throw new Error(`window must be a Prometheus duration such as "30s" or "1m", got ${describe(duration)}`);
    }
    const m = DURATION_RE.exec(duration);
    if (!m) {
        throw new Error(
            `window must be a Prometheus duration such as "30s", "1m" or "1m30s" (units y, w, d, h, m, s, ms, largest first), got ${describe(duration)}`,
        );
    }
    let ms = 0;
    for (let i = 0; i < UNIT_MS.length; i++) {
        const part = m[i + 1];
        if (part !== undefined) ms += Number(part) * UNIT_MS[i];
    }
    if (ms <= 0) throw new Error(`window must be longer than zero, got ${describe(duration)}`);
    return ms;
}

/**
 * Escapes a value for a double-quoted PromQL string literal. PromQL strings follow Go's escape
 * rules, so backslash, double quote and control characters must be escaped.
 */
export function escapeLabelValue(value: string): string {
    let out = "";
    for (const ch of value) {
        switch (ch) {
            case "\\":
                out += "\\\\";
                break;
            case '"':
                out += '\\"';
                break;
            case "\n":
                out += "\\n";
                break;
            case "\r":
                out += "\\r";
                break;
            case "\t":
                out += "\\t";
                break;
            default: {
                const code = ch.codePointAt(0)!;
                out += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : ch;
            }
        }
    }
    return out;
}

/**
 * The namespace's request series of one reporter: their samples before the window show that
 * Prometheus was scraping that reporter then (sidecars and waypoints are scraped as different
 * targets), so a series of the workload without one was born inside the window (see
 * `window-count.ts`).
 */
function scrapingWitness(sel: WorkloadSelector, reporter: Reporter): string {
    return `${REQUESTS_METRIC}{reporter="${reporter}",destination_workload_namespace="${escapeLabelValue(sel.namespace)}"}`;
}

/** `sum(...)` of the requests matching the workload and `extra` during `w`, new series counted from zero. */
function requestsInWindow(sel: WorkloadSelector, reporter: Reporter, w: string, extra: string[] = []): string {
    return `sum(${seriesCountInWindow(`${REQUESTS_METRIC}{${workloadMatchers(sel, reporter, extra)}}`, w, scrapingWitness(sel, reporter))})`;
}

/** The label matchers (inside `{}`) shared by all queries for one workload and one reporter. */
export function workloadMatchers(sel: WorkloadSelector, reporter: Reporter = defaultReporter, extra: string[] = []): string {
    checkSelector(sel);
    const matchers = [
        `reporter="${reporter}"`,
        `destination_workload_namespace="${escapeLabelValue(sel.namespace)}"`,
        `destination_workload="${escapeLabelValue(sel.workload)}"`,
        ...extra,
    ];
    return matchers.join(",");
}

/** The selector's reporters, checked: a non-empty list of distinct known names. */
function reportersOf(sel: WorkloadSelector): readonly Reporter[] {
    const list = sel?.reporters ?? [defaultReporter];
    if (!Array.isArray(list) || list.length === 0 || new Set(list).size !== list.length || !list.every((r) => (reporters as readonly string[]).includes(r))) {
        throw new Error(`workload selector reporters must be a non-empty list of distinct reporters (destination, waypoint), got ${describe(list)}`);
    }
    return list;
}

/** Non-empty when the reporter has a request series of the workload with a sample in the window. */
function reportsInWindow(sel: WorkloadSelector, reporter: Reporter, w: string): string {
    return `count(count_over_time(${REQUESTS_METRIC}{${workloadMatchers(sel, reporter)}}[${w}]))`;
}

/**
 * `build(reporter)` for the first of the selector's reporters that has series of the workload in
 * the window: `Q(r1) or (Q(r2) unless on() has(r1))`. `Q(r)` is empty when `r` has no series
 * there, so this reads r1 whenever it reports the workload (even where its query is empty or NaN,
 * as it would be alone) and r2 only when r1 does not. Never a sum of the two.
 */
function firstReporting(sel: WorkloadSelector, w: string, build: (reporter: Reporter) => string): string {
    const list = reportersOf(sel);
    let query = build(list[0]);
    for (let i = 1; i < list.length; i++) {
        const earlier = list.slice(0, i).map((r) => reportsInWindow(sel, r, w)).join(" or ");
        query = `${query} or (${build(list[i])} unless on() (${earlier}))`;
    }
    return query;
}

/**
 * Success rate in percent (0-100): requests that did not fail over all requests, both counted
 * over `window` as the request count is (a series born inside the window counted from zero, so
 * a canary's first errors count). A request failed when its HTTP response code is 5xx, or when
 * it is a gRPC request (`request_protocol="grpc"`) whose gRPC status (`grpc_response_status`) is
 * anything but `0` (OK): gRPC servers (Triton, KServe's v2 protocol) answer errors such as
 * UNAVAILABLE (14) with HTTP 200, so the response code alone misses them. A gRPC request without
 * a status counts as failed too (`!="0"` matches an absent label); a gRPC request answered with
 * a 5xx counts once.
 *
 * The good requests are the non-5xx non-gRPC ones plus the non-5xx gRPC ones with status 0; each
 * part falls back to `vector(0)` when it has no series, so a canary that fails every request
 * yields 0 (a failure) instead of an empty result (which would read as "no data"). With no
 * traffic at all the denominator is empty or 0 and the result is empty or NaN; the request count
 * then keeps the check at "no data" (see `verdict.ts`).
 */
export function successRateQuery(sel: WorkloadSelector, window: string): string {
    const w = checkWindow(window);
    return firstReporting(sel, w, (r) => {
        const okHttp = requestsInWindow(sel, r, w, [`response_code!~"5.."`, `request_protocol!="grpc"`]);
        const okGrpc = requestsInWindow(sel, r, w, [`response_code!~"5.."`, `request_protocol="grpc"`, `grpc_response_status="0"`]);
        return `((${okHttp} or vector(0)) + (${okGrpc} or vector(0))) / ${requestsInWindow(sel, r, w)} * 100`;
    });
}

/**
 * Latency quantile in milliseconds from Istio's duration histogram. `histogram_quantile`
 * interpolates linearly inside the bucket holding the quantile, so the result is only as precise
 * as Istio's bucket bounds (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, ... ms). The buckets are
 * counted like requests, so the requests of a series born inside the window (a canary's first
 * slow errors) are in the quantile.
 */
export function latencyQuantileQuery(sel: WorkloadSelector, window: string, quantile: number): string {
    const w = checkWindow(window);
    if (typeof quantile !== "number" || !(quantile > 0 && quantile < 1)) {
        throw new Error(`quantile must be a number between 0 and 1 (exclusive), got ${describe(quantile)}`);
    }
    return firstReporting(sel, w, (r) => {
        const buckets = seriesCountInWindow(`${DURATION_BUCKET_METRIC}{${workloadMatchers(sel, r)}}`, w, scrapingWitness(sel, r));
        return `histogram_quantile(${quantile}, sum by (le) (${buckets}))`;
    });
}

/** P99 latency in milliseconds over `window`. */
export function p99LatencyQuery(sel: WorkloadSelector, window: string): string {
    return latencyQuantileQuery(sel, window, 0.99);
}

/**
 * Number of requests the workload received during `window` (all response codes), counted as the
 * success rate's denominator is, so `minRequests` judges the requests the rate was computed from.
 * `increase` extrapolates to the window bounds, so the value is an estimate and need not be an
 * integer.
 */
export function requestCountQuery(sel: WorkloadSelector, window: string): string {
    const w = checkWindow(window);
    return firstReporting(sel, w, (r) => requestsInWindow(sel, r, w));
}

/** The three queries analysis runs for one workload. */
export interface WorkloadQueries {
    requests: string;
    successRate: string;
    p99Ms: string;
}

export function workloadQueries(sel: WorkloadSelector, window: string): WorkloadQueries {
    return {
        requests: requestCountQuery(sel, window),
        successRate: successRateQuery(sel, window),
        p99Ms: p99LatencyQuery(sel, window),
    };
}

function checkWindow(window: string): string {
    parseDurationMs(window);
    return window;
}

function checkSelector(sel: WorkloadSelector): void {
    if (sel === null || typeof sel !== "object") {
        throw new Error(`workload selector must be an object with namespace and workload, got ${describe(sel)}`);
    }
    for (const key of ["namespace", "workload"] as const) {
        const v: unknown = sel[key];
        if (typeof v !== "string" || v.trim() === "") {
            throw new Error(`workload selector ${key} must be a non-empty string, got ${describe(v)}`);
        }
    }
}

function describe(v: unknown): string {
    if (typeof v === "string") return JSON.stringify(v);
    if (v === undefined) return "undefined";
    try {
        return JSON.stringify(v) ?? String(v);
    } catch {
        return String(v);
    }
}

/**
 * How many `istio_requests_total` series exist for a workload (any response code, any source),
 * by the first of the selector's reporters that has any: empty when Prometheus has never scraped
 * a proxy that reports the workload (its sidecar, or the waypoint in front of it), or not within
 * the staleness window. The rollout's preflight uses it on the stable workload.
 */
export function seriesCountQuery(sel: WorkloadSelector): string {
    return reportersOf(sel).map((r) => `count(${REQUESTS_METRIC}{${workloadMatchers(sel, r)}})`).join(" or ");
}

/** Where a model server's prediction histogram is read: its bucket series and the labels that select one version. */
export interface PredictionSelector {
    /** The histogram's bucket series, e.g. `model_prediction_score_bucket`. */
    metric: string;
    /** The label holding the model's app; `null`: not selected by app. */
    appLabel: string | null;
    namespaceLabel: string;
    versionLabel: string;
    /** The model's `app` (its pods' `app` label), e.g. `fraud`; ignored when `appLabel` is null. */
    app: string;
    namespace: string;
    /** The model version, e.g. `v2` (not the Deployment name). */
    version: string;
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The series selector of one version's prediction histogram:
 * `<metric>{<app label>="APP",<ns label>="NS",<version label>="V"}` (without the app matcher when
 * `appLabel` is null). Throws on names Prometheus would not accept: a configuration bug.
 */
export function predictionSeriesSelector(sel: PredictionSelector): string {
    if (!METRIC_NAME_RE.test(sel.metric)) throw new Error(`prediction metric must be a Prometheus metric name, got ${describe(sel.metric)}`);
    const keys = [...(sel.appLabel === null ? [] : ["appLabel"] as const), "namespaceLabel", "versionLabel"] as const;
    for (const key of keys) {
        if (typeof sel[key] !== "string" || !LABEL_NAME_RE.test(sel[key] as string)) throw new Error(`prediction ${key} must be a Prometheus label name, got ${describe(sel[key])}`);
    }
    const values = [...(sel.appLabel === null ? [] : ["app"] as const), "namespace", "version"] as const;
    for (const key of values) {
        if (typeof sel[key] !== "string" || sel[key].trim() === "") throw new Error(`prediction selector ${key} must be a non-empty string, got ${describe(sel[key])}`);
    }
    const matchers = [
        ...(sel.appLabel === null ? [] : [`${sel.appLabel}="${escapeLabelValue(sel.app)}"`]),
        `${sel.namespaceLabel}="${escapeLabelValue(sel.namespace)}"`,
        `${sel.versionLabel}="${escapeLabelValue(sel.version)}"`,
    ];
    return `${sel.metric}{${matchers.join(",")}}`;
}

/**
 * Predictions per bucket during `window`: `sum by (le) (...)` of each bucket series' count over
 * the window (`seriesCountInWindow`: `increase`, plus the first value of a series born inside the
 * window, e.g. a canary pod that predicted before its first scrape), one cumulative count per
 * bucket bound, summed over the version's pods (and whatever other labels the series carry). The
 * app matcher keeps apart two models of one namespace that share version names. The model
 * server's own metrics, not Istio's, so no `reporter` label; a mirrored (shadow) request is
 * predicted and counted like any other. The witness that Prometheus was scraping before the
 * window is the namespace's series of the same metric.
 */
export function predictionBucketsQuery(sel: PredictionSelector, window: string): string {
    const w = checkWindow(window);
    const selector = predictionSeriesSelector(sel); // checks the names the witness uses too
    const witness = `${sel.metric}{${sel.namespaceLabel}="${escapeLabelValue(sel.namespace)}"}`;
    return `sum by (le) (${seriesCountInWindow(selector, w, witness)})`;
}

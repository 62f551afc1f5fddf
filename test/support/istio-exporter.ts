/**
 * A fake Istio telemetry endpoint for tests: serves `/metrics` in the Prometheus text format with
 * the series Istio's proxies expose (`istio_requests_total` and the
 * `istio_request_duration_milliseconds` histogram), for any number of workloads, and optionally
 * the histogram of predictions a model server exports (`model_prediction_score`, labelled
 * `namespace` and `version`), one prediction per request that did not fail.
 *
 * Traffic is simulated continuously: each workload has a request rate, an error ratio and a
 * latency; counters are advanced by elapsed time x rate whenever they are read or the settings
 * change, so they grow like real counters and stay monotonic when the rate changes mid-test.
 * Emitted values are integers (floor of the exact simulated totals).
 *
 * gRPC traffic (`protocol: "grpc"`) is labelled `request_protocol="grpc"` with a
 * `grpc_response_status`; as with real gRPC servers its errors travel over HTTP 200 by default.
 *
 * As with real Istio, a series (per response code) only appears once it has counted a request,
 * and every request is reported twice: once by the destination proxy (`reporter="destination"`)
 * and once by the source proxy (`reporter="source"`), so queries that forget the reporter
 * filter double count. A simulated rate's new series usually shows 0 at its first scrape (the
 * floor of a fraction); `addRequests` books a burst at once, so a new series can first show 5,
 * as a real proxy's does after five requests between two scrapes.
 *
 * Mirrored requests (Istio's `mirror`/`mirrors`: the shadow stage) are counted by the destination
 * proxy only: the source proxy's copy is not a request of its caller, and its answer is
 * discarded. `mirroredRps` simulates them; the model server predicts on them like on any other.
 *
 * `reporters` says which proxies report a workload's requests: `["destination", "source"]` (the
 * default) is sidecar mode; `["waypoint"]` is ambient mode behind a waypoint, which reports each
 * request once, on the receiving side, with the same destination labels (ztunnel reports no
 * request metrics); `["waypoint", "destination"]` is an ambient client calling through a waypoint
 * a pod that still has its sidecar (a namespace migrating to ambient): both report each request.
 */
import http from "http";
import type { AddressInfo } from "net";

/** Istio's default request duration buckets (ms). */
export const ISTIO_DURATION_BUCKETS_MS = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

export interface TrafficSettings {
    /** Requests per second. 0 stops traffic (existing series keep their values). */
    rps: number;
    /** Fraction of requests that fail (0-1): answered with `errorCode`, and for gRPC with `grpcErrorStatus`. Default 0. */
    errorRatio?: number;
    /** Latency of every request (ms). Default 10. */
    latencyMs?: number;
    /** Response code of failing requests. Default 503 for HTTP, 200 for gRPC (the error is in the gRPC status). */
    errorCode?: number;
    /** Response code of successful requests. Default 200. */
    okCode?: number;
    /** `request_protocol` of the requests. Default "http". */
    protocol?: "http" | "grpc";
    /** gRPC status of failing gRPC requests. Default 14 (UNAVAILABLE); successful ones have 0 (OK). */
    grpcErrorStatus?: number;
    /** Namespace of the workload. Default: the exporter's namespace. */
    namespace?: string;
    /**
     * Mirrored requests per second on top of `rps` (the shadow stage), answered like the others,
     * reported only with `reporter="destination"`. Default 0.
     */
    mirroredRps?: number;
    /** The model's predictions: one observation per request that did not fail. Default: none exported. */
    predictions?: PredictionSettings;
    /** The `reporter` of each copy of the workload's series. Default `["destination", "source"]` (sidecars). */
    reporters?: IstioReporter[];
}

export type IstioReporter = "destination" | "source" | "waypoint";

/**
 * A model server's prediction histogram: scores drawn from a normal distribution with `mean` and
 * `sd`, observed into `bounds` (values below the first bound land in it, above the last in `+Inf`).
 * Changing `mean` or `sd` at run time shifts the distribution of the predictions from then on.
 */
export interface PredictionSettings {
    /** The model version, the value of the `version` label. */
    version: string;
    mean: number;
    /** Standard deviation, > 0. */
    sd: number;
    /** Upper bucket bounds, increasing. Default 0.1, 0.2, ..., 1.0 (scores in 0..1). */
    bounds?: number[];
    /** Histogram name without `_bucket`. Default `model_prediction_score`. */
    metric?: string;
    /** The model's app, the value of the app label. Default `model` (a stack's default `app`). */
    app?: string;
    /** Name of the app label, as Prometheus' usual pod-label relabelling gives it; null: no app label. Default `app`. */
    appLabel?: string | null;
    /** Names of the namespace and version labels. Default `namespace` and `version`. */
    namespaceLabel?: string;
    versionLabel?: string;
}

/** Bounds of a score in 0..1 in tenths. */
export const DEFAULT_PREDICTION_BOUNDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

interface SeriesState {
    responseCode: number;
    protocol: "http" | "grpc";
    /** gRPC status; undefined for HTTP. */
    grpcStatus?: number;
    /** Exact simulated count per bucket index (non-cumulative); last index = above the largest bound. */
    buckets: number[];
    total: number;
    sumMs: number;
}

interface PredictionState {
    metric: string;
    labels: [string, string][];
    bounds: number[];
    /** Exact simulated count per bucket index (non-cumulative); last index = above the largest bound. */
    buckets: number[];
    total: number;
    sum: number;
}

interface WorkloadState {
    namespace: string;
    workload: string;
    settings: Required<Omit<TrafficSettings, "namespace" | "predictions">> & { predictions?: PredictionSettings };
    lastAdvance: number;
    /** Request series by protocol, response code and gRPC status. */
    byCode: Map<string, SeriesState>;
    /** The same for mirrored requests, which only the destination proxy reports. */
    mirroredByCode: Map<string, SeriesState>;
}

export interface IstioExporter {
    /** Base URL, e.g. `http://127.0.0.1:41234`. */
    readonly url: string;
    /** `host:port`, for a Prometheus scrape target. */
    readonly target: string;
    /** Number of `/metrics` responses served. */
    readonly scrapes: number;
    /** When the last `/metrics` response was served (ms since the epoch), 0 before the first. */
    readonly lastScrapeAt: number;
    /** Sets (or changes) the simulated traffic of a workload. Counters accrue from now on at the new rate. */
    set(workload: string, settings: TrafficSettings): void;
    /**
     * Counts `count` requests at once, beside the workload's simulated traffic: a burst. When no
     * series of that protocol, code and gRPC status exists yet, it appears at the next scrape
     * with `count` as its first value, as Istio's proxy creates a series at its first request.
     */
    addRequests(workload: string, burst: RequestBurst): void;
    /** Total requests counted so far for a workload (exact, all codes, mirrored ones included). */
    totalRequests(workload: string, namespace?: string): number;
    /** Renders the exposition text as a scrape would (also advances counters). */
    render(): string;
    close(): Promise<void>;
}

export interface RequestBurst {
    /** Requests, a whole number >= 1. */
    count: number;
    /** Their response code. */
    responseCode: number;
    /** `request_protocol`. Default "http". */
    protocol?: "http" | "grpc";
    /** Their gRPC status; gRPC only. Default 0 (OK). */
    grpcStatus?: number;
    /** Their latency (ms). Default 10. */
    latencyMs?: number;
    /** Namespace of the workload. Default: the exporter's namespace. */
    namespace?: string;
}

export interface IstioExporterOptions {
    /** Default namespace of workloads. Default "default". */
    namespace?: string;
    /** Clock in ms, for tests of the exporter itself. Default `Date.now`. */
    now?: () => number;
}

export async function startIstioExporter(opts: IstioExporterOptions = {}): Promise<IstioExporter> {
    const defaultNamespace = opts.namespace ?? "default";
    const now = opts.now ?? Date.now;
    const workloads = new Map<string, WorkloadState>();
    let scrapes = 0;
    let lastScrapeAt = 0;

    const key = (ns: string, wl: string) => `${ns}/${wl}`;

    const predictionSeries = new Map<string, PredictionState>();

    const book = (byCode: Map<string, SeriesState>, protocol: "http" | "grpc", code: number, grpcStatus: number | undefined, count: number, bucket: number, latencyMs: number) => {
        const k = `${protocol}/${code}/${grpcStatus ?? ""}`;
        let s = byCode.get(k);
        if (!s) {
            s = { responseCode: code, protocol, grpcStatus, buckets: new Array(ISTIO_DURATION_BUCKETS_MS.length + 1).fill(0), total: 0, sumMs: 0 };
            byCode.set(k, s);
        }
        s.buckets[bucket] += count;
        s.total += count;
        s.sumMs += count * latencyMs;
    };

    const advance = (w: WorkloadState, t: number) => {
        const dt = Math.max(0, t - w.lastAdvance) / 1000;
        w.lastAdvance = Math.max(w.lastAdvance, t);
        const { protocol, okCode, errorCode, grpcErrorStatus, latencyMs } = w.settings;
        let ok = 0;
        for (const [rps, byCode] of [[w.settings.rps, w.byCode], [w.settings.mirroredRps, w.mirroredByCode]] as const) {
            const n = rps * dt;
            if (n <= 0) continue;
            const err = n * w.settings.errorRatio;
            ok += n - err;
            const bucket = bucketIndex(latencyMs);
            const grpc = protocol === "grpc";
            for (const [code, grpcStatus, count] of [
                [okCode, grpc ? 0 : undefined, n - err],
                [errorCode, grpc ? grpcErrorStatus : undefined, err],
            ] as const) {
                if (count <= 0) continue;
                book(byCode, protocol, code, grpcStatus, count, bucket, latencyMs);
            }
        }
        const p = w.settings.predictions;
        if (p && ok > 0) {
            const bounds = p.bounds ?? DEFAULT_PREDICTION_BOUNDS;
            const metric = p.metric ?? "model_prediction_score";
            const appLabel = p.appLabel === undefined ? "app" : p.appLabel;
            const labels: [string, string][] = [
                ...(appLabel === null ? [] : [[appLabel, p.app ?? "model"] as [string, string]]),
                [p.namespaceLabel ?? "namespace", w.namespace], [p.versionLabel ?? "version", p.version],
            ];
            const k = JSON.stringify([metric, labels, bounds]);
            let h = predictionSeries.get(k);
            if (!h) {
                h = { metric, labels, bounds, buckets: new Array(bounds.length + 1).fill(0), total: 0, sum: 0 };
                predictionSeries.set(k, h);
            }
            const shares = normalBucketShares(p.mean, p.sd, bounds);
            for (let i = 0; i < shares.length; i++) h.buckets[i] += ok * shares[i];
            h.total += ok;
            h.sum += ok * p.mean;
        }
    };

    /** A reporter's series: the destination proxy's include the mirrored requests. */
    const reported = (w: WorkloadState, reporter: string): Map<string, SeriesState> => {
        if (reporter !== "destination" || w.mirroredByCode.size === 0) return w.byCode;
        const merged = new Map([...w.byCode].map(([k, s]) => [k, { ...s, buckets: [...s.buckets] }]));
        for (const [k, m] of w.mirroredByCode) {
            const s = merged.get(k);
            if (!s) merged.set(k, m);
            else merged.set(k, { ...s, buckets: s.buckets.map((b, i) => b + m.buckets[i]), total: s.total + m.total, sumMs: s.sumMs + m.sumMs });
        }
        return merged;
    };

    const render = (): string => {
        const t = now();
        for (const w of workloads.values()) advance(w, t);
        const counters: string[] = [];
        const histos: string[] = [];
        for (const w of workloads.values()) {
            for (const reporter of w.settings.reporters) {
                const series = [...reported(w, reporter).values()].sort((a, b) => a.responseCode - b.responseCode || (a.grpcStatus ?? -1) - (b.grpcStatus ?? -1));
                for (const s of series) {
                    const labels = istioLabels(reporter, w.namespace, w.workload, s);
                    counters.push(`istio_requests_total{${labels}} ${Math.floor(s.total)}`);
                    let cumulative = 0;
                    for (let i = 0; i < ISTIO_DURATION_BUCKETS_MS.length; i++) {
                        cumulative += s.buckets[i];
                        histos.push(
                            `istio_request_duration_milliseconds_bucket{${labels},le="${ISTIO_DURATION_BUCKETS_MS[i]}"} ${Math.floor(cumulative)}`,
                        );
                    }
                    histos.push(`istio_request_duration_milliseconds_bucket{${labels},le="+Inf"} ${Math.floor(s.total)}`);
                    histos.push(`istio_request_duration_milliseconds_sum{${labels}} ${s.sumMs}`);
                    histos.push(`istio_request_duration_milliseconds_count{${labels}} ${Math.floor(s.total)}`);
                }
            }
        }
        const predictions: string[] = [];
        const metrics = [...new Set([...predictionSeries.values()].map((h) => h.metric))];
        for (const metric of metrics) {
            predictions.push(`# HELP ${metric} Scores the model predicted.`, `# TYPE ${metric} histogram`);
            for (const h of predictionSeries.values()) {
                if (h.metric !== metric) continue;
                const labels = h.labels.map(([k, v]) => `${k}="${escapeExpositionValue(v)}"`).join(",");
                let cumulative = 0;
                for (let i = 0; i < h.bounds.length; i++) {
                    cumulative += h.buckets[i];
                    predictions.push(`${metric}_bucket{${labels},le="${h.bounds[i]}"} ${Math.floor(cumulative)}`);
                }
                predictions.push(`${metric}_bucket{${labels},le="+Inf"} ${Math.floor(h.total)}`);
                predictions.push(`${metric}_sum{${labels}} ${h.sum}`);
                predictions.push(`${metric}_count{${labels}} ${Math.floor(h.total)}`);
            }
        }
        return [
            "# HELP istio_requests_total Total requests.",
            "# TYPE istio_requests_total counter",
            ...counters,
            "# HELP istio_request_duration_milliseconds Request duration in milliseconds.",
            "# TYPE istio_request_duration_milliseconds histogram",
            ...histos,
            ...predictions,
            "",
        ].join("\n");
    };

    const server = http.createServer((req, res) => {
        if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) {
            scrapes++;
            const body = render();
            lastScrapeAt = Date.now();
            res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
            res.end(body);
            return;
        }
        res.writeHead(404, { "Content-Type": "text/plain" });
        res.end("not found\n");
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
        });
    });
    const { port } = server.address() as AddressInfo;

    return {
        url: `http://127.0.0.1:${port}`,
        target: `127.0.0.1:${port}`,
        get scrapes() {
            return scrapes;
        },
        get lastScrapeAt() {
            return lastScrapeAt;
        },
        set(workload: string, settings: TrafficSettings) {
            validateSettings(workload, settings);
            const ns = settings.namespace ?? defaultNamespace;
            const t = now();
            const protocol = settings.protocol ?? "http";
            const next = {
                rps: settings.rps,
                errorRatio: settings.errorRatio ?? 0,
                latencyMs: settings.latencyMs ?? 10,
                errorCode: settings.errorCode ?? (protocol === "grpc" ? 200 : 503),
                okCode: settings.okCode ?? 200,
                protocol,
                grpcErrorStatus: settings.grpcErrorStatus ?? 14,
                mirroredRps: settings.mirroredRps ?? 0,
                reporters: [...(settings.reporters ?? ["destination", "source"] as IstioReporter[])],
                predictions: settings.predictions ? { ...settings.predictions } : undefined,
            };
            const existing = workloads.get(key(ns, workload));
            if (existing) {
                advance(existing, t); // book traffic so far at the old settings
                existing.settings = next;
            } else {
                workloads.set(key(ns, workload), { namespace: ns, workload, settings: next, lastAdvance: t, byCode: new Map(), mirroredByCode: new Map() });
            }
        },
        addRequests(workload: string, burst: RequestBurst) {
            const w = workloads.get(key(burst.namespace ?? defaultNamespace, workload));
            if (!w) throw new Error(`no workload ${workload}: set() it first`);
            if (!(Number.isInteger(burst.count) && burst.count >= 1)) throw new Error(`count must be a whole number >= 1, got ${burst.count}`);
            const protocol = burst.protocol ?? "http";
            if (burst.grpcStatus !== undefined && protocol !== "grpc") throw new Error("grpcStatus is for gRPC requests only");
            const latencyMs = burst.latencyMs ?? 10;
            if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) throw new Error(`latencyMs must be >= 0, got ${latencyMs}`);
            advance(w, now()); // book the simulated traffic so far first
            book(w.byCode, protocol, burst.responseCode, protocol === "grpc" ? (burst.grpcStatus ?? 0) : undefined, burst.count, bucketIndex(latencyMs), latencyMs);
        },
        totalRequests(workload: string, namespace?: string) {
            const w = workloads.get(key(namespace ?? defaultNamespace, workload));
            if (!w) return 0;
            advance(w, now());
            let total = 0;
            for (const s of [...w.byCode.values(), ...w.mirroredByCode.values()]) total += s.total;
            return total;
        },
        render,
        close() {
            return new Promise<void>((resolve, reject) => {
                server.close((err) => (err ? reject(err) : resolve()));
                server.closeAllConnections();
            });
        },
    };
}

function bucketIndex(latencyMs: number): number {
    const i = ISTIO_DURATION_BUCKETS_MS.findIndex((le) => latencyMs <= le);
    return i === -1 ? ISTIO_DURATION_BUCKETS_MS.length : i;
}

function istioLabels(reporter: string, namespace: string, workload: string, s: SeriesState): string {
    const pairs: [string, string][] = [
        ["reporter", reporter],
        ["source_workload", "istio-ingressgateway"],
        ["source_workload_namespace", "istio-system"],
        ["destination_workload", workload],
        ["destination_workload_namespace", namespace],
        ["destination_service", `model.${namespace}.svc.cluster.local`],
        ["destination_service_name", "model"],
        ["request_protocol", s.protocol],
        ["response_code", String(s.responseCode)],
        ...(s.grpcStatus !== undefined ? [["grpc_response_status", String(s.grpcStatus)] as [string, string]] : []),
        ["response_flags", "-"],
    ];
    return pairs.map(([k, v]) => `${k}="${escapeExpositionValue(v)}"`).join(",");
}

/** Share of a normal distribution's mass in each bucket of `bounds` (plus the one above the last bound). */
export function normalBucketShares(mean: number, sd: number, bounds: number[]): number[] {
    const cdf = bounds.map((b) => normalCdf((b - mean) / sd));
    return [...cdf, 1].map((c, i) => Math.max(0, c - (i === 0 ? 0 : cdf[i - 1])));
}

/** Standard normal CDF through erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7). */
function normalCdf(z: number): number {
    const x = Math.abs(z) / Math.SQRT2;
    const t = 1 / (1 + 0.3275911 * x);
    const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    const erf = 1 - poly * Math.exp(-x * x);
    return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Label value escaping of the text exposition format: backslash, double quote, newline. */
function escapeExpositionValue(v: string): string {
    return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function validateSettings(workload: string, s: TrafficSettings): void {
    if (typeof workload !== "string" || workload === "") throw new Error("workload must be a non-empty string");
    if (!(Number.isFinite(s.rps) && s.rps >= 0)) throw new Error(`rps must be >= 0, got ${s.rps}`);
    if (s.mirroredRps !== undefined && !(Number.isFinite(s.mirroredRps) && s.mirroredRps >= 0)) throw new Error(`mirroredRps must be >= 0, got ${s.mirroredRps}`);
    if (s.errorRatio !== undefined && !(s.errorRatio >= 0 && s.errorRatio <= 1)) {
        throw new Error(`errorRatio must be within 0..1, got ${s.errorRatio}`);
    }
    if (s.latencyMs !== undefined && !(Number.isFinite(s.latencyMs) && s.latencyMs >= 0)) {
        throw new Error(`latencyMs must be >= 0, got ${s.latencyMs}`);
    }
    if (s.grpcErrorStatus !== undefined && !(Number.isInteger(s.grpcErrorStatus) && s.grpcErrorStatus >= 1 && s.grpcErrorStatus <= 16)) {
        throw new Error(`grpcErrorStatus must be a gRPC error code 1..16, got ${s.grpcErrorStatus}`);
    }
    const p = s.predictions;
    if (p) {
        if (!Number.isFinite(p.mean) || !(Number.isFinite(p.sd) && p.sd > 0)) throw new Error(`predictions need a finite mean and an sd > 0, got ${p.mean} and ${p.sd}`);
        const b = p.bounds ?? DEFAULT_PREDICTION_BOUNDS;
        if (b.length === 0 || !b.every((x, i) => Number.isFinite(x) && (i === 0 || x > b[i - 1]))) throw new Error(`prediction bounds must be increasing finite numbers, got ${JSON.stringify(b)}`);
    }
}

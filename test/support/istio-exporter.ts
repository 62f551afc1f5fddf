/**
 * A fake Istio telemetry endpoint for tests: serves `/metrics` in the Prometheus text format with
 * the series Istio's proxies expose (`istio_requests_total` and the
 * `istio_request_duration_milliseconds` histogram), for any number of workloads.
 *
 * Traffic is simulated continuously: each workload has a request rate, an error ratio and a
 * latency; counters are advanced by elapsed time x rate whenever they are read or the settings
 * change, so they grow like real counters and stay monotonic when the rate changes mid-test.
 * Emitted values are integers (floor of the exact simulated totals).
 *
 * As with real Istio, a series (per response code) only appears once it has counted a request,
 * and every request is reported twice: once by the destination proxy (`reporter="destination"`)
 * and once by the source proxy (`reporter="source"`), so queries that forget the reporter
 * filter double count.
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
    /** Fraction of requests answered with `errorCode` (0-1). Default 0. */
    errorRatio?: number;
    /** Latency of every request (ms). Default 10. */
    latencyMs?: number;
    /** Response code of failing requests. Default 503. */
    errorCode?: number;
    /** Response code of successful requests. Default 200. */
    okCode?: number;
    /** Namespace of the workload. Default: the exporter's namespace. */
    namespace?: string;
}

interface SeriesState {
    /** Exact simulated count per bucket index (non-cumulative); last index = above the largest bound. */
    buckets: number[];
    total: number;
    sumMs: number;
}

interface WorkloadState {
    namespace: string;
    workload: string;
    settings: Required<Omit<TrafficSettings, "namespace">>;
    lastAdvance: number;
    byCode: Map<number, SeriesState>;
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
    /** Total requests counted so far for a workload (exact, all codes). */
    totalRequests(workload: string, namespace?: string): number;
    /** Renders the exposition text as a scrape would (also advances counters). */
    render(): string;
    close(): Promise<void>;
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

    const advance = (w: WorkloadState, t: number) => {
        const dt = Math.max(0, t - w.lastAdvance) / 1000;
        w.lastAdvance = Math.max(w.lastAdvance, t);
        const n = w.settings.rps * dt;
        if (n <= 0) return;
        const err = n * w.settings.errorRatio;
        const ok = n - err;
        const bucket = bucketIndex(w.settings.latencyMs);
        for (const [code, count] of [
            [w.settings.okCode, ok],
            [w.settings.errorCode, err],
        ] as const) {
            if (count <= 0) continue;
            let s = w.byCode.get(code);
            if (!s) {
                s = { buckets: new Array(ISTIO_DURATION_BUCKETS_MS.length + 1).fill(0), total: 0, sumMs: 0 };
                w.byCode.set(code, s);
            }
            s.buckets[bucket] += count;
            s.total += count;
            s.sumMs += count * w.settings.latencyMs;
        }
    };

    const render = (): string => {
        const t = now();
        for (const w of workloads.values()) advance(w, t);
        const counters: string[] = [];
        const histos: string[] = [];
        for (const w of workloads.values()) {
            const codes = [...w.byCode.keys()].sort((a, b) => a - b);
            for (const reporter of ["destination", "source"]) {
                for (const code of codes) {
                    const s = w.byCode.get(code)!;
                    const labels = istioLabels(reporter, w.namespace, w.workload, code);
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
        return [
            "# HELP istio_requests_total Total requests.",
            "# TYPE istio_requests_total counter",
            ...counters,
            "# HELP istio_request_duration_milliseconds Request duration in milliseconds.",
            "# TYPE istio_request_duration_milliseconds histogram",
            ...histos,
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
            const next = {
                rps: settings.rps,
                errorRatio: settings.errorRatio ?? 0,
                latencyMs: settings.latencyMs ?? 10,
                errorCode: settings.errorCode ?? 503,
                okCode: settings.okCode ?? 200,
            };
            const existing = workloads.get(key(ns, workload));
            if (existing) {
                advance(existing, t); // book traffic so far at the old settings
                existing.settings = next;
            } else {
                workloads.set(key(ns, workload), { namespace: ns, workload, settings: next, lastAdvance: t, byCode: new Map() });
            }
        },
        totalRequests(workload: string, namespace?: string) {
            const w = workloads.get(key(namespace ?? defaultNamespace, workload));
            if (!w) return 0;
            advance(w, now());
            let total = 0;
            for (const s of w.byCode.values()) total += s.total;
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

function istioLabels(reporter: string, namespace: string, workload: string, code: number): string {
    const pairs: [string, string][] = [
        ["reporter", reporter],
        ["source_workload", "istio-ingressgateway"],
        ["source_workload_namespace", "istio-system"],
        ["destination_workload", workload],
        ["destination_workload_namespace", namespace],
        ["destination_service", `model.${namespace}.svc.cluster.local`],
        ["destination_service_name", "model"],
        ["request_protocol", "http"],
        ["response_code", String(code)],
        ["response_flags", "-"],
    ];
    return pairs.map(([k, v]) => `${k}="${escapeExpositionValue(v)}"`).join(",");
}

/** Label value escaping of the text exposition format: backslash, double quote, newline. */
function escapeExpositionValue(v: string): string {
    return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function validateSettings(workload: string, s: TrafficSettings): void {
    if (typeof workload !== "string" || workload === "") throw new Error("workload must be a non-empty string");
    if (!(Number.isFinite(s.rps) && s.rps >= 0)) throw new Error(`rps must be >= 0, got ${s.rps}`);
    if (s.errorRatio !== undefined && !(s.errorRatio >= 0 && s.errorRatio <= 1)) {
        throw new Error(`errorRatio must be within 0..1, got ${s.errorRatio}`);
    }
    if (s.latencyMs !== undefined && !(Number.isFinite(s.latencyMs) && s.latencyMs >= 0)) {
        throw new Error(`latencyMs must be >= 0, got ${s.latencyMs}`);
    }
}

/**
 * A minimal Prometheus HTTP API client for instant queries that aggregate to one value.
 *
 * `query` resolves to:
 *   - `null` when the result vector is empty (no series matched: no data),
 *   - the number otherwise: `NaN` stays `NaN` (a 0/0 success rate in a quiet window, or a broken
 *     rule) and `+Inf`/`-Inf` become `Infinity`/`-Infinity`. The client does not judge them:
 *     `verdict.ts` calls such values impossible when the workload had traffic, and an error.
 * It rejects with a `PrometheusError` for every other outcome; it never turns a failure into
 * `null`, because "no data" and "could not ask" must stay distinguishable.
 */
import { quotedText } from "../components/syntax";

export type PrometheusErrorKind =
    /** The request could not be sent or the connection failed (refused, reset, DNS...). */
    | "network"
    /** No complete response within `timeoutMs`. */
    | "timeout"
    /** A non-2xx HTTP status. */
    | "http"
    /** A 2xx response whose body was not the JSON the API documents. */
    | "invalid-response"
    /** The API answered `status: "error"` (bad query, execution error...). */
    | "query"
    /** The query returned something other than at most one sample (e.g. several series). */
    | "unexpected-result"
    /** The caller aborted the query (the rollout was interrupted). */
    | "aborted";

export class PrometheusError extends Error {
    readonly kind: PrometheusErrorKind;
    /** The endpoint that was called. */
    readonly url: string;
    /** The PromQL expression. */
    readonly query: string;
    /** HTTP status, when a response arrived. */
    readonly status?: number;
    /** Prometheus' `errorType` (e.g. "bad_data"), when it sent one. */
    readonly errorType?: string;

    constructor(opts: {
        kind: PrometheusErrorKind;
        url: string;
        query: string;
        detail: string;
        status?: number;
        errorType?: string;
        cause?: unknown;
    }) {
        const status = opts.status !== undefined ? ` (HTTP ${opts.status})` : "";
        super(`Prometheus query to ${opts.url} failed${status}: ${opts.detail}`, { cause: opts.cause });
        this.name = "PrometheusError";
        this.kind = opts.kind;
        this.url = opts.url;
        this.query = opts.query;
        this.status = opts.status;
        this.errorType = opts.errorType;
    }
}

export interface PrometheusClientOptions {
    /** Base URL of the Prometheus server, e.g. `http://prometheus.istio-system:9090`. */
    url: string;
    /** Per-query deadline covering connect, response and body. Default 10000. */
    timeoutMs?: number;
    /** Extra request headers, e.g. `{ Authorization: "Bearer ..." }`. */
    headers?: Record<string, string>;
}

/** One series of an instant vector: its labels and its value (`NaN` and infinities kept as such). */
export interface VectorSample {
    labels: Record<string, string>;
    value: number;
}

/** Anything that can evaluate instant queries; `PrometheusClient` is one. */
export interface InstantQuerier {
    /** Evaluates to one value (see the module comment). `signal` cancels the query (it then rejects). */
    query(expr: string, signal?: AbortSignal): Promise<number | null>;
    /** Evaluates to every series of an instant vector (empty when nothing matched), e.g. a histogram's buckets. */
    queryVector(expr: string, signal?: AbortSignal): Promise<VectorSample[]>;
}

export const DEFAULT_PROMETHEUS_TIMEOUT_MS = 10_000;

export class PrometheusClient implements InstantQuerier {
    readonly url: string;
    readonly timeoutMs: number;
    private readonly endpoint: string;
    private readonly headers: Record<string, string>;

    constructor(opts: PrometheusClientOptions) {
        if (!opts || typeof opts.url !== "string" || opts.url === "") {
            throw new Error(`PrometheusClient needs a url such as "http://localhost:9090", got ${JSON.stringify(opts?.url)}`);
        }
        let parsed: URL;
        try {
            parsed = new URL(opts.url);
        } catch {
            throw new Error(`PrometheusClient url is not a valid URL: ${JSON.stringify(opts.url)}`);
        }
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
            throw new Error(`PrometheusClient url must be http(s), got ${JSON.stringify(opts.url)}`);
        }
        if (parsed.username !== "" || parsed.password !== "") {
            // Never sent (fetch refuses such a URL) and printed with every error: credentials go in `headers`.
            throw new Error(`PrometheusClient url must not carry credentials, got ${JSON.stringify(`${parsed.protocol}//[secret]@${parsed.host}${parsed.pathname}`)}: pass them in \`headers\` (e.g. { Authorization: "Bearer ..." })`);
        }
        const timeoutMs = opts.timeoutMs ?? DEFAULT_PROMETHEUS_TIMEOUT_MS;
        if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
            throw new Error(`PrometheusClient timeoutMs must be a positive number, got ${JSON.stringify(timeoutMs)}`);
        }
        this.url = opts.url.replace(/\/+$/, "");
        this.endpoint = `${this.url}/api/v1/query`;
        this.timeoutMs = timeoutMs;
        this.headers = { ...(opts.headers ?? {}) };
    }

    /** Evaluates `expr` at the current time. See the module comment for the result contract. */
    async query(expr: string, signal?: AbortSignal): Promise<number | null> {
        const { data, fail } = await this.request(expr, signal);
        return extractValue(data, fail);
    }

    /**
     * Evaluates `expr` at the current time to all the series of an instant vector; an empty
     * vector is `[]`. Any other result type, or a sample that is not `[time, "number"]`, rejects.
     */
    async queryVector(expr: string, signal?: AbortSignal): Promise<VectorSample[]> {
        const { data, fail } = await this.request(expr, signal);
        if (data.resultType !== "vector") {
            throw fail("unexpected-result", `expected an instant vector, got result type ${JSON.stringify(data.resultType)}`);
        }
        if (!Array.isArray(data.result)) throw fail("invalid-response", "vector result is not an array");
        return data.result.map((sample) => {
            if (!isObject(sample) || !isObject(sample.metric)) throw fail("invalid-response", "vector sample is not an object with labels");
            const labels: Record<string, string> = {};
            for (const [k, v] of Object.entries(sample.metric)) {
                if (typeof v !== "string") throw fail("invalid-response", `label ${JSON.stringify(k)} is not a string`);
                labels[k] = v;
            }
            const value = parseSample(sample.value, fail);
            if (value === null) throw fail("invalid-response", "vector sample without a value");
            return { labels, value };
        });
    }

    private async request(expr: string, signal?: AbortSignal): Promise<{ data: Record<string, unknown>; fail: (kind: PrometheusErrorKind, detail: string) => PrometheusError }> {
        const fail = (kind: PrometheusErrorKind, detail: string, extra: { status?: number; errorType?: string; cause?: unknown } = {}) =>
            new PrometheusError({ kind, url: this.endpoint, query: expr, detail, ...extra });

        const deadline = requestDeadline(this.timeoutMs, signal);

        let status: number;
        let text: string;
        try {
            // POST with a form body: same semantics as GET, without URL length limits.
            const res = await fetch(this.endpoint, {
                method: "POST",
                headers: { ...this.headers, "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
                body: new URLSearchParams({ query: expr }).toString(),
                signal: deadline.signal,
            });
            status = res.status;
            text = await res.text();
        } catch (err) {
            if (deadline.timedOut()) throw fail("timeout", `no response within ${this.timeoutMs} ms`, { cause: err });
            if (signal?.aborted) throw fail("aborted", "the query was cancelled", { cause: err });
            throw fail("network", describeNetworkError(err), { cause: err });
        } finally {
            deadline.release();
        }

        let body: unknown;
        let parseError: unknown;
        try {
            body = JSON.parse(text);
        } catch (err) {
            parseError = err;
        }
        const apiError = apiErrorOf(body);

        if (status < 200 || status > 299) {
            const detail = apiError ? apiError.text : `response body: ${snippet(text)}`;
            throw fail("http", detail, { status, errorType: apiError?.errorType });
        }
        if (parseError !== undefined || !isObject(body)) {
            throw fail("invalid-response", `response is not JSON: ${snippet(text)}`, { status, cause: parseError });
        }
        if (body.status === "error" || apiError) {
            throw fail("query", apiError ? apiError.text : `status "error": ${snippet(text)}`, {
                status,
                errorType: apiError?.errorType,
            });
        }
        if (body.status !== "success" || !isObject(body.data)) {
            throw fail("invalid-response", `unexpected response: ${snippet(text)}`, { status });
        }
        return { data: body.data, fail: (kind, detail) => fail(kind, detail, { status }) };
    }
}

function extractValue(data: Record<string, unknown>, fail: (kind: PrometheusErrorKind, detail: string) => PrometheusError): number | null {
    const { resultType, result } = data;
    if (resultType === "scalar") return parseSample(result, fail);
    if (resultType !== "vector") {
        throw fail("unexpected-result", `expected an instant vector or scalar, got result type ${JSON.stringify(resultType)}`);
    }
    if (!Array.isArray(result)) throw fail("invalid-response", "vector result is not an array");
    if (result.length === 0) return null;
    if (result.length > 1) {
        const series = result
            .slice(0, 3)
            .map((s) => JSON.stringify(isObject(s) ? s.metric : s))
            .join(", ");
        throw fail(
            "unexpected-result",
            `expected at most one series, got ${result.length} (${series}${result.length > 3 ? ", ..." : ""}); aggregate the query`,
        );
    }
    const sample = result[0];
    if (!isObject(sample)) throw fail("invalid-response", "vector sample is not an object");
    return parseSample(sample.value, fail);
}

function parseSample(value: unknown, fail: (kind: PrometheusErrorKind, detail: string) => PrometheusError): number | null {
    if (!Array.isArray(value) || value.length !== 2 || typeof value[1] !== "string") {
        throw fail("invalid-response", `sample is not [timestamp, "value"]: ${JSON.stringify(value)}`);
    }
    const s = value[1];
    if (s === "NaN") return NaN;
    if (s === "+Inf" || s === "Inf") return Infinity;
    if (s === "-Inf") return -Infinity;
    const n = Number(s);
    if (s.trim() === "" || Number.isNaN(n)) throw fail("invalid-response", `sample value is not a number: ${JSON.stringify(s)}`);
    return n;
}

function apiErrorOf(body: unknown): { text: string; errorType?: string } | undefined {
    if (!isObject(body) || typeof body.error !== "string") return undefined;
    const errorType = typeof body.errorType === "string" ? body.errorType : undefined;
    const text = errorType ? `${errorType}: ${body.error}` : body.error;
    return { text: quotedText(text, 1000), errorType };
}

/**
 * The abort signal of one HTTP request: it fires after `timeoutMs`, or when the caller's `signal`
 * does (at once if it already has); `timedOut()` tells the two apart. `release()` once the request
 * is over stops the timer and leaves the caller's signal alone.
 */
export function requestDeadline(timeoutMs: number, signal?: AbortSignal): { signal: AbortSignal; timedOut: () => boolean; release: () => void } {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
    }, timeoutMs);
    const stop = () => controller.abort();
    signal?.addEventListener("abort", stop, { once: true });
    if (signal?.aborted) controller.abort();
    return {
        signal: controller.signal,
        timedOut: () => timedOut,
        release: () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", stop);
        },
    };
}

/** A network error with its causes, e.g. "fetch failed: connect ECONNREFUSED 127.0.0.1:9". */
export function describeNetworkError(err: unknown): string {
    // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED...) in `cause`.
    const parts: string[] = [];
    let e: unknown = err;
    for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
        if (e instanceof Error) {
            const code = (e as NodeJS.ErrnoException).code;
            parts.push(code && !e.message.includes(code) ? `${e.message} (${code})` : e.message);
            e = e.cause;
        } else {
            parts.push(String(e));
            break;
        }
    }
    return parts.join(": ") || "request failed";
}

/** A response body in a message: one line, control characters escaped, cut at 300 characters. */
function snippet(text: string): string {
    return quotedText(text, 300);
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

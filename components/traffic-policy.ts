// `trafficPolicy`: connection-pool limits and outlier detection for a model's pods, as Istio's
// DestinationRule takes them (networking.istio.io, `trafficPolicy.connectionPool` and
// `trafficPolicy.outlierDetection`). The arguments use Istio's own field names, so the validated
// value is what the DestinationRule carries. No imports: the argument types, the checks and both
// routers read this file.

/**
 * `trafficPolicy.connectionPool.tcp`: Istio's `ConnectionPoolSettings.TCPSettings`, the part a
 * canary needs. Unset fields keep Istio's defaults.
 */
export interface TcpConnectionPoolArgs {
    /** Most HTTP/1 and TCP connections to one destination host, 1 to 2147483647. */
    maxConnections?: number;
    /** TCP connect timeout, an Istio duration such as `10s` or `500ms` (at least 1ms). */
    connectTimeout?: string;
}

/** `trafficPolicy.connectionPool.http`: Istio's `ConnectionPoolSettings.HTTPSettings`, the part a canary needs. */
export interface HttpConnectionPoolArgs {
    /** Most requests queued while waiting for a connection, 1 to 2147483647. */
    http1MaxPendingRequests?: number;
    /** Most active requests to the destination, 1 to 2147483647. */
    http2MaxRequests?: number;
    /** Most requests per connection (1 turns keep-alive off), 1 to 2147483647. */
    maxRequestsPerConnection?: number;
    /** Most retries outstanding to the destination at once, 1 to 2147483647. */
    maxRetries?: number;
    /** How long an upstream connection may sit idle before it is closed, an Istio duration (at least 1ms). */
    idleTimeout?: string;
}

/** `trafficPolicy.connectionPool`: connection and request limits per destination host. */
export interface ConnectionPoolArgs {
    tcp?: TcpConnectionPoolArgs;
    http?: HttpConnectionPoolArgs;
}

/** `trafficPolicy.outlierDetection`: Istio's `OutlierDetection`, ejecting pods that keep failing. */
export interface OutlierDetectionArgs {
    /** 5xx answers in a row that eject a pod, 0 (off) to 4294967295. */
    consecutive5xxErrors?: number;
    /** 502, 503 and 504 answers (and connection failures) in a row that eject a pod, 0 (off) to 4294967295. */
    consecutiveGatewayErrors?: number;
    /** Time between ejection sweeps, an Istio duration (at least 1ms). */
    interval?: string;
    /** Minimum ejection time (times the number of ejections), an Istio duration (at least 1ms). */
    baseEjectionTime?: string;
    /** Most pods ejected at once, a percentage 0 to 100. */
    maxEjectionPercent?: number;
    /** Outlier detection runs while at least this percentage of pods are healthy, 0 to 100. */
    minHealthPercent?: number;
}

/**
 * `trafficPolicy`: the DestinationRule settings a platform engineer tunes per model. Plain
 * numbers and strings only (no unions), so the cross-language schema can describe it.
 */
export interface TrafficPolicyArgs {
    connectionPool?: ConnectionPoolArgs;
    outlierDetection?: OutlierDetectionArgs;
}

export const trafficPolicyKeys: readonly (keyof TrafficPolicyArgs)[] = ["connectionPool", "outlierDetection"];
export const connectionPoolKeys: readonly (keyof ConnectionPoolArgs)[] = ["tcp", "http"];
export const tcpConnectionPoolKeys: readonly (keyof TcpConnectionPoolArgs)[] = ["maxConnections", "connectTimeout"];
export const httpConnectionPoolKeys: readonly (keyof HttpConnectionPoolArgs)[] = ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout"];
export const outlierDetectionKeys: readonly (keyof OutlierDetectionArgs)[] = [
    "consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent",
];

/**
 * The longest duration Istio can hold, in milliseconds: its durations are Go `time.Duration`s
 * (the API server's CEL `duration()` and istiod both parse them so), which end at about 2562047h.
 */
export const maxIstioDurationMs = 2562047 * 3_600_000;

const durationUnitsMs: Record<string, bigint> = { h: 3_600_000n, m: 60_000n, s: 1000n, ms: 1n };

/**
 * An Istio duration in milliseconds (`10s`, `500ms`, `1m30s`, `1.5s`: numbers with units h, m,
 * s or ms, as Go writes durations), or undefined when `text` is not one or is not a whole number
 * of milliseconds (istiod refuses finer precision). Range checks are the caller's.
 */
export function istioDurationMs(text: string): number | undefined {
    if (!/^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/.test(text)) return undefined;
    let total = 0n;
    for (const [, whole, fraction = "", unit] of text.matchAll(/(\d+)(?:\.(\d+))?(ms|h|m|s)/g)) {
        const scale = 10n ** BigInt(fraction.length);
        const part = (BigInt(whole) * scale + BigInt(fraction || "0")) * durationUnitsMs[unit];
        if (part % scale !== 0n) return undefined;
        total += part / scale;
    }
    return total > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(total);
}

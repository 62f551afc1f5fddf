/**
 * Pure statistics over Prometheus histograms: the prediction-distribution gate compares the
 * canary's predictions with the stable version's through these.
 *
 * A histogram arrives as Prometheus answers `sum by (le) (...)` of each bucket series' count over
 * the window (`predictionBucketsQuery`: `increase(<metric>{...}[w])` plus new series): one
 * cumulative count per bucket bound (`le`, as text, `+Inf` included). `readHistogram` checks it
 * and turns it into per-bucket counts; `proportions`, `psi` and `ksDistance` compare two.
 */

/** One bucket of a cumulative histogram as Prometheus returns it. */
export interface HistogramSample {
    /** The bucket's upper bound as Prometheus wrote it: "0.1", "1", "+Inf". */
    le: string;
    /** Observations at or below `le` during the window (from `increase`, so not always an integer). */
    count: number;
}

/** A checked histogram: finite upper bounds, and one count per bucket (the last one above the last bound). */
export interface Histogram {
    /** Finite upper bounds, increasing. */
    bounds: number[];
    /** Observations per bucket (not cumulative); `counts.length === bounds.length + 1`. */
    counts: number[];
    /** All observations: the `+Inf` bucket's cumulative count. */
    total: number;
}

/**
 * The share given to an empty bucket in the population stability index: `ln(a / e)` is infinite
 * when either share is 0, so an empty bucket counts as 0.01% of the population. A bucket empty on
 * one side and holding 10% on the other then adds 0.1 × ln(1000) ≈ 0.69 to the index, above the
 * default threshold of 0.2 by itself: mass moving into a region the other model never predicts is
 * a real shift. Buckets empty on both sides add 0.
 */
export const EMPTY_BUCKET_SHARE = 1e-4;

/**
 * Checks the samples of one histogram and returns its per-bucket counts, or why they cannot be
 * trusted. Every sample must have a parseable `le`, no `le` may repeat, a `+Inf` bucket must be
 * there, and every count must be a finite number >= 0 (NaN or an infinity means Prometheus'
 * answer is broken, never "no data").
 *
 * Cumulative counts should not decrease from one bound to the next, but `increase()` extrapolates
 * each series to the window's edges, which can leave a bucket a fraction below the previous one
 * when series started at different times; such a bucket counts as empty (as `histogram_quantile`
 * treats it), and the total stays the `+Inf` count.
 */
export function readHistogram(samples: readonly HistogramSample[]): { histogram: Histogram } | { error: string } {
    const parsed: { bound: number; count: number }[] = [];
    const seen = new Set<number>();
    for (const s of samples) {
        const bound = parseBound(s.le);
        if (bound === undefined) return { error: `a bucket has le ${JSON.stringify(s.le)}, which is not a number` };
        if (seen.has(bound)) return { error: `the bucket le ${JSON.stringify(s.le)} appears twice` };
        seen.add(bound);
        if (typeof s.count !== "number" || !Number.isFinite(s.count) || s.count < 0) {
            return { error: `the bucket le ${JSON.stringify(s.le)} counts ${s.count}, which is impossible (a count is a finite number >= 0): Prometheus' answer cannot be trusted` };
        }
        parsed.push({ bound, count: s.count });
    }
    parsed.sort((a, b) => a.bound - b.bound);
    const last = parsed[parsed.length - 1];
    if (!last || last.bound !== Infinity) return { error: `the histogram has no +Inf bucket (${parsed.length} buckets): it is not a Prometheus histogram` };
    const counts: number[] = [];
    let previous = 0;
    for (const p of parsed) {
        counts.push(Math.max(0, p.count - previous));
        previous = Math.max(previous, p.count);
    }
    return { histogram: { bounds: parsed.slice(0, -1).map((p) => p.bound), counts, total: last.count } };
}

/** Whether two histograms have the same bucket bounds, so that their buckets can be compared. */
export function sameBounds(a: Histogram, b: Histogram): boolean {
    return a.bounds.length === b.bounds.length && a.bounds.every((x, i) => x === b.bounds[i]);
}

/** Each bucket's share of the observations (summing to 1 up to rounding). `total` must be > 0. */
export function proportions(h: Histogram): number[] {
    const sum = h.counts.reduce((a, b) => a + b, 0);
    return h.counts.map((c) => (sum > 0 ? c / sum : 0));
}

/**
 * Population stability index of `actual` (the canary) against `expected` (the stable version):
 * Σ (aᵢ − eᵢ) × ln(aᵢ / eᵢ) over the buckets, with an empty bucket's share taken as
 * `EMPTY_BUCKET_SHARE`. 0 for identical distributions; symmetric in the two; grows with the
 * shift. Both histograms must have the same bounds.
 */
export function psi(actual: Histogram, expected: Histogram): number {
    const a = proportions(actual);
    const e = proportions(expected);
    let sum = 0;
    for (let i = 0; i < a.length; i++) {
        const ai = a[i] > 0 ? a[i] : EMPTY_BUCKET_SHARE;
        const ei = e[i] > 0 ? e[i] : EMPTY_BUCKET_SHARE;
        sum += (ai - ei) * Math.log(ai / ei);
    }
    return sum;
}

/**
 * Kolmogorov–Smirnov distance between the two distributions as far as the buckets show it: the
 * largest difference of their cumulative shares at a finite bucket bound (at `+Inf` both are 1).
 * It is at most the distance of the underlying scores, which may differ most inside a bucket.
 * Returns the distance and the bound where it is largest.
 */
export function ksDistance(a: Histogram, b: Histogram): { distance: number; at: number | undefined } {
    const pa = proportions(a);
    const pb = proportions(b);
    let ca = 0;
    let cb = 0;
    let distance = 0;
    let at: number | undefined;
    for (let i = 0; i < a.bounds.length; i++) {
        ca += pa[i];
        cb += pb[i];
        const d = Math.abs(ca - cb);
        if (d > distance) {
            distance = d;
            at = a.bounds[i];
        }
    }
    return { distance, at };
}

/** "+Inf" and "Inf" as Infinity, decimal and exponent forms as numbers; anything else undefined. */
function parseBound(le: unknown): number | undefined {
    if (typeof le !== "string") return undefined;
    if (le === "+Inf" || le === "Inf") return Infinity;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(le)) return undefined;
    const n = Number(le);
    return Number.isFinite(n) ? n : undefined;
}

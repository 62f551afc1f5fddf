// How far a measured traffic split may stray from the configured weight by chance alone.
//
// Each request goes to the canary independently with probability p = weight / 100 (grpc-go and
// Envoy pick a weighted cluster at random per request), so the canary's count out of n requests
// is Binomial(n, p): mean n*p, standard deviation sqrt(n*p*(1-p)). A check accepts counts within
// Z standard deviations of the mean.

/**
 * Z = 4.5: a correct router fails one check in about 147,000 (two-sided normal tail 6.8e-6), so
 * the suite's handful of checks stays green, while a split off by a whole weight step fails.
 */
export const SPLIT_TOLERANCE_SIGMAS = 4.5;

export interface BinomialBound {
    /** Expected count, n*p. */
    mean: number;
    /** sqrt(n*p*(1-p)) */
    sigma: number;
    /** Smallest and largest accepted count (inclusive). */
    low: number;
    high: number;
}

/** The counts accepted for n requests at probability p (0 <= p <= 1). */
export function binomialBound(n: number, p: number, sigmas = SPLIT_TOLERANCE_SIGMAS): BinomialBound {
    if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
    if (!(p >= 0 && p <= 1)) throw new Error(`p must be from 0 to 1, got ${p}`);
    const mean = n * p;
    const sigma = Math.sqrt(n * p * (1 - p));
    return { mean, sigma, low: Math.max(0, Math.ceil(mean - sigmas * sigma)), high: Math.min(n, Math.floor(mean + sigmas * sigma)) };
}


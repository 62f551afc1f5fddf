/**
 * What a counter counted during a window, in PromQL, with a series born inside the window counted
 * from zero.
 *
 * `increase(c[w])` (and `rate`) needs two samples and counts only what a series gained between
 * its first and last sample in the window. A series that first appears inside the window is not
 * counted from zero: its first sample holds everything it counted since it was created, and that
 * part is lost. Istio's proxies create a series (one per response code, gRPC status, ...) at its
 * first request, so the first `response_code="500"` of a canary arrives as a new series whose
 * first value is 1, or 5 after a burst: with `increase` alone a low-traffic canary's first errors,
 * often all of them, are never seen, and the canary passes. A pod that restarts does the same to
 * every series (new pod label, counters from zero), and so does the canary's first traffic.
 *
 * Per series, the count is
 *
 *     increase(c[w])                      (0 when the series has one sample in the window)
 *   + its first sample in the window      (only when the series was born inside the window)
 *
 * - "Born inside the window": no sample in the `NEW_SERIES_LOOKBACK` (1h) before the window
 *   starts (`unless count_over_time(c[1h] offset w)`), and Prometheus was scraping: at least one
 *   series of the `witness` selector (the namespace's series of the same metric) had a sample in
 *   the window before this one. Without that witness, Prometheus' data begins inside the window
 *   (it just started with empty storage, or came back from an outage longer than a window), and
 *   every series would look new although it counted for hours: then nothing is added, as before.
 * - The first sample is `min_over_time(c[w])`: a counter's smallest value is its first one unless
 *   it reset after it within the window.
 * - Counter resets stay `increase`'s: a reset inside the window adds the value before it. A series
 *   that reset is not a new series (it had samples before the window), so nothing is added twice.
 *
 * Why not `c - (c offset w)` (with `or c` for new series): it needs no extrapolation, but a reset
 * inside the window makes the difference wrong (negative, or short by everything counted before
 * the reset), and a pod's Envoy restarting in place resets its counters; `increase` handles that.
 *
 * The trade-offs, all small against losing the first count of every new series:
 * - `increase` extrapolates to the window's edges; for a new series the extrapolation toward the
 *   start is capped where the counter would reach zero, so at most about half a scrape interval's
 *   increments are counted twice (once extrapolated, once in the first sample).
 * - A series born inside the window that also resets inside it: its first value is read as the
 *   smallest one, short by what it counted before the reset.
 * - A series with no sample for more than an hour before the window that comes back (the series
 *   of a target Prometheus could not scrape for that long) is read as new, so its first value
 *   counts what it gained before the gap too.
 * - Within one scrape interval of a fresh Prometheus' first scrape, a target scraped after the
 *   window's start while the witness was scraped before it is read as new.
 *
 * The expression keeps every series with a sample in the window (the `or ... * 0` fallbacks give
 * each side the same series, so `+` matches them one to one), and is empty when there is none, so
 * "no series" stays "no data" for the caller's `sum`.
 */

/** How long a series must have had no sample before the window for its first sample in the window to count from zero. */
export const NEW_SERIES_LOOKBACK = "1h";

/**
 * The per-series count of `selector` (a series selector such as `istio_requests_total{...}`)
 * during `window` (a checked Prometheus duration), with series born inside the window counted
 * from zero while `witness` (a series selector) shows that Prometheus was scraping before it.
 * Wrap it in `sum(...)` or `sum by (le) (...)`.
 */
export function seriesCountInWindow(selector: string, window: string, witness: string): string {
    const first = `min_over_time(${selector}[${window}])`;
    const zero = `${first} * 0`;
    const born = `(${first} unless count_over_time(${selector}[${NEW_SERIES_LOOKBACK}] offset ${window}))`;
    const scraping = `count(count_over_time(${witness}[${window}] offset ${window}))`;
    return `(increase(${selector}[${window}]) or ${zero}) + ((${born} and on() ${scraping}) or ${zero})`;
}

/**
 * Pure: whether a tick's "no data" is evidence. A step's `up` returns once its route is applied,
 * often before Prometheus has scraped any of the traffic the step sends to the canary. A query
 * over `rate()`/`increase()` needs two scrapes of that traffic inside its range window, and the
 * window spans at least two scrape intervals (see `queries.ts`), so by `window` after the route
 * was applied the new traffic could have been scraped twice. A tick before then whose only
 * non-passing checks are "nodata" has judged nothing: it is pending, neither a pass nor a failure
 * (`decideStep` skips it). After that grace "nodata" counts toward rollback as before; "fail" and
 * "error" always count, grace or not, and a pending tick never lets a step advance.
 */
import type { AnalysisSummary, CheckResult, TickOutcome } from "./verdict";

export interface TickInput {
    /** `summarize(results)`. */
    summary: AnalysisSummary;
    results: readonly CheckResult[];
    /** When the tick's queries were evaluated, in ms since the epoch. */
    atMs: number;
    /** When the step's route was applied (its `up` finished), in ms since the epoch. */
    appliedAtMs: number;
    /** The queries' range window in ms (`rollout.window`). */
    windowMs: number;
}

export interface TickVerdict {
    outcome: TickOutcome;
    /** Why the tick is pending; only when it is. */
    pendingReason?: string;
}

/**
 * How long after a step's route was applied a tick without data is pending: the query window,
 * which holds at least two scrapes of the step's traffic once that long has passed.
 */
export function scrapeGraceMs(windowMs: number): number {
    if (!Number.isFinite(windowMs) || windowMs <= 0) throw new Error(`windowMs must be a positive number of milliseconds, got ${windowMs}`);
    return windowMs;
}

/**
 * The outcome of one tick: its summary, except that a non-passing tick within the grace (see
 * `scrapeGraceMs`) whose every non-pass check is "nodata" is "pending", with the reason.
 */
export function judgeTick(input: TickInput): TickVerdict {
    const { summary, results, atMs, appliedAtMs, windowMs } = input;
    if (summary === "pass") return { outcome: "pass" };
    const graceMs = scrapeGraceMs(windowMs);
    const sinceMs = atMs - appliedAtMs;
    const notPassed = results.filter((r) => r.status !== "pass");
    const onlyNoData = notPassed.length > 0 && notPassed.every((r) => r.status === "nodata");
    if (!onlyNoData || !Number.isFinite(sinceMs) || sinceMs >= graceMs) return { outcome: summary };
    return {
        outcome: "pending",
        pendingReason: `no data ${secs(Math.max(0, sinceMs))} after the step was applied, before the ${secs(graceMs)} window could hold two scrapes of its traffic; not counted (no data counts from ${secs(graceMs)} on)`,
    };
}

function secs(ms: number): string {
    return `${(ms / 1000).toFixed(1)}s`;
}

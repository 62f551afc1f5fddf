import assert from "assert";
import { judgeTick, scrapeGraceMs } from "../analysis/pending";
import { decideStep, defaultThresholds, evaluate, summarize, type AnalysisThresholds, type CheckResult, type Measurement, type StepDecision, type TickOutcome } from "../analysis/verdict";

// The rollout tests' settings: a 5 s window, a 1 s tick, a 3 s interval.
const windowMs = 5000;
const appliedAtMs = Date.parse("2026-12-06T12:00:00.000Z");
const healthy: Measurement = { canary: { requests: 40, successRate: 100, p99Ms: 80 }, stable: { requests: 4000, successRate: 100, p99Ms: 80 } };
/** The step's route is applied, but Prometheus has not scraped the canary's new traffic yet. */
const notScrapedYet: Measurement = { canary: { requests: null, successRate: null, p99Ms: null }, stable: healthy.stable };
const failing: Measurement = { canary: { requests: 40, successRate: 90, p99Ms: 80 }, stable: healthy.stable };
const brokenQuery: Measurement = { canary: { requests: { error: "bad_data: parse error" }, successRate: null, p99Ms: null }, stable: healthy.stable };

/**
 * Runs a step as rollout/runner.ts does: each tick (seconds after the route was applied) is
 * judged (`evaluate`, `summarize`, `judgeTick`) and `decideStep` decides; stops at the first
 * decision that is not "wait". Returns each tick's outcome and decision.
 */
function walkStep(ticks: [atS: number, m: Measurement][], t: Partial<AnalysisThresholds> & { intervalS?: number } = {}): { outcomes: TickOutcome[]; decisions: StepDecision[]; reasons: (string | undefined)[] } {
    const thresholds = { ...defaultThresholds, ...t };
    const outcomes: TickOutcome[] = [];
    const decisions: StepDecision[] = [];
    const reasons: (string | undefined)[] = [];
    for (const [atS, m] of ticks) {
        const results = evaluate(m, thresholds);
        const tick = judgeTick({ summary: summarize(results), results, atMs: appliedAtMs + atS * 1000, appliedAtMs, windowMs });
        outcomes.push(tick.outcome);
        reasons.push(tick.pendingReason);
        const d = decideStep({ outcomes, elapsedMs: atS * 1000, intervalMs: (t.intervalS ?? 3) * 1000, failureThreshold: thresholds.failureThreshold });
        decisions.push(d.decision);
        if (d.decision !== "wait") break;
    }
    return { outcomes, decisions, reasons };
}

describe("analysis/pending (no data before the step's traffic could be scraped)", () => {
    it("a healthy canary with failureThreshold 1 whose first tick after the step has no data yet is not rolled back: that tick is pending, and the step advances on passing ticks", () => {
        const step = walkStep([[1, notScrapedYet], [2, healthy], [3, healthy]], { failureThreshold: 1 });
        assert.deepStrictEqual(step.outcomes, ["pending", "pass", "pass"]);
        assert.deepStrictEqual(step.decisions, ["wait", "wait", "advance"]);
        assert.strictEqual(step.reasons[0], "no data 1.0s after the step was applied, before the 5.0s window could hold two scrapes of its traffic; not counted (no data counts from 5.0s on)");
    });

    it("a canary that stays without data past the grace (the window) is rolled back exactly as without a grace: the first tick at or after it counts, at failureThreshold 1 and 2", () => {
        const dead = (n: number) => Array.from({ length: n }, (_, i) => [i + 1, notScrapedYet] as [number, Measurement]);
        const one = walkStep(dead(20), { failureThreshold: 1 });
        assert.deepStrictEqual(one.outcomes, ["pending", "pending", "pending", "pending", "fail"]);
        assert.deepStrictEqual(one.decisions, ["wait", "wait", "wait", "wait", "rollback"]);
        const two = walkStep(dead(20), { failureThreshold: 2 });
        assert.deepStrictEqual(two.outcomes, ["pending", "pending", "pending", "pending", "fail", "fail"]);
        assert.deepStrictEqual(two.decisions.at(-1), "rollback");
        // The pending ticks never let the step advance, though its 3 s interval had elapsed at 3 s and 4 s.
        assert.ok(!two.decisions.includes("advance"));
    });

    it("a failing or unmeasurable tick inside the grace counts at once: failureThreshold 1 rolls back at the first tick", () => {
        assert.deepStrictEqual(walkStep([[1, failing]], { failureThreshold: 1 }).decisions, ["rollback"]);
        assert.deepStrictEqual(walkStep([[1, brokenQuery]], { failureThreshold: 1 }).outcomes, ["fail"]);
        assert.deepStrictEqual(walkStep([[1, brokenQuery]], { failureThreshold: 1 }).decisions, ["rollback"]);
    });

    it("no data with a failing custom check, or an error beside no data, is a failure, not pending", () => {
        const results: CheckResult[] = [
            { name: "success-rate", status: "nodata", message: "no canary traffic" },
            { name: "offline-eval", status: "fail", message: "accuracy 0.71 < 0.9" },
        ];
        assert.deepStrictEqual(judgeTick({ summary: "fail", results, atMs: appliedAtMs + 1000, appliedAtMs, windowMs }), { outcome: "fail" });
        const withError: CheckResult[] = [results[0], { name: "offline-eval", status: "error", message: "webhook answered HTTP 500" }];
        assert.deepStrictEqual(judgeTick({ summary: "fail", results: withError, atMs: appliedAtMs + 1000, appliedAtMs, windowMs }), { outcome: "fail" });
        // No checks at all judged nothing and is not a pass: a failure, as summarize says.
        assert.deepStrictEqual(judgeTick({ summary: "fail", results: [], atMs: appliedAtMs + 1000, appliedAtMs, windowMs }), { outcome: "fail" });
    });

    it("a pending tick neither counts toward failureThreshold nor resets it, and a pending latest tick never advances", () => {
        assert.deepStrictEqual(decideStep({ outcomes: ["fail", "pending", "fail"], elapsedMs: 10_000, intervalMs: 3000, failureThreshold: 2 }).decision, "rollback");
        const d = decideStep({ outcomes: ["fail", "pending"], elapsedMs: 10_000, intervalMs: 3000, failureThreshold: 2 });
        assert.deepStrictEqual([d.decision, d.consecutiveFailures, d.reason], ["wait", 1, "the latest analysis is pending, not counted (1 of 2 failures before rollback)"]);
        assert.deepStrictEqual(decideStep({ outcomes: ["pass", "pending"], elapsedMs: 10_000, intervalMs: 3000, failureThreshold: 1 }).decision, "wait");
        assert.deepStrictEqual(decideStep({ outcomes: ["pending", "pending", "pending"], elapsedMs: 10_000, intervalMs: 3000, failureThreshold: 1 }).consecutiveFailures, 0);
    });

    it("the grace is the query window, counted from when the route was applied: a tick 1 ms before it is pending, one at it is not", () => {
        assert.strictEqual(scrapeGraceMs(60_000), 60_000);
        const results = evaluate(notScrapedYet, defaultThresholds);
        assert.strictEqual(judgeTick({ summary: "fail", results, atMs: appliedAtMs + 4999, appliedAtMs, windowMs }).outcome, "pending");
        assert.strictEqual(judgeTick({ summary: "fail", results, atMs: appliedAtMs + 5000, appliedAtMs, windowMs }).outcome, "fail");
        // A step whose applied time is unknown gets no grace.
        assert.strictEqual(judgeTick({ summary: "fail", results, atMs: appliedAtMs + 1000, appliedAtMs: NaN, windowMs }).outcome, "fail");
        assert.throws(() => scrapeGraceMs(0), /windowMs must be a positive number of milliseconds, got 0/);
    });
});

import assert from "assert";
import {
    CHECK_NAMES,
    countConsecutiveFailures,
    decideStep,
    defaultThresholds,
    evaluate,
    checkThresholds,
    resolveThresholds,
    summarize,
    type AnalysisSummary,
    type AnalysisThresholds,
    type CheckResult,
    type CheckStatus,
    type Measurement,
    type WorkloadMeasurement,
} from "../analysis/verdict";

const healthy: WorkloadMeasurement = { requests: 1000, successRate: 99.9, p99Ms: 100 };

function m(canary: Partial<WorkloadMeasurement>, stable: Partial<WorkloadMeasurement> = {}): Measurement {
    return { canary: { ...healthy, ...canary }, stable: { ...healthy, ...stable } };
}

function byName(results: CheckResult[]): Record<string, CheckResult> {
    return Object.fromEntries(results.map((r) => [r.name, r]));
}

const SR = CHECK_NAMES.successRate;
const P99 = CHECK_NAMES.p99;
const SRREL = CHECK_NAMES.successRateVsStable;
const P99REL = CHECK_NAMES.p99VsStable;

describe("analysis/verdict", () => {
    describe("defaultThresholds", () => {
        it("has the documented values", () => {
            assert.deepStrictEqual(
                { ...defaultThresholds },
                {
                    minSuccessRate: 99,
                    maxP99Ms: 500,
                    maxSuccessRateDropPoints: 0.5,
                    maxP99Ratio: 1.2,
                    minRequests: 20,
                    failureThreshold: 2,
                },
            );
            assert.ok(Object.isFrozen(defaultThresholds));
        });
    });

    describe("evaluate", () => {
        type Row = {
            title: string;
            measurement: Measurement;
            thresholds?: Partial<AnalysisThresholds>;
            expect: Partial<Record<string, CheckStatus>>;
            messages?: Partial<Record<string, RegExp>>;
        };
        const rows: Row[] = [
            {
                title: "healthy canary and stable: all pass",
                measurement: m({}),
                expect: { [SR]: "pass", [P99]: "pass", [SRREL]: "pass", [P99REL]: "pass" },
            },
            {
                title: "absolute success rate below minimum fails with a readable message",
                measurement: m({ successRate: 94.8 }),
                expect: { [SR]: "fail", [SRREL]: "fail", [P99]: "pass" },
                messages: {
                    [SR]: /^canary success rate 94\.80% < 99\.00%$/,
                    [SRREL]: /94\.80% is 5\.10 points below stable 99\.90%.*allowed drop 0\.50/,
                },
            },
            {
                title: "success rate exactly at the minimum passes",
                measurement: m({ successRate: 99 }, { successRate: 99 }),
                expect: { [SR]: "pass", [SRREL]: "pass" },
                messages: { [SR]: /^canary success rate 99\.00% >= 99\.00%$/ },
            },
            {
                title: "success rate just below the minimum fails",
                measurement: m({ successRate: 98.999 }, { successRate: 98.999 }),
                expect: { [SR]: "fail", [SRREL]: "pass" },
            },
            {
                title: "P99 exactly at the maximum passes",
                measurement: m({ p99Ms: 500 }, { p99Ms: 500 }),
                expect: { [P99]: "pass", [P99REL]: "pass" },
                messages: { [P99]: /^canary P99 latency 500 ms <= 500 ms$/ },
            },
            {
                title: "P99 above the maximum fails",
                measurement: m({ p99Ms: 612.3 }, { p99Ms: 600 }),
                expect: { [P99]: "fail", [P99REL]: "pass" },
                messages: { [P99]: /^canary P99 latency 612\.3 ms > 500 ms$/ },
            },
            {
                title: "relative drop exactly at the allowed points passes (float-safe)",
                measurement: m({ successRate: 99.2 }, { successRate: 99.7 }),
                expect: { [SR]: "pass", [SRREL]: "pass" },
            },
            {
                title: "relative drop just above the allowed points fails while absolute passes",
                measurement: m({ successRate: 99.19 }, { successRate: 99.7 }),
                expect: { [SR]: "pass", [SRREL]: "fail" },
            },
            {
                title: "canary better than stable passes the relative check",
                measurement: m({ successRate: 100 }, { successRate: 99.5 }),
                expect: { [SRREL]: "pass" },
                messages: { [SRREL]: /not lower/ },
            },
            {
                title: "P99 ratio exactly at the allowed factor passes",
                measurement: m({ p99Ms: 120 }, { p99Ms: 100 }),
                expect: { [P99]: "pass", [P99REL]: "pass" },
            },
            {
                title: "slow canary: 2x stable P99 fails the relative check but passes the absolute one",
                measurement: m({ p99Ms: 248.5 }, { p99Ms: 99.5 }),
                expect: { [P99]: "pass", [P99REL]: "fail" },
                messages: { [P99REL]: /248\.5 ms is 2\.50x stable 99\.5 ms, above the allowed 1\.2x \(119\.4 ms\)/ },
            },
            {
                title: "canary without any request series: every check nodata",
                measurement: m({ requests: null, successRate: null, p99Ms: null }),
                expect: { [SR]: "nodata", [P99]: "nodata", [SRREL]: "nodata", [P99REL]: "nodata" },
                messages: { [SR]: /no canary traffic/ },
            },
            {
                title: "canary with 0 requests but stale values: nodata, never pass",
                measurement: m({ requests: 0, successRate: 100, p99Ms: 10 }),
                expect: { [SR]: "nodata", [P99]: "nodata", [SRREL]: "nodata", [P99REL]: "nodata" },
            },
            {
                title: "canary below minRequests: nodata with counts in the message",
                measurement: m({ requests: 19.4, successRate: 100, p99Ms: 10 }),
                expect: { [SR]: "nodata", [P99]: "nodata" },
                messages: { [SR]: /canary received 19\.4 requests .* fewer than minRequests 20/ },
            },
            {
                title: "canary exactly at minRequests is judged",
                measurement: m({ requests: 20 }),
                expect: { [SR]: "pass", [P99]: "pass" },
            },
            {
                title: "custom minRequests",
                measurement: m({ requests: 150 }),
                thresholds: { minRequests: 200 },
                expect: { [SR]: "nodata" },
                messages: { [SR]: /fewer than minRequests 200/ },
            },
            {
                title: "canary has traffic but a NaN-turned-null metric: that check nodata",
                measurement: m({ p99Ms: null }),
                expect: { [SR]: "pass", [P99]: "nodata", [P99REL]: "nodata" },
                messages: { [P99]: /canary P99 latency: no data/ },
            },
            {
                title: "stable without traffic: relative checks nodata, absolute checks judged",
                measurement: m({}, { requests: null, successRate: null, p99Ms: null }),
                expect: { [SR]: "pass", [P99]: "pass", [SRREL]: "nodata", [P99REL]: "nodata" },
                messages: { [SRREL]: /stable had no traffic/ },
            },
            {
                title: "stable below minRequests: relative checks nodata",
                measurement: m({}, { requests: 5 }),
                expect: { [SR]: "pass", [SRREL]: "nodata", [P99REL]: "nodata" },
                messages: { [P99REL]: /stable had too little traffic .*5 requests/ },
            },
            {
                title: "failed success-rate query: that check error, others judged",
                measurement: m({ successRate: { error: "HTTP 503" } }),
                expect: { [SR]: "error", [P99]: "pass", [SRREL]: "error", [P99REL]: "pass" },
                messages: { [SR]: /canary success rate query failed: HTTP 503/ },
            },
            {
                title: "failed canary request-count query: all canary checks error",
                measurement: m({ requests: { error: "connect ECONNREFUSED" } }),
                expect: { [SR]: "error", [P99]: "error", [SRREL]: "error", [P99REL]: "error" },
                messages: { [P99]: /canary request count query failed: connect ECONNREFUSED/ },
            },
            {
                title: "error wins over nodata",
                measurement: m({ requests: 0, p99Ms: { error: "timeout" } }),
                expect: { [SR]: "nodata", [P99]: "error" },
            },
            {
                title: "failed stable query: only relative checks error",
                measurement: m({}, { p99Ms: { error: "bad_data" }, requests: { error: "bad_data" } }),
                expect: { [SR]: "pass", [P99]: "pass", [SRREL]: "error", [P99REL]: "error" },
            },
            {
                title: "all queries failed: every check error",
                measurement: {
                    canary: { requests: { error: "down" }, successRate: { error: "down" }, p99Ms: { error: "down" } },
                    stable: { requests: { error: "down" }, successRate: { error: "down" }, p99Ms: { error: "down" } },
                },
                expect: { [SR]: "error", [P99]: "error", [SRREL]: "error", [P99REL]: "error" },
            },
            {
                title: "success rate 0 (all 5xx) fails, it is not nodata",
                measurement: m({ successRate: 0 }),
                expect: { [SR]: "fail", [SRREL]: "fail" },
                messages: { [SR]: /^canary success rate 0\.00% < 99\.00%$/ },
            },
            {
                title: "canary success rate +Inf is impossible: error, never pass",
                measurement: m({ successRate: Infinity }),
                expect: { [SR]: "error", [SRREL]: "error", [P99]: "pass" },
                messages: { [SR]: /^canary success rate is Infinity, which is impossible \(a rate is 0 to 100%\): Prometheus' answer cannot be trusted$/ },
            },
            {
                title: "canary success rate 150 or -5 is impossible: error",
                measurement: m({ successRate: 150 }, { successRate: -5 }),
                expect: { [SR]: "error", [SRREL]: "error" },
                messages: { [SR]: /canary success rate is 150, which is impossible/, [SRREL]: /canary success rate is 150.*; stable success rate is -5, which is impossible/ },
            },
            {
                title: "negative or infinite P99 latency is impossible: error, never pass",
                measurement: m({ p99Ms: -Infinity }, { p99Ms: -3 }),
                expect: { [SR]: "pass", [P99]: "error", [P99REL]: "error" },
                messages: { [P99]: /^canary P99 latency is -Infinity, which is impossible \(a latency is a finite number >= 0 ms\)/ },
            },
            {
                title: "a stable P99 of +Inf cannot loosen the ratio check: error",
                measurement: m({ p99Ms: 400 }, { p99Ms: Infinity }),
                expect: { [P99]: "pass", [P99REL]: "error" },
                messages: { [P99REL]: /stable P99 latency is Infinity, which is impossible/ },
            },
            {
                title: "NaN with enough traffic is an error, not no data",
                measurement: m({ successRate: NaN, p99Ms: NaN }),
                expect: { [SR]: "error", [P99]: "error" },
                messages: { [SR]: /canary success rate is NaN, which is impossible/ },
            },
            {
                title: "NaN without traffic stays no data (0/0 in a quiet window)",
                measurement: m({ requests: 0, successRate: NaN, p99Ms: NaN }),
                expect: { [SR]: "nodata", [P99]: "nodata" },
            },
            {
                title: "an infinite, negative or NaN request count is an error for every check that needs it",
                measurement: m({ requests: Infinity }, { requests: -10 }),
                expect: { [SR]: "error", [P99]: "error", [SRREL]: "error", [P99REL]: "error" },
                messages: { [SR]: /^canary request count is Infinity, which is impossible \(a count is a finite number >= 0\)/, [SRREL]: /stable request count is -10, which is impossible/ },
            },
            {
                title: "a NaN request count is an error",
                measurement: m({ requests: NaN }),
                expect: { [SR]: "error", [P99]: "error" },
            },
            {
                title: "stable P99 of 0 with canary > 0 fails the ratio check",
                measurement: m({ p99Ms: 0.99 }, { p99Ms: 0 }),
                expect: { [P99REL]: "fail", [P99]: "pass" },
            },
        ];

        for (const row of rows) {
            it(row.title, () => {
                const thresholds = resolveThresholds(row.thresholds ?? {});
                const results = evaluate(row.measurement, thresholds);
                const got = byName(results);
                for (const [name, status] of Object.entries(row.expect)) {
                    assert.ok(got[name], `missing check ${name}`);
                    assert.strictEqual(got[name].status, status, `${name}: ${got[name].message}`);
                }
                for (const [name, re] of Object.entries(row.messages ?? {})) {
                    assert.match(got[name].message, re!);
                }
                for (const r of results) {
                    assert.ok(r.message.length > 0);
                    if (r.status === "pass" || r.status === "fail") assert.strictEqual(typeof r.value, "number");
                    else assert.strictEqual(r.value, undefined);
                }
            });
        }

        it("returns the checks in a fixed order with values and effective thresholds", () => {
            const results = evaluate(m({ successRate: 99.4, p99Ms: 110 }, { successRate: 99.8, p99Ms: 100 }), defaultThresholds);
            assert.deepStrictEqual(
                results.map((r) => [r.name, r.status, r.value, r.stableValue, r.threshold]),
                [
                    [SR, "pass", 99.4, undefined, 99],
                    [P99, "pass", 110, undefined, 500],
                    [SRREL, "pass", 99.4, 99.8, 99.8 - 0.5],
                    [P99REL, "pass", 110, 100, 120],
                ],
            );
        });

        it("skips relative checks that are disabled with null", () => {
            const t = resolveThresholds({ maxSuccessRateDropPoints: null, maxP99Ratio: null });
            assert.deepStrictEqual(
                evaluate(m({}), t).map((r) => r.name),
                [SR, P99],
            );
            const onlyRatio = resolveThresholds({ maxSuccessRateDropPoints: null });
            assert.deepStrictEqual(
                evaluate(m({}), onlyRatio).map((r) => r.name),
                [SR, P99, P99REL],
            );
        });
    });

    describe("summarize", () => {
        const r = (status: CheckStatus): CheckResult => ({ name: status, status, message: status });
        const cases: [CheckStatus[], "pass" | "fail"][] = [
            [["pass"], "pass"],
            [["pass", "pass", "pass"], "pass"],
            [["pass", "fail"], "fail"],
            [["pass", "nodata"], "fail"],
            [["pass", "error"], "fail"],
            [["nodata", "nodata"], "fail"],
            [["error", "error", "error"], "fail"],
            [[], "fail"],
        ];
        for (const [statuses, want] of cases) {
            it(`[${statuses.join(", ")}] -> ${want}`, () => {
                assert.strictEqual(summarize(statuses.map(r)), want);
            });
        }
    });

    describe("decideStep", () => {
        const P: AnalysisSummary = "pass";
        const F: AnalysisSummary = "fail";
        const cases: {
            outcomes: AnalysisSummary[];
            elapsedMs: number;
            failureThreshold?: number;
            want: "advance" | "wait" | "rollback";
            failures: number;
        }[] = [
            { outcomes: [], elapsedMs: 0, want: "wait", failures: 0 },
            { outcomes: [], elapsedMs: 90_000, want: "wait", failures: 0 },
            { outcomes: [P], elapsedMs: 30_000, want: "wait", failures: 0 },
            { outcomes: [P], elapsedMs: 60_000, want: "advance", failures: 0 },
            { outcomes: [P, P, P], elapsedMs: 61_000, want: "advance", failures: 0 },
            { outcomes: [F], elapsedMs: 10_000, want: "wait", failures: 1 },
            { outcomes: [F, F], elapsedMs: 20_000, want: "rollback", failures: 2 },
            { outcomes: [F, P], elapsedMs: 20_000, want: "wait", failures: 0 },
            { outcomes: [F, P, F], elapsedMs: 30_000, want: "wait", failures: 1 },
            { outcomes: [F, P, F, F], elapsedMs: 40_000, want: "rollback", failures: 2 },
            // Interval elapsed but the latest analysis failed: extend the step, do not advance.
            { outcomes: [P, P, F], elapsedMs: 60_000, want: "wait", failures: 1 },
            { outcomes: [P, P, F, P], elapsedMs: 70_000, want: "advance", failures: 0 },
            { outcomes: [P, P, F, F], elapsedMs: 70_000, want: "rollback", failures: 2 },
            // Rollback is decided before advance.
            { outcomes: [F, F], elapsedMs: 600_000, want: "rollback", failures: 2 },
            { outcomes: [F], elapsedMs: 0, failureThreshold: 1, want: "rollback", failures: 1 },
            { outcomes: [F, F, F, F], elapsedMs: 0, failureThreshold: 5, want: "wait", failures: 4 },
            { outcomes: [F, F, F, F, F], elapsedMs: 0, failureThreshold: 5, want: "rollback", failures: 5 },
        ];
        for (const c of cases) {
            const threshold = c.failureThreshold ?? 2;
            it(`[${c.outcomes.join(",")}] after ${c.elapsedMs / 1000}s, threshold ${threshold} -> ${c.want}`, () => {
                const d = decideStep({ outcomes: c.outcomes, elapsedMs: c.elapsedMs, intervalMs: 60_000, failureThreshold: threshold });
                assert.strictEqual(d.decision, c.want, d.reason);
                assert.strictEqual(d.consecutiveFailures, c.failures);
                assert.ok(d.reason.length > 0);
            });
        }

        it("counts nodata/error analyses toward rollback (they summarize to fail)", () => {
            const nodataOnly = summarize(evaluate(m({ requests: null, successRate: null, p99Ms: null }), defaultThresholds));
            const errorOnly = summarize(evaluate(m({ requests: { error: "down" } }), defaultThresholds));
            assert.strictEqual(nodataOnly, "fail");
            assert.strictEqual(errorOnly, "fail");
            const d = decideStep({ outcomes: [nodataOnly, errorOnly], elapsedMs: 0, intervalMs: 60_000, failureThreshold: 2 });
            assert.strictEqual(d.decision, "rollback");
            assert.match(d.reason, /2 consecutive analyses did not pass \(failureThreshold 2\)/);
        });

        it("rejects an invalid failureThreshold", () => {
            assert.throws(
                () => decideStep({ outcomes: [], elapsedMs: 0, intervalMs: 1, failureThreshold: 0 }),
                /failureThreshold must be an integer >= 1, got 0/,
            );
        });

        it("countConsecutiveFailures counts only the trailing non-pass run", () => {
            assert.strictEqual(countConsecutiveFailures([]), 0);
            assert.strictEqual(countConsecutiveFailures(["fail", "fail", "pass"]), 0);
            assert.strictEqual(countConsecutiveFailures(["fail", "pass", "fail", "fail"]), 2);
        });
    });

    describe("resolveThresholds", () => {
        it("returns the defaults for undefined, null and {}", () => {
            for (const input of [undefined, null, {}]) {
                assert.deepStrictEqual(resolveThresholds(input), { ...defaultThresholds });
            }
        });

        it("overrides only the given fields and returns a fresh object", () => {
            const t = resolveThresholds({ maxP99Ms: 250, failureThreshold: 3, minRequests: 100 });
            assert.deepStrictEqual(t, { ...defaultThresholds, maxP99Ms: 250, failureThreshold: 3, minRequests: 100 });
            t.maxP99Ms = 1;
            assert.strictEqual(defaultThresholds.maxP99Ms, 500);
        });

        it("accepts boundary values", () => {
            const t = resolveThresholds({
                minSuccessRate: 0,
                maxSuccessRateDropPoints: 0,
                maxP99Ratio: 1,
                minRequests: 1,
                failureThreshold: 1,
                maxP99Ms: 0.5,
            });
            assert.deepStrictEqual(t, {
                minSuccessRate: 0,
                maxP99Ms: 0.5,
                maxSuccessRateDropPoints: 0,
                maxP99Ratio: 1,
                minRequests: 1,
                failureThreshold: 1,
            });
            assert.strictEqual(resolveThresholds({ minSuccessRate: 100 }).minSuccessRate, 100);
        });

        it("disables relative checks with null", () => {
            const t = resolveThresholds({ maxSuccessRateDropPoints: null, maxP99Ratio: null });
            assert.strictEqual(t.maxSuccessRateDropPoints, null);
            assert.strictEqual(t.maxP99Ratio, null);
        });

        const P99 = "a number of milliseconds above 0 and at most 86400000 (24h)";
        const RATE = "a number from 0 to 100 (percent)";
        const RATIO = "a number from 1 to 100 (a factor of the stable P99), or null to disable the check";
        const DROP = "a number from 0 to 100 (percentage points), or null to disable the check";
        const REQUESTS = "an integer from 1 to 1000000000";
        const FAILURES = "an integer from 1 to 100 (past 100 a failing canary would wait at its weight instead of rolling back)";
        const invalid: [unknown, string][] = [
            [{ maxP99Ms: -3 }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got -3`],
            [{ maxP99Ms: 0 }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got 0`],
            [{ maxP99Ms: "500ms" }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got "500ms" (a string)`],
            [{ maxP99Ms: null }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got null`],
            [{ maxP99Ms: Infinity }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got Infinity`],
            // Upper bounds: a check past them passes any canary while claiming to check.
            [{ maxP99Ms: 86_400_001 }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got 86400001`],
            [{ maxP99Ms: 1e300 }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got 1e+300`],
            [{ maxP99Ratio: 100.5 }, `\`rollout.analysis.maxP99Ratio\` must be ${RATIO}, got 100.5`],
            [{ minRequests: 1_000_000_001 }, `\`rollout.analysis.minRequests\` must be ${REQUESTS}, got 1000000001`],
            [{ failureThreshold: 101 }, `\`rollout.analysis.failureThreshold\` must be ${FAILURES}, got 101`],
            // Numbers that are not numbers, and text that spells a number another way.
            [{ maxP99Ms: NaN }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got NaN`],
            [{ maxP99Ratio: -Infinity }, `\`rollout.analysis.maxP99Ratio\` must be ${RATIO}, got -Infinity`],
            [{ maxP99Ms: "1e3" }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got "1e3" (a string)`],
            [{ maxP99Ms: "0x10" }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got "0x10" (a string)`],
            [{ maxP99Ms: " 300" }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got " 300" (a string)`],
            [{ maxP99Ms: "Infinity" }, `\`rollout.analysis.maxP99Ms\` must be ${P99}, got "Infinity" (a string)`],
            [{ minSuccessRate: "NaN" }, `\`rollout.analysis.minSuccessRate\` must be ${RATE}, got "NaN" (a string)`],
            [{ maxSuccessRateDropPoints: ".5" }, `\`rollout.analysis.maxSuccessRateDropPoints\` must be ${DROP}, got ".5" (a string)`],
            [{ maxSuccessRateDropPoints: "+1" }, `\`rollout.analysis.maxSuccessRateDropPoints\` must be ${DROP}, got "+1" (a string)`],
            [{ minRequests: "20.0" }, `\`rollout.analysis.minRequests\` must be ${REQUESTS}, got "20.0" (a string)`],
            [{ minRequests: "020" }, `\`rollout.analysis.minRequests\` must be ${REQUESTS}, got "020" (a string)`],
            [{ failureThreshold: "1e2" }, `\`rollout.analysis.failureThreshold\` must be ${FAILURES}, got "1e2" (a string)`],
            [{ failureThreshold: true }, `\`rollout.analysis.failureThreshold\` must be ${FAILURES}, got true`],
            [{ minSuccessRate: 101 }, `\`rollout.analysis.minSuccessRate\` must be ${RATE}, got 101`],
            [{ minSuccessRate: -0.5 }, `\`rollout.analysis.minSuccessRate\` must be ${RATE}, got -0.5`],
            [{ minSuccessRate: NaN }, `\`rollout.analysis.minSuccessRate\` must be ${RATE}, got NaN`],
            [{ maxSuccessRateDropPoints: -1 }, `\`rollout.analysis.maxSuccessRateDropPoints\` must be ${DROP}, got -1`],
            [{ maxP99Ratio: 0.8 }, `\`rollout.analysis.maxP99Ratio\` must be ${RATIO}, got 0.8`],
            [{ minRequests: 0 }, `\`rollout.analysis.minRequests\` must be ${REQUESTS}, got 0`],
            [{ minRequests: 2.5 }, `\`rollout.analysis.minRequests\` must be ${REQUESTS}, got 2.5`],
            [{ failureThreshold: 0 }, `\`rollout.analysis.failureThreshold\` must be ${FAILURES}, got 0`],
            [{ failureThreshold: [2] }, `\`rollout.analysis.failureThreshold\` must be ${FAILURES}, got [2] (an array)`],
            [
                { maxP99: 500 },
                "`rollout.analysis.maxP99` is not a known analysis setting; known settings: minSuccessRate, maxP99Ms, maxSuccessRateDropPoints, maxP99Ratio, minRequests, failureThreshold",
            ],
            ["strict", '`rollout.analysis` must be an object with threshold fields, got "strict" (a string)'],
            [[1, 2], "`rollout.analysis` must be an object with threshold fields, got [1,2] (an array)"],
        ];
        for (const [input, message] of invalid) {
            it(`rejects ${message.replace(/^`([^`]+)`.*got (.*)$/, "$1 = $2")}`, () => {
                assert.throws(
                    () => resolveThresholds(input),
                    (err: Error) => {
                        assert.strictEqual(err.message, message);
                        return true;
                    },
                );
            });
        }

        it("uses the given key prefix in messages", () => {
            assert.throws(() => resolveThresholds({ minRequests: -1 }, "spec.canary"), {
                message: "`spec.canary.minRequests` must be an integer from 1 to 1000000000, got -1",
            });
        });

        it("reads plain decimal text as the number it spells (`pulumi config set --path` writes 0.5 and 1.5 as text)", () => {
            assert.deepStrictEqual(
                resolveThresholds({ minSuccessRate: "99.9", maxP99Ms: "250.5", maxSuccessRateDropPoints: "0.5", maxP99Ratio: "1.5", minRequests: "200", failureThreshold: "3" }),
                { minSuccessRate: 99.9, maxP99Ms: 250.5, maxSuccessRateDropPoints: 0.5, maxP99Ratio: 1.5, minRequests: 200, failureThreshold: 3 },
            );
        });

        it("accepts each upper bound itself", () => {
            assert.deepStrictEqual(
                resolveThresholds({ maxP99Ms: 86_400_000, maxP99Ratio: 100, minRequests: 1_000_000_000, failureThreshold: 100, maxSuccessRateDropPoints: 100 }),
                { ...defaultThresholds, maxP99Ms: 86_400_000, maxP99Ratio: 100, minRequests: 1_000_000_000, failureThreshold: 100, maxSuccessRateDropPoints: 100 },
            );
        });

        it("reports every bad field at once, with checkThresholds returning the list", () => {
            assert.deepStrictEqual(checkThresholds({ maxP99Ms: 9e9, minRequests: "lots", typo: 1 }), {
                problems: [
                    "`rollout.analysis.typo` is not a known analysis setting; known settings: minSuccessRate, maxP99Ms, maxSuccessRateDropPoints, maxP99Ratio, minRequests, failureThreshold",
                    `\`rollout.analysis.maxP99Ms\` must be ${P99}, got 9000000000`,
                    `\`rollout.analysis.minRequests\` must be ${REQUESTS}, got "lots" (a string)`,
                ],
            });
            assert.throws(() => resolveThresholds({ maxP99Ms: 0, minRequests: 0 }), {
                message: `\`rollout.analysis.maxP99Ms\` must be ${P99}, got 0; \`rollout.analysis.minRequests\` must be ${REQUESTS}, got 0`,
            });
        });
    });
});

import * as assert from "assert";
import { ValidationError } from "../components";
import { remainingSteps, resolvePlan } from "../stacks/rollout-plan";

function problemsOf(block: Record<string, unknown> | undefined, flags = {}): string[] {
    try {
        resolvePlan(block, flags);
    } catch (e) {
        assert.ok(e instanceof ValidationError, String(e));
        return e.problems;
    }
    assert.fail("expected the plan to be refused");
}

describe("rollout plan", () => {
    it("defaults to the seed's 1 -> 10 -> 50 -> 100 with Flagger-like timing", () => {
        const plan = resolvePlan(undefined);
        assert.deepStrictEqual(plan.steps, [1, 10, 50, 100]);
        assert.deepStrictEqual([plan.intervalMs, plan.tickMs, plan.window, plan.prometheusUrl, plan.promote], [60_000, 10_000, "1m", "http://localhost:9090", false]);
        assert.deepStrictEqual([plan.thresholds.minSuccessRate, plan.thresholds.maxP99Ms, plan.thresholds.failureThreshold], [99, 500, 2]);
        assert.deepStrictEqual(plan.checks, []);
    });

    it("takes the config block, and flags over it", () => {
        const block = { steps: [5, 25, 100], interval: "2m", tick: "15s", window: "2m", prometheus: "http://prom:9090/", analysis: { maxP99Ms: 300 }, promote: true };
        const fromConfig = resolvePlan(block);
        assert.deepStrictEqual([fromConfig.steps, fromConfig.intervalMs, fromConfig.tickMs, fromConfig.prometheusUrl, fromConfig.thresholds.maxP99Ms, fromConfig.promote],
            [[5, 25, 100], 120_000, 15_000, "http://prom:9090", 300, true]);
        const flagged = resolvePlan(block, { steps: "1,100", interval: "30s", "failure-threshold": "3", prometheus: "https://other:443" });
        assert.deepStrictEqual([flagged.steps, flagged.intervalMs, flagged.thresholds.failureThreshold, flagged.prometheusUrl], [[1, 100], 30_000, 3, "https://other:443"]);
    });

    it("keeps custom checks in order", () => {
        const checks = [{ name: "eval", webhook: { url: "http://eval/check" } }, { name: "golden-set", command: ["python3", "golden.py"] }];
        assert.deepStrictEqual(resolvePlan({ checks }).checks, checks);
    });

    const refused: [string, Record<string, unknown> | undefined, Record<string, unknown>, string[]][] = [
        ["decreasing steps", { steps: [10, 1] }, {}, ["`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got [10,1]"]],
        ["a step above 100 from a flag", undefined, { steps: "1,150" }, ["`--steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got \"1,150\""]],
        ["a fractional step", { steps: [1, 2.5] }, {}, ["`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got [1,2.5]"]],
        ["a step in hexadecimal from a flag, which Number() reads as 16", undefined, { steps: "1,0x10" }, ["`--steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got \"1,0x10\""]],
        ["a step in exponent form, which Number() reads as 100", { steps: ["1", "1e2"] }, {}, ["`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got [\"1\",\"1e2\"]"]],
        ["a step with a plus sign or a decimal point", undefined, { steps: "+1,10.0" }, ["`--steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got \"+1,10.0\""]],
        ["an interval past 24h, which a Node.js timer would fire at once", { interval: "600h" }, {}, ["`rollout.interval` must be a duration of at most 24h such as \"30s\", \"1m\" or \"1m30s\", got \"600h\""]],
        ["a duration that is not text", { tick: ["10s"] }, {}, ["`rollout.tick` must be a duration of at most 24h such as \"30s\", \"1m\" or \"1m30s\", got [\"10s\"]"]],
        ["a check timeout a Node.js timer cannot wait, and a fractional one", { checks: [{ name: "eval", webhook: { url: "http://127.0.0.1:9/check", timeoutMs: 1e10 } }, { name: "golden", command: ["true"], timeoutMs: 2.5 }] }, {}, [
            "`rollout.checks[0].webhook.timeoutMs` must be a whole number of milliseconds from 1 to 86400000 (24h), got 10000000000",
            "`rollout.checks[1].timeoutMs` must be a whole number of milliseconds from 1 to 86400000 (24h), got 2.5",
        ]],
        ["a check name with a newline, which would forge a line in reports and terminals", { checks: [{ name: "eval\nCOMPLETED", webhook: { url: "http://127.0.0.1:9/check" } }] }, {}, [
            "`rollout.checks[0].name` must not contain control characters, got \"eval\\nCOMPLETED\"",
        ]],
        ["more than 20 checks", { checks: Array.from({ length: 21 }, (_, i) => ({ name: `c${i}`, command: ["true"] })) }, {}, ["`rollout.checks` must have at most 20 checks, got 21"]],
        ["a failure threshold flag in hexadecimal, which Number() reads as 16", undefined, { "failure-threshold": "0x10" }, ["`--failure-threshold` must be an integer from 1 to 100, got \"0x10\""]],
        ["a failure threshold flag that is not a number, shown as typed (not NaN)", undefined, { "failure-threshold": "abc" }, ["`--failure-threshold` must be an integer from 1 to 100, got \"abc\""]],
        ["a failure threshold so high a failing canary would never roll back", { analysis: { failureThreshold: 99999999 } }, {}, ["`rollout.analysis.failureThreshold` must be at most 100, got 99999999: past it a failing canary would wait at its weight instead of rolling back"]],
        ["a bad interval", { interval: "1 minute" }, {}, ["`rollout.interval` must be a duration of at most 24h such as \"30s\", \"1m\" or \"1m30s\", got \"1 minute\""]],
        ["a tick longer than the interval", undefined, { interval: "10s", tick: "30s" }, ["`--tick` (30s) must not be longer than `--interval` (10s): a step needs at least one analysis"]],
        ["a Prometheus that is not a URL", { prometheus: "prometheus:9090" }, {}, ["`rollout.prometheus` must be the http(s) URL of the Prometheus that scrapes Istio's metrics, got \"prometheus:9090\""]],
        ["promotion without reaching 100", { steps: [1, 50], promote: true }, {}, ["`rollout.steps` must end at 100 to promote, got 1,50"]],
        ["a misspelt key", { intervl: "1m" }, {}, ["unknown key `rollout.intervl` (did you mean `interval`?); accepted keys are `steps`, `interval`, `tick`, `window`, `prometheus`, `prometheusTimeout`, `analysis`, `checks`, `promote`"]],
        ["a bad threshold", { analysis: { minSuccessRate: 120 } }, {}, ["`rollout.analysis.minSuccessRate` must be a number between 0 and 100 (percent), got 120"]],
        ["a check with neither webhook nor command", { checks: [{ name: "eval" }] }, {}, ["`rollout.checks[0]` must have exactly one of `webhook` or `command`"]],
    ];
    for (const [what, block, flags, problems] of refused) {
        it(`refuses ${what}`, () => assert.deepStrictEqual(problemsOf(block, flags), problems));
    }

    it("names every bad flag with the text it received", () => {
        const flags = { steps: "1,abc", interval: "abc", tick: "soon", window: "1 minute", prometheus: "abc", "failure-threshold": "abc" };
        assert.deepStrictEqual(problemsOf(undefined, flags), [
            "`--steps` must be a list of integer weights from 1 to 100 in increasing order, e.g. 1,10,50,100, got \"1,abc\"",
            "`--interval` must be a duration of at most 24h such as \"30s\", \"1m\" or \"1m30s\", got \"abc\"",
            "`--tick` must be a duration of at most 24h such as \"30s\", \"1m\" or \"1m30s\", got \"soon\"",
            "`--window` must be a duration of at most 24h such as \"30s\", \"1m\" or \"1m30s\", got \"1 minute\"",
            "`--prometheus` must be the http(s) URL of the Prometheus that scrapes Istio's metrics, got \"abc\"",
            "`--failure-threshold` must be an integer from 1 to 100, got \"abc\"",
        ]);
        for (const bad of ["0", "2.5", "-1", "", "1e3", "0x10"]) {
            assert.deepStrictEqual(problemsOf(undefined, { "failure-threshold": bad }), [`\`--failure-threshold\` must be an integer from 1 to 100, got ${JSON.stringify(bad)}`]);
        }
    });

    it("a --failure-threshold flag replaces the config's value, which is then not checked", () => {
        assert.strictEqual(resolvePlan({ analysis: { failureThreshold: 0, maxP99Ms: 300 } }, { "failure-threshold": "4" }).thresholds.failureThreshold, 4);
        assert.deepStrictEqual(problemsOf({ analysis: { failureThreshold: 0 } }), ["`rollout.analysis.failureThreshold` must be an integer >= 1, got 0"]);
    });

    it("resumes from the applied weight, re-analysing that step", () => {
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 0), [1, 10, 50, 100]);
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 10), [10, 50, 100]);
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 30), [50, 100]);
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 100), [100]);
    });
});

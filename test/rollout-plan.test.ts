import * as assert from "assert";
import { planSteps, remainingSteps, resolvePlan } from "../stacks/config/rollout-plan";
import { refusalProblems } from "./support/refusal";

function problemsOf(block: Record<string, unknown> | undefined, flags = {}): string[] {
    return refusalProblems(() => resolvePlan(block, flags), "expected the plan to be refused");
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

    it("turns the prediction gate on with a `predictions` block, and reports its problems with the rest", () => {
        assert.strictEqual(resolvePlan(undefined).predictions, undefined);
        assert.deepStrictEqual(resolvePlan({ predictions: { maxKs: 0.1 } }).predictions, {
            metric: "model_prediction_score_bucket", appLabel: "app", namespaceLabel: "namespace", versionLabel: "version", maxPsi: 0.2, maxKs: 0.1, minSamples: 1000,
        });
        assert.deepStrictEqual(problemsOf({ steps: [10, 1], predictions: { maxPsi: -1 } }), [
            "`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got [10,1]",
            "`rollout.predictions.maxPsi` must be a number above 0 (at most 100), or null to disable the check, got -1",
        ]);
    });

    describe("`rollout.analysis.reporter`", () => {
        const accepted = "`destination` (sidecars), `waypoint` (ambient mode with a waypoint), or both as a list in order of preference, e.g. [destination, waypoint] (each workload is read from the first that has series in the window)";
        it("is destination unless set: a stack without it reads what it read before", () => {
            assert.deepStrictEqual(resolvePlan(undefined).reporters, ["destination"]);
            assert.deepStrictEqual(resolvePlan({ analysis: { maxP99Ms: 300 } }).reporters, ["destination"]);
        });
        it("takes a name, or a list in order of preference, beside the thresholds (which keep their values)", () => {
            const plan = resolvePlan({ analysis: { reporter: "waypoint", maxP99Ms: 300 } });
            assert.deepStrictEqual([plan.reporters, plan.thresholds.maxP99Ms, plan.thresholds.minSuccessRate], [["waypoint"], 300, 99]);
            assert.deepStrictEqual(resolvePlan({ analysis: { reporter: ["waypoint", "destination"] } }).reporters, ["waypoint", "destination"]);
            assert.deepStrictEqual(resolvePlan({ analysis: { reporter: ["destination", "waypoint"] } }, { "failure-threshold": "4" }).reporters, ["destination", "waypoint"]);
            assert.strictEqual(resolvePlan({ analysis: { reporter: "waypoint" } }, { "failure-threshold": "4" }).thresholds.failureThreshold, 4);
        });
        const refusedReporters: [string, unknown, string][] = [
            ["`both`, which would count a request twice where a waypoint and a sidecar both report it", "both",
                `\`rollout.analysis.reporter\` must be ${accepted}, got "both": summing both reporters would count a request twice where a waypoint and the pod's sidecar both report it; list them instead`],
            ["ztunnel, which reports no request metrics", "ztunnel", `\`rollout.analysis.reporter\` must be ${accepted}, got "ztunnel"`],
            ["source, the client side (it misses requests from outside the mesh)", "source", `\`rollout.analysis.reporter\` must be ${accepted}, got "source"`],
            ["a PromQL regex", "destination|waypoint", `\`rollout.analysis.reporter\` must be ${accepted}, got "destination|waypoint"`],
            ["a list naming one twice", ["waypoint", "waypoint"], `\`rollout.analysis.reporter\` must be ${accepted}, got ["waypoint","waypoint"]`],
            ["an empty list", [], `\`rollout.analysis.reporter\` must be ${accepted}, got []`],
            ["a list written as text by `pulumi config set`", "[destination, waypoint]", `\`rollout.analysis.reporter\` must be ${accepted}, got "[destination, waypoint]"`],
        ];
        for (const [what, reporter, problem] of refusedReporters) {
            it(`refuses ${what}`, () => assert.deepStrictEqual(problemsOf({ analysis: { reporter } }), [problem]));
        }
        it("reports a bad reporter with the other problems of the block at once, and names it among the known settings for a typo", () => {
            assert.deepStrictEqual(problemsOf({ analysis: { reporter: "both", minSuccessRate: 120 } }), [
                `\`rollout.analysis.reporter\` must be ${accepted}, got "both": summing both reporters would count a request twice where a waypoint and the pod's sidecar both report it; list them instead`,
                "`rollout.analysis.minSuccessRate` must be a number from 0 to 100 (percent), got 120",
            ]);
            assert.deepStrictEqual(problemsOf({ analysis: { reporters: "waypoint" } }), [
                "`rollout.analysis.reporters` is not a known analysis setting; known settings: minSuccessRate, maxP99Ms, maxSuccessRateDropPoints, maxP99Ratio, minRequests, failureThreshold, reporter",
            ]);
        });
    });

    it("keeps custom checks in order", () => {
        const checks = [{ name: "eval", webhook: { url: "http://eval/check" } }, { name: "golden-set", command: ["python3", "golden.py"] }];
        assert.deepStrictEqual(resolvePlan({ checks }).checks, checks);
    });

    const refused: [string, Record<string, unknown> | undefined, Record<string, unknown>, string[]][] = [
        ["decreasing steps", { steps: [10, 1] }, {}, ["`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got [10,1]"]],
        ["a step above 100 from a flag", undefined, { steps: "1,150" }, ["`--steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got \"1,150\""]],
        ["a fractional step", { steps: [1, 2.5] }, {}, ["`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got [1,2.5]"]],
        ["a step in hexadecimal from a flag, which Number() reads as 16", undefined, { steps: "1,0x10" }, ["`--steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got \"1,0x10\""]],
        ["a step in exponent form, which Number() reads as 100", { steps: ["1", "1e2"] }, {}, ["`rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got [\"1\",\"1e2\"]"]],
        ["a step with a plus sign or a decimal point", undefined, { steps: "+1,10.0" }, ["`--steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got \"+1,10.0\""]],
        ["an interval past 24h, which a Node.js timer would fire at once", { interval: "600h" }, {}, ["`rollout.interval` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"600h\""]],
        ["a duration that is not text", { tick: ["10s"] }, {}, ["`rollout.tick` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got [\"10s\"]"]],
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
        ["a failure threshold so high a failing canary would never roll back", { analysis: { failureThreshold: 99999999 } }, {}, ["`rollout.analysis.failureThreshold` must be an integer from 1 to 100 (past 100 a failing canary would wait at its weight instead of rolling back), got 99999999"]],
        ["a window under a second, which holds no two scrapes", undefined, { window: "500ms" }, ["`--window` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"500ms\""]],
        ["a tick and a Prometheus timeout under a second", { tick: "100ms", prometheusTimeout: "10ms" }, {}, [
            "`rollout.tick` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"100ms\"",
            "`rollout.prometheusTimeout` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"10ms\"",
        ]],
        ["a P99 bound above a day and a minRequests above 1e9, with a bad interval: every problem at once", { interval: "1 minute", analysis: { maxP99Ms: 9e7, minRequests: 2e9 } }, {}, [
            "`rollout.interval` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"1 minute\"",
            "`rollout.analysis.maxP99Ms` must be a number of milliseconds above 0 and at most 86400000 (24h), got 90000000",
            "`rollout.analysis.minRequests` must be an integer from 1 to 1000000000, got 2000000000",
        ]],
        ["an analysis block that is not a map", { analysis: "strict" }, {}, ["`rollout.analysis` must be an object with threshold fields, got \"strict\" (a string)"]],
        ["a bad interval", { interval: "1 minute" }, {}, ["`rollout.interval` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"1 minute\""]],
        ["a tick longer than the interval", undefined, { interval: "10s", tick: "30s" }, ["`--tick` (30s) must not be longer than `--interval` (10s): a step needs at least one analysis"]],
        ["a Prometheus that is not a URL", { prometheus: "prometheus:9090" }, {}, ["`rollout.prometheus` must be the http(s) URL of the Prometheus that scrapes Istio's metrics, got \"prometheus:9090\""]],
        ["a Prometheus URL with a user and password, shown without them", { prometheus: "http://admin:hunter2@prom:9090" }, {}, [
            "`rollout.prometheus` must not carry credentials (user or password before `@`), got \"http://[secret]@prom:9090\": set them as secrets, `pulumi config set --secret --path 'rollout.prometheusAuth.bearerToken' TOKEN`, or `rollout.prometheusAuth.username` with `--secret` `rollout.prometheusAuth.password`",
        ]],
        ["a --prometheus with a token as its user", undefined, { prometheus: "https://tok3n@prom.example.com/" }, [
            "`--prometheus` must not carry credentials (user or password before `@`), got \"https://[secret]@prom.example.com/\": set them as secrets, `pulumi config set --secret --path 'rollout.prometheusAuth.bearerToken' TOKEN`, or `rollout.prometheusAuth.username` with `--secret` `rollout.prometheusAuth.password`",
        ]],
        ["Prometheus auth with both a token and a password, a password without a user, a token with a newline, or a user with a colon", { prometheusAuth: { bearerToken: "t", password: "p" } }, {}, [
            "`rollout.prometheusAuth` must be `{ bearerToken }` or `{ username, password }`, the token or password set with `pulumi config set --secret --path`, not both",
        ]],
        ["Prometheus basic auth without a user", { prometheusAuth: { password: "hunter2" } }, {}, ["`rollout.prometheusAuth` needs both `username` and `password` for basic auth, got only `password`"]],
        ["a Prometheus token with a newline, never shown", { prometheusAuth: { bearerToken: "abc\ndef" } }, {}, ["`rollout.prometheusAuth.bearerToken` must not contain control characters"]],
        ["a Prometheus user with a colon, and an unknown auth key", { prometheusAuth: { username: "a:b", password: "hunter2", token: "x" } }, {}, [
            "unknown key `rollout.prometheusAuth.token`; accepted keys are `bearerToken`, `username`, `password`",
            "`rollout.prometheusAuth.username` must not contain `:` (basic auth separates user and password with it), got \"a:b\"",
        ]],
        ["promotion without reaching 100", { steps: [1, 50], promote: true }, {}, ["`rollout.steps` must end at 100 to promote, got 1,50"]],
        ["a misspelt key", { intervl: "1m" }, {}, ["unknown key `rollout.intervl` (did you mean `interval`?); accepted keys are `steps`, `shadowPercent`, `shadowInterval`, `interval`, `tick`, `window`, `prometheus`, `prometheusTimeout`, `prometheusAuth`, `analysis`, `checks`, `predictions`, `promote`, `notifications`"]],
        ["a bad threshold", { analysis: { minSuccessRate: 120 } }, {}, ["`rollout.analysis.minSuccessRate` must be a number from 0 to 100 (percent), got 120"]],
        ["a check with neither webhook nor command", { checks: [{ name: "eval" }] }, {}, ["`rollout.checks[0]` must have exactly one of `webhook` or `command`"]],
    ];
    for (const [what, block, flags, problems] of refused) {
        it(`refuses ${what}`, () => assert.deepStrictEqual(problemsOf(block, flags), problems));
    }

    it("turns `prometheusAuth` into the Authorization header Prometheus reads: Bearer for a token, Basic for a user and password", () => {
        assert.strictEqual(resolvePlan(undefined).prometheusHeaders, undefined);
        assert.deepStrictEqual(resolvePlan({ prometheusAuth: { bearerToken: "s3cr3t-token" } }).prometheusHeaders, { Authorization: "Bearer s3cr3t-token" });
        assert.deepStrictEqual(resolvePlan({ prometheusAuth: { username: "canary", password: "hunter2" } }).prometheusHeaders, { Authorization: `Basic ${Buffer.from("canary:hunter2").toString("base64")}` });
    });

    it("names every bad flag with the text it received", () => {
        const flags = { steps: "1,abc", interval: "abc", tick: "soon", window: "1 minute", prometheus: "abc", "failure-threshold": "abc" };
        assert.deepStrictEqual(problemsOf(undefined, flags), [
            "`--steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got \"1,abc\"",
            "`--interval` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"abc\"",
            "`--tick` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"soon\"",
            "`--window` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"1 minute\"",
            "`--prometheus` must be the http(s) URL of the Prometheus that scrapes Istio's metrics, got \"abc\"",
            "`--failure-threshold` must be an integer from 1 to 100, got \"abc\"",
        ]);
        for (const bad of ["0", "2.5", "-1", "", "1e3", "0x10"]) {
            assert.deepStrictEqual(problemsOf(undefined, { "failure-threshold": bad }), [`\`--failure-threshold\` must be an integer from 1 to 100, got ${JSON.stringify(bad)}`]);
        }
    });

    it("a --failure-threshold flag replaces the config's value, which is then not checked", () => {
        assert.strictEqual(resolvePlan({ analysis: { failureThreshold: 0, maxP99Ms: 300 } }, { "failure-threshold": "4" }).thresholds.failureThreshold, 4);
        assert.deepStrictEqual(problemsOf({ analysis: { failureThreshold: 0 } }), ["`rollout.analysis.failureThreshold` must be an integer from 1 to 100 (past 100 a failing canary would wait at its weight instead of rolling back), got 0"]);
        assert.strictEqual(resolvePlan(undefined, { "failure-threshold": "4" }).thresholds.failureThreshold, 4);
    });

    it("reads thresholds as `pulumi config set --path` writes them (decimals as text)", () => {
        const plan = resolvePlan({ analysis: { maxSuccessRateDropPoints: "0.5", maxP99Ratio: "1.5", maxP99Ms: 300 } });
        assert.deepStrictEqual([plan.thresholds.maxSuccessRateDropPoints, plan.thresholds.maxP99Ratio, plan.thresholds.maxP99Ms], [0.5, 1.5, 300]);
    });

    it("resumes from the applied weight, re-analysing that step", () => {
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 0), [1, 10, 50, 100]);
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 10), [10, 50, 100]);
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 30), [50, 100]);
        assert.deepStrictEqual(remainingSteps([1, 10, 50, 100], 100), [100]);
    });

    describe("the shadow step", () => {
        it("`steps: [shadow, 1, 10, 50, 100]` plans a 100% mirror analysed for the step interval, then the weights", () => {
            const plan = resolvePlan({ steps: ["shadow", 1, 10, 50, 100], interval: "2m" });
            assert.deepStrictEqual([plan.steps, plan.shadow], [[1, 10, 50, 100], { percent: 100, intervalMs: 120_000 }]);
            assert.deepStrictEqual(planSteps(plan), ["shadow", 1, 10, 50, 100]);
        });

        it("`--steps shadow,1,10,50,100` from the command line, with its own percentage and interval", () => {
            const plan = resolvePlan({ steps: [1, 100] }, { steps: "shadow,1,10,50,100", "shadow-percent": "12.5", "shadow-interval": "5m" });
            assert.deepStrictEqual([plan.steps, plan.shadow], [[1, 10, 50, 100], { percent: 12.5, intervalMs: 300_000 }]);
        });

        it("config keys `shadowPercent` and `shadowInterval`, flags over them", () => {
            const block = { steps: ["shadow", 10, 100], shadowPercent: 25, shadowInterval: "10m", interval: "1m" };
            assert.deepStrictEqual(resolvePlan(block).shadow, { percent: 25, intervalMs: 600_000 });
            assert.deepStrictEqual(resolvePlan(block, { "shadow-percent": "50" }).shadow, { percent: 50, intervalMs: 600_000 });
        });

        it("a plan without `shadow` has none; `--steps` without it drops the configured one and ignores its keys", () => {
            assert.strictEqual(resolvePlan({ steps: [1, 100] }).shadow, undefined);
            assert.strictEqual(resolvePlan({ steps: ["shadow", 1, 100], shadowPercent: 50 }, { steps: "1,100" }).shadow, undefined);
            assert.deepStrictEqual(planSteps(resolvePlan(undefined)), [1, 10, 50, 100]);
        });

        it("promotion still needs the last weight at 100; the message shows the shadow step", () => {
            assert.deepStrictEqual(problemsOf({ steps: ["shadow", 1, 50], promote: true }), ["`rollout.steps` must end at 100 to promote, got shadow,1,50"]);
            assert.strictEqual(resolvePlan({ steps: ["shadow", 100], promote: true }).promote, true);
        });

        const stepsWhat = "must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got";
        const refusedShadow: [string, Record<string, unknown> | undefined, Record<string, string>, string[]][] = [
            ["`shadow` after a weight", { steps: [1, "shadow", 10] }, {}, ["`rollout.steps` may have `shadow` only as its first step (mirroring is for a canary that serves no user yet), got [1,\"shadow\",10]"]],
            ["`shadow` twice", undefined, { steps: "shadow,shadow,1" }, ["`--steps` may have `shadow` only as its first step (mirroring is for a canary that serves no user yet), got \"shadow,shadow,1\""]],
            ["`shadow` alone", { steps: ["shadow"] }, {}, ["`rollout.steps` must have at least one weight after `shadow` (a shadow stage alone never serves the canary), got [\"shadow\"]"]],
            ["`Shadow` in another case", undefined, { steps: "Shadow,1" }, [`\`--steps\` ${stepsWhat} "Shadow,1"`]],
            ["a shadow percentage of 0, which analyses nothing", { steps: ["shadow", 1], shadowPercent: 0 }, {}, ["`rollout.shadowPercent` must be a number above 0 and at most 100 in plain decimal with at most 4 decimal places (the share of default traffic mirrored to the canary, e.g. 100, 12.5), got 0"]],
            ["a shadow percentage above 100 from a flag", undefined, { steps: "shadow,1", "shadow-percent": "150" }, ["`--shadow-percent` must be a number above 0 and at most 100 in plain decimal with at most 4 decimal places (the share of default traffic mirrored to the canary, e.g. 100, 12.5), got \"150\""]],
            ["a shadow percentage in exponent form", { steps: ["shadow", 1], shadowPercent: "1e1" }, {}, ["`rollout.shadowPercent` must be a number above 0 and at most 100 in plain decimal with at most 4 decimal places (the share of default traffic mirrored to the canary, e.g. 100, 12.5), got \"1e1\""]],
            ["a bad shadow interval", { steps: ["shadow", 1], shadowInterval: "ten minutes" }, {}, ["`rollout.shadowInterval` must be a duration from 1s to 24h such as \"30s\", \"1m\" or \"1m30s\", got \"ten minutes\""]],
            ["a shadow interval shorter than the tick", { steps: ["shadow", 1], shadowInterval: "5s", tick: "10s" }, {}, ["`rollout.tick` (10s) must not be longer than `rollout.shadowInterval` (5s): the shadow stage needs at least one analysis"]],
            ["`shadowPercent` without a shadow step", { steps: [1, 100], shadowPercent: 50 }, {}, ["`rollout.shadowPercent` needs a `shadow` step: `rollout.steps` is [1,100]; put `shadow` first, e.g. [shadow, 1, 10, 50, 100]"]],
            ["`shadowInterval` without any steps configured", { shadowInterval: "5m" }, {}, ["`rollout.shadowInterval` needs a `shadow` step: `rollout.steps` is [1,10,50,100]; put `shadow` first, e.g. [shadow, 1, 10, 50, 100]"]],
            ["`--shadow-percent` with steps that have no shadow", undefined, { steps: "1,100", "shadow-percent": "50" }, ["`--shadow-percent` needs a `shadow` step: `--steps` is \"1,100\"; put `shadow` first, e.g. shadow,1,10,50,100"]],
        ];
        for (const [what, block, flags, problems] of refusedShadow) {
            it(`refuses ${what}`, () => assert.deepStrictEqual(problemsOf(block, flags), problems));
        }
    });
});

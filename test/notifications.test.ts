// Rollout notifications: the bodies (pure), `rollout.notifications` checked with the rest of the
// config, delivery to real HTTP receivers on loopback (in order, retried, given up), and whole
// rollouts through the CLI (real engine in render mode, real Prometheus) with a receiver that
// takes every event, one that answers 500 and one that hangs while the canary is rolled back.
import * as assert from "assert";
import { spawn } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";
import { ValidationError } from "../components";
import { NotificationEvent } from "../notifications/event";
import { jsonBody, slackBody } from "../notifications/format";
import { Notifier } from "../notifications/notifier";
import { rolloutNotifications } from "../rollout/notify";
import { RolloutRecord } from "../rollout/record";
import { readRecord } from "../rollout/status";
import { parseStackConfig } from "../stacks/config/config";
import { resolvePlan } from "../stacks/config/rollout-plan";
import { openStack, upStack } from "../stacks/operations/automation";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";
import type { IstioExporter } from "./support/istio-exporter";
import { PrometheusHarness, startScrapedExporter, waitFor } from "./support/prometheus";

const event: NotificationEvent = {
    kind: "analysis-failed", stack: "prod", model: "fraud", stableVersion: "v1", canaryVersion: "v2", weight: 10, step: { index: 2, total: 4 },
    reason: "2 consecutive analyses failed: success-rate: 97.1 < 99 <@U123> & more", runner: { host: "ci-7", pid: 4242 }, time: "2026-12-06T02:00:00.000Z",
    report: "/runner/reports/rollout-x.md",
};

/** An HTTP receiver on loopback: it keeps every request's body, and answers as `mode` says (a held request waits for `release`). */
interface Receiver {
    url(path: string): string;
    bodies: string[];
    mode: "ok" | "fail" | "hold";
    /** Answers every held request with 500 and stops holding. */
    release(): void;
    close(): Promise<void>;
}

async function receiver(mode: Receiver["mode"] = "ok"): Promise<Receiver> {
    const held: http.ServerResponse[] = [];
    const r: Receiver = {
        bodies: [], mode,
        url: (p) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${p}`,
        release() {
            r.mode = "fail";
            for (const res of held.splice(0)) res.writeHead(500).end();
        },
        close: () => new Promise((resolve) => { r.release(); server.closeAllConnections(); server.close(() => resolve()); }),
    };
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => { body += c; });
        req.on("end", () => {
            r.bodies.push(body);
            if (r.mode === "ok") res.writeHead(204).end();
            else if (r.mode === "fail") res.writeHead(500).end("no");
            else held.push(res);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return r;
}

function problemsOf(fn: () => unknown): string[] {
    try {
        fn();
    } catch (e) {
        if (e instanceof ValidationError) return e.problems;
        throw e;
    }
    return [];
}

const webhook = (url: string, extra: Partial<{ format: "json" | "slack"; events: any[]; timeoutMs: number; attempts: number }> = {}) =>
    ({ url, format: "json" as const, events: ["started", "step-applied", "analysis-failed", "rolled-back", "promoted", "completed", "interrupted", "error", "lease-taken-over"] as any[], timeoutMs: 2000, attempts: 3, ...extra });

describe("notifications", function () {
    this.timeout(600_000);

    describe("bodies", () => {
        it("the Slack body is { text, blocks }: the headline and the reason with Slack's <, > and & escaped, then the details as context", () => {
            const body = slackBody(event);
            assert.strictEqual(body.text, ":warning: model-canary: fraud v2 on stack prod: analysis failed (10%, step 2/4): 2 consecutive analyses failed: success-rate: 97.1 &lt; 99 &lt;@U123&gt; &amp; more");
            assert.deepStrictEqual(body.blocks, [
                { type: "section", text: { type: "mrkdwn", text: "*:warning: model-canary: fraud v2 on stack prod: analysis failed (10%, step 2/4)*\n2 consecutive analyses failed: success-rate: 97.1 &lt; 99 &lt;@U123&gt; &amp; more" } },
                { type: "context", elements: [{ type: "mrkdwn", text: "stack `prod` · model `fraud` · stable `v1` · canary `v2` · runner ci-7 pid 4242 · 2026-12-06T02:00:00.000Z · report /runner/reports/rollout-x.md" }] },
            ]);
        });

        it("the JSON body is the event with its name, severity and headline", () => {
            assert.deepStrictEqual(jsonBody(event), {
                source: "model-canary", schema: 1, event: "analysis-failed", severity: "Warning", summary: "fraud v2 on stack prod: analysis failed (10%, step 2/4)",
                stack: "prod", model: "fraud", stableVersion: "v1", canaryVersion: "v2", weight: 10, step: { index: 2, total: 4 },
                reason: event.reason, runner: { host: "ci-7", pid: 4242 }, time: "2026-12-06T02:00:00.000Z", report: "/runner/reports/rollout-x.md",
            });
        });
    });

    it("a run's events become notifications: started at its first step, each step applied, the analysis that decides to roll back, a lease taken over, and its end by outcome", () => {
        const sent: NotificationEvent[] = [];
        const collector = { send: (e: NotificationEvent) => sent.push(e) } as unknown as Notifier;
        const notify = rolloutNotifications(collector, { stack: "prod", model: "fraud", stableVersion: "v1", canaryVersion: "v2", report: "/r", secrets: ["tok3n"] });
        const step = (index: number, weight: number, mirrorPercent?: number) => ({ index, weight, ...(mirrorPercent ? { mirrorPercent } : {}), startedAt: "", appliedAt: "", applyMs: 1500, analyses: [], verdict: "running" as const });
        const analysis = (summary: "pass" | "fail") => ({ at: "", summary, results: [{ name: "success-rate", status: summary, message: `97 < 99 tok3n` }], measurement: {} }) as any;
        notify({ type: "lease-taken-over", from: { host: "ci-3", pid: 77, command: "rollout" } });
        notify({ type: "step-start", step: step(1, 0, 50), total: 3 });
        notify({ type: "step-applied", step: step(1, 0, 50), total: 3 });
        notify({ type: "analysis", step: step(1, 0, 50), total: 3, analysis: analysis("pass"), decision: { decision: "advance", reason: "passed" }, remainingMs: 0 } as any);
        notify({ type: "step-start", step: step(2, 10), total: 3 });
        notify({ type: "step-applied", step: step(2, 10), total: 3 });
        notify({ type: "analysis", step: step(2, 10), total: 3, analysis: analysis("fail"), decision: { decision: "rollback", reason: "2 consecutive analyses failed" }, remainingMs: 0 } as any);
        notify({ type: "rollback-start", reason: "x" });
        notify({ type: "finish", record: { startedAt: "2026-12-06T02:00:00.000Z", outcome: "rolled-back", message: "rolled back from 10% to 0%", steps: [step(1, 0, 50), step(2, 10)], plan: [10, 100], shadow: { percent: 50 } } as any });
        assert.deepStrictEqual(sent.map((e) => [e.kind, e.weight ?? null, e.mirrorPercent ?? null, e.step ? `${e.step.index}/${e.step.total}` : null, e.reason]), [
            ["lease-taken-over", null, null, null, "took over the run of model `fraud` left by `rollout` (pid 77 on host ci-3), which no longer holds it"],
            ["started", null, null, "1/3", "rolling v2 out against v1, from step 1 of 3 (the shadow stage (mirror 50%))"],
            ["step-applied", 0, 50, "1/3", "the shadow stage (mirror 50%) applied in 1.5 s"],
            ["step-applied", 10, null, "2/3", "10% applied in 1.5 s"],
            ["analysis-failed", 10, null, "2/3", "2 consecutive analyses failed: success-rate: 97 < 99 [secret]"],
            ["rolled-back", 0, null, "2/3", "rolled back from 10% to 0%"],
        ]);
        assert.deepStrictEqual([sent[5].outcome, sent[5].report, sent[0].report], ["rolled-back", "/r/rollout-2026-12-06T02-00-00-000Z.md", "/r"]);
    });

    describe("`rollout.notifications`", () => {
        it("takes webhooks with their defaults: json, every event, 5000 ms per attempt, 3 attempts", () => {
            const plan = resolvePlan({ notifications: [{ url: "https://hooks.example.com/a" }, { url: "http://chat.internal/hook", format: "slack", events: ["rolled-back", "started"], timeoutMs: 100, attempts: 1 }] });
            assert.deepStrictEqual(plan.notifications, [
                webhook("https://hooks.example.com/a", { timeoutMs: 5000 }),
                { url: "http://chat.internal/hook", format: "slack", events: ["started", "rolled-back"], timeoutMs: 100, attempts: 1 },
            ]);
            assert.strictEqual(resolvePlan({}).notifications, undefined);
        });

        it("refuses each bad key, naming it, the value as written and what is accepted, and never prints a URL", () => {
            const token = "T0K3N-abc";
            const problems = problemsOf(() => resolvePlan({
                notifications: [
                    { url: `ftp://hooks.example.com/${token}`, format: "teams", events: ["rollback"], timeoutMs: 99, attempts: 0, retries: 2 },
                    { url: `https://user:${token}@hooks.example.com/x` },
                    { format: "json" },
                    { url: `not a url ${token}` },
                    "https://hooks.example.com",
                ],
            }));
            assert.deepStrictEqual(problems, [
                "unknown key `rollout.notifications[0].retries`; accepted keys are `url`, `format`, `events`, `timeoutMs`, `attempts`",
                "`rollout.notifications[0].url` must be an http(s) URL, got a `ftp:` URL",
                "`rollout.notifications[0].format` must be one of `json`, `slack`, got \"teams\"",
                "`rollout.notifications[0].events` must list only `started`, `step-applied`, `analysis-failed`, `rolled-back`, `promoted`, `completed`, `interrupted`, `error`, `lease-taken-over`, got \"rollback\"",
                "`rollout.notifications[0].timeoutMs` must be an integer from 100 to 60000 (milliseconds per attempt), got 99",
                "`rollout.notifications[0].attempts` must be an integer from 1 to 10 (attempts per event, the first included), got 0",
                "`rollout.notifications[1].url` must not carry a user or password before `@`: a token belongs in the URL's path or query, and the URL in a secret",
                "`rollout.notifications[2].url` is required: the http(s) URL the events are POSTed to (set it with `pulumi config set --secret --path 'rollout.notifications[2].url' URL`)",
                "`rollout.notifications[3].url` must be an http(s) URL, got text that is not a URL (not shown: a webhook URL is a credential)",
                "`rollout.notifications[4]` must be { url, format: json | slack, events?, timeoutMs?, attempts? }, got \"https://hooks.example.com\"",
            ]);
            assert.ok(!problems.join("\n").includes(token));
            assert.deepStrictEqual(problemsOf(() => resolvePlan({ notifications: Array.from({ length: 11 }, () => ({ url: "https://h.example.com/x" })) })),
                ["`rollout.notifications` must have at most 10 webhooks, got 11"]);
        });

        it("a secret URL is accepted, and when wrong it is named `(secret)`, its value never shown, before anything is applied", () => {
            const secretUrl = "https://hooks.example.com/services/S3CR3T";
            const config = (url: string) => ({ "model-canary:stable": JSON.stringify({ version: "v1", image: "ghcr.io/acme/fraud:1.0" }), "model-canary:rollout": JSON.stringify({ notifications: [{ url }] }) });
            const secretPaths = [["rollout", "notifications", 0, "url"]];
            const parsed = parseStackConfig(config(secretUrl), "dev", secretPaths);
            assert.strictEqual(resolvePlan(parsed.models.model.rollout).notifications![0].url, secretUrl);
            assert.ok(parsed.secrets.includes(secretUrl));
            const problems = problemsOf(() => parseStackConfig(config("hooks.example.com/S3CR3T"), "dev", secretPaths));
            assert.deepStrictEqual(problems, ["`rollout.notifications[0].url` (secret) must be an http(s) URL, got text that is not a URL"]);
        });
    });

    describe("delivery to loopback receivers", () => {
        it("delivers each event once and in order; retries a receiver that answers 500, then reports it by position and host with its attempts and last error", async () => {
            const good = await receiver("ok");
            const bad = await receiver("fail");
            try {
                const notifier = new Notifier([webhook(good.url("/hook/s3cr3t")), webhook(bad.url("/hook/other"), { events: ["started", "completed"] })], { backoffMs: 10 });
                const kinds = ["started", "step-applied", "step-applied", "completed"] as const;
                kinds.forEach((kind, i) => notifier.send({ ...event, kind, step: { index: i, total: 4 } }));
                const summary = await notifier.settle();
                assert.deepStrictEqual(good.bodies.map((b) => [JSON.parse(b).event, JSON.parse(b).step.index]), [["started", 0], ["step-applied", 1], ["step-applied", 2], ["completed", 3]]);
                assert.strictEqual(bad.bodies.length, 6, "two events, three attempts each");
                const host = new URL(bad.url("/")).host;
                assert.strictEqual(summary.delivered, 4);
                assert.deepStrictEqual(summary.failed.map((f) => ({ ...f, gaveUpAt: typeof f.gaveUpAt })), [
                    { event: "started", webhook: { index: 1, host }, attempts: 3, lastError: "answered HTTP 500 Internal Server Error", gaveUpAt: "string" },
                    { event: "completed", webhook: { index: 1, host }, attempts: 3, lastError: "answered HTTP 500 Internal Server Error", gaveUpAt: "string" },
                ]);
            } finally {
                await good.close();
                await bad.close();
            }
        });

        it("a receiver that never answers: each attempt ends at its time limit; what is still on its way when the run's wait ends is given up and reported", async () => {
            const hanging = await receiver("hold");
            try {
                const limited = new Notifier([webhook(hanging.url("/hook"), { timeoutMs: 200, attempts: 2 })], { backoffMs: 10 });
                limited.send({ ...event, kind: "started" });
                assert.deepStrictEqual((await limited.settle()).failed.map((f) => [f.event, f.attempts, f.lastError]), [["started", 2, "no answer within 200 ms"]]);
                const slow = new Notifier([webhook(hanging.url("/hook"), { timeoutMs: 60_000, attempts: 3 })], { backoffMs: 10 });
                slow.send({ ...event, kind: "started" });
                slow.send({ ...event, kind: "rolled-back" });
                const summary = await slow.settle(300);
                assert.strictEqual(summary.delivered, 0);
                const reason = "not delivered: still on its way 0.3 s after the run ended (this webhook's earlier events were being retried)";
                assert.deepStrictEqual(summary.failed.map((f) => [f.event, f.attempts, f.lastError]), [["started", 1, reason], ["rolled-back", 0, reason]]);
            } finally {
                await hanging.close();
            }
        });
    });

    describe("rollouts through the CLI (real engine, real Prometheus)", () => {
        let exporter: IstioExporter;
        let prometheus: PrometheusHarness;
        const projects: TestProject[] = [];
        let scenario = 0;

        before(async () => {
            ({ exporter, prometheus } = await startScrapedExporter());
        });
        after(async () => {
            await prometheus?.stop();
            await exporter?.close();
            for (const p of projects) p.remove();
        });

        /** A deployed stack at weight 0 whose first webhook's URL is the secret `secretUrl`; the canary answers with `errorRatio`. */
        async function deployed(secretUrl: string, notifications: Record<string, unknown>[], canaryErrorRatio: number): Promise<TestProject> {
            const namespace = `notify-${++scenario}`;
            const project = makeProject();
            projects.push(project);
            project.writeConfig({
                namespace, stable: { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 1 }, canary: { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 1 }, canaryWeight: 0,
                rollout: { prometheus: prometheus.url, steps: [1, 100], interval: "2s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 1 }, notifications },
            });
            await upStack(await openStack(project.ref, { create: true }));
            const set = runPulumi(project, ["config", "set", "--secret", "--path", "model-canary:rollout.notifications[0].url", secretUrl]);
            assert.strictEqual(set.status, 0, set.output);
            // Fixed rates: both versions carry traffic whatever the weight, enough for every analysis.
            exporter.set("model-v1", { namespace, rps: 100, latencyMs: 50 });
            exporter.set("model-v2", { namespace, rps: 100, latencyMs: 50, errorRatio: canaryErrorRatio });
            return project;
        }

        function cli(project: TestProject, args: string[]): { output(): string; exited: Promise<number | null> } {
            const child = spawn(process.execPath, [sourceCli, ...args, "--stack", project.ref.stack, "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
                env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir }, stdio: ["ignore", "pipe", "pipe"],
            });
            let output = "";
            child.stdout!.on("data", (d) => { output += d; });
            child.stderr!.on("data", (d) => { output += d; });
            return { output: () => output, exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))) };
        }

        it("each event reaches the receiver once, in order, without the URL's secret; a receiver answering 500 is retried, reported in the output, the record and \`status\`, and the rollout still completes", async () => {
            const good = await receiver("ok");
            const bad = await receiver("fail");
            const token = "s3cr3t-T0K3N-4711";
            try {
                const project = await deployed(good.url(`/hooks/${token}`), [
                    { url: "http://127.0.0.1:9/placeholder", format: "json" },
                    { url: bad.url("/hooks/down"), format: "slack", events: ["completed"], attempts: 3, timeoutMs: 2000 },
                ], 0);
                const run = cli(project, ["rollout"]);
                assert.strictEqual(await run.exited, 0, run.output());
                const bodies = good.bodies.map((b) => JSON.parse(b));
                assert.deepStrictEqual(bodies.map((b) => [b.event, b.weight ?? null, b.step?.index ?? null]), [["started", null, 1], ["step-applied", 1, 1], ["step-applied", 100, 2], ["completed", 100, 2]]);
                for (const b of bodies) {
                    assert.deepStrictEqual([b.stack, b.model, b.stableVersion, b.canaryVersion, b.runner.pid > 0], ["test", "model", "v1", "v2", true]);
                }
                assert.strictEqual(bodies[3].outcome, "completed");
                assert.match(bodies[3].report, /reports\/rollout-.*\.md$/);
                assert.ok(!good.bodies.join("").includes(token) && !good.bodies.join("").includes("/hooks/"), "no body carries the webhook's URL");
                // The 500 receiver got the Slack body of `completed` three times.
                assert.strictEqual(bad.bodies.length, 3);
                assert.match(JSON.parse(bad.bodies[0]).text, /^model-canary: v2 on stack test: rollout completed \(100%, step 2\/2\): v2 passed every step/);
                const host = new URL(bad.url("/")).host;
                assert.match(run.output(), new RegExp(`notification not delivered: completed to webhook 1 \\(${host.replace(/\./g, "\\.")}\\) after 3 attempts: answered HTTP 500 Internal Server Error`));
                const record = readRecord(project.dir, project.ref.stack) as RolloutRecord;
                assert.strictEqual(record.outcome, "completed");
                assert.strictEqual(record.notifications!.delivered, 4);
                assert.deepStrictEqual(record.notifications!.failed.map(({ gaveUpAt: _t, ...f }) => f), [{ event: "completed", webhook: { index: 1, host }, attempts: 3, lastError: "answered HTTP 500 Internal Server Error" }]);
                assert.ok(!run.output().includes(token) && !JSON.stringify(record).includes(token));
                // `status` shows what did not arrive, from the record.
                const status = cli(project, ["status"]);
                assert.strictEqual(await status.exited, 0, status.output());
                assert.ok(status.output().includes(`  notifications: 4 delivered, 1 not:\n    notification not delivered: completed to webhook 1 (${host}) after 3 attempts: answered HTTP 500 Internal Server Error\n`), status.output());
                // `promote` tells the webhooks that take `promoted`: the first one only.
                const promote = cli(project, ["promote"]);
                assert.strictEqual(await promote.exited, 0, promote.output());
                const promoted = JSON.parse(good.bodies[4]);
                assert.deepStrictEqual([good.bodies.length, promoted.event, promoted.canaryVersion, promoted.stableVersion, promoted.weight, promoted.outcome], [5, "promoted", "v2", "v1", 100, "promoted"]);
                assert.match(promoted.reason, /^v2 is the stable version and serves 100% \(promoted by .+ with `model-canary promote`\)$/);
                assert.strictEqual(bad.bodies.length, 3);
            } finally {
                await good.close();
                await bad.close();
            }
        });

        it("a receiver that hangs does not hold back the rollback: traffic is back on stable before the first delivery is given up", async () => {
            const hanging = await receiver("hold");
            try {
                const project = await deployed(hanging.url("/hooks/hang-s3cr3t"), [{ url: "http://127.0.0.1:9/placeholder", timeoutMs: 60_000, attempts: 1 }], 0.5);
                const run = cli(project, ["rollout"]);
                // The receiver holds the first event (`started`) until the run has rolled back.
                await waitFor("the rollback", async () => (/ROLLED-BACK: /.test(run.output()) ? true : undefined), { timeoutMs: 300_000 });
                assert.strictEqual(hanging.bodies.length, 1, "one delivery at a time: the others wait behind the held one");
                hanging.release();
                assert.strictEqual(await run.exited, 1, run.output());
                assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
                const record = readRecord(project.dir, project.ref.stack) as RolloutRecord;
                assert.strictEqual(record.outcome, "rolled-back");
                const failed = record.notifications!.failed;
                assert.deepStrictEqual(failed.map((f) => [f.event, f.attempts, f.lastError]), [
                    ["started", 1, "answered HTTP 500 Internal Server Error"], ["step-applied", 1, "answered HTTP 500 Internal Server Error"],
                    ["analysis-failed", 1, "answered HTTP 500 Internal Server Error"], ["rolled-back", 1, "answered HTTP 500 Internal Server Error"],
                ]);
                assert.ok(record.rollback!.appliedAt < failed[0].gaveUpAt, `rollback applied at ${record.rollback!.appliedAt}, the first delivery given up at ${failed[0].gaveUpAt}`);
                assert.deepStrictEqual(hanging.bodies.map((b) => JSON.parse(b).event), ["started", "step-applied", "analysis-failed", "rolled-back"]);
                // A manual `rollback` sends `rolled-back` too; the receiver's 500 is printed and the rollback still exits 0.
                const rollback = cli(project, ["rollback"]);
                assert.strictEqual(await rollback.exited, 0, rollback.output());
                assert.strictEqual(JSON.parse(hanging.bodies[4]).event, "rolled-back");
                assert.match(JSON.parse(hanging.bodies[4]).reason, /^manual rollback by .+: v1 serves 100%$/);
                assert.match(rollback.output(), /notification not delivered: rolled-back to webhook 0 \(127\.0\.0\.1:\d+\) after 1 attempt: answered HTTP 500 Internal Server Error/);
                assert.ok(!rollback.output().includes("hang-s3cr3t"));
            } finally {
                await hanging.close();
            }
        });
    });
});

// Whole rollouts through the real engine (render mode, temp local backend) against a real
// Prometheus scraping a simulated Istio exporter. Traffic follows the rendered VirtualService:
// each workload's request rate is the total times its rendered weight, as the mesh would do.
import * as assert from "assert";
import { spawn } from "child_process";
import * as path from "path";
import { resolvePlan } from "../rollout/plan";
import { RolloutEvent, runRollout } from "../rollout/runner";
import { readRecord } from "../rollout/status";
import { projectDir, readOutputs, openStack } from "../stacks/automation";
import { readProjectConfig } from "../stacks/settings";
import { makeProject, TestProject } from "./support/engine";
import { IstioExporter, startIstioExporter, TrafficSettings } from "./support/istio-exporter";
import { PrometheusHarness, startPrometheus, waitFor } from "./support/prometheus";

const totalRps = 1000;
const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };

interface Behaviour {
    stable: Omit<TrafficSettings, "rps" | "namespace">;
    canary: Omit<TrafficSettings, "rps" | "namespace">;
    /** Canary traffic regardless of its weight (e.g. 0 for a canary nobody reaches). */
    canaryRps?: number;
}

/** Keeps the exporter's rates equal to the rendered split until stopped. */
function followRenderedSplit(project: TestProject, exporter: IstioExporter, namespace: string, behaviour: Behaviour): () => void {
    const apply = () => {
        const split = project.renderedSplit();
        exporter.set("model-v1", { ...behaviour.stable, namespace, rps: totalRps * (split.v1 ?? 0) / 100 });
        exporter.set("model-v2", { ...behaviour.canary, namespace, rps: behaviour.canaryRps ?? totalRps * (split.v2 ?? 0) / 100 });
    };
    apply();
    const timer = setInterval(apply, 100);
    return () => clearInterval(timer);
}

/** The project's keys of the test stack's config, as the rollout left them. */
function stackConfig(project: TestProject): Record<string, any> {
    return readProjectConfig(project.dir, project.ref.stack);
}

describe("automated rollout (real engine, real Prometheus)", function () {
    this.timeout(600_000);
    let exporter: IstioExporter;
    let prometheus: PrometheusHarness;
    const projects: TestProject[] = [];
    let scenario = 0;

    before(async () => {
        exporter = await startIstioExporter();
        prometheus = await startPrometheus({ targets: [exporter.target], scrapeInterval: "1s" });
    });
    after(async () => {
        await prometheus?.stop();
        await exporter?.close();
        for (const p of projects) p.remove();
    });

    /** A deployed stack at canaryWeight 0 with the seed's header route, in a namespace of its own. */
    async function deployed(extraRollout: Record<string, unknown> = {}): Promise<{ project: TestProject; namespace: string }> {
        const namespace = `scenario-${++scenario}`;
        const project = makeProject();
        projects.push(project);
        project.writeConfig({
            namespace, serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 0, headerRoutes: [testers],
            rollout: { prometheus: prometheus.url, steps: [1, 10, 50, 100], interval: "3s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 2 }, ...extraRollout },
        });
        const { upStack } = await import("../stacks/automation");
        await upStack(await openStack(project.ref, { create: true }));
        return { project, namespace };
    }

    async function rollout(project: TestProject, flags = {}, events: RolloutEvent[] = []) {
        const plan = resolvePlan(stackConfig(project).rollout, flags);
        return runRollout({ ref: project.ref, plan, onEvent: (e) => events.push(e) });
    }

    it("a healthy canary walks 1 -> 10 -> 50 -> 100 and ends promoted", async () => {
        const { project, namespace } = await deployed();
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
        try {
            const record = await rollout(project, { promote: true });
            assert.strictEqual(record.outcome, "promoted", record.message);
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "passed"], [10, "passed"], [50, "passed"], [100, "passed"]]);
            for (const step of record.steps) assert.strictEqual(step.analyses.at(-1)!.summary, "pass");
            const at100 = record.steps[3].analyses.at(-1)!.results.find((r) => r.name === "success-rate-vs-stable")!;
            assert.strictEqual(at100.status, "pass", "at 100% the relative check compares against stable's last measurement");
            assert.deepStrictEqual(project.renderedSplit(), { v2: 100 });
            assert.deepStrictEqual([...project.rendered().keys()].filter((k) => k.startsWith("Deployment/")), ["Deployment/model-v2"]);
            const config = stackConfig(project);
            assert.deepStrictEqual([config.stable.version, config.canary, config.canaryWeight, config.headerRoutes], ["v2", undefined, 0, undefined]);
        } finally {
            stop();
        }
    });

    it("a canary at 5% errors is rolled back to 0 at the first step, and the rendered VirtualService sends 100% to stable", async () => {
        const { project, namespace } = await deployed();
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 80 }, canary: { latencyMs: 80, errorRatio: 0.05 } });
        const events: RolloutEvent[] = [];
        try {
            const record = await rollout(project, {}, events);
            assert.strictEqual(record.outcome, "rolled-back");
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "failed"]]);
            const failed = record.steps[0].analyses.at(-1)!.results.find((r) => r.name === "success-rate")!;
            assert.strictEqual(failed.status, "fail");
            assert.ok(failed.value! > 93 && failed.value! < 97, `canary success rate ${failed.value}`);
            assert.ok(record.rollback && record.rollback.actionMs > 0);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
            const vs = project.rendered().get("VirtualService/model-virtual-service");
            assert.deepStrictEqual(vs.spec.http.length, 1, "the testers' header route to the canary is removed too");
            assert.deepStrictEqual([stackConfig(project).canaryWeight, stackConfig(project).headerRoutes], [0, undefined]);
            assert.deepStrictEqual(events.filter((e) => e.type.startsWith("rollback")).map((e) => e.type), ["rollback-start", "rollback-done"]);
            assert.strictEqual(readRecord(project.dir, project.ref.stack)!.outcome, "rolled-back");
        } finally {
            stop();
        }
    });

    it("a slow canary (P99 2x stable) fails the relative latency check though it meets the absolute one", async () => {
        const { project, namespace } = await deployed();
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 90 }, canary: { latencyMs: 200 } });
        try {
            const record = await rollout(project);
            assert.strictEqual(record.outcome, "rolled-back");
            const results = record.steps[0].analyses.at(-1)!.results;
            assert.strictEqual(results.find((r) => r.name === "p99-latency")!.status, "pass");
            assert.strictEqual(results.find((r) => r.name === "p99-latency-vs-stable")!.status, "fail");
            assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
        } finally {
            stop();
        }
    });

    it("a canary that gets no traffic never passes: it is rolled back, not promoted", async () => {
        const { project, namespace } = await deployed();
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 80 }, canary: { latencyMs: 80 }, canaryRps: 0 });
        try {
            const record = await rollout(project, { promote: true });
            assert.strictEqual(record.outcome, "rolled-back");
            assert.ok(record.steps[0].analyses.every((a) => a.results.filter((r) => r.name !== "success-rate-vs-stable" && r.name !== "p99-latency-vs-stable").every((r) => r.status === "nodata")));
            assert.deepStrictEqual(stackConfig(project).canary.version, "v2", "not promoted");
        } finally {
            stop();
        }
    });

    it("a failing custom check (e.g. an offline evaluation of the model) rolls back", async () => {
        const { project, namespace } = await deployed({ checks: [{ name: "offline-eval", command: ["sh", "-c", "echo \"accuracy 0.81 < 0.90 at $CANARY_WEIGHT%\" >&2; exit 1"] }] });
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
        try {
            const record = await rollout(project);
            assert.strictEqual(record.outcome, "rolled-back");
            const check = record.steps[0].analyses.at(-1)!.results.find((r) => r.name === "offline-eval")!;
            assert.strictEqual(check.status, "fail");
            assert.match(check.message, /accuracy 0\.81 < 0\.90 at 1% \(exit 1\)/);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
        } finally {
            stop();
        }
    });

    it("SIGTERM mid-step leaves config equal to what is applied, and a rerun resumes at that weight", async () => {
        const { project, namespace } = await deployed({ interval: "6s" });
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
        try {
            const child = spawn(process.execPath, [path.join(projectDir, "cli", "model-canary.js"), "rollout", "--stack", project.ref.stack, "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
                env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let output = "";
            child.stdout.on("data", (d) => { output += d; });
            child.stderr.on("data", (d) => { output += d; });
            const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
            await waitFor("the first analysis of step 2", async () => (/\[step 2\/4\] 10% analysis 1/.test(output) ? true : undefined), { timeoutMs: 120_000 });
            child.kill("SIGTERM");
            assert.strictEqual(await exited, 143, output);
            assert.match(output, /INTERRUPTED: interrupted at 10%/);
            assert.strictEqual(stackConfig(project).canaryWeight, 10);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
            assert.strictEqual((await readOutputs(await openStack(project.ref))).canaryWeight, 10);

            const record = await rollout(project);
            assert.strictEqual(record.outcome, "completed", record.message);
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.applyMs === 0]), [[10, true], [50, false], [100, false]]);
            assert.deepStrictEqual(project.renderedSplit(), { v2: 100 });
        } finally {
            stop();
        }
    });

    it("Prometheus stopped mid-run leads to rollback, never to promotion", async () => {
        const { project, namespace } = await deployed();
        const stop = followRenderedSplit(project, exporter, namespace, { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
        const events: RolloutEvent[] = [];
        let killed = false;
        try {
            const plan = resolvePlan(stackConfig(project).rollout, { promote: true });
            const record = await runRollout({
                ref: project.ref, plan, onEvent: (e) => {
                    events.push(e);
                    if (!killed && e.type === "step-applied" && e.step.weight === 10) {
                        killed = true;
                        void prometheus.kill();
                    }
                },
            });
            assert.strictEqual(record.outcome, "rolled-back");
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "passed"], [10, "failed"]]);
            assert.ok(record.steps[1].analyses.at(-1)!.results.filter((r) => r.name.startsWith("success-rate") || r.name.startsWith("p99")).every((r) => r.status === "error"));
            assert.strictEqual(stackConfig(project).canary.version, "v2", "not promoted");
            assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
        } finally {
            stop();
            if (!prometheus.running) await prometheus.restart();
        }
    });
});

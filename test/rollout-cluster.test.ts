// Whole rollouts against the local control plane: the real engine applies every step to the API
// server, a real Prometheus scrapes the simulated Istio exporter, and the exporter's traffic
// follows the VirtualService as the API server holds it (read every 100 ms), as the mesh would.
// No request is sent anywhere: kwok's pods are fake and their addresses lead nowhere.
import * as assert from "assert";
import * as cluster from "../cluster/controlplane";
import { resolvePlan } from "../stacks/config/rollout-plan";
import { RolloutEvent, runRollout } from "../rollout/runner";
import { openStack, upStack } from "../stacks/operations/automation";
import { connect, getObject } from "../stacks/cluster-client/cluster-api";
import { readProjectConfig } from "../stacks/config/settings";
import { clusterReader, ClusterReader } from "./support/cluster";
import { makeProject, TestProject } from "./support/engine";
import type { IstioExporter, TrafficSettings } from "./support/istio-exporter";
import { PrometheusHarness, startScrapedExporter } from "./support/prometheus";

const totalRps = 1000;
const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 2 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 2 };

type Behaviour = { stable: Omit<TrafficSettings, "rps" | "namespace">; canary: Omit<TrafficSettings, "rps" | "namespace"> };

describe("automated rollout against a local control plane (real engine, real Prometheus)", function () {
    this.timeout(600_000);
    let cp: cluster.ControlPlane;
    let live: ClusterReader;
    let exporter: IstioExporter;
    let prometheus: PrometheusHarness;
    const projects: TestProject[] = [];

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
        ({ exporter, prometheus } = await startScrapedExporter());
    });
    after(async () => {
        await prometheus?.stop();
        await exporter?.close();
        for (const p of projects) p.remove();
        if (cp) await cluster.stop(cp);
    });

    /** A stack of its own (`app` names its objects) deployed to the cluster at canaryWeight 0. */
    async function deployed(app: string): Promise<TestProject> {
        const project = makeProject(app, { kubeconfig: cp.kubeconfig });
        projects.push(project);
        project.writeConfig({
            app, stable, canary, canaryWeight: 0, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }],
            rollout: { prometheus: prometheus.url, steps: [1, 10, 50, 100], interval: "3s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 2 } },
        });
        await upStack(await openStack(project.ref, { create: true }));
        return project;
    }

    /** Keeps the exporter's rates equal to the live VirtualService's split until stopped. */
    function followLiveSplit(app: string, behaviour: Behaviour): { stop: () => void; seen: Set<string> } {
        const connection = connect({ kubeconfig: cp.kubeconfig });
        const seen = new Set<string>();
        let busy = false;
        const apply = async () => {
            if (busy) return;
            busy = true;
            try {
                const vs = await getObject(connection, "networking.istio.io/v1", "virtualservices", "default", `${app}-virtual-service`);
                const split: Record<string, number> = vs ? Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight])) : {};
                seen.add(JSON.stringify(split));
                exporter.set(`${app}-v1`, { ...behaviour.stable, rps: totalRps * (split.v1 ?? 0) / 100 });
                exporter.set(`${app}-v2`, { ...behaviour.canary, rps: totalRps * (split.v2 ?? 0) / 100 });
            } finally {
                busy = false;
            }
        };
        const timer = setInterval(() => void apply().catch(() => undefined), 100);
        void apply();
        return { stop: () => clearInterval(timer), seen };
    }

    const rollout = (project: TestProject, flags = {}, events: RolloutEvent[] = []) =>
        runRollout({ ref: project.ref, plan: resolvePlan(readProjectConfig(project.dir, project.ref.stack).rollout as Record<string, unknown> | undefined, flags), onEvent: (e) => events.push(e) });

    it("a healthy canary walks 1 -> 10 -> 50 -> 100 on the cluster and is promoted, keeping its pods", async () => {
        const project = await deployed("healthy");
        const v2Pods = live.podUids("v2", "healthy");
        const traffic = followLiveSplit("healthy", { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
        try {
            const record = await rollout(project, { promote: true });
            assert.strictEqual(record.outcome, "promoted", record.message);
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "passed"], [10, "passed"], [50, "passed"], [100, "passed"]]);
            // The traffic followed the API server through every step.
            for (const split of [{ v1: 99, v2: 1 }, { v1: 90, v2: 10 }, { v1: 50, v2: 50 }, { v2: 100 }]) assert.ok(traffic.seen.has(JSON.stringify(split)), `never saw ${JSON.stringify(split)}`);
            assert.deepStrictEqual(live.split("healthy-virtual-service"), { v2: 100 });
            assert.strictEqual(live.get("deployment", "healthy-v1"), undefined);
            assert.deepStrictEqual(live.podUids("v2", "healthy"), v2Pods);
        } finally {
            traffic.stop();
        }
    });

    it("a canary at 5% errors is rolled back at the first step: the live VirtualService sends 100% to stable", async () => {
        const project = await deployed("faulty");
        const traffic = followLiveSplit("faulty", { stable: { latencyMs: 80 }, canary: { latencyMs: 80, errorRatio: 0.05 } });
        try {
            const record = await rollout(project);
            assert.strictEqual(record.outcome, "rolled-back");
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "failed"]]);
            const failed = record.steps[0].analyses.at(-1)!.results.find((r) => r.name === "success-rate")!;
            // Whole counts from the exporter: at 1% the error counter steps by 1 every 2 s (see rollout.test.ts).
            assert.ok(failed.value! > 93 && failed.value! < 98.5, `canary success rate ${failed.value}`);
            const vs = live.get("virtualservices.networking.istio.io", "faulty-virtual-service");
            assert.deepStrictEqual(live.split("faulty-virtual-service"), { v1: 100 });
            assert.strictEqual(vs.spec.http.length, 1, "the testers' header route to the canary is removed too");
        } finally {
            traffic.stop();
        }
    });

    it("a canary scaled by hand (`kubectl scale`) stops the rollout before the step, naming its live count; nothing is applied", async () => {
        const project = await deployed("scaled");
        live.waitAvailable("scaled-v2");
        cluster.kubectl(cp, ["scale", "deployment", "scaled-v2", "-n", "default", "--replicas", "1"]);
        const traffic = followLiveSplit("scaled", { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
        try {
            const vsVersion = live.get("virtualservices.networking.istio.io", "scaled-virtual-service").metadata.resourceVersion;
            await assert.rejects(rollout(project), /stopped at 0%: Deployment default\/scaled-v2 runs 1 replica in the cluster \(scaled outside model-canary\), but `canary.replicas` is 2; the 1% step was not applied\. Scale it back \(`kubectl scale deployment scaled-v2 -n default --replicas 2`\)/);
            assert.strictEqual(live.get("virtualservices.networking.istio.io", "scaled-virtual-service").metadata.resourceVersion, vsVersion);
            assert.deepStrictEqual(live.split("scaled-virtual-service"), { v1: 100 });
            assert.strictEqual(live.get("deployment", "scaled-v2").spec.replicas, 1);
            assert.strictEqual(String(readProjectConfig(project.dir, "scaled").canaryWeight), "0");
        } finally {
            traffic.stop();
        }
    });

    it("a canary whose Deployment is not Available gets no traffic: the rollout rolls back before the step", async () => {
        const project = await deployed("unready");
        // Its pods go and cannot come back: the only node takes no new pods.
        cluster.kubectl(cp, ["cordon", cp.node]);
        try {
            cluster.kubectl(cp, ["delete", "pods", "-n", "default", "-l", "app=unready,version=v2", "--wait=true"]);
            const deadline = Date.now() + 60_000;
            while (live.get("deployment", "unready-v2").status.conditions.find((c: any) => c.type === "Available").status !== "False" && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 200));
            }
            const traffic = followLiveSplit("unready", { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
            try {
                const events: RolloutEvent[] = [];
                const record = await rollout(project, {}, events);
                assert.strictEqual(record.outcome, "rolled-back");
                assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "failed"]]);
                assert.match(record.steps[0].reason!, /^Deployment default\/unready-v2 is not Available \(0 of 2 replicas.*\); no traffic is sent to it$/);
                assert.deepStrictEqual(record.steps[0].analyses, []);
                assert.ok(!traffic.seen.has(JSON.stringify({ v1: 99, v2: 1 })), "the 1% step was never applied");
                assert.deepStrictEqual(live.split("unready-virtual-service"), { v1: 100 });
                assert.strictEqual(exporter.totalRequests("unready-v2"), 0);
            } finally {
                traffic.stop();
            }
        } finally {
            cluster.kubectl(cp, ["uncordon", cp.node]);
        }
    });
});

// Measured, not simulated: Istio's own control plane (istiod, built from istio.io/istio) turns the
// objects the real engine applies to the local API server into routes, and a proxyless gRPC client
// sends real requests by them to gRPC model backends on 127.0.0.x. Every routing claim here is
// counted from answers: which version answered each request.
//
// Traffic never leaves the machine: the backends are WorkloadEntries on loopback addresses, the
// Deployments run 0 replicas (so no kwok pod with a 10.244.x address matches the Service), every
// test first asserts that each endpoint istiod serves for the Service is in 127.0.0.0/8, and the
// client refuses to connect anywhere else.
import * as assert from "assert";
import * as path from "path";
import * as cluster from "../cluster/controlplane";
import { Backend, Client, dataplaneToolchainDir, registerBackends, SendResult, startBackend, startClient } from "../cluster/dataplane";
import { assertLoopbackEndpoints, isLoopback, Istiod, routeNonces, startIstiod, stopIstiod, waitForRoutePush } from "../cluster/istiod";
import { rollbackStack, RolloutEvent, runRollout } from "../rollout/runner";
import { resolvePlan } from "../stacks/config/rollout-plan";
import { readProjectConfig } from "../stacks/config/settings";
import { openStack, upStack } from "../stacks/operations/automation";
import { binomialBound, SPLIT_TOLERANCE_SIGMAS } from "./support/binomial";
import { clusterReader, ClusterReader } from "./support/cluster";
import { makeProject, TestProject } from "./support/engine";
import { PrometheusHarness, startPrometheus } from "./support/prometheus";

/** Requests per check, and the rate the client sends them at. */
const rps = 2000;
const host = "model-service.default.svc.cluster.local";
const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 0 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 0 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const seed = { stable, canary, headerRoutes: [testers] };

/** Requests a backend has answered, successfully or not. */
const answered = async (b: Backend): Promise<number> => {
    const c = await b.counts();
    return c.ok + c.failed;
};

describe("real requests routed by istiod (proxyless gRPC, backends on loopback)", function () {
    this.timeout(300_000);
    let binDir: string;
    let cp: cluster.ControlPlane;
    let istiod: Istiod;
    let live: ClusterReader;
    let logDir: string;

    before(async function () {
        this.timeout(1_200_000); // may build istiod (about 5 minutes cold) and the control plane
        binDir = dataplaneToolchainDir();
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
        logDir = path.join(cp.dir, "logs");
        istiod = await startIstiod(cp, { binDir, debounceAfter: "10ms" });
    });
    after(async () => {
        if (istiod) await stopIstiod(istiod);
        if (cp) await cluster.stop(cp);
    });

    describe("weight steps, header routes and rollback through the real engine", () => {
        let project: TestProject;
        let client: Client;
        const backends: Backend[] = [];
        let routes = "";

        before(async function () {
            this.timeout(600_000);
            // Two backends per version, as a subset has several pods.
            for (const [version, address] of [["v1", "127.0.0.2"], ["v1", "127.0.0.3"], ["v2", "127.0.0.4"], ["v2", "127.0.0.5"]]) {
                backends.push(await startBackend({ binDir, app: "model", version, address, service: "model-service", logDir }));
            }
            project = makeProject("test", { kubeconfig: cp.kubeconfig });
            project.writeConfig({ ...seed, canaryWeight: 0 });
            await upStack(await openStack(project.ref, { create: true }));
            registerBackends(cp, backends);
            client = await startClient({ binDir, istiod, authority: `${host}:80`, name: "model-client", logDir });
        });
        after(async () => {
            await client?.stop();
            for (const b of backends) await b.stop();
            project?.remove();
        });

        /** Refuses to go on unless every endpoint istiod serves for the Service is a backend on loopback. */
        async function onlyLoopback(): Promise<void> {
            assert.deepStrictEqual(live.podUids("v1"), [], "no pod may match the Service's selector");
            assert.deepStrictEqual(live.podUids("v2"), [], "no pod may match the Service's selector");
            const endpoints = await assertLoopbackEndpoints(istiod, host, backends.length);
            assert.deepStrictEqual(endpoints, backends.map((b) => b.address).sort());
        }

        /** Sends `count` requests; checks that every answer came from one of our backends. */
        async function send(count: number, headers?: Record<string, string>): Promise<SendResult> {
            await onlyLoopback();
            const r = await client.send(count, { rps, headers });
            assert.strictEqual(r.sent, count);
            assert.deepStrictEqual(r.errors, {});
            const ours = new Set(backends.map((b) => `${b.address}:${b.grpcPort}`));
            for (const peer of Object.keys(r.peers)) {
                assert.ok(isLoopback(peer.split(":")[0]) && ours.has(peer), `answered by ${peer}, not one of our backends`);
            }
            return r;
        }

        /** `up` at the config, then waits until the client has acknowledged istiod's new routes. */
        async function apply(config: Record<string, unknown>): Promise<void> {
            project.writeConfig(config);
            await upStack(await openStack(project.ref));
            routes = await waitForRoutePush(istiod, client.proxy, routes);
        }

        it("istiod listens on loopback only, serves only the four loopback backends for the Service, and the client gets its routes", async () => {
            const listening = cluster.listeningAddresses(istiod.pid);
            assert.ok(listening.length >= 5, listening.join(", "));
            assert.deepStrictEqual(listening.filter((a) => !a.startsWith("127.0.0.1:")), []);
            await onlyLoopback();
            // At weight 0 (the stack's first `up`) the stable version answers everything.
            assert.deepStrictEqual((await send(100)).versions, { v1: 100 });
            routes = (await routeNonces(istiod, client.proxy)).acked;
            assert.notStrictEqual(routes, "");
        });

        const steps: [number, number][] = [[1, 10_000], [10, 2_000], [50, 2_000]];
        for (const [weight, n] of steps) {
            const bound = binomialBound(n, weight / 100);
            it(`at ${weight}% the canary answers ${bound.low}-${bound.high} of ${n} requests (binomial, ${SPLIT_TOLERANCE_SIGMAS} sigma around ${bound.mean})`, async () => {
                await apply({ ...seed, canaryWeight: weight });
                assert.deepStrictEqual(live.split(), { v1: 100 - weight, v2: weight });
                const r = await send(n);
                const v2 = r.versions.v2 ?? 0;
                assert.strictEqual((r.versions.v1 ?? 0) + v2, n);
                assert.ok(v2 >= bound.low && v2 <= bound.high, `the canary answered ${v2} of ${n} at ${weight}%, outside ${bound.low}-${bound.high}`);
                // Both backends of each version take part (istiod serves the subset's endpoints).
                for (const b of backends) assert.ok((r.peers[`${b.address}:${b.grpcPort}`] ?? 0) > 0, `${b.version} at ${b.address} answered nothing`);
            });
        }

        it("at 100% every request reaches the canary", async () => {
            await apply({ ...seed, canaryWeight: 100 });
            assert.deepStrictEqual(live.split(), { v2: 100 });
            const r = await send(1_000);
            assert.deepStrictEqual(r.versions, { v2: 1_000 });
        });

        it("header routes (exact, prefix, regex) send every matching request to their version, whatever the split", async () => {
            const beta = { header: "x-user-group", prefix: "beta-", version: "v2" };
            const tenants = { header: "x-tenant", regex: "(acme|globex)-[0-9]+", version: "v2" };
            await apply({ ...seed, canaryWeight: 0, headerRoutes: [testers, beta, tenants] });
            assert.deepStrictEqual(live.split(), { v1: 100 });
            assert.deepStrictEqual((await send(1_000, { "x-canary-version": "v2" })).versions, { v2: 1_000 });
            assert.deepStrictEqual((await send(1_000, { "x-user-group": "beta-eu" })).versions, { v2: 1_000 });
            // Values are case-sensitive and the match is exact: these fall through to the split.
            assert.deepStrictEqual((await send(500, { "x-canary-version": "V2" })).versions, { v1: 500 });
            assert.deepStrictEqual((await send(500, { "x-canary-version": "v2x" })).versions, { v1: 500 });
            assert.deepStrictEqual((await send(500, { "x-user-group": "gamma-beta-" })).versions, { v1: 500 });
            // A regex matches the whole value (RE2, as Envoy and grpc-go apply it), not a part.
            assert.deepStrictEqual((await send(500, { "x-tenant": "globex-7" })).versions, { v2: 500 });
            assert.deepStrictEqual((await send(500, { "x-tenant": "acme-12x" })).versions, { v1: 500 });
            assert.deepStrictEqual((await send(500, { "x-tenant": "xacme-1" })).versions, { v1: 500 });
            assert.deepStrictEqual((await send(500)).versions, { v1: 500 });
        });

        it("after `rollback`, no request reaches the canary, with or without the testers' header", async () => {
            await apply({ ...seed, canaryWeight: 50 });
            const atFifty = await send(1_000);
            assert.ok((atFifty.versions.v2 ?? 0) > 0);
            const canaryBefore = await Promise.all(backends.filter((b) => b.version === "v2").map(answered));
            await rollbackStack(await openStack(project.ref), "dataplane test");
            routes = await waitForRoutePush(istiod, client.proxy, routes);
            assert.deepStrictEqual(live.split(), { v1: 100 });
            assert.deepStrictEqual((await send(5_000)).versions, { v1: 5_000 });
            assert.deepStrictEqual((await send(1_000, { "x-canary-version": "v2" })).versions, { v1: 1_000 });
            // The canary's backends agree: they answered nothing since the rollback.
            assert.deepStrictEqual(await Promise.all(backends.filter((b) => b.version === "v2").map(answered)), canaryBefore);
        });

        it("refuses to send when istiod serves an endpoint outside 127.0.0.0/8", async () => {
            // A WorkloadEntry at a private address, as a kwok pod (10.244.x) would be: never contacted.
            cluster.kubectl(cp, ["apply", "-f", "-"], [
                "apiVersion: networking.istio.io/v1", "kind: WorkloadEntry", "metadata:", "  name: model-offbox", "  namespace: default",
                "spec:", "  address: 10.244.0.9", "  labels:", "    app: model", "    version: v1", "",
            ].join("\n"));
            try {
                await assert.rejects(assertLoopbackEndpoints(istiod, host, backends.length + 1), /istiod serves endpoints outside 127\.0\.0\.0\/8 for model-service\.default\.svc\.cluster\.local: 10\.244\.0\.9; refusing to send requests/);
            } finally {
                cluster.kubectl(cp, ["delete", "workloadentry", "model-offbox", "-n", "default", "--wait=true"]);
            }
            await onlyLoopback();
        });

        it("stopping the client and the backends leaves none of their processes running", async () => {
            const pids = [client.pid, ...backends.map((b) => b.pid)];
            assert.ok(pids.every(cluster.alive));
            await client.stop();
            for (const b of backends) await b.stop();
            assert.deepStrictEqual(pids.filter(cluster.alive), []);
        });
    });

    describe("automated rollout on real traffic, Prometheus scraping the backends", () => {
        /** Requests per second the client sends through each app's Service during a rollout. */
        const streamRps = 1000;
        let prometheus: PrometheusHarness;
        const apps = { healthy: new Map<string, Backend>(), faulty: new Map<string, Backend>() };
        const clients: Client[] = [];
        const projects: TestProject[] = [];

        before(async function () {
            this.timeout(600_000);
            let address = 10;
            for (const [app, byVersion] of Object.entries(apps)) {
                for (const version of ["v1", "v2"]) {
                    byVersion.set(version, await startBackend({ binDir, app, version, address: `127.0.0.${address++}`, service: `${app}-service`, logDir }));
                }
            }
            const all = Object.values(apps).flatMap((m) => [...m.values()]);
            prometheus = await startPrometheus({ targets: all.map((b) => b.metricsTarget), scrapeInterval: "1s" });
        });
        after(async () => {
            for (const c of clients) await c.stop();
            for (const b of Object.values(apps).flatMap((m) => [...m.values()])) await b.stop();
            await prometheus?.stop();
            for (const p of projects) p.remove();
        });

        /**
         * The app's stack at weight 0 on the cluster (Deployments at 0 replicas), its backends
         * registered, and a client streaming requests through its Service once istiod serves
         * only loopback endpoints for it.
         */
        async function deployed(app: keyof typeof apps): Promise<{ project: TestProject; client: Client }> {
            const project = makeProject(app, { kubeconfig: cp.kubeconfig });
            projects.push(project);
            project.writeConfig({
                app, stable, canary, canaryWeight: 0, headerRoutes: [testers],
                rollout: { prometheus: prometheus.url, steps: [1, 10, 50, 100], interval: "8s", tick: "1s", window: "5s", analysis: { minRequests: 10, failureThreshold: 2 } },
            });
            await upStack(await openStack(project.ref, { create: true }));
            const backends = [...apps[app].values()];
            registerBackends(cp, backends);
            const appHost = `${app}-service.default.svc.cluster.local`;
            assert.deepStrictEqual(await assertLoopbackEndpoints(istiod, appHost, backends.length), backends.map((b) => b.address).sort());
            const client = await startClient({ binDir, istiod, authority: `${appHost}:80`, name: `${app}-client`, logDir });
            clients.push(client);
            await client.startStream({ rps: streamRps });
            return { project, client };
        }

        const rollout = (project: TestProject, flags = {}, onEvent?: (e: RolloutEvent) => void) =>
            runRollout({ ref: project.ref, plan: resolvePlan(readProjectConfig(project.dir, project.ref.stack).rollout as Record<string, unknown> | undefined, flags), onEvent });

        it("a healthy canary walks 1 -> 10 -> 50 -> 100 on real requests and is promoted", async () => {
            const { project, client } = await deployed("healthy");
            const record = await rollout(project, { promote: true });
            const seen = await client.stopStream();
            assert.strictEqual(record.outcome, "promoted", record.message);
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "passed"], [10, "passed"], [50, "passed"], [100, "passed"]]);
            assert.deepStrictEqual(seen.errors, {});
            // Both versions answered real requests during the rollout.
            assert.ok((seen.versions.v1 ?? 0) > 0 && (seen.versions.v2 ?? 0) > 0, JSON.stringify(seen.versions));
            assert.deepStrictEqual(live.split("healthy-virtual-service"), { v2: 100 });
            // After promotion every request reaches v2, now the stable version.
            await assertLoopbackEndpoints(istiod, "healthy-service.default.svc.cluster.local", 1);
            const after = await client.send(500, { rps: 1000 });
            assert.deepStrictEqual(after.versions, { v2: 500 });
        });

        it("a canary that fails 10% of its real requests (gRPC UNAVAILABLE) is rolled back at 1%, and then gets no requests", async () => {
            const canaryBackend = apps.faulty.get("v2")!;
            // 10 requests a second reach it at 1%: one fails every second.
            await canaryBackend.setBehaviour({ errorRatio: 0.1 });
            const { project, client } = await deployed("faulty");
            // The routes the client holds when the rollback begins (its `up` takes seconds to reach the API server).
            let beforeRollback: Promise<{ acked: string }> | undefined;
            const record = await rollout(project, {}, (e) => {
                if (e.type === "rollback-start") beforeRollback = routeNonces(istiod, client.proxy);
            });
            assert.strictEqual(record.outcome, "rolled-back", record.message);
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[1, "failed"]]);
            const failed = record.steps[0].analyses.at(-1)!.results.find((r) => r.name === "success-rate")!;
            assert.ok(failed.value! < 99, `canary success rate ${failed.value}`);
            // The canary failed real requests: its own count, which its metrics reported. (The
            // client may not see them: Istio's default route retries UNAVAILABLE, and the retry
            // usually lands on a request the canary answers.)
            const during = await client.stopStream();
            assert.ok((during.versions.v2 ?? 0) > 0, JSON.stringify(during));
            assert.ok((await canaryBackend.counts()).failed > 0);
            assert.deepStrictEqual(live.split("faulty-virtual-service"), { v1: 100 });
            // Routes reach the client, then no request reaches the canary, header or not.
            assert.ok(beforeRollback, "no rollback-start event");
            await waitForRoutePush(istiod, client.proxy, (await beforeRollback).acked);
            const before = await answered(canaryBackend);
            assert.deepStrictEqual((await client.send(2_000, { rps: 1000 })).versions, { v1: 2_000 });
            assert.deepStrictEqual((await client.send(500, { rps: 1000, headers: { "x-canary-version": "v2" } })).versions, { v1: 500 });
            assert.strictEqual(await answered(canaryBackend), before);
        });
    });

    describe("teardown", () => {
        it("stopping istiod ends its process", async () => {
            const pid = istiod.pid;
            await stopIstiod(istiod);
            assert.ok(!cluster.alive(pid));
        });
    });
});

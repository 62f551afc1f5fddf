// A rollback's two writes on the local control plane: the live route set to stable with one
// server-side apply as the Kubernetes provider's field manager, then the `up` that records it.
// The order is read from outside (the VirtualService and the engine's lock of the stack, polled
// together); a process killed between the two writes (kill -9, or a second SIGINT; one SIGINT
// lets both finish) leaves stable serving, `status` naming what is live and what is recorded, and
// the next `rollback` or `up` converging without a field conflict; a write the API server refuses
// falls back to the `up` alone, saying so. One control plane.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as cluster from "../cluster/controlplane";
import { resolvePlan } from "../stacks/config/rollout-plan";
import { RolloutEvent, runRollout } from "../rollout/runner";
import { openStack, readOutputs, upStack } from "../stacks/operations/automation";
import { connect, getObject } from "../stacks/cluster-client/cluster-api";
import { rollbackWriteAnnotation } from "../stacks/config/rollback-route";
import { killAtEnvVar } from "../stacks/operations/rollback-write";
import { holdAtEnvVar, holdUntilEnvVar } from "../stacks/operations/hold-at";
import { makeProject, sourceCli, TestProject } from "./support/engine";
import type { IstioExporter } from "./support/istio-exporter";
import { PrometheusHarness, startScrapedExporter } from "./support/prometheus";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 1 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 1 };

/** The engine's lock files of a file:// backend under `dir` (`<id>.json`; one being written is a `.tmp` beside it). */
function lockFiles(dir: string): string[] {
    try {
        return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".json"));
    } catch {
        return []; // no lock taken yet
    }
}

describe("a rollback's route write before its up, on a local control plane", function () {
    this.timeout(600_000);
    let cp: cluster.ControlPlane;
    let exporter: IstioExporter;
    let prometheus: PrometheusHarness;
    const projects: TestProject[] = [];

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        ({ exporter, prometheus } = await startScrapedExporter());
    });
    after(async () => {
        await prometheus?.stop();
        await exporter?.close();
        for (const p of projects) p.remove();
        if (cp) await cluster.stop(cp);
    });

    /** A stack of its own (`app` names its objects) deployed to the cluster at `canaryWeight`. */
    async function deployed(app: string, canaryWeight: number): Promise<TestProject> {
        const project = makeProject(app, { kubeconfig: cp.kubeconfig });
        projects.push(project);
        project.writeConfig({
            app, stable, canary, canaryWeight, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }],
            rollout: { prometheus: prometheus.url, steps: [10], interval: "60s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 1 } },
        });
        await upStack(await openStack(project.ref, { create: true }));
        return project;
    }

    /** The live VirtualService: its default split and the rollback annotation. */
    async function route(app: string): Promise<{ split: Record<string, number>; writtenByRollback: boolean; headerRoutes: number; managers: string[] }> {
        const vs = await getObject(connect({ kubeconfig: cp.kubeconfig }), "networking.istio.io/v1", "virtualservices", "default", `${app}-virtual-service`);
        return {
            split: Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight])),
            writtenByRollback: vs.metadata.annotations?.[rollbackWriteAnnotation] !== undefined,
            headerRoutes: vs.spec.http.length - 1,
            managers: vs.metadata.managedFields.map((m: any) => `${m.manager}:${m.operation}`),
        };
    }

    /**
     * `model-canary ARGS` from the sources, as a user runs it. Asynchronously: a blocked event loop
     * would leave this process's idle keep-alive connections to the API server closed unnoticed.
     */
    const cli = (p: TestProject, args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> => new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [sourceCli, ...args, "--stack", p.ref.stack, "--cwd", p.dir, "--backend", p.ref.backendUrl!], {
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: p.ref.toolchainDir, ...env },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
    });

    it("a rollout that fails at 10% has the live VirtualService at 100% stable before its rollback's up takes the stack", async () => {
        const project = await deployed("fails", 0);
        exporter.set("fails-v1", { rps: 900, latencyMs: 80 });
        exporter.set("fails-v2", { rps: 100, latencyMs: 80, errorRatio: 0.5 });
        const locks = path.join(project.dir, "state", ".pulumi", "locks");
        // After the decision: what the API server holds, then whether the engine holds the stack's
        // lock, read in that order every 20 ms; each change of either is one entry.
        const seen: string[] = [];
        let watching = false;
        let lastRoute = "";
        let lastLock = false;
        const poll = async () => {
            while (watching) {
                // A read that fails (the API server busy) is read again at the next turn.
                const r = await route("fails").catch(() => undefined);
                if (r === undefined) {
                    await new Promise((resolve) => setTimeout(resolve, 20));
                    continue;
                }
                const text = `route ${JSON.stringify(r.split)}${r.writtenByRollback ? " written by the rollback" : ""}`;
                if (text !== lastRoute) seen.push((lastRoute = text));
                const locked = lockFiles(locks).length > 0;
                if (locked && !lastLock) seen.push("engine takes the stack");
                lastLock = locked;
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
        };
        let polling: Promise<void> | undefined;
        const events: RolloutEvent[] = [];
        const onEvent = (e: RolloutEvent) => {
            events.push(e);
            if (e.type === "rollback-start") {
                watching = true;
                polling = poll();
            }
        };
        const plan = resolvePlan(JSON.parse(JSON.stringify({ prometheus: prometheus.url, steps: [10], interval: "60s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 1 } })));
        const record = await runRollout({ ref: project.ref, plan, onEvent });
        watching = false;
        await polling;
        assert.strictEqual(record.outcome, "rolled-back", record.message);
        assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict]), [[10, "failed"]]);
        // The route went to stable in one write, before the engine took the stack; the `up` then
        // recorded it, removing the write's annotation (its field manager no longer sets it).
        // (The first read may come after the write already: the split before it is not asserted.)
        assert.deepStrictEqual(seen.filter((s, i) => !(i === 0 && s === 'route {"v1":90,"v2":10}')), [
            'route {"v1":100} written by the rollback',
            "engine takes the stack",
            'route {"v1":100}',
        ]);
        const live = await route("fails");
        assert.strictEqual(live.headerRoutes, 0, "the testers' header route to the canary is gone too");
        assert.strictEqual(live.managers.length, 1, `one field manager, the provider's: ${live.managers.join(", ")}`);
        assert.match(live.managers[0], /^pulumi-kubernetes-[0-9a-f]+:Apply$/);
        assert.strictEqual(typeof record.rollback!.routeWriteMs, "number");
        assert.ok(record.rollback!.routeWriteMs! < record.rollback!.actionMs, `route write ${record.rollback!.routeWriteMs} ms, rollback ${record.rollback!.actionMs} ms`);
        const done = events.find((e): e is Extract<RolloutEvent, { type: "rollback-done" }> => e.type === "rollback-done");
        assert.strictEqual(done?.routeWriteMs, record.rollback!.routeWriteMs);
        // The state holds what the route holds.
        const outputs = await readOutputs(await openStack(project.ref));
        assert.deepStrictEqual(outputs.split, { v1: 100 });
    });

    it("kill -9 between the route write and the up: stable serves, status says what is applied live and what is recorded, rollback converges without a conflict", async () => {
        const project = await deployed("killed", 10);
        const killed = await cli(project, ["rollback"], { [killAtEnvVar]: "rollback-route-written" });
        assert.strictEqual(killed.signal, "SIGKILL", `${killed.stdout}\n${killed.stderr}`);
        const afterKill = await route("killed");
        assert.deepStrictEqual([afterKill.split, afterKill.writtenByRollback, afterKill.headerRoutes], [{ v1: 100 }, true, 0]);
        assert.deepStrictEqual((await readOutputs(await openStack(project.ref))).split, { v1: 90, v2: 10 }, "the state still records 90/10");

        const status = await cli(project, ["status"]);
        assert.strictEqual(status.status, 0, status.stderr);
        const line = status.stdout.split("\n").find((l) => l.includes("applied live:"));
        assert.ok(line, status.stdout);
        assert.match(line, /^ {2}applied live: the VirtualService sends v1 100%, written by a rollback at \d{4}-\d\d-\d\dT[\d:.]+Z; recorded: v1 90%, v2 10%\. The rollback's `up` did not finish: `rollback` or `up` records it$/);
        assert.match(status.stdout, /^stack killed: v1 90%, v2 10%$/m);
        const json = JSON.parse((await cli(project, ["status", "--json"])).stdout);
        assert.strictEqual(typeof json.live.rollbackWrittenAt, "string");

        const rollback = await cli(project, ["rollback"]);
        assert.strictEqual(rollback.status, 0, `${rollback.stdout}\n${rollback.stderr}`);
        assert.doesNotMatch(rollback.stderr, /conflict/i);
        assert.match(rollback.stdout, /^rolled back: stack killed sends 100% to v1 \(the live VirtualService default\/killed-virtual-service in \d+ ms, recorded by the `up` in [\d.]+s\)$/m);
        const converged = await route("killed");
        assert.deepStrictEqual([converged.split, converged.writtenByRollback], [{ v1: 100 }, false]);
        assert.deepStrictEqual((await readOutputs(await openStack(project.ref))).split, { v1: 100 });
        const after = await cli(project, ["status"]);
        assert.doesNotMatch(after.stdout, /applied live:/);
        assert.match(after.stdout, /^stack killed: v1 100%$/m);
    });

    it("SIGINT between the route write and the up: once, the rollback still records the route (exit 130); twice, it exits at once, status says what is applied live and what is recorded, and `up` converges without a conflict", async () => {
        /** `model-canary rollback` held right after its route write (until `release` exists), with its output so far. */
        const heldRollback = async (p: TestProject, release: string) => {
            const child = spawn(process.execPath, [sourceCli, "rollback", "--stack", p.ref.stack, "--cwd", p.dir, "--backend", p.ref.backendUrl!], {
                env: { ...process.env, MODEL_CANARY_TOOLCHAIN: p.ref.toolchainDir, [holdAtEnvVar]: "rollback-route-written", [holdUntilEnvVar]: release },
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            const closed = new Promise<number | null>((resolve) => child.on("close", (status) => resolve(status)));
            const said = async (pattern: RegExp) => {
                for (let i = 0; !pattern.test(stderr); i++) {
                    if (i === 6000) throw new Error(`no ${pattern} from the rollback:\n${stdout}\n${stderr}`);
                    await new Promise((resolve) => setTimeout(resolve, 20));
                }
            };
            await said(/^model-canary: held at rollback-route-written until /m);
            return { child, said, closed, output: () => `${stdout}\n${stderr}`, stdout: () => stdout };
        };
        const [once, twice] = [await deployed("sigint-once", 10), await deployed("sigint-twice", 10)];

        // One SIGINT: the command stops at a consistent point, which for a rollback is after the `up` that records the write.
        const release = path.join(once.dir, "release");
        const first = await heldRollback(once, release);
        assert.deepStrictEqual((await route("sigint-once")).split, { v1: 100 }, "the route is written before the hold");
        first.child.kill("SIGINT");
        await first.said(/^model-canary: SIGINT received, stopping once the current operation is consistent/m);
        fs.writeFileSync(release, "");
        assert.strictEqual(await first.closed, 130, first.output());
        assert.match(first.stdout(), /^rolled back: stack sigint-once sends 100% to v1 \(the live VirtualService default\/sigint-once-virtual-service in \d+ ms, recorded by the `up` in [\d.]+s\)$/m);
        const recorded = await route("sigint-once");
        assert.deepStrictEqual([recorded.split, recorded.writtenByRollback], [{ v1: 100 }, false]);
        assert.deepStrictEqual((await readOutputs(await openStack(once.ref))).split, { v1: 100 });

        // A second SIGINT exits at once: between the two writes, as a kill -9 there would leave it.
        const second = await heldRollback(twice, path.join(twice.dir, "never"));
        second.child.kill("SIGINT");
        await second.said(/^model-canary: SIGINT received/m);
        second.child.kill("SIGINT");
        assert.strictEqual(await second.closed, 130, second.output());
        const afterExit = await route("sigint-twice");
        assert.deepStrictEqual([afterExit.split, afterExit.writtenByRollback, afterExit.headerRoutes], [{ v1: 100 }, true, 0]);
        assert.deepStrictEqual((await readOutputs(await openStack(twice.ref))).split, { v1: 90, v2: 10 }, "the state still records 90/10");
        const status = await cli(twice, ["status"]);
        assert.strictEqual(status.status, 0, status.stderr);
        assert.match(status.stdout, /^ {2}applied live: the VirtualService sends v1 100%, written by a rollback at \d{4}-\d\d-\d\dT[\d:.]+Z; recorded: v1 90%, v2 10%\. The rollback's `up` did not finish: `rollback` or `up` records it$/m);
        const up = await cli(twice, ["up"]);
        assert.strictEqual(up.status, 0, `${up.stdout}\n${up.stderr}`);
        assert.doesNotMatch(`${up.stdout}\n${up.stderr}`, /conflict/i);
        const converged = await route("sigint-twice");
        assert.deepStrictEqual([converged.split, converged.writtenByRollback], [{ v1: 100 }, false]);
        assert.deepStrictEqual((await readOutputs(await openStack(twice.ref))).split, { v1: 100 });
    });

    it("a route write the API server refuses (an admission policy, 403) falls back to the up alone and says so in one line", async () => {
        const project = await deployed("refused", 10);
        // Refuses any write that sets the rollback's annotation on this VirtualService: the provider's own applies go through.
        cluster.kubectl(cp, ["apply", "-f", "-"], JSON.stringify({
            apiVersion: "v1", kind: "List", items: [
                {
                    apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: "no-rollback-writes" },
                    spec: {
                        failurePolicy: "Fail",
                        matchConstraints: { resourceRules: [{ apiGroups: ["networking.istio.io"], apiVersions: ["*"], operations: ["UPDATE"], resources: ["virtualservices"] }] },
                        validations: [{ expression: `object.metadata.name != 'refused-virtual-service' || !has(object.metadata.annotations) || !('${rollbackWriteAnnotation}' in object.metadata.annotations)`, message: "rollback writes are not allowed here", reason: "Forbidden" }],
                    },
                },
                { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: "no-rollback-writes" }, spec: { policyName: "no-rollback-writes", validationActions: ["Deny"] } },
            ],
        }));
        try {
            // The policy is enforced once the API server has loaded it.
            for (let i = 0; i < 100; i++) {
                const probe = spawnSync(path.join(cp.binDir, "kubectl"), ["--kubeconfig", cp.kubeconfig, "annotate", "--dry-run=server", "-n", "default", "virtualservices.networking.istio.io/refused-virtual-service", `${rollbackWriteAnnotation}=probe`], { encoding: "utf8" });
                if (probe.status !== 0) break;
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
            const rollback = await cli(project, ["rollback"]);
            assert.strictEqual(rollback.status, 0, `${rollback.stdout}\n${rollback.stderr}`);
            const told = rollback.stderr.split("\n").filter((l) => l.includes("route write"));
            assert.strictEqual(told.length, 1, rollback.stderr);
            assert.match(told[0], /^model-canary: the rollback's route write failed, so the `up` alone moves the traffic to v1: server-side apply of virtualservices default\/refused-virtual-service as pulumi-kubernetes-[0-9a-f]+ answered 403: .*rollback writes are not allowed here/);
            assert.match(rollback.stdout, /^rolled back: stack refused sends 100% to v1 \([\d.]+s\)$/m);
            const live = await route("refused");
            assert.deepStrictEqual([live.split, live.writtenByRollback], [{ v1: 100 }, false]);
        } finally {
            cluster.kubectl(cp, ["delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "no-rollback-writes"]);
        }
    });
});

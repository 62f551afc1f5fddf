// Runners sharing a stack on a cluster (one local control plane): three clones of one project on
// one state backend, the holder on a host of its own (`unshare --uts`). The run lock is the
// model's Lease and the rollout record its ConfigMap, so a clone's `up` is refused naming the
// holder, `status` from a third clone shows the holder's run, a holder killed with `kill -9` is
// taken over only once its Lease expires, and `rollback` pre-empts a live holder at once, also from
// a clone whose settings are invalid.
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as cluster from "../cluster/controlplane";
import { checkConfig, openStack, StackRef, upStack } from "../stacks/operations/automation";
import { connect, getObject } from "../stacks/cluster-client/cluster-api";
import { acquireStackLock, preemptStackLock, StackLockedError } from "../stacks/operations/lock";
import { makeProject, sourceCli, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 1 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 1 };
/** The Lease, short so that a dead holder's expiry is seconds away. */
const leaseSeconds = 6;

describe("runners sharing a stack on a cluster: the run lock is a Lease, the record beside it (local control plane)", function () {
    this.timeout(600_000);
    let cp: cluster.ControlPlane;
    let a: TestProject;
    let b: StackRef;
    let c: StackRef;
    const dirs: string[] = [];
    const children: ChildProcess[] = [];

    /** Another clone of the project (its own directory and settings file), on the same backend. */
    function clone(name: string): StackRef {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `model-canary-${name}-`));
        dirs.push(dir);
        for (const f of fs.readdirSync(a.dir)) {
            if (f === "state" || f === ".model-canary") continue;
            fs.cpSync(path.join(a.dir, f), path.join(dir, f), { recursive: true, verbatimSymlinks: true });
        }
        return { ...a.ref, workDir: dir };
    }

    /**
     * A runner on host `runner-a`: takes the model's run lock as a rollout does, writes a running
     * record with one analysis, and on a pre-emption writes it interrupted and releases.
     */
    function holder(): Promise<{ child: ChildProcess; out: () => string }> {
        const script = `
            const { openStack, checkConfig } = require(${JSON.stringify(path.join(__dirname, "..", "stacks", "operations", "automation"))});
            const { acquireStackLock } = require(${JSON.stringify(path.join(__dirname, "..", "stacks", "operations", "lock"))});
            const { runStoreFor } = require(${JSON.stringify(path.join(__dirname, "..", "stacks", "operations", "run-store"))});
            const { recordWriter } = require(${JSON.stringify(path.join(__dirname, "..", "rollout", "status"))});
            (async () => {
                const ref = ${JSON.stringify(a.ref)};
                const config = checkConfig(await openStack(ref));
                const runStore = runStoreFor(ref, "model", config);
                const lock = await acquireStackLock(ref, "rollout", { runStore });
                const records = recordWriter(ref.workDir, runStore);
                const analysis = { at: new Date().toISOString(), summary: "pass", results: [{ name: "success rate", status: "pass", message: "99.9% (min 99%)" }], measurement: {} };
                const record = { stack: ref.stack, model: "model", stableVersion: "v1", canaryVersion: "v2", plan: [1, 10], startedAt: analysis.at, outcome: "running", message: "starting",
                    steps: [{ index: 1, weight: 1, startedAt: analysis.at, appliedAt: analysis.at, applyMs: 0, analyses: [analysis], verdict: "running" }], thresholds: {}, runner: lock.holder };
                await records.save(record);
                process.stdout.write("held\\n");
                lock.preempted.addEventListener("abort", async () => {
                    record.outcome = "interrupted";
                    record.message = lock.preempted.reason.message;
                    await records.save(record);
                    await lock.release();
                    process.stdout.write("released\\n");
                    process.exit(0);
                });
            })().catch((e) => { process.stderr.write(String(e) + "\\n"); process.exit(1); });
            setInterval(() => {}, 1000);
        `;
        const child = spawn("unshare", ["--uts", "sh", "-c", `hostname runner-a && exec "$0" "$@"`, process.execPath, "-r", "ts-node/register/transpile-only", "-e", script], {
            cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MODEL_CANARY_LEASE_SECONDS: String(leaseSeconds) },
        });
        children.push(child);
        let out = "";
        child.stdout!.on("data", (d) => { out += d; });
        child.stderr!.on("data", (d) => { out += d; });
        return new Promise((resolve, reject) => {
            const timer = setInterval(() => {
                if (out.includes("held")) { clearInterval(timer); resolve({ child, out: () => out }); }
                if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`the holder exited: ${out}`)); }
            }, 50);
        });
    }

    function cli(ref: StackRef, args: string[]): { status: number | null; stdout: string; stderr: string } {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", ref.stack, "--cwd", ref.workDir!, "--backend", ref.backendUrl!], {
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: ref.toolchainDir, MODEL_CANARY_LEASE_SECONDS: String(leaseSeconds) }, encoding: "utf8",
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    const configOf = async (ref: StackRef) => checkConfig(await openStack(ref));

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        a = makeProject("runners", { kubeconfig: cp.kubeconfig });
        a.writeConfig({ app: "runners", stable, canary, canaryWeight: 0 });
        await upStack(await openStack(a.ref, { create: true }));
        b = clone("runner-b");
        c = clone("runner-c");
    });
    after(async () => {
        for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
        a?.remove();
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
        if (cp) await cluster.stop(cp);
    });

    it("another clone's `up` is refused naming the holder on its host; `status` from a third clone shows the holder's run and last analysis", async () => {
        const held = await holder();
        try {
            const lease = await getObject(connect({ kubeconfig: cp.kubeconfig }), "coordination.k8s.io/v1", "leases", "default", "model-canary-runners-model");
            assert.strictEqual(lease?.spec.holderIdentity, `runner-a:${held.child.pid}`);
            const refused = cli(b, ["up"]);
            assert.strictEqual(refused.status, 1, refused.stderr);
            assert.match(refused.stderr, new RegExp(`^model-canary: stack \`runners\` is held by \`rollout\` \\(pid ${held.child.pid} on host runner-a, user [^,]+, since [^,]+, last renewed [^)]+\\); wait for it to finish, or run \`model-canary rollback --stack runners\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, ${leaseSeconds}s after its last renewal\\n$`));
            const status = cli(c, ["status", "--json"]);
            assert.strictEqual(status.status, 0, status.stderr);
            const json = JSON.parse(status.stdout);
            assert.deepStrictEqual([json.lock.host, json.lock.pid, json.lock.command], ["runner-a", held.child.pid, "rollout"]);
            assert.deepStrictEqual([json.rollout.outcome, json.rollout.step, json.rollout.lastAnalysis.results[0].message], ["running", "1/2", "99.9% (min 99%)"]);
            assert.strictEqual(fs.existsSync(path.join(c.workDir!, ".model-canary")), false, "the third clone has no record of its own");
        } finally {
            held.child.kill("SIGKILL");
        }
    });

    it("a holder killed with `kill -9` is refused to others until its Lease expires, then taken over", async () => {
        const held = await holder();
        held.child.kill("SIGKILL");
        const config = await configOf(b);
        // Its host is another: this runner cannot see the process ended, only the Lease's expiry.
        await assert.rejects(acquireStackLock(b, "rollout", { config }), (e: unknown) => e instanceof StackLockedError && e.holder?.host === "runner-a");
        const messages: string[] = [];
        for (let tries = 0; ; tries++) {
            try {
                const lock = await acquireStackLock(b, "rollout", { config, onMessage: (m) => messages.push(m) });
                await lock.release();
                break;
            } catch (e) {
                if (!(e instanceof StackLockedError) || tries > 100) throw e;
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
        }
        assert.match(messages.at(-1)!, new RegExp(`^model-canary: taking over the lock of stack \`runners\` left by \`rollout\` \\(pid ${held.child.pid} on host runner-a, .*\\): its lease expired \\(not renewed within ${leaseSeconds}s\\)$`));
    });

    it("`rollback` from another clone pre-empts a live holder at once, through the Lease", async () => {
        const held = await holder();
        const messages: string[] = [];
        const lock = await preemptStackLock(b, "rollback", { config: await configOf(b), signalHolder: false, onMessage: (m) => messages.push(m) });
        try {
            // Asked through the Lease, and taken from a holder that released it: not from one whose lease expired.
            assert.deepStrictEqual(messages.map((m) => m.replace(/\(pid \d+ on host runner-a, [^)]*\)/, "(holder)")), ["model-canary: stack `runners` is held by `rollout` (holder); asking it to stop"]);
            if (held.child.exitCode === null) await new Promise<void>((resolve) => held.child.on("exit", () => resolve()));
            assert.match(held.out(), /held\nreleased\n$/);
            const status = cli(c, ["status", "--json"]);
            assert.match(JSON.parse(status.stdout).rollout.message, /^pre-empted by `rollback` \(pid \d+ on host /);
        } finally {
            await lock.release();
        }
    });

    it("`rollback` from a clone whose settings are invalid still pre-empts the holder through the Lease, found from the last applied config", async function () {
        this.timeout(600_000);
        const held = await holder();
        const settings = path.join(b.workDir!, `Pulumi.${b.stack}.yaml`);
        const valid = fs.readFileSync(settings, "utf8");
        assert.match(valid, /canaryWeight: "0"\n/);
        fs.writeFileSync(settings, valid.replace(/canaryWeight: "0"\n/, "canaryWeight: 500\n"));
        try {
            const r = cli(b, ["rollback"]);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`model-canary: stack \`runners\` is held by \`rollout\` \\(pid ${held.child.pid} on host runner-a, .*\\); asking it to stop`));
            assert.match(r.stderr, /the config of stack runners is invalid; rolling back from the last applied config instead/);
            if (held.child.exitCode === null) await new Promise<void>((resolve) => held.child.on("exit", () => resolve()));
            assert.match(held.out(), /held\nreleased\n$/);
        } finally {
            for (const f of fs.readdirSync(b.workDir!)) if (f.startsWith(`Pulumi.${b.stack}.yaml.invalid-`)) fs.rmSync(path.join(b.workDir!, f));
            fs.writeFileSync(settings, valid);
        }
    });
});

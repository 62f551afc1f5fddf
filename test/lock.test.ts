// The stack run lock (stacks/operations/lock.ts) with real processes: a holder in another process, one that
// died, a reused pid, and a rollback pre-empting a holder; and the lease in a file:// backend's
// directory (stacks/coordination/backend-directory.ts) shared by two clones of a project.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackRef } from "../stacks/operations/automation";
import type * as auto from "@pulumi/pulumi/automation";
import { acquireStackLock, applyLockFile, lockFile, lockHolder, preemptStackLock, StackLockedError, withApplyLock } from "../stacks/operations/lock";
import { runKey, runStoreFor } from "../stacks/operations/run-store";
import { BackendDirectoryStore } from "../stacks/coordination/backend-directory";
import type { LeaseHolder } from "../stacks/coordination/store";

import { unrenewed } from "./support/refusal";
const me = os.userInfo().username;
import { currentProcess, liveness, processStartTicks } from "../stacks/operations/process";

describe("stack run lock", function () {
    // One test starts a holder under ts-node, which is slow on a loaded machine.
    this.timeout(300_000);
    let dir: string;
    let ref: StackRef;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-lock-"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: model-canary\nruntime: nodejs\n");
        ref = { stack: "prod", workDir: dir, backendUrl: `file://${path.join(dir, "state")}` };
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** A lock file as another process would have written it. */
    function writeLock(holder: Record<string, unknown>): void {
        fs.mkdirSync(path.dirname(lockFile(ref)), { recursive: true });
        fs.writeFileSync(lockFile(ref), JSON.stringify(holder));
    }

    it("lives in a file backend's directory, where every checkout sharing that state sees it", () => {
        assert.strictEqual(lockFile(ref), path.join(dir, "state", ".model-canary", "locks", "model-canary", "prod.json"));
        assert.strictEqual(lockFile({ ...ref, backendUrl: "s3://bucket/state" }), path.join(dir, ".model-canary", "prod", "run.lock.json"));
    });

    it("holds host, pid, user, process start time, command and lease; a second acquire is refused naming the holder and what to do", async () => {
        const lock = await acquireStackLock(ref, "rollout", { leaseSeconds: 45 });
        try {
            const written = JSON.parse(fs.readFileSync(lockFile(ref), "utf8"));
            assert.deepStrictEqual([written.host, written.pid, written.user, written.startTicks, written.command, written.leaseSeconds], [os.hostname(), process.pid, me, processStartTicks(process.pid), "rollout", 45]);
            assert.match(written.acquiredAt, /^\d{4}-\d\d-\d\dT/);
            await assert.rejects(acquireStackLock(ref, "up"), (e: unknown) => e instanceof StackLockedError
                && unrenewed(e.message) === `stack \`prod\` is held by a running \`rollout\` (pid ${process.pid} on host ${os.hostname()}, user ${me}, since ${written.acquiredAt}); wait for it to finish, or run \`model-canary rollback --stack prod\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, 45s after its last renewal`
                && /, last renewed \d{4}-\d\d-\d\dT[^)]+\)/.test(e.message));
        } finally {
            await lock.release();
        }
        assert.strictEqual(fs.existsSync(lockFile(ref)), false);
        await (await acquireStackLock(ref, "up")).release();
    });

    it("takes over a lock whose process died on this host at once (before its lease expires), with a message naming it, and tells onTakeOver who held it", async () => {
        const gone = spawnSync("true").pid!;
        writeLock({ host: os.hostname(), pid: gone, startTicks: "12345", startedAt: "2026-11-26T10:00:00.000Z", command: "rollout" });
        const messages: string[] = [];
        const tookOver: { pid: number; command: string }[] = [];
        const lock = await acquireStackLock(ref, "rollout", { onMessage: (m) => messages.push(m), onTakeOver: (h) => tookOver.push({ pid: h.pid, command: h.command }) });
        try {
            assert.deepStrictEqual(messages.map(unrenewed), [`model-canary: taking over the lock of stack \`prod\` left by \`rollout\` (pid ${gone} on host ${os.hostname()}, since 2026-11-26T10:00:00.000Z): process ${gone} no longer runs`]);
            // The run's `lease-taken-over` notification comes from this.
            assert.deepStrictEqual(tookOver, [{ pid: gone, command: "rollout" }]);
            assert.strictEqual((await lockHolder(ref))!.pid, process.pid);
        } finally {
            await lock.release();
        }
    });

    it("a reused pid (same pid, another start time) counts as dead", async () => {
        const holder = { host: os.hostname(), pid: process.pid, startTicks: "1", startedAt: "2026-11-26T10:00:00.000Z", command: "rollout" };
        assert.deepStrictEqual(liveness(holder), { state: "dead", reason: `process ${process.pid} no longer runs (that pid now belongs to another process)` });
        writeLock(holder);
        const messages: string[] = [];
        await (await acquireStackLock(ref, "rollout", { onMessage: (m) => messages.push(m) })).release();
        assert.strictEqual(messages.length, 1);
    });

    it("a live lease of a holder on another host is refused naming it; once it is not renewed for its lease it is taken over", async () => {
        writeLock({ host: "ci-runner-7", pid: 4242, user: "ci", acquiredAt: "2026-11-26T10:00:00.000Z", command: "rollout", leaseSeconds: 30 });
        const renewed = new Date(Date.now() - 5_000);
        fs.utimesSync(lockFile(ref), renewed, renewed);
        await assert.rejects(acquireStackLock(ref, "rollout"), {
            message: `stack \`prod\` is held by \`rollout\` (pid 4242 on host ci-runner-7, user ci, since 2026-11-26T10:00:00.000Z, last renewed ${renewed.toISOString()}); wait for it to finish, or run \`model-canary rollback --stack prod\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, 30s after its last renewal`,
        });
        assert.strictEqual((await lockHolder(ref))!.host, "ci-runner-7", "the other host's live lease is left alone");
        // Not renewed for longer than its lease, by the file system's clock (the file's mtime).
        const stale = new Date(Date.now() - 31_000);
        fs.utimesSync(lockFile(ref), stale, stale);
        const messages: string[] = [];
        const lock = await acquireStackLock(ref, "rollout", { onMessage: (m) => messages.push(m) });
        try {
            assert.deepStrictEqual(messages, [`model-canary: taking over the lock of stack \`prod\` left by \`rollout\` (pid 4242 on host ci-runner-7, user ci, since 2026-11-26T10:00:00.000Z, last renewed ${stale.toISOString()}): its lease expired (not renewed within 30s)`]);
            assert.strictEqual((await lockHolder(ref))!.pid, process.pid);
        } finally {
            await lock.release();
        }
    });

    it("rollback pre-empts a holder in another process: SIGTERM, waits for the release, then holds the stack", async () => {
        // A holder that, like `rollout`, stops at a consistent point on SIGTERM and then releases.
        const script = `
            const { acquireStackLock } = require(${JSON.stringify(path.join(__dirname, "..", "stacks", "operations", "lock"))});
            acquireStackLock(${JSON.stringify(ref)}, "rollout").then((lock) => {
                process.stdout.write("held\\n");
                process.on("SIGTERM", () => setTimeout(async () => { await lock.release(); process.stdout.write("released\\n"); process.exit(143); }, 300));
            });
            setInterval(() => {}, 1000);
        `;
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d) => { out += d; });
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        while (!out.includes("held")) await new Promise((resolve) => setTimeout(resolve, 50));
        const messages: string[] = [];
        const lock = await preemptStackLock(ref, "rollback", { onMessage: (m) => messages.push(m) });
        try {
            assert.strictEqual(await exited, 143);
            assert.strictEqual(out, "held\nreleased\n");
            assert.strictEqual((await lockHolder(ref))!.command, "rollback");
            assert.match(messages[0], new RegExp(`^model-canary: stack \`prod\` is held by \`rollout\` \\(pid ${child.pid} on host .*\\); asking it to stop$`));
            assert.strictEqual(fs.existsSync(lockFile(ref).replace(/\.json$/, ".preempt.json")), false, "the request is gone once served");
        } finally {
            await lock.release();
        }
    });

    it("a holder in the same process is not signalled: it sees the request through its `preempted` signal", async () => {
        const held = await acquireStackLock(ref, "rollout", { pollMs: 20 });
        held.preempted.addEventListener("abort", () => void held.release());
        const lock = await preemptStackLock(ref, "rollback");
        try {
            assert.strictEqual(held.preempted.aborted, true);
            assert.match((held.preempted.reason as Error).message, new RegExp(`^pre-empted by \`rollback\` \\(pid ${process.pid} on host `));
            assert.strictEqual((await lockHolder(ref))!.command, "rollback");
        } finally {
            await lock.release();
        }
    });

    it("a holder that does not stop makes rollback fail after its timeout, changing nothing", async () => {
        const held = await acquireStackLock(ref, "rollout");
        try {
            await assert.rejects(preemptStackLock(ref, "rollback", { timeoutMs: 300 }), /^StackLockedError: stack `prod` is still held by `rollout` \(pid \d+ .*\) after 0s of asking it to stop; nothing was changed/);
            assert.strictEqual((await lockHolder(ref))!.command, "rollout");
        } finally {
            await held.release();
        }
        assert.strictEqual(liveness(currentProcess("x")).state, "alive");
    });

    it("gives each model of a `models` stack its own run lock beside the stack's, which the model `model` keeps", async () => {
        assert.strictEqual(lockFile(ref, "model"), lockFile(ref));
        assert.strictEqual(lockFile(ref, "fraud"), path.join(dir, "state", ".model-canary", "locks", "model-canary", "prod@fraud.json"));
        assert.strictEqual(applyLockFile(ref), path.join(dir, "state", ".model-canary", "locks", "model-canary", "prod+apply.json"));
        const fraud = await acquireStackLock(ref, "rollout", { model: "fraud" });
        const churn = await acquireStackLock(ref, "rollout", { model: "churn" });
        try {
            await assert.rejects(acquireStackLock(ref, "promote", { model: "fraud" }), (e: unknown) => e instanceof StackLockedError
                && unrenewed(e.message) === `model \`fraud\` of stack \`prod\` is held by a running \`rollout\` (pid ${process.pid} on host ${os.hostname()}, user ${me}, since ${fraud.holder.startedAt}); wait for it to finish, or run \`model-canary rollback --stack prod --model fraud\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, 60s after its last renewal`);
            assert.deepStrictEqual([(await lockHolder(ref, "fraud"))?.command, (await lockHolder(ref, "churn"))?.command, await lockHolder(ref)], ["rollout", "rollout", undefined]);
        } finally {
            await fraud.release();
            await churn.release();
        }
    });

    it("a backend the checkout cannot share keeps the lock in the checkout, saying once that other runners do not see it", async () => {
        const s3 = { ...ref, backendUrl: "s3://bucket/state?region=eu-west-1" };
        const messages: string[] = [];
        const first = await acquireStackLock(s3, "up", { model: "fraud", onMessage: (m) => messages.push(m) });
        const second = await acquireStackLock(s3, "up", { model: "churn", onMessage: (m) => messages.push(m) });
        try {
            assert.ok(fs.existsSync(path.join(dir, ".model-canary", "prod", "run@fraud.lock.json")));
            assert.deepStrictEqual(messages, ["model-canary: warning: the run lock and rollout record of stack `prod` stay in this checkout (its s3:// backend cannot hold them), so runners elsewhere do not see them; shared: a cluster, a file:// or postgres:// backend (docs/pipelines.md#what-is-locked-where)"]);
        } finally {
            await first.release();
            await second.release();
        }
    });

    it("two clones sharing a file:// backend see one lock and one record: the second is refused, `status`'s record is the first's", async () => {
        // Two checkouts (runners) of one project, one backend directory: each has its own workDir.
        const clone = (name: string) => {
            const d = path.join(dir, name);
            fs.mkdirSync(d);
            fs.writeFileSync(path.join(d, "Pulumi.yaml"), "name: model-canary\nruntime: nodejs\n");
            return { stack: "prod", workDir: d, backendUrl: `file://${path.join(dir, "shared-state")}` };
        };
        const a = clone("runner-a");
        const b = clone("runner-b");
        assert.strictEqual(lockFile(a), lockFile(b));
        const lock = await acquireStackLock(a, "rollout");
        try {
            await assert.rejects(acquireStackLock(b, "rollout"), (e: unknown) => e instanceof StackLockedError && e.holder?.pid === process.pid);
            const store = runStoreFor(a).store;
            await store.writeRecord(runKey(a), JSON.stringify({ stack: "prod", outcome: "running", steps: [], plan: [1, 10] }));
            assert.strictEqual(JSON.parse((await runStoreFor(b).store.readRecord(runKey(b)))!).outcome, "running");
            assert.ok(fs.existsSync(path.join(dir, "shared-state", ".model-canary", "locks", "model-canary", "prod.rollout.json")));
        } finally {
            await lock.release();
        }
    });

    it("the directory store: takeover by rename-check, renewal by the file's mtime, a lost lease returns false", async () => {
        const store = new BackendDirectoryStore(path.join(dir, "locks"));
        const key = { project: "p", stack: "prod", model: "model" };
        const holder = (host: string, pid: number): LeaseHolder => ({ host, pid, user: "ci", command: "rollout", acquiredAt: "", renewedAt: "", leaseSeconds: 2 });
        const a = holder("runner-a", 101);
        const b = holder("runner-b", 202);
        assert.deepStrictEqual(await store.acquire(key, a), { acquired: true });
        const heldByA = (await store.holder(key))!;
        assert.strictEqual(heldByA.acquiredAt, heldByA.renewedAt, "the store stamps both times by its clock");
        const refused = await store.acquire(key, b);
        assert.ok(!refused.acquired && refused.holder.host === "runner-a");
        // A renewal moves the file's mtime (the store's clock), nothing else.
        const past = new Date(Date.now() - 1_500);
        fs.utimesSync(store.fileOf(key), past, past);
        assert.strictEqual(await store.renew(key, a), true);
        assert.ok(Date.parse((await store.holder(key))!.renewedAt) > past.getTime());
        assert.strictEqual((await store.holder(key))!.acquiredAt, heldByA.acquiredAt);
        // `replacing` the exact holder takes it over at once; another runner's renewal then fails.
        const taken = await store.acquire(key, b, { replacing: heldByA });
        assert.ok(taken.acquired && taken.tookOverFrom?.host === "runner-a");
        assert.strictEqual(await store.renew(key, a), false);
        await store.release(key, a);
        assert.strictEqual((await store.holder(key))!.host, "runner-b", "a release by a runner that lost the lease leaves the new holder's");
        // Expired by the file's mtime: a third runner takes it over without `replacing`.
        const stale = new Date(Date.now() - 3_000);
        fs.utimesSync(store.fileOf(key), stale, stale);
        const c = holder("runner-c", 303);
        const third = await store.acquire(key, c);
        assert.ok(third.acquired && third.tookOverFrom?.host === "runner-b");
        await store.requestPreemption(key, a);
        assert.strictEqual((await store.preemption(key))?.host, "runner-a");
        await store.clearPreemption(key, a);
        assert.strictEqual(await store.preemption(key), undefined);
        assert.deepStrictEqual(fs.readdirSync(path.join(dir, "locks", "p")), ["prod.json"], "no temp or moved-aside file is left");
    });

    it("a lease that is lost while held aborts the holder like a pre-emption, with a clear message", async () => {
        const held = await acquireStackLock(ref, "rollout", { leaseSeconds: 1, pollMs: 20 });
        // Another runner takes the lock over (as after an expiry the holder missed).
        fs.rmSync(lockFile(ref));
        const other = new BackendDirectoryStore(path.join(dir, "state", ".model-canary", "locks"));
        assert.ok((await other.acquire(runKey(ref), { host: "runner-b", pid: 7, user: "ci", command: "rollout", acquiredAt: "", renewedAt: "", leaseSeconds: 60 })).acquired);
        while (!held.preempted.aborted) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.strictEqual((held.preempted.reason as Error).message, "stopped: the run lock of stack `prod` was lost (its lease of 1s expired before it was renewed, and another command took it over)");
        await held.release();
        assert.strictEqual((await lockHolder(ref))!.host, "runner-b");
    });

    it("the apply lock makes a second `up` wait for a live holder (no refusal), and is re-entrant in one process", async () => {
        const stack = { name: "prod", workspace: { workDir: dir, envVars: { PULUMI_BACKEND_URL: ref.backendUrl } } } as unknown as auto.Stack;
        const holder = spawn("sleep", ["2"]);
        const startTicks = processStartTicks(holder.pid!);
        fs.mkdirSync(path.dirname(applyLockFile(ref)), { recursive: true });
        fs.writeFileSync(applyLockFile(ref), JSON.stringify({ host: os.hostname(), pid: holder.pid, startTicks, startedAt: new Date().toISOString(), command: "rollout" }));
        const exited = new Promise((resolve) => holder.on("exit", resolve));
        const messages: string[] = [];
        let ranWhileHolderRan: boolean | undefined;
        const result = await withApplyLock(stack, "up", async () => {
            ranWhileHolderRan = processStartTicks(holder.pid!) === startTicks;
            // A rollback inside a rollout's step (same process) does not wait for itself.
            return withApplyLock(stack, "rollback", async () => "applied");
        }, { onMessage: (m) => messages.push(m) });
        await exited;
        assert.strictEqual(result, "applied");
        assert.strictEqual(ranWhileHolderRan, false, "the action ran only once the holder had ended");
        assert.match(messages[0], new RegExp(`^model-canary: waiting for \`rollout\` \\(pid ${holder.pid} on host [^ ]+, started [^)]+\\) to finish applying stack \`prod\`$`));
        assert.match(messages[1], /^model-canary: taking over the lock of stack `prod` left by `rollout` .*no longer runs/);
        assert.strictEqual(fs.existsSync(applyLockFile(ref)), false, "released afterwards");
    });
});

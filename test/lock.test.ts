// The stack run lock (stacks/operations/lock.ts) with real processes: a holder in another process, one that
// died, a reused pid, and a rollback pre-empting a holder.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackRef } from "../stacks/operations/automation";
import type * as auto from "@pulumi/pulumi/automation";
import { acquireStackLock, applyLockFile, lockFile, lockHolder, preemptStackLock, StackLockedError, withApplyLock } from "../stacks/operations/lock";
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

    it("holds host, pid, process start time and command; a second acquire is refused naming the holder", () => {
        const lock = acquireStackLock(ref, "rollout");
        try {
            const written = JSON.parse(fs.readFileSync(lockFile(ref), "utf8"));
            assert.deepStrictEqual([written.host, written.pid, written.startTicks, written.command], [os.hostname(), process.pid, processStartTicks(process.pid), "rollout"]);
            assert.match(written.startedAt, /^\d{4}-\d\d-\d\dT/);
            assert.throws(() => acquireStackLock(ref, "up"), (e: unknown) => e instanceof StackLockedError
                && e.message === `stack \`prod\` is held by a running \`rollout\` (pid ${process.pid} on host ${os.hostname()}, started ${written.startedAt}); wait for it to finish, or run \`model-canary rollback --stack prod\` to stop it and send all traffic to stable`);
        } finally {
            lock.release();
        }
        assert.strictEqual(fs.existsSync(lockFile(ref)), false);
        acquireStackLock(ref, "up").release();
    });

    it("takes over a lock whose process died, with a message naming it, and tells onTakeOver who held it", () => {
        const gone = spawnSync("true").pid!;
        writeLock({ host: os.hostname(), pid: gone, startTicks: "12345", startedAt: "2026-11-26T10:00:00.000Z", command: "rollout" });
        const messages: string[] = [];
        const tookOver: { pid: number; command: string }[] = [];
        const lock = acquireStackLock(ref, "rollout", { onMessage: (m) => messages.push(m), onTakeOver: (h) => tookOver.push({ pid: h.pid, command: h.command }) });
        try {
            assert.deepStrictEqual(messages, [`model-canary: taking over the lock of stack \`prod\` left by \`rollout\` (pid ${gone} on host ${os.hostname()}, started 2026-11-26T10:00:00.000Z): process ${gone} no longer runs`]);
            // The run's `lease-taken-over` notification comes from this.
            assert.deepStrictEqual(tookOver, [{ pid: gone, command: "rollout" }]);
            assert.strictEqual(lockHolder(ref)!.pid, process.pid);
        } finally {
            lock.release();
        }
    });

    it("a reused pid (same pid, another start time) counts as dead", () => {
        const holder = { host: os.hostname(), pid: process.pid, startTicks: "1", startedAt: "2026-11-26T10:00:00.000Z", command: "rollout" };
        assert.deepStrictEqual(liveness(holder), { state: "dead", reason: `process ${process.pid} no longer runs (that pid now belongs to another process)` });
        writeLock(holder);
        const messages: string[] = [];
        acquireStackLock(ref, "rollout", { onMessage: (m) => messages.push(m) }).release();
        assert.strictEqual(messages.length, 1);
    });

    it("a holder on another host is not guessed about: refused, naming it and the file to remove", () => {
        writeLock({ host: "ci-runner-7", pid: 4242, startedAt: "2026-11-26T10:00:00.000Z", command: "rollout" });
        assert.throws(() => acquireStackLock(ref, "rollout"), {
            message: `stack \`prod\` is held by \`rollout\` (pid 4242 on host ci-runner-7, started 2026-11-26T10:00:00.000Z); it runs on host ci-runner-7, which this machine cannot check: wait for it, or, once you know it has ended, remove ${lockFile(ref)}`,
        });
        assert.strictEqual(lockHolder(ref)!.host, "ci-runner-7", "the other host's lock is left alone");
    });

    it("rollback pre-empts a holder in another process: SIGTERM, waits for the release, then holds the stack", async () => {
        // A holder that, like `rollout`, stops at a consistent point on SIGTERM and then releases.
        const script = `
            const { acquireStackLock } = require(${JSON.stringify(path.join(__dirname, "..", "stacks", "operations", "lock"))});
            const lock = acquireStackLock(${JSON.stringify(ref)}, "rollout");
            process.stdout.write("held\\n");
            process.on("SIGTERM", () => setTimeout(() => { lock.release(); process.stdout.write("released\\n"); process.exit(143); }, 300));
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
            assert.strictEqual(lockHolder(ref)!.command, "rollback");
            assert.match(messages[0], new RegExp(`^model-canary: stack \`prod\` is held by \`rollout\` \\(pid ${child.pid} on host .*\\); asking it to stop$`));
            assert.strictEqual(fs.existsSync(lockFile(ref).replace(/\.json$/, ".preempt.json")), false, "the request is gone once served");
        } finally {
            lock.release();
        }
    });

    it("a holder in the same process is not signalled: it sees the request through its `preempted` signal", async () => {
        const held = acquireStackLock(ref, "rollout", { pollMs: 20 });
        held.preempted.addEventListener("abort", () => held.release());
        const lock = await preemptStackLock(ref, "rollback");
        try {
            assert.strictEqual(held.preempted.aborted, true);
            assert.match((held.preempted.reason as Error).message, new RegExp(`^pre-empted by \`rollback\` \\(pid ${process.pid} on host `));
            assert.strictEqual(lockHolder(ref)!.command, "rollback");
        } finally {
            lock.release();
        }
    });

    it("a holder that does not stop makes rollback fail after its timeout, changing nothing", async () => {
        const held = acquireStackLock(ref, "rollout");
        try {
            await assert.rejects(preemptStackLock(ref, "rollback", { timeoutMs: 300 }), /^StackLockedError: stack `prod` is still held by `rollout` \(pid \d+ .*\) after 0s of asking it to stop; nothing was changed/);
            assert.strictEqual(lockHolder(ref)!.command, "rollout");
        } finally {
            held.release();
        }
        assert.strictEqual(liveness(currentProcess("x")).state, "alive");
    });

    it("gives each model of a `models` stack its own run lock beside the stack's, which the model `model` keeps", () => {
        assert.strictEqual(lockFile(ref, "model"), lockFile(ref));
        assert.strictEqual(lockFile(ref, "fraud"), path.join(dir, "state", ".model-canary", "locks", "model-canary", "prod@fraud.json"));
        assert.strictEqual(applyLockFile(ref), path.join(dir, "state", ".model-canary", "locks", "model-canary", "prod+apply.json"));
        const fraud = acquireStackLock(ref, "rollout", { model: "fraud" });
        const churn = acquireStackLock(ref, "rollout", { model: "churn" });
        try {
            assert.throws(() => acquireStackLock(ref, "promote", { model: "fraud" }), (e: unknown) => e instanceof StackLockedError
                && e.message === `model \`fraud\` of stack \`prod\` is held by a running \`rollout\` (pid ${process.pid} on host ${os.hostname()}, started ${fraud.holder.startedAt}); wait for it to finish, or run \`model-canary rollback --stack prod --model fraud\` to stop it and send all traffic to stable`);
            assert.deepStrictEqual([lockHolder(ref, "fraud")?.command, lockHolder(ref, "churn")?.command, lockHolder(ref)], ["rollout", "rollout", undefined]);
        } finally {
            fraud.release();
            churn.release();
        }
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

// Pulumi's own lock of a stack in a file backend (stacks/operations/backend-lock.ts): the holder judged from
// /proc (pure part), and through the real engine, the lock a `kill -9` mid-`up` leaves behind,
// taken over by the next `up` with a message, while a live holder's lock is never touched.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describeBackendLock, judgeHolder, lockFilePath, parseBackendLocks } from "../stacks/operations/backend-lock";
import { openStack, previewStack, StackOperationError, upStack } from "../stacks/operations/automation";
import { processStartedAt } from "../stacks/operations/process";
import { killedUp, killLeftoversIn, makeProject, runPulumi, TestProject } from "./support/engine";

describe("Pulumi's backend lock: judging its holder (pure)", () => {
    const at = "2026-11-26T21:00:00Z";
    const here = os.hostname();
    const rows: [string, { host: string; pid: number; at: string }, Date | undefined, ReturnType<typeof judgeHolder>][] = [
        ["a pid that runs nothing is dead", { host: here, pid: 4242, at }, undefined, { state: "dead", reason: "process 4242 no longer runs" }],
        ["a pid now held by a process started after the lock was reused: dead", { host: here, pid: 4242, at }, new Date("2026-11-26T21:00:02.010Z"), {
            state: "dead", reason: "process 4242 no longer runs (that pid now belongs to a process started at 2026-11-26T21:00:02.010Z, after the lock was taken)",
        }],
        ["a pid held by a process started before the lock is the holder: alive", { host: here, pid: 4242, at }, new Date("2026-11-26T20:59:58Z"), { state: "alive" }],
        ["within the 2 s slack of the boot time's seconds, alive", { host: here, pid: 4242, at }, new Date("2026-11-26T21:00:02Z"), { state: "alive" }],
        ["another host is never guessed about, whatever runs here", { host: "ci-runner-7", pid: 4242, at }, undefined, { state: "unknown", reason: "it runs on host ci-runner-7, which this machine cannot check" }],
        ["a timestamp that is not a time cannot be checked", { host: here, pid: 4242, at: "yesterday" }, undefined, { state: "unknown", reason: 'the lock names pid 4242 at "yesterday", which cannot be checked' }],
        ["pid 0 cannot be checked", { host: here, pid: 0, at }, undefined, { state: "unknown", reason: 'the lock names pid 0 at "2026-11-26T21:00:00Z", which cannot be checked' }],
    ];
    for (const [what, lock, startedAt, want] of rows) {
        it(what, () => assert.deepStrictEqual(judgeHolder(lock, { hostname: here, startedAt }), want));
    }

    it("reads each lock of the engine's refusal once (the engine prints its error twice), with its file", () => {
        const message = [
            "error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
            "  file:///tmp/state%20dir/.pulumi/locks/organization/model-canary/dev/5b0c7d7e.json: created by ci@runner-1 (pid 311) at 2026-11-26T21:00:00Z",
            "  s3://bucket/.pulumi/locks/organization/model-canary/dev/77aa.json: created by ops@runner-2 (pid 12) at 2026-11-26T21:00:01Z",
            "error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
            "  file:///tmp/state%20dir/.pulumi/locks/organization/model-canary/dev/5b0c7d7e.json: created by ci@runner-1 (pid 311) at 2026-11-26T21:00:00Z",
        ].join("\n");
        assert.deepStrictEqual(parseBackendLocks(message), [
            { url: "file:///tmp/state%20dir/.pulumi/locks/organization/model-canary/dev/5b0c7d7e.json", user: "ci", host: "runner-1", pid: 311, at: "2026-11-26T21:00:00Z" },
            { url: "s3://bucket/.pulumi/locks/organization/model-canary/dev/77aa.json", user: "ops", host: "runner-2", pid: 12, at: "2026-11-26T21:00:01Z" },
        ]);
        assert.strictEqual(lockFilePath("file:///tmp/state%20dir/.pulumi/locks/organization/model-canary/dev/5b0c7d7e.json"), "/tmp/state dir/.pulumi/locks/organization/model-canary/dev/5b0c7d7e.json");
        assert.strictEqual(lockFilePath("s3://bucket/.pulumi/locks/x.json"), undefined);
    });

    it("a dead holder's lock in another kind of backend is left to `pulumi cancel`: this machine cannot remove it", () => {
        const message = `  s3://bucket/.pulumi/locks/organization/model-canary/dev/77aa.json: created by ops@${here} (pid 2147483646) at 2026-11-26T21:00:01Z`;
        assert.strictEqual(describeBackendLock(message, "dev"), `stack \`dev\` is locked by another update (pid 2147483646 on host ${here}, since 2026-11-26T21:00:01Z: process 2147483646 no longer runs, so its lock is left over; run \`pulumi cancel --stack dev\` (with the same backend) to remove it, then retry)`);
    });
});

const config = {
    stable: { version: "v1", image: "registry/ranker:v1", replicas: 2 },
    canary: { version: "v2", image: "registry/ranker:v2", replicas: 2 },
};

/** The stack's lock directory in the file backend, as the engine lays it out (`<org>/<project>/<stack>`). */
function lockDir(project: TestProject): string {
    return path.join(new URL(project.ref.backendUrl!).pathname, ".pulumi", "locks", "organization", "model-canary", project.ref.stack);
}

function lockFiles(project: TestProject): string[] {
    const dir = lockDir(project);
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => path.join(dir, f)) : [];
}

/** Whether the program runs: a language host (which the engine starts for the update) with its working directory in the project. */
function programRunning(project: TestProject): boolean {
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        try {
            if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("pulumi-language") && fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(project.dir)) return true;
        } catch {
            // gone, or not ours to read
        }
    }
    return false;
}

/**
 * An `up` SIGKILLed (engine included) once the engine holds its lock and runs the program: mid-`up`.
 * The program runs under the language host here (MODEL_CANARY_INLINE=false), which is how this
 * test sees it running; the inline path's kill is test/rollout.test.ts's crash test.
 */
function killedMidUp(project: TestProject): Promise<void> {
    return killedUp(project, () => lockFiles(project).length > 0 && programRunning(project), { env: { MODEL_CANARY_INLINE: "false" } });
}

describe("Pulumi's backend lock left by `kill -9` mid-`up` (real engine, render mode)", function () {
    this.timeout(300_000);
    let project: TestProject;
    before(async () => {
        project = makeProject("locked");
        project.writeConfig({ ...config, canaryWeight: 10 });
        await upStack(await openStack(project.ref, { create: true }), { onMessage: (m) => assert.fail(`unexpected message: ${m}`) });
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
    });
    after(() => {
        if (project) killLeftoversIn(project.dir);
        project?.remove();
    });

    it("the engine's lock of a killed `up` fails a plain `pulumi up`; the next `up` takes it over, names the dead pid and the file, and applies", async () => {
        project.writeConfig({ ...config, canaryWeight: 50 });
        await killedMidUp(project);
        killLeftoversIn(project.dir);
        const [file, ...others] = lockFiles(project);
        assert.ok(file !== undefined && others.length === 0, `one lock left, got ${JSON.stringify(lockFiles(project))}`);
        const lock = JSON.parse(fs.readFileSync(file, "utf8")) as { pid: number; hostname: string; timestamp: string };
        assert.strictEqual(lock.hostname, os.hostname());
        // SIGKILL is sent to the whole group at once, but a loaded machine may take a moment to
        // finish tearing the CLI down: wait for the kernel to say it has ended (a zombie counts).
        for (let waited = 0; processStartedAt(lock.pid) !== undefined && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
        assert.strictEqual(processStartedAt(lock.pid), undefined, `the killed CLI (pid ${lock.pid}) still runs 10 s after SIGKILL`);

        // What Pulumi itself does with it: every update refuses until someone removes it.
        const plain = runPulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(plain.status, 0);
        assert.match(plain.output, /the stack is currently locked by 1 lock\(s\)/);

        const messages: string[] = [];
        const stack = await openStack(project.ref);
        const result = await upStack(stack, { onMessage: (m) => messages.push(m) });
        assert.deepStrictEqual(messages, [
            `model-canary: removed Pulumi's lock of stack \`locked\` left by pid ${lock.pid} on host ${os.hostname()} (since ${lock.timestamp.replace(/\.\d+(?=Z|[+-])/, "")}), which ended without releasing it: process ${lock.pid} no longer runs; the lock was ${file}`,
        ]);
        assert.deepStrictEqual(lockFiles(project), []);
        // Nothing of the lock is left, as after Pulumi's own unlock: its `.attrs` sidecar went with it.
        assert.deepStrictEqual(fs.readdirSync(lockDir(project)), []);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 50, v2: 50 });
        assert.strictEqual((result.outputs.split as Record<string, number>).v2, 50);
        assert.deepStrictEqual((await previewStack(stack)).changes, { same: 8 });
    });

    it("a live holder's lock is never touched: the refusal names it and nothing is applied", async () => {
        project.writeConfig({ ...config, canaryWeight: 60 });
        fs.mkdirSync(lockDir(project), { recursive: true });
        const file = path.join(lockDir(project), "0f6e2c1a-live.json");
        const at = new Date(Math.floor(Date.now() / 1000) * 1000);
        fs.writeFileSync(file, JSON.stringify({ pid: process.pid, username: "pipeline", hostname: os.hostname(), timestamp: at.toISOString() }));
        try {
            const messages: string[] = [];
            await assert.rejects(upStack(await openStack(project.ref), { onMessage: (m) => messages.push(m) }), (e: unknown) => {
                assert.ok(e instanceof StackOperationError);
                assert.strictEqual(e.kind, "concurrent-update");
                assert.strictEqual(e.message, `stack \`locked\` is locked by another update (pid ${process.pid} on host ${os.hostname()}, since ${at.toISOString().replace(".000Z", "Z")}: it is running; wait for it to finish)`);
                return true;
            });
            assert.deepStrictEqual(messages, []);
            assert.ok(fs.existsSync(file));
            assert.deepStrictEqual(project.renderedSplit(), { v1: 50, v2: 50 });
        } finally {
            fs.rmSync(file, { force: true });
        }
    });

    it("a lock whose pid now belongs to a process started after it (a reused pid) is taken over", async () => {
        project.writeConfig({ ...config, canaryWeight: 60 });
        fs.mkdirSync(lockDir(project), { recursive: true });
        const file = path.join(lockDir(project), "9d1b7e3f-reused.json");
        // This process started after that lock was taken, so it cannot be its holder.
        const taken = new Date(processStartedAt(process.pid)!.getTime() - 3600_000);
        fs.writeFileSync(file, JSON.stringify({ pid: process.pid, username: "pipeline", hostname: os.hostname(), timestamp: taken.toISOString() }));
        const messages: string[] = [];
        await upStack(await openStack(project.ref), { onMessage: (m) => messages.push(m) });
        assert.strictEqual(messages.length, 1, JSON.stringify(messages));
        assert.ok(messages[0].startsWith(`model-canary: removed Pulumi's lock of stack \`locked\` left by pid ${process.pid} on host ${os.hostname()}`), messages[0]);
        assert.ok(messages[0].includes(`process ${process.pid} no longer runs (that pid now belongs to a process started at ${processStartedAt(process.pid)!.toISOString()}, after the lock was taken); the lock was ${file}`), messages[0]);
        assert.ok(!fs.existsSync(file));
        assert.deepStrictEqual(project.renderedSplit(), { v1: 40, v2: 60 });
    });
});

// One run per stack. `rollout` holds the stack for its whole run (minutes, many `up`s), which
// Pulumi's own backend lock (held for one `up` at a time) cannot express: without this, a second
// rollout moves the weight while the first analyses. `up` and `promote` take the same lock for
// their one operation; `rollback` pre-empts whoever holds it.
//
// Where: for a local (`file://`) backend the lock lives in the backend's directory
// (`<backend>/.model-canary/locks/<project>/<stack>.json`), so every checkout that shares that
// state sees it; for any other backend, in the project (`.model-canary/<stack>/run.lock.json`),
// which makes runs from one checkout exclusive (a cloud backend's own lock still keeps two `up`s
// apart). The file is created complete and atomically: written to a temp file, then hard-linked
// into place, which fails when the file exists (the same exclusive create as O_EXCL, without a
// moment where the file exists but is empty).
//
// A holder that died (same host, pid gone or reused) is taken over with a message. A holder on
// another host cannot be checked: the refusal names it and the file to remove once it is gone.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import type * as auto from "@pulumi/pulumi/automation";
import { backendFor, refOf, StackOperationError, StackRef, workDirOf } from "./automation";
import { shorthandModel } from "../config/models";
import { currentProcess, describeProcess, liveness, ProcessIdentity } from "./process";

export class StackLockedError extends StackOperationError {
    constructor(message: string, public readonly holder?: ProcessIdentity) {
        super("concurrent-update", message);
        this.name = "StackLockedError";
    }
}

/**
 * Where a run lock lives (see the module comment). The model named `model` (the shorthand's, or a
 * `models` entry of that name) uses the stack's own lock, as before `models` existed; any other
 * model has its own beside it (`<stack>@<model>.json`), so two models' rollouts run at once.
 */
export function lockFile(ref: StackRef, model?: string): string {
    const suffix = model === undefined || model === shorthandModel ? "" : `@${model}`;
    return lockPath(ref, suffix);
}

/** The stack's apply lock: held for one config edit and its `up`, so two models' steps take turns. */
export function applyLockFile(ref: StackRef): string {
    return lockPath(ref, "+apply");
}

function lockPath(ref: StackRef, suffix: string): string {
    const workDir = workDirOf(ref);
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");
    const url = backendFor(ref).url;
    if (url.startsWith("file://")) {
        const dir = url.slice("file://".length).replace(/\?.*$/, "").replace(/^~(?=\/|$)/, os.homedir());
        return path.join(path.resolve(workDir, dir), ".model-canary", "locks", safe(projectName(workDir)), `${safe(ref.stack)}${suffix}.json`);
    }
    return path.join(workDir, ".model-canary", safe(ref.stack), `run${suffix}.lock.json`);
}

function projectName(workDir: string): string {
    try {
        const name = YAML.parse(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"))?.name;
        return typeof name === "string" && name !== "" ? name : "project";
    } catch {
        return "project";
    }
}

function readHolder(file: string): ProcessIdentity | undefined {
    try {
        const h = JSON.parse(fs.readFileSync(file, "utf8"));
        return typeof h?.pid === "number" && typeof h?.host === "string" ? h as ProcessIdentity : undefined;
    } catch {
        return undefined;
    }
}

/** The process holding a model's run lock (the stack's, for the model `model`), if any, whether it still runs or not. */
export function lockHolder(ref: StackRef, model?: string): ProcessIdentity | undefined {
    return readHolder(lockFile(ref, model));
}

/** Every run lock of the stack's models that a process holds (alive or not), by model name. */
export function lockHolders(ref: StackRef, models: readonly string[]): { model: string; holder: ProcessIdentity }[] {
    return models.flatMap((model) => {
        const holder = lockHolder(ref, model);
        return holder ? [{ model, holder }] : [];
    });
}

/** A pre-emption request: the `rollback` that asks the holder to stop. */
function markerFile(file: string): string {
    return file.replace(/\.json$/, ".preempt.json");
}

export interface StackLock {
    readonly file: string;
    readonly holder: ProcessIdentity;
    /** Aborts when a `rollback` asks this holder to stop; its reason names the rollback. */
    readonly preempted: AbortSignal;
    /** Removes the lock (only if it is still ours). Idempotent. */
    release(): void;
}

interface AcquireOptions {
    /** The model whose run lock to take (see `lockFile`). Default: the stack's own. */
    model?: string;
    /** Told when a dead holder's lock is taken over. */
    onMessage?: (message: string) => void;
    /** Called with the dead holder whose lock was taken over (a notification's `lease-taken-over`). */
    onTakeOver?: (holder: ProcessIdentity) => void;
    /** How often the holder looks for a pre-emption request. Default 200 ms. */
    pollMs?: number;
}

/**
 * Takes the stack's run lock for `command`, or throws StackLockedError naming the holder. A lock
 * left by a process that no longer runs is taken over (with a message).
 */
export function acquireStackLock(ref: StackRef, command: string, options: AcquireOptions = {}): StackLock {
    return acquireFile(lockFile(ref, options.model), ref, command, options);
}

/** What a lock is called in messages: `stack `prod`` or `model `fraud` of stack `prod``. */
function subject(ref: StackRef, model: string | undefined): string {
    return model === undefined || model === shorthandModel ? `stack \`${ref.stack}\`` : `model \`${model}\` of stack \`${ref.stack}\``;
}

function acquireFile(file: string, ref: StackRef, command: string, options: AcquireOptions): StackLock {
    const what = subject(ref, options.model);
    const modelFlag = options.model === undefined || options.model === shorthandModel ? "" : ` --model ${options.model}`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const me = currentProcess(command);
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(me, null, 2)}\n`);
    try {
        for (let attempt = 0; ; attempt++) {
            try {
                fs.linkSync(temp, file);
                return holding(file, me, options.pollMs ?? 200);
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 5) throw e;
            }
            const holder = readHolder(file);
            if (!holder) {
                // Written by something else than this tool, or damaged: never guess.
                throw new StackLockedError(`${what} is locked by ${file}, which does not name a process; if no model-canary command is running on it, remove that file`);
            }
            const state = liveness(holder);
            if (state.state === "alive") {
                throw new StackLockedError(`${what} is held by a running \`${holder.command}\` (${describeProcess(holder)}); wait for it to finish, or run \`model-canary rollback --stack ${ref.stack}${modelFlag}\` to stop it and send all traffic to stable`, holder);
            }
            if (state.state === "unknown") {
                throw new StackLockedError(`${what} is held by \`${holder.command}\` (${describeProcess(holder)}); ${state.reason}: wait for it, or, once you know it has ended, remove ${file}`, holder);
            }
            takeOver(file, holder);
            options.onMessage?.(`model-canary: taking over the lock of ${what} left by \`${holder.command}\` (${describeProcess(holder)}): ${state.reason}`);
            options.onTakeOver?.(holder);
        }
    } finally {
        fs.rmSync(temp, { force: true });
    }
}

/** Removes a dead holder's lock, unless another process replaced it meanwhile. */
function takeOver(file: string, dead: ProcessIdentity): void {
    const aside = `${file}.${process.pid}.stale`;
    try {
        fs.renameSync(file, aside);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // someone else took it over first
        throw e;
    }
    const moved = readHolder(aside);
    if (moved && (moved.pid !== dead.pid || moved.host !== dead.host || moved.startTicks !== dead.startTicks)) {
        // A live process took it over between our read and our rename: put its lock back.
        try {
            fs.linkSync(aside, file);
        } catch {
            // a third process holds it now; ours stays refused on the next attempt
        }
    }
    fs.rmSync(aside, { force: true });
}

function holding(file: string, me: ProcessIdentity, pollMs: number): StackLock {
    const controller = new AbortController();
    const marker = markerFile(file);
    const timer = setInterval(() => {
        const by = readHolder(marker);
        if (by && liveness(by).state !== "dead") controller.abort(new Error(`pre-empted by \`${by.command}\` (${describeProcess(by)})`));
    }, pollMs);
    timer.unref();
    let released = false;
    return {
        file,
        holder: me,
        preempted: controller.signal,
        release() {
            if (released) return;
            released = true;
            clearInterval(timer);
            const now = readHolder(file);
            if (now && now.pid === me.pid && now.host === me.host && now.startedAt === me.startedAt) fs.rmSync(file, { force: true });
        },
    };
}

export interface PreemptOptions extends AcquireOptions {
    /** How long to wait for the holder to stop. Default 120 s (a running `up` finishes first). */
    timeoutMs?: number;
    /** Sends the holder SIGTERM when it runs on this host (default true). */
    signalHolder?: boolean;
}

/**
 * Takes the stack's lock even while another command holds it: asks the holder to stop (a
 * pre-emption request it polls, and SIGTERM when it runs on this host in another process), waits
 * for it to release the lock, then takes it. For `rollback`, which must always get through.
 */
export async function preemptStackLock(ref: StackRef, command: string, options: PreemptOptions = {}): Promise<StackLock> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const file = lockFile(ref, options.model);
    const what = subject(ref, options.model);
    const marker = markerFile(file);
    const deadline = Date.now() + timeoutMs;
    let asked: ProcessIdentity | undefined;
    try {
        for (;;) {
            try {
                const lock = acquireStackLock(ref, command, options);
                fs.rmSync(marker, { force: true });
                return lock;
            } catch (e) {
                if (!(e instanceof StackLockedError) || !e.holder) throw e;
                const holder = e.holder;
                if (!asked || asked.pid !== holder.pid || asked.startedAt !== holder.startedAt) {
                    asked = holder;
                    fs.mkdirSync(path.dirname(marker), { recursive: true });
                    const temp = `${marker}.${process.pid}.tmp`;
                    fs.writeFileSync(temp, `${JSON.stringify(currentProcess(command), null, 2)}\n`);
                    fs.renameSync(temp, marker);
                    options.onMessage?.(`model-canary: ${what} is held by \`${holder.command}\` (${describeProcess(holder)}); asking it to stop`);
                    if (options.signalHolder !== false && holder.host === os.hostname() && holder.pid !== process.pid) {
                        try {
                            process.kill(holder.pid, "SIGTERM");
                        } catch {
                            // it ended meanwhile: the next attempt takes the lock over
                        }
                    }
                }
                if (Date.now() >= deadline) {
                    throw new StackLockedError(`${what} is still held by \`${holder.command}\` (${describeProcess(holder)}) after ${Math.round(timeoutMs / 1000)}s of asking it to stop; nothing was changed. Stop that process, then run \`${command}\` again`, holder);
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        }
    } finally {
        // A request left behind would stop the next holder: it only ever targets this attempt.
        if (asked) {
            const by = readHolder(marker);
            if (by && by.pid === process.pid && by.host === os.hostname()) fs.rmSync(marker, { force: true });
        }
    }
}

// Apply locks this process holds, by file, with how many callers hold each: a rollback inside a
// rollout's step (same process) must not wait for itself.
const applying = new Map<string, { lock: StackLock; depth: number }>();

/**
 * Runs `action` (a config edit and its `up`) holding the stack's apply lock, waiting while another
 * command holds it for its own edit and `up`: two models' rollouts on one stack take turns per
 * step instead of failing on the engine's lock, and their edits of Pulumi.<stack>.yaml never
 * interleave. A dead holder's lock is taken over; a holder on another host is waited for up to
 * `timeoutMs` (default 30 min: a first `up` against a cluster can take minutes).
 */
export async function withApplyLock<T>(stack: auto.Stack, command: string, action: () => Promise<T>, options: AcquireOptions & { timeoutMs?: number } = {}): Promise<T> {
    const ref = refOf(stack);
    const file = applyLockFile(ref);
    const mine = applying.get(file);
    if (mine) {
        mine.depth++;
        try {
            return await action();
        } finally {
            mine.depth--;
        }
    }
    const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
    let told = false;
    let lock: StackLock;
    for (;;) {
        try {
            lock = acquireFile(file, ref, command, { onMessage: options.onMessage });
            break;
        } catch (e) {
            if (!(e instanceof StackLockedError) || !e.holder || Date.now() >= deadline) throw e;
            if (!told) {
                told = true;
                options.onMessage?.(`model-canary: waiting for \`${e.holder.command}\` (${describeProcess(e.holder)}) to finish applying stack \`${ref.stack}\``);
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }
    applying.set(file, { lock, depth: 1 });
    try {
        return await action();
    } finally {
        applying.delete(file);
        lock.release();
    }
}

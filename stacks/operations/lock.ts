// One run per stack and model. `rollout` holds the model for its whole run (minutes, many `up`s),
// which Pulumi's own backend lock (held for one `up` at a time) cannot express: without this, a
// second rollout moves the weight while the first analyses. `up` and `promote` take the same lock
// for their one operation; `rollback` pre-empts whoever holds it.
//
// Where: in the stack's coordination store (stacks/operations/run-store.ts): a `file://` backend's
// directory, which every checkout sharing that state sees, else the checkout itself. The lock is a
// lease: its holder renews it while it runs (every third of the lease) and a holder whose lease
// expired, by the store's clock, is taken over by the next command. A holder on this host whose
// process provably ended is taken over at once (`replacing`), without waiting for the expiry.
// A holder that loses its lease (not renewed in time, taken over) stops like a pre-empted one.
//
// The apply lock (one config edit and its `up`, so two models' steps take turns) stays a plain
// file: it is held for one `up`, which Pulumi's backend lock already keeps apart across machines.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as auto from "@pulumi/pulumi/automation";
import { refOf, StackOperationError, StackRef, workDirOf } from "./automation";
import { shorthandModel } from "../config/models";
import type { StackConfig } from "../config/config";
import { CoordinationStoreError, LeaseHolder } from "../coordination/store";
import { BackendDirectoryStore } from "../coordination/backend-directory";
import { currentProcess, describeProcess, liveness, ProcessIdentity } from "./process";
import { fileBackendDir, leaseSeconds, projectName, RunStore, runStoreFor } from "./run-store";

export class StackLockedError extends StackOperationError {
    constructor(message: string, public readonly holder?: RunHolder) {
        super("concurrent-update", message);
        this.name = "StackLockedError";
    }
}

/** A run lock's holder: its process, and its lease as the store keeps it. */
export type RunHolder = ProcessIdentity & Partial<Pick<LeaseHolder, "user" | "acquiredAt" | "renewedAt" | "leaseSeconds">>;

/** A holder as messages and `status` show it: `startedAt` is when it took the lease. */
function runHolder(h: LeaseHolder): RunHolder {
    return { host: h.host, pid: h.pid, ...(h.startTicks !== undefined ? { startTicks: h.startTicks } : {}), startedAt: h.acquiredAt, command: h.command, user: h.user, acquiredAt: h.acquiredAt, renewedAt: h.renewedAt, leaseSeconds: h.leaseSeconds };
}

/** "pid 1234 on host ci-1, user ci, since 2026-..., last renewed 2026-..." */
export function describeHolder(h: RunHolder): string {
    const user = h.user ? `, user ${h.user}` : "";
    const renewed = h.renewedAt ? `, last renewed ${h.renewedAt}` : "";
    return `pid ${h.pid} on host ${h.host}${user}, since ${h.startedAt}${renewed}`;
}

/**
 * Where a run lock lives in a directory store (see stacks/operations/run-store.ts). The model named
 * `model` (the shorthand's, or a `models` entry of that name) uses the stack's own lock, as before
 * `models` existed; any other model has its own beside it (`<stack>@<model>.json`), so two models'
 * rollouts run at once.
 */
export function lockFile(ref: StackRef, model?: string): string {
    const { store, key } = runStoreFor(ref, model);
    return store instanceof BackendDirectoryStore ? store.fileOf(key) : store.describe(key);
}

/** The stack's apply lock: held for one config edit and its `up`, so two models' steps take turns. */
export function applyLockFile(ref: StackRef): string {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");
    const backendDir = fileBackendDir(ref);
    if (backendDir !== undefined) return path.join(backendDir, ".model-canary", "locks", safe(projectName(workDirOf(ref))), `${safe(ref.stack)}+apply.json`);
    return path.join(workDirOf(ref), ".model-canary", safe(ref.stack), "run+apply.lock.json");
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
export async function lockHolder(ref: StackRef, model?: string, runStore: RunStore = runStoreFor(ref, model)): Promise<RunHolder | undefined> {
    const holder = await runStore.store.holder(runStore.key);
    return holder ? runHolder(holder) : undefined;
}

/** Every run lock of the stack's models that a process holds (alive or not), by model name. */
export async function lockHolders(ref: StackRef, models: readonly string[]): Promise<{ model: string; holder: RunHolder }[]> {
    const held = await Promise.all(models.map(async (model) => ({ model, holder: await lockHolder(ref, model) })));
    return held.flatMap(({ model, holder }) => holder ? [{ model, holder }] : []);
}

export interface StackLock {
    /** Where the lock is (a file, or the store's description). */
    readonly file: string;
    readonly holder: RunHolder;
    /** Aborts when a `rollback` asks this holder to stop, or when its lease is lost; its reason says which. */
    readonly preempted: AbortSignal;
    /** Gives the lock up (only if it is still ours). Idempotent. */
    release(): Promise<void>;
}

interface AcquireOptions {
    /** The model whose run lock to take (see `lockFile`). Default: the stack's own. */
    model?: string;
    /** Told when a dead or expired holder's lock is taken over, and when the lock is not shared. */
    onMessage?: (message: string) => void;
    /** Called with the dead holder whose lock was taken over (a notification's `lease-taken-over`). */
    onTakeOver?: (holder: ProcessIdentity) => void;
    /** How often the holder looks for a pre-emption request. Default 200 ms. */
    pollMs?: number;
    /** The lease, in seconds. Default `MODEL_CANARY_LEASE_SECONDS`, else 60. */
    leaseSeconds?: number;
    /** The stack's config, when it could be read: a stack with a cluster keeps its locks there (see stacks/operations/run-store.ts). */
    config?: StackConfig;
    /** The store and key (default: the stack's, from `config`). */
    runStore?: RunStore;
}

/** What a lock is called in messages: `stack `prod`` or `model `fraud` of stack `prod``. */
function subject(ref: StackRef, model: string | undefined): string {
    return model === undefined || model === shorthandModel ? `stack \`${ref.stack}\`` : `model \`${model}\` of stack \`${ref.stack}\``;
}

function userName(): string {
    try {
        return os.userInfo().username;
    } catch {
        return process.env.USER ?? "";
    }
}

/** This process as a lease's holder (the store sets the times). */
function leaseHolderFor(command: string, seconds: number): LeaseHolder {
    const me = currentProcess(command);
    return { host: me.host, pid: me.pid, user: userName(), ...(me.startTicks !== undefined ? { startTicks: me.startTicks } : {}), command, acquiredAt: me.startedAt, renewedAt: me.startedAt, leaseSeconds: seconds };
}

// Stores whose "not shared" warning this process already gave (once per stack).
const warned = new Set<string>();

/** A store that cannot be used: the command stops before applying anything. */
function storeRefusal(ref: StackRef, model: string | undefined, e: CoordinationStoreError): StackOperationError {
    return new StackOperationError("refused", `cannot take the run lock of ${subject(ref, model)}: ${e.message}. Nothing was applied`);
}

/**
 * Takes a model's run lock for `command`, or throws StackLockedError naming the holder. A lock
 * whose lease expired, or left by a process on this host that no longer runs, is taken over
 * (with a message).
 */
export async function acquireStackLock(ref: StackRef, command: string, options: AcquireOptions = {}): Promise<StackLock> {
    const runStore = options.runStore ?? runStoreFor(ref, options.model, options.config);
    const { store, key } = runStore;
    const what = subject(ref, options.model);
    if (runStore.warning && !warned.has(`${workDirOf(ref)}\0${ref.stack}`)) {
        warned.add(`${workDirOf(ref)}\0${ref.stack}`);
        options.onMessage?.(runStore.warning);
    }
    const modelFlag = options.model === undefined || options.model === shorthandModel ? "" : ` --model ${options.model}`;
    const me = leaseHolderFor(command, options.leaseSeconds ?? leaseSeconds());
    let replacing: { holder: LeaseHolder; reason: string } | undefined;
    for (let attempt = 0; ; attempt++) {
        let result;
        try {
            result = await store.acquire(key, me, replacing ? { replacing: replacing.holder } : {});
        } catch (e) {
            if (e instanceof CoordinationStoreError) throw storeRefusal(ref, options.model, e);
            throw e;
        }
        if (result.acquired) {
            const taken = result.tookOverFrom;
            if (taken) {
                const why = replacing && replacing.holder.pid === taken.pid && replacing.holder.host === taken.host
                    ? replacing.reason
                    : `its lease expired (not renewed within ${taken.leaseSeconds}s)`;
                options.onMessage?.(`model-canary: taking over the lock of ${what} left by \`${taken.command}\` (${describeHolder(runHolder(taken))}): ${why}`);
                options.onTakeOver?.(runHolder(taken));
            }
            const held = await store.holder(key);
            return holding(runStore, held && held.pid === me.pid && held.host === me.host ? held : me, options.pollMs ?? 200, what);
        }
        const holder = runHolder(result.holder);
        const state = liveness(holder);
        if (state.state === "dead" && attempt === 0) {
            // Provably ended on this host: no need to wait for its lease to expire.
            replacing = { holder: result.holder, reason: state.reason };
            continue;
        }
        throw new StackLockedError(`${what} is held by ${state.state === "alive" ? "a running " : ""}\`${holder.command}\` (${describeHolder(holder)}); wait for it to finish, or run \`model-canary rollback --stack ${ref.stack}${modelFlag}\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, ${result.holder.leaseSeconds}s after its last renewal`, holder);
    }
}

/**
 * The held lock: renews the lease every third of its duration and looks for a pre-emption request
 * every `pollMs`; either a request or a lost lease aborts `preempted`.
 */
function holding(runStore: RunStore, me: LeaseHolder, pollMs: number, what: string): StackLock {
    const { store, key } = runStore;
    const controller = new AbortController();
    const renewEveryMs = Math.max(200, (me.leaseSeconds * 1000) / 3);
    let renewedAtMs = Date.now();
    let lastFailure: string | undefined;
    let busy = false;
    let released = false;
    const tick = async () => {
        if (busy || released || controller.signal.aborted) return;
        busy = true;
        try {
            const by = await store.preemption(key);
            if (by && liveness({ host: by.host, pid: by.pid, startTicks: by.startTicks }).state !== "dead") {
                controller.abort(new Error(`pre-empted by \`${by.command}\` (pid ${by.pid} on host ${by.host})`));
                return;
            }
            if (Date.now() - renewedAtMs >= renewEveryMs) {
                if (await store.renew(key, me)) {
                    renewedAtMs = Date.now();
                    lastFailure = undefined;
                } else {
                    controller.abort(new Error(`stopped: the run lock of ${what} was lost (its lease of ${me.leaseSeconds}s expired before it was renewed, and another command took it over)`));
                }
            }
        } catch (e) {
            lastFailure = (e as Error).message;
        } finally {
            busy = false;
        }
        if (!controller.signal.aborted && lastFailure !== undefined && Date.now() - renewedAtMs >= me.leaseSeconds * 1000) {
            controller.abort(new Error(`stopped: the run lock of ${what} could not be renewed for ${me.leaseSeconds}s (${lastFailure}), so another command may take it over`));
        }
    };
    const timer = setInterval(() => void tick(), Math.min(pollMs, renewEveryMs));
    timer.unref();
    return {
        file: store instanceof BackendDirectoryStore ? store.fileOf(key) : store.describe(key),
        holder: runHolder(me),
        preempted: controller.signal,
        async release() {
            if (released) return;
            released = true;
            clearInterval(timer);
            await store.release(key, me);
        },
    };
}

export interface PreemptOptions extends AcquireOptions {
    /** How long to wait for the holder to stop. Default 120 s (a running `up` finishes first; a dead holder on another host is waited for until its lease expires). */
    timeoutMs?: number;
    /** Sends the holder SIGTERM when it runs on this host (default true). */
    signalHolder?: boolean;
}

/**
 * Takes the model's lock even while another command holds it: asks the holder to stop (a
 * pre-emption request in the store, which it polls, and SIGTERM when it runs on this host in
 * another process), waits for it to release the lock or for its lease to expire, then takes it.
 * For `rollback`, which must always get through.
 */
export async function preemptStackLock(ref: StackRef, command: string, options: PreemptOptions = {}): Promise<StackLock> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const runStore = options.runStore ?? runStoreFor(ref, options.model, options.config);
    const { store, key } = runStore;
    const what = subject(ref, options.model);
    const deadline = Date.now() + timeoutMs;
    const me = leaseHolderFor(command, options.leaseSeconds ?? leaseSeconds());
    let asked: RunHolder | undefined;
    try {
        for (;;) {
            try {
                return await acquireStackLock(ref, command, { ...options, runStore });
            } catch (e) {
                if (!(e instanceof StackLockedError) || !e.holder) throw e;
                const holder = e.holder;
                if (!asked || asked.pid !== holder.pid || asked.host !== holder.host || asked.startedAt !== holder.startedAt) {
                    asked = holder;
                    try {
                        await store.requestPreemption(key, me);
                    } catch (err) {
                        if (err instanceof CoordinationStoreError) throw storeRefusal(ref, options.model, err);
                        throw err;
                    }
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
        if (asked) await store.clearPreemption(key, me).catch(() => undefined);
    }
}

// ---- The apply lock: a plain file, held for one config edit and its `up`. ----

/** A lock file held by this process (the apply lock). */
interface FileLock {
    readonly file: string;
    readonly holder: ProcessIdentity;
    release(): void;
}

function acquireFile(file: string, ref: StackRef, command: string, options: { onMessage?: (message: string) => void }): FileLock {
    const what = `stack \`${ref.stack}\``;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const me = currentProcess(command);
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(me, null, 2)}\n`);
    try {
        for (let attempt = 0; ; attempt++) {
            try {
                fs.linkSync(temp, file);
                let released = false;
                return {
                    file, holder: me,
                    release() {
                        if (released) return;
                        released = true;
                        const now = readHolder(file);
                        if (now && now.pid === me.pid && now.host === me.host && now.startedAt === me.startedAt) fs.rmSync(file, { force: true });
                    },
                };
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 5) throw e;
            }
            const holder = readHolder(file);
            if (!holder) {
                // Written by something else than this tool, or damaged: never guess.
                throw new StackLockedError(`${what} is locked by ${file}, which does not name a process; if no model-canary command is running on it, remove that file`);
            }
            const state = liveness(holder);
            if (state.state === "alive") throw new StackLockedError(`${what} is being applied by a running \`${holder.command}\` (${describeProcess(holder)})`, holder);
            if (state.state === "unknown") throw new StackLockedError(`${what} is being applied by \`${holder.command}\` (${describeProcess(holder)}); ${state.reason}: wait for it, or, once you know it has ended, remove ${file}`, holder);
            takeOver(file, holder);
            options.onMessage?.(`model-canary: taking over the lock of ${what} left by \`${holder.command}\` (${describeProcess(holder)}): ${state.reason}`);
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

// Apply locks this process holds, by file, with how many callers hold each: a rollback inside a
// rollout's step (same process) must not wait for itself.
const applying = new Map<string, { lock: FileLock; depth: number }>();

/**
 * Runs `action` (a config edit and its `up`) holding the stack's apply lock, waiting while another
 * command holds it for its own edit and `up`: two models' rollouts on one stack take turns per
 * step instead of failing on the engine's lock, and their edits of Pulumi.<stack>.yaml never
 * interleave. A dead holder's lock is taken over; a holder on another host is waited for up to
 * `timeoutMs` (default 30 min: a first `up` against a cluster can take minutes).
 */
export async function withApplyLock<T>(stack: auto.Stack, command: string, action: () => Promise<T>, options: { onMessage?: (message: string) => void; timeoutMs?: number } = {}): Promise<T> {
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
    let lock: FileLock;
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

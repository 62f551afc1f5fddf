// Pulumi's own lock of a stack in a local (file://) backend, and the one a dead process left.
//
// For every update the file backend writes `<backend>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json`
// (`{ pid, username, hostname, timestamp }`, the CLI's own pid) and removes it when the update
// ends. A CLI killed outright (`kill -9`, the OOM killer, a CI runner's timeout) leaves it, and
// every later operation fails with "the stack is currently locked by 1 lock(s)"; `pulumi cancel`,
// the engine's advice, removes every lock of the stack, a live update's too.
//
// A lock is taken over (its file removed, with a message, and the operation run again) only when
// every lock of the stack was left by a process that provably ended:
// - its host is this machine's (`hostname`), so its pid is one of ours to check; a lock from
//   another host is never guessed about;
// - that pid runs nothing now, or runs a process that started after the lock was taken (the pid
//   was reused: the CLI that took the lock held that pid from before the lock until it died). A
//   zombie counts as ended. This is the test our own run lock applies (`stacks/operations/lock.ts`), from
//   the lock's timestamp instead of a recorded start time, which Pulumi's lock does not hold;
// - the file still names that process when it is removed (read again just before).
// A live update's lock is never removed: its pid runs a process started before its lock. Pulumi's
// own locking stays safe around the removal: a CLI writes its lock and then looks for others,
// removing its own when it finds one, so of two that lock at once at least one backs off. The
// state is left as the killed update's last checkpoint wrote it, as `pulumi cancel` leaves it;
// the next update reads it as any update does. The one assumption beyond Pulumi's: two machines
// sharing a backend directory do not share a hostname (as for our own lock).
import * as fs from "fs";
import * as os from "os";
import { fileURLToPath } from "url";
import { processStartedAt } from "./process";

/** One lock the engine's refusal names. */
export interface BackendLock {
    /** Where the engine says the lock is: `file:///.../.pulumi/locks/.../<uuid>.json` for a local backend. */
    url: string;
    user: string;
    host: string;
    pid: number;
    /** When it was taken, as the engine printed it (RFC 3339, to the second). */
    at: string;
}

/** The locks an engine's "stack is currently locked" error names, each once (the error can be printed twice). */
export function parseBackendLocks(engineMessage: string): BackendLock[] {
    const seen = new Set<string>();
    const locks: BackendLock[] = [];
    for (const m of engineMessage.matchAll(/(\S+): created by (\S*)@(\S+) \(pid (\d+)\) at (\S+)/g)) {
        if (seen.has(m[0])) continue;
        seen.add(m[0]);
        locks.push({ url: m[1], user: m[2], host: m[3], pid: Number(m[4]), at: m[5] });
    }
    return locks;
}

/** Whether a lock's holder still runs, judged from this machine. */
export type HolderState = { state: "alive" } | { state: "dead"; reason: string } | { state: "unknown"; reason: string };

/**
 * How long after a lock's timestamp a process with the holder's pid may have started and still be
 * the holder: the kernel's start times are computed from the boot time, which it gives to the
 * second, and the wall clock may have been adjusted since boot.
 */
export const startTimeSlackMs = 2000;

/**
 * Judges a lock's holder from facts about this machine: its hostname, and when the process now
 * holding the lock's pid started (undefined: no such process, or a zombie). Pure.
 */
export function judgeHolder(lock: { host: string; pid: number; at: string }, facts: { hostname: string; startedAt: Date | undefined }): HolderState {
    if (lock.host !== facts.hostname) return { state: "unknown", reason: `it runs on host ${lock.host}, which this machine cannot check` };
    const takenAt = Date.parse(lock.at);
    if (!Number.isSafeInteger(lock.pid) || lock.pid <= 0 || Number.isNaN(takenAt)) return { state: "unknown", reason: `the lock names pid ${lock.pid} at ${JSON.stringify(lock.at)}, which cannot be checked` };
    if (facts.startedAt === undefined) return { state: "dead", reason: `process ${lock.pid} no longer runs` };
    if (facts.startedAt.getTime() > takenAt + startTimeSlackMs) {
        return { state: "dead", reason: `process ${lock.pid} no longer runs (that pid now belongs to a process started at ${facts.startedAt.toISOString()}, after the lock was taken)` };
    }
    return { state: "alive" };
}

/** The local path of a lock the engine named by a `file://` URL, or undefined for any other backend. */
export function lockFilePath(url: string): string | undefined {
    if (!url.startsWith("file://")) return undefined;
    try {
        return fileURLToPath(url);
    } catch {
        return undefined;
    }
}

/** What this machine knows about a lock: its holder's state, and its file when it is a local one that still names that holder. */
function inspect(lock: BackendLock): { lock: BackendLock; state: HolderState; file?: string; gone?: true } {
    const file = lockFilePath(lock.url);
    let at = lock.at;
    if (file !== undefined) {
        // The file's own timestamp is exact (the message's is cut to the second); it must still name the same holder.
        try {
            const content = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: unknown; hostname?: unknown; timestamp?: unknown };
            if (content.pid !== lock.pid || content.hostname !== lock.host || typeof content.timestamp !== "string") {
                return { lock, state: { state: "unknown", reason: `its file ${file} now names another holder` } };
            }
            at = content.timestamp;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return { lock, state: { state: "dead", reason: "its lock was released meanwhile" }, file, gone: true };
            return { lock, state: { state: "unknown", reason: `its file ${file} cannot be read (${(e as Error).message})` } };
        }
    }
    return { lock, state: judgeHolder({ ...lock, at }, { hostname: os.hostname(), startedAt: processStartedAt(lock.pid) }), file };
}

/**
 * Removes the locks an engine's refusal names when every one of them is a local lock left by a
 * process that ended (see the module comment), telling `onMessage` about each. True when the
 * stack is free again, so the operation may run once more; false when any holder runs, may run,
 * or left a lock this machine cannot remove (the refusal then stands, see `describeBackendLock`).
 */
export function takeOverDeadBackendLocks(engineMessage: string, stack: string, onMessage: (message: string) => void): boolean {
    const locks = parseBackendLocks(engineMessage).map(inspect);
    if (locks.length === 0 || !locks.every((l) => l.state.state === "dead" && l.file !== undefined)) return false;
    for (const { lock, state, file, gone } of locks) {
        if (gone) continue;
        fs.rmSync(file!, { force: true });
        // The file backend's blob store keeps each object's attributes beside it; Pulumi's own
        // unlock deletes both.
        fs.rmSync(`${file!}.attrs`, { force: true });
        onMessage(`model-canary: removed Pulumi's lock of stack \`${stack}\` left by pid ${lock.pid} on host ${lock.host} (since ${lock.at}), which ended without releasing it: ${(state as { reason: string }).reason}; the lock was ${file}`);
    }
    return true;
}

/**
 * The engine's "stack is currently locked" error, made honest: who holds each lock, whether it
 * still runs, and the way out. A dead holder's local lock file is named, to remove that one file;
 * `pulumi cancel` removes every lock of the stack (a live update's too), so it is offered only for
 * a dead holder's lock this machine cannot remove, and for a holder on another host only once the
 * user knows it has ended.
 */
export function describeBackendLock(engineMessage: string, stack: string): string {
    const locks = parseBackendLocks(engineMessage).map(inspect);
    const cancel = `\`pulumi cancel --stack ${stack}\` (with the same backend)`;
    if (locks.length === 0) return `stack \`${stack}\` is being updated by another operation; wait for it to finish`;
    const lines = locks.map(({ lock, state, file }) => {
        const who = `pid ${lock.pid} on host ${lock.host}, since ${lock.at}`;
        if (state.state === "alive") return `${who}: it is running; wait for it to finish`;
        if (state.state === "unknown") {
            return lock.host !== os.hostname()
                ? `${who}: this machine cannot check it; wait for it, and run ${cancel} only once you know it has ended`
                : `${who}: ${state.reason}; wait for it, and run ${cancel} only once you know it has ended`;
        }
        return file !== undefined
            ? `${who}: ${state.reason}, so its lock is left over; remove ${file}, then retry`
            : `${who}: ${state.reason}, so its lock is left over; run ${cancel} to remove it, then retry`;
    });
    return `stack \`${stack}\` is locked by another update (${lines.join("; ")})`;
}

// Who runs an operation, and whether that process still runs: the identity written into stack
// locks and rollout records, so that a holder that died is told apart from a live one. A pid alone
// is not enough (pids are reused), so the identity carries the process's start time as the kernel
// reports it (`/proc/<pid>/stat`, field 22, in clock ticks since boot).
import * as fs from "fs";
import * as os from "os";

export interface ProcessIdentity {
    host: string;
    pid: number;
    /** Kernel start time of the process (`/proc/<pid>/stat` field 22); absent where there is no /proc. */
    startTicks?: string;
    /** ISO time the operation started. */
    startedAt: string;
    /** What it runs, e.g. `rollout`. */
    command: string;
}

/** The kernel's start time of a process, or undefined when it does not exist (or /proc is absent). */
export function processStartTicks(pid: number): string | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        // The command name (field 2) is in parentheses and may hold spaces: count from the last ")".
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (fields[0] === "Z" || fields[0] === "X") return undefined; // a zombie has ended
        return fields[19];
    } catch {
        return undefined;
    }
}

export function currentProcess(command: string): ProcessIdentity {
    return { host: os.hostname(), pid: process.pid, startTicks: processStartTicks(process.pid), startedAt: new Date().toISOString(), command };
}

export type Liveness =
    | { state: "alive" }
    | { state: "dead"; reason: string }
    /** On another host: this machine cannot tell. */
    | { state: "unknown"; reason: string };

/** Whether the process an identity names still runs, judged from this machine. */
export function liveness(p: Pick<ProcessIdentity, "host" | "pid" | "startTicks">): Liveness {
    if (p.host !== os.hostname()) return { state: "unknown", reason: `it runs on host ${p.host}, which this machine cannot check` };
    if (!Number.isInteger(p.pid) || p.pid <= 0) return { state: "dead", reason: `its pid ${String(p.pid)} is not a process id` };
    if (fs.existsSync("/proc/self/stat")) {
        const ticks = processStartTicks(p.pid);
        if (ticks === undefined) return { state: "dead", reason: `process ${p.pid} no longer runs` };
        if (p.startTicks !== undefined && ticks !== p.startTicks) return { state: "dead", reason: `process ${p.pid} no longer runs (that pid now belongs to another process)` };
        return { state: "alive" };
    }
    try {
        process.kill(p.pid, 0);
        return { state: "alive" };
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM" ? { state: "alive" } : { state: "dead", reason: `process ${p.pid} no longer runs` };
    }
}

/** When a process on this machine started, from its start ticks and the boot time; undefined when unknown. */
export function processStartedAt(pid: number): Date | undefined {
    const ticks = processStartTicks(pid);
    try {
        const btime = /^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))?.[1];
        // USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every Linux architecture Node runs on.
        return ticks !== undefined && btime !== undefined ? new Date(Number(btime) * 1000 + Number(ticks) * 10) : undefined;
    } catch {
        return undefined;
    }
}

/** "pid 1234 on host ci-1, started 2026-11-26T15:00:00.000Z" */
export function describeProcess(p: ProcessIdentity): string {
    return `pid ${p.pid} on host ${p.host}, started ${p.startedAt}`;
}

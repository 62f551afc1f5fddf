// Shared by the benchmark scripts: medians, a one-line result format, wall and CPU time.
import * as fs from "fs";
import * as os from "os";

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function seconds(ms: number): string {
    return `${(ms / 1000).toFixed(2)}s`;
}

export async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
    const started = process.hrtime.bigint();
    const result = await work();
    return [Number(process.hrtime.bigint() - started) / 1e6, result];
}

/**
 * CPU seconds of this process and of every child it has waited for, with their own waited-for
 * descendants (the Pulumi CLI, its language host and program, the provider): /proc/self/stat's
 * utime, stime, cutime and cstime. Less sensitive than wall time to other load on the machine.
 */
export function treeCpuMs(): number {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14-17 of proc(5), counted from 1; here index 0 is field 3.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    // Linux reports these in USER_HZ, which is 100 on every architecture.
    return (ticks * 1000) / 100;
}

/** Wall and tree CPU time of `work`, in ms. */
export async function timedCpu<T>(work: () => Promise<T>): Promise<[{ wallMs: number; cpuMs: number }, T]> {
    const cpu = treeCpuMs();
    const [wallMs, result] = await timed(work);
    return [{ wallMs, cpuMs: treeCpuMs() - cpu }, result];
}

/**
 * The machine's one-minute load average, each reading kept: `now()` reads and formats it, `range()`
 * gives the lowest and highest read so far. A benchmark prints it at its start and with each run.
 */
export function loadAverage(): { now(): string; range(): string } {
    const readings: number[] = [];
    return {
        now() {
            const l = os.loadavg()[0];
            readings.push(l);
            return l.toFixed(2);
        },
        range() {
            return `${Math.min(...readings).toFixed(2)}-${Math.max(...readings).toFixed(2)}`;
        },
    };
}

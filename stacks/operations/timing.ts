// MODEL_CANARY_TIMING=1: a command's profile on standard error, one line per phase (the `pulumi`
// commands it runs, its start and end), each with the time since the process started, so what a
// step costs beyond its `pulumi up` can be read off (docs/benchmarks.md).

/** Whether timings are printed: MODEL_CANARY_TIMING set to `1` or `true`. */
export function timingOn(env: NodeJS.ProcessEnv = process.env): boolean {
    return env.MODEL_CANARY_TIMING === "1" || env.MODEL_CANARY_TIMING === "true";
}

/** Prints `model-canary timing: +1.23s WHAT` (seconds since the process started) when timings are on. */
export function timing(what: string): void {
    if (timingOn()) process.stderr.write(`model-canary timing: +${process.uptime().toFixed(2)}s ${what}\n`);
}

/** Runs `work`, printing when it started and ended and how long it took, when timings are on. */
export async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (!timingOn()) return work();
    const started = process.uptime();
    timing(`${what} started`);
    try {
        return await work();
    } finally {
        timing(`${what} ended (${(process.uptime() - started).toFixed(2)}s)`);
    }
}

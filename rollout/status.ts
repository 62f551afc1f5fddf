// Where a rollout keeps its record between runs: `.model-canary/<stack>/rollout.json` in the
// project, written atomically after every step and analysis so `status` and a rerun see it.
import * as fs from "fs";
import * as path from "path";
import { RolloutRecord } from "./record";

export function stateDir(workDir: string, stack: string): string {
    return path.join(workDir, ".model-canary", stack.replace(/[^A-Za-z0-9._-]/g, "_"));
}

export function recordFile(workDir: string, stack: string): string {
    return path.join(stateDir(workDir, stack), "rollout.json");
}

export function writeRecord(workDir: string, record: RolloutRecord): void {
    const file = recordFile(workDir, record.stack);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
    fs.renameSync(temp, file);
}

/** The last rollout's record, or undefined when none ran here. */
export function readRecord(workDir: string, stack: string): RolloutRecord | undefined {
    const file = recordFile(workDir, stack);
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as RolloutRecord : undefined;
}

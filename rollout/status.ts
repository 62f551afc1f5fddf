// Where a rollout keeps its record between runs: `.model-canary/<stack>/rollout.json` in the
// project (`.model-canary/<stack>/models/<model>/rollout.json` for a model other than `model`),
// written atomically after every step and analysis so `status` and a rerun see it.
import * as fs from "fs";
import * as path from "path";
import { shorthandModel } from "../stacks/config/models";
import { plannedStepCount, RolloutRecord } from "./record";

/** A model's own directory: the stack's for the model `model` (the shorthand's, as before `models` existed). */
export function stateDir(workDir: string, stack: string, model?: string): string {
    const own = path.join(workDir, ".model-canary", stack.replace(/[^A-Za-z0-9._-]/g, "_"));
    return model === undefined || model === shorthandModel ? own : path.join(own, "models", model);
}

export function recordFile(workDir: string, stack: string, model?: string): string {
    return path.join(stateDir(workDir, stack, model), "rollout.json");
}

export function writeRecord(workDir: string, record: RolloutRecord): void {
    const file = recordFile(workDir, record.stack, record.model);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
    fs.renameSync(temp, file);
}

/** The record file exists but is not a rollout record (cut short, edited by hand, another tool's). */
export class UnreadableRecordError extends Error {
    constructor(public readonly file: string, reason: string) {
        super(`the rollout record ${file} cannot be read (${reason}); the next \`rollout\` replaces it, or move it aside to keep it`);
        this.name = "UnreadableRecordError";
    }
}

/** The last rollout's record, or undefined when none ran here; throws UnreadableRecordError for a damaged file. */
export function readRecord(workDir: string, stack: string, model?: string): RolloutRecord | undefined {
    const file = recordFile(workDir, stack, model);
    if (!fs.existsSync(file)) return undefined;
    let parsed: unknown;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw new UnreadableRecordError(file, `not valid JSON: ${(e as Error).message}`);
    }
    const record = parsed as Partial<RolloutRecord> | null;
    if (typeof record !== "object" || record === null || typeof record.outcome !== "string" || !Array.isArray(record.steps) || !Array.isArray(record.plan)) {
        throw new UnreadableRecordError(file, "not a rollout record: `outcome`, `steps` or `plan` is missing");
    }
    return record as RolloutRecord;
}

/** Who ran a `rollback`, as its record says. */
export interface RollbackAuthor {
    user: string;
    host: string;
    pid: number;
    command: string;
}

/**
 * After a `rollback` command: the model's last rollout record, unless it already ended rolled
 * back or promoted, becomes `rolled-back`, saying by whom, when, and what the run was before
 * (running, died, interrupted, completed at a weight; `runState` words it: "was interrupted", "died (...)"). `status` and the report then stop offering
 * to resume a run whose weight is gone. No record, or one that cannot be read: nothing to do.
 */
export function recordRollback(workDir: string, stack: string, model: string, rollback: { by: RollbackAuthor; decidedAt: string; appliedAt: string; actionMs: number; stableVersion: string; runState: (record: RolloutRecord) => string }): RolloutRecord | undefined {
    let record: RolloutRecord | undefined;
    try {
        record = readRecord(workDir, stack, model);
    } catch (e) {
        if (e instanceof UnreadableRecordError) return undefined;
        throw e;
    }
    if (!record || record.outcome === "rolled-back" || record.outcome === "promoted") return undefined;
    const last = record.steps.at(-1);
    const where = last ? ` at step ${last.index}/${plannedStepCount(record)} (${last.mirrorPercent !== undefined ? `shadow, mirror ${last.mirrorPercent}%` : `${last.weight}%`})` : " before its first step";
    const { by } = rollback;
    const who = `\`${by.command}\` (user ${by.user}, pid ${by.pid} on host ${by.host})`;
    const updated: RolloutRecord = {
        ...record,
        outcome: "rolled-back",
        finishedAt: record.finishedAt ?? rollback.appliedAt,
        message: `rolled back by ${who} at ${rollback.appliedAt}, after the run ${rollback.runState(record)}${where}: ${rollback.stableVersion} serves 100%`,
        rollback: { decidedAt: rollback.decidedAt, appliedAt: rollback.appliedAt, actionMs: rollback.actionMs, reason: `manual rollback by ${who}`, by },
    };
    writeRecord(workDir, updated);
    return updated;
}

// Where a rollout keeps its record between runs: in the stack's coordination store, beside its run
// lock (stacks/operations/run-store.ts), where every runner sharing the stack reads it; and in the
// project as a cache, `.model-canary/<stack>/rollout.json`
// (`.model-canary/<stack>/models/<model>/rollout.json` for a model other than `model`). Both are
// written after every step and analysis; `status` and a rerun read the store first and the
// checkout's copy only when the store has none (or cannot be reached, which they say).
import * as fs from "fs";
import * as path from "path";
import { shorthandModel } from "../stacks/config/models";
import type { StackRef } from "../stacks/operations/automation";
import { CoordinationStoreError } from "../stacks/coordination/store";
import { RunStore, runStoreFor } from "../stacks/operations/run-store";
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
    return parseRecord(file, fs.readFileSync(file, "utf8"));
}

function parseRecord(file: string, text: string): RolloutRecord {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (e) {
        throw new UnreadableRecordError(file, `not valid JSON: ${(e as Error).message}`);
    }
    const record = parsed as Partial<RolloutRecord> | null;
    if (typeof record !== "object" || record === null || typeof record.outcome !== "string" || !Array.isArray(record.steps) || !Array.isArray(record.plan)) {
        throw new UnreadableRecordError(file, "not a rollout record: `outcome`, `steps` or `plan` is missing");
    }
    return record as RolloutRecord;
}

/** Where a record was read from: the shared store, or this checkout's cache (with why, when the store could not be read). */
export type RecordSource = { from: "store"; where: string } | { from: "checkout"; file: string; storeError?: string };

/**
 * A model's last rollout record as every runner sees it: the store's, else this checkout's copy.
 * A store that cannot be reached is not fatal here (`status` still shows the routing): the
 * checkout's copy is returned with `storeError`. Throws UnreadableRecordError for a damaged record.
 */
export async function readSharedRecord(ref: StackRef, workDir: string, model?: string, runStore: RunStore = runStoreFor({ ...ref, workDir }, model)): Promise<{ record?: RolloutRecord; source: RecordSource }> {
    let storeError: string | undefined;
    try {
        const text = await runStore.store.readRecord(runStore.key);
        const where = runStore.store.describe(runStore.key);
        if (text !== undefined) return { record: parseRecord(where.replace(/\.json( \(.*\))?$/, ".rollout.json$1"), text), source: { from: "store", where } };
    } catch (e) {
        if (!(e instanceof CoordinationStoreError)) throw e;
        storeError = e.message;
    }
    const file = recordFile(workDir, ref.stack, model);
    return { record: readRecord(workDir, ref.stack, model), source: { from: "checkout", file, ...(storeError !== undefined ? { storeError } : {}) } };
}

/**
 * Writes a record to this checkout (synchronously: the cache is there even if the process stops)
 * and to the store. Store writes are chained in order; the returned promise settles when this one
 * is written, and rejects with the store's error.
 */
export function recordWriter(workDir: string, runStore: RunStore): { save(record: RolloutRecord): Promise<void>; flushed(): Promise<void> } {
    let chain: Promise<void> = Promise.resolve();
    return {
        save(record) {
            writeRecord(workDir, record);
            const json = `${JSON.stringify(record, null, 2)}\n`;
            const written = chain.then(() => runStore.store.writeRecord(runStore.key, json));
            chain = written.catch(() => undefined);
            return written;
        },
        flushed: () => chain,
    };
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
export async function recordRollback(ref: StackRef, workDir: string, model: string, rollback: { by: RollbackAuthor; decidedAt: string; appliedAt: string; actionMs: number; stableVersion: string; runState: (record: RolloutRecord) => string; runStore?: RunStore }): Promise<RolloutRecord | undefined> {
    const runStore = rollback.runStore ?? runStoreFor({ ...ref, workDir }, model);
    let record: RolloutRecord | undefined;
    try {
        record = (await readSharedRecord(ref, workDir, model, runStore)).record;
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
    await recordWriter(workDir, runStore).save(updated);
    return updated;
}

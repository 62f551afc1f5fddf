// What a rollout run records: the input of its report, its status file and its JSON output.
import type { CheckResult, Measurement } from "../analysis/verdict";
import type { ProcessIdentity } from "../stacks/process";

/** One analysis tick during a step. */
export interface AnalysisRecord {
    /** ISO time the analysis ran. */
    at: string;
    summary: "pass" | "fail";
    results: CheckResult[];
    measurement: Measurement;
}

export interface StepRecord {
    /** 1-based position in the plan. */
    index: number;
    /** Canary share of default traffic at this step. */
    weight: number;
    /** ISO times: when the step's `up` started and when the weight was applied. */
    startedAt: string;
    appliedAt: string;
    /** Wall time of the step's `pulumi up` in ms; 0 when the weight was already applied (resume). */
    applyMs: number;
    analyses: AnalysisRecord[];
    /** How the step ended. */
    verdict: "passed" | "failed" | "interrupted" | "running";
    /** Why, in a sentence. */
    reason?: string;
}

export type RolloutOutcome = "running" | "completed" | "promoted" | "rolled-back" | "interrupted" | "error";

export interface RollbackRecord {
    /** ISO time the failing analysis decided to roll back. */
    decidedAt: string;
    /** ISO time the rolled-back routing was applied (`up` finished). */
    appliedAt: string;
    /** Wall time of the rollback `up` in ms. */
    actionMs: number;
    reason: string;
}

export interface RolloutRecord {
    stack: string;
    stableVersion: string;
    canaryVersion: string;
    /** The planned weights, e.g. [1, 10, 50, 100]. */
    plan: number[];
    startedAt: string;
    finishedAt?: string;
    outcome: RolloutOutcome;
    /** A sentence a reviewer reads first. */
    message: string;
    steps: StepRecord[];
    rollback?: RollbackRecord;
    /** The thresholds in force, for the report's header. */
    thresholds: Record<string, number | null>;
    /** The process running it, so `status` can tell a run that died from one still running. */
    runner?: ProcessIdentity;
}

// What a rollout run records: the input of its report, its status file and its JSON output.
import type { CheckResult, Measurement } from "../analysis/verdict";
import type { ProcessIdentity } from "../stacks/operations/process";
import type { NotificationSummary } from "../notifications/notifier";

/** One analysis tick during a step. */
export interface AnalysisRecord {
    /** ISO time the analysis ran. */
    at: string;
    /**
     * "pending" when the tick found no data before the step's new traffic could have been scraped
     * (analysis/pending.ts): neither a pass nor a failure toward `failureThreshold`.
     */
    summary: "pass" | "fail" | "pending";
    /** Why the tick is pending; only on a pending tick. */
    pendingReason?: string;
    results: CheckResult[];
    measurement: Measurement;
}

export interface StepRecord {
    /** 1-based position in the plan. */
    index: number;
    /** Canary share of default traffic at this step (0 in the shadow step: it serves no user). */
    weight: number;
    /** Set on the shadow step only: the share of default traffic mirrored to the canary. */
    mirrorPercent?: number;
    /** ISO times: when the step's `up` started and when the weight was applied. */
    startedAt: string;
    appliedAt: string;
    /** Wall time of the step's `pulumi up` in ms; 0 when the weight was already applied (resume). */
    applyMs: number;
    /**
     * With `canary.replicas: auto`, when a count went down: the wall time of the second `up`,
     * which removed the pods after the traffic had moved; `restoreError` when it failed.
     */
    restoreMs?: number;
    restoreError?: string;
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
    /**
     * With `canary.replicas: auto`, the second `up` after the traffic had left the canary: when it
     * restored the replica counts, and its wall time. `restoreError` when it failed.
     */
    replicasRestoredAt?: string;
    restoreMs?: number;
    restoreError?: string;
    /**
     * On a cluster, the rollback's first write: when the live route was set to stable (one
     * server-side apply before the `up`, which then recorded it) and its wall time in ms; or why
     * no such write was made (the `up` alone moved the traffic).
     */
    routeWrittenAt?: string;
    routeWriteMs?: number;
    routeNotWritten?: string;
    /** A `rollback` command's, not the run's own: who ran it (user, host, pid, command). */
    by?: { user: string; host: string; pid: number; command: string };
}

export interface RolloutRecord {
    stack: string;
    /** The model rolled out (`model` for the shorthand); absent in records written before `models` existed. */
    model?: string;
    stableVersion: string;
    canaryVersion: string;
    /** The planned weights, e.g. [1, 10, 50, 100], after the shadow step when there is one. */
    plan: number[];
    /** The planned shadow step (its mirror percentage), step 1 of the run, or absent. */
    shadow?: { percent: number };
    startedAt: string;
    finishedAt?: string;
    outcome: RolloutOutcome;
    /** A sentence a reviewer reads first. */
    message: string;
    steps: StepRecord[];
    rollback?: RollbackRecord;
    /** The thresholds in force, for the report's header. */
    thresholds: Record<string, number | null>;
    /** Whose request metrics were read (`rollout.analysis.reporter`), in order of preference; absent in records written before the setting existed (`destination`). */
    reporters?: string[];
    /** The process running it, so `status` can tell a run that died from one still running. */
    runner?: ProcessIdentity;
    /**
     * The run's notifications (`rollout.notifications`, Kubernetes Events), once they settled at its
     * end: how many were delivered and each that was not (the webhook by position and host only).
     */
    notifications?: NotificationSummary;
}

/** Steps of the run's plan, counting the shadow step. */
export function plannedStepCount(record: Pick<RolloutRecord, "plan" | "shadow">): number {
    return record.plan.length + (record.shadow ? 1 : 0);
}

/** The plan as a reader sees it: `shadow (mirror 100%) → 1% → 10%`. */
export function planLabels(record: Pick<RolloutRecord, "plan" | "shadow">, percent: (n: number) => string = String): string[] {
    return [...(record.shadow ? [`shadow (mirror ${percent(record.shadow.percent)}%)`] : []), ...record.plan.map((w) => `${percent(w)}%`)];
}

/** The report's file name without its extension: `rollout-<startedAt>`, e.g. `rollout-2026-12-06T02-30-00-000Z`. */
export function reportBaseName(record: Pick<RolloutRecord, "startedAt">): string {
    return `rollout-${record.startedAt.replace(/[:.]/g, "-")}`;
}

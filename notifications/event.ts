// What a rollout tells the outside world: one event per thing a reader acts on (a run started, a
// step applied, an analysis failed, a rollback, a promotion...). Plain data, no secret: no URL,
// token or kubeconfig is ever part of an event. Pure.
import type { NotificationEventKind } from "../stacks/config/notification-settings";

export type { NotificationEventKind };

export interface NotificationEvent {
    kind: NotificationEventKind;
    stack: string;
    /** The model (`model` for the shorthand's). */
    model: string;
    stableVersion: string;
    /** The canary rolled out; absent once promoted or when the stack has none. */
    canaryVersion?: string;
    /** The canary's share of traffic after the event, when known. */
    weight?: number;
    /** Set in the shadow step: the share of traffic mirrored to the canary. */
    mirrorPercent?: number;
    /** The step the event belongs to, 1-based, with the plan's count. */
    step?: { index: number; total: number };
    /** The run's outcome, on the events that end a run. */
    outcome?: string;
    /** What happened and why, in a sentence. */
    reason: string;
    /** The process that sent it. */
    runner: { host: string; pid: number };
    /** ISO time. */
    time: string;
    /** Where the run's report is (a path on the runner), when there is one. */
    report?: string;
}

/** `Warning` for what needs a person (a failure, a rollback, a run cut short), else `Normal`: Kubernetes' two event types. */
export function severity(kind: NotificationEventKind): "Normal" | "Warning" {
    return ["analysis-failed", "rolled-back", "interrupted", "error", "lease-taken-over"].includes(kind) ? "Warning" : "Normal";
}

/** The Kubernetes Event reason of a kind: `step-applied` is `RolloutStepApplied`. */
export function eventReason(kind: NotificationEventKind): string {
    return `Rollout${kind.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("")}`;
}

const titles: Record<NotificationEventKind, string> = {
    "started": "rollout started",
    "step-applied": "step applied",
    "analysis-failed": "analysis failed",
    "rolled-back": "rolled back",
    "promoted": "promoted",
    "completed": "rollout completed",
    "interrupted": "rollout interrupted",
    "error": "rollout stopped on an error",
    "lease-taken-over": "lease taken over",
};

/** One line a person reads first: `fraud v2 on stack prod: step applied (10%, step 2/4)`. */
export function headline(event: NotificationEvent): string {
    const subject = `${event.model === "model" ? "" : `${event.model} `}${event.canaryVersion ?? event.stableVersion} on stack ${event.stack}`;
    const where = [
        event.mirrorPercent !== undefined ? `shadow, mirror ${event.mirrorPercent}%` : event.weight !== undefined ? `${event.weight}%` : undefined,
        event.step ? `step ${event.step.index}/${event.step.total}` : undefined,
    ].filter((x) => x !== undefined);
    return `${subject}: ${titles[event.kind]}${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
}

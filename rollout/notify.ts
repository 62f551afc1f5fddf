// A run's events as notifications: which of the rollout loop's events a reader is told about, and
// what each says. The notifier sends them in the background (notifications/notifier.ts).
import * as os from "os";
import * as path from "path";
import { redact } from "../components/secrets";
import type { NotificationEvent, NotificationEventKind } from "../notifications/event";
import { kubernetesEventSink } from "../notifications/kubernetes-events";
import { Notifier, type NotificationSummary } from "../notifications/notifier";
import type { NotificationWebhook } from "../stacks/config/notification-settings";
import type { ModelConfig, StackConfig } from "../stacks/config/config";
import { liveRouteObject, targetsCluster } from "../stacks/cluster-client/live";
import { reportBaseName, type RolloutOutcome } from "./record";
import type { RolloutEvent } from "./runner";

/** What every event of one model's run carries besides its own fields. */
export interface NotifyContext {
    stack: string;
    model: string;
    stableVersion: string;
    canaryVersion?: string;
    /** Where the run's reports are written (the directory; the run's end names its file). */
    report?: string;
    /** Values never sent (the config's secrets); the webhooks' URLs are added. */
    secrets?: string[];
}

const outcomeKinds: Partial<Record<RolloutOutcome, NotificationEventKind>> = {
    completed: "completed", promoted: "promoted", "rolled-back": "rolled-back", interrupted: "interrupted", error: "error",
};

/** A notification of `kind` for `context`, stamped now with this process as its runner. */
export function notificationEvent(context: NotifyContext, kind: NotificationEventKind, fields: Partial<NotificationEvent> & { reason: string }): NotificationEvent {
    return {
        kind, stack: context.stack, model: context.model, stableVersion: context.stableVersion,
        ...(context.canaryVersion ? { canaryVersion: context.canaryVersion } : {}),
        ...(context.report ? { report: context.report } : {}),
        ...fields,
        reason: redact(fields.reason, context.secrets ?? []),
        runner: { host: os.hostname(), pid: process.pid },
        time: new Date().toISOString(),
    };
}

/**
 * The run's `onEvent` for notifications: `started` at its first step, `step-applied`,
 * `analysis-failed` when an analysis decides to roll back, `lease-taken-over`, and the run's end
 * by its outcome (`completed`, `promoted`, `rolled-back`, `interrupted`, `error`).
 */
export function rolloutNotifications(notifier: Notifier, context: NotifyContext): (event: RolloutEvent) => void {
    let started = false;
    const send = (kind: NotificationEventKind, fields: Partial<NotificationEvent> & { reason: string }) => notifier.send(notificationEvent(context, kind, fields));
    return (event) => {
        switch (event.type) {
            case "lease-taken-over":
                send("lease-taken-over", { reason: `took over the run of model \`${context.model}\` left by \`${event.from.command}\` (pid ${event.from.pid} on host ${event.from.host}), which no longer holds it` });
                return;
            case "step-start":
                if (started) return;
                started = true;
                send("started", {
                    step: { index: event.step.index, total: event.total },
                    reason: `rolling ${context.canaryVersion ?? "the canary"} out against ${context.stableVersion}, from step ${event.step.index} of ${event.total} (${stepName(event.step)})`,
                });
                return;
            case "step-applied":
                send("step-applied", { ...where(event.step), step: { index: event.step.index, total: event.total }, reason: `${stepName(event.step)} applied${event.step.applyMs ? ` in ${(event.step.applyMs / 1000).toFixed(1)} s` : " (already applied)"}` });
                return;
            case "analysis":
                if (event.decision.decision !== "rollback") return;
                send("analysis-failed", {
                    ...where(event.step), step: { index: event.step.index, total: event.total },
                    reason: `${event.decision.reason}: ${[...new Set(event.analysis.results.filter((r) => r.status !== "pass").map((r) => `${r.name}: ${r.message}`))].join("; ")}`,
                });
                return;
            case "finish": {
                const kind = outcomeKinds[event.record.outcome];
                if (!kind) return;
                const last = event.record.steps.at(-1);
                const weight = kind === "rolled-back" || kind === "promoted" ? (kind === "promoted" ? 100 : 0) : last?.weight;
                send(kind, {
                    outcome: event.record.outcome,
                    ...(weight !== undefined ? { weight } : {}),
                    ...(last ? { step: { index: last.index, total: event.record.plan.length + (event.record.shadow ? 1 : 0) } } : {}),
                    reason: event.record.message,
                    ...(context.report ? { report: path.join(context.report, `${reportBaseName(event.record)}.md`) } : {}),
                });
                return;
            }
            default:
                return;
        }
    };
}

function stepName(step: { weight: number; mirrorPercent?: number }): string {
    return step.mirrorPercent !== undefined ? `the shadow stage (mirror ${step.mirrorPercent}%)` : `${step.weight}%`;
}

function where(step: { weight: number; mirrorPercent?: number }): Partial<NotificationEvent> {
    return step.mirrorPercent !== undefined ? { weight: 0, mirrorPercent: step.mirrorPercent } : { weight: step.weight };
}

/** The output lines of a run's notifications that failed; none when all arrived. */
export function notificationFailureLines(summary: NotificationSummary): string[] {
    return summary.failed.map((f) => `notification not delivered: ${f.event} to ${f.webhook ? `webhook ${f.webhook.index} (${f.webhook.host})` : f.sink} after ${f.attempts} attempt${f.attempts === 1 ? "" : "s"}: ${f.lastError}`);
}

/**
 * The notifier of one model's run or command: its webhooks, and on a cluster the Kubernetes
 * Events on its route object (VirtualService, or HTTPRoute with `router: gateway-api`).
 * `backoffMs`: the first pause between a webhook's attempts.
 */
export function modelNotifier(config: StackConfig, model: ModelConfig, webhooks: readonly NotificationWebhook[], options: { backoffMs?: number } = {}): Notifier {
    const r = model.resolved;
    const sinks = targetsCluster(config)
        ? [kubernetesEventSink({ kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext, configKey: "kubeconfig" },
            routeObjectOf(r))]
        : [];
    return new Notifier(webhooks, { sinks, ...options });
}

/** The object a model's Events are about: the route that holds its weights, whichever the router. */
function routeObjectOf(r: ModelConfig["resolved"]): { apiVersion: string; kind: string; namespace: string; name: string } {
    const route = liveRouteObject(r);
    return { apiVersion: route.apiVersion, kind: route.kind, namespace: r.namespace, name: route.name };
}

/** The context of a model's events, from its config; the webhooks' URLs are among the secrets never sent. */
export function notifyContext(ref: { stack: string }, config: StackConfig, model: ModelConfig, webhooks: readonly NotificationWebhook[], report?: string): NotifyContext {
    return {
        stack: ref.stack, model: model.name, stableVersion: model.resolved.stable.version,
        ...(model.resolved.canary ? { canaryVersion: model.resolved.canary.version } : {}),
        ...(report ? { report } : {}),
        secrets: [...config.secrets, ...webhooks.map((w) => w.url)],
    };
}

// The rollout loop: for each step, set `canaryWeight` and `up` through the Automation API, then
// analyse the canary against stable until the step passes or fails; roll back by itself.
import { terminalText } from "../components/syntax";
import type * as auto from "@pulumi/pulumi/automation";
import { judgeMeasurement, runAnalysis } from "../analysis/analyze";
import { hasPredictionData, type PredictionMeasurement } from "../analysis/prediction-gate";
import { preflightPrometheus } from "../analysis/preflight";
import { InstantQuerier, PrometheusClient } from "../analysis/prometheus";
import { judgeTick } from "../analysis/pending";
import { parseDurationMs } from "../analysis/queries";
import { decideStep, StepDecisionResult, summarize, TickOutcome, WorkloadMeasurement } from "../analysis/verdict";
import { scaleDownHolds } from "../components/replicas";
import { deploymentName } from "../components/routing";
import { redact } from "../components/secrets";
import { ValidationError } from "../components/validation";
import { applyStack, checkConfig, openStack, planModelUpdate, readOutputs, setModelConfig, StackOperationError, StackRef } from "../stacks/operations/automation";
import { ModelConfig, selectModel } from "../stacks/config/config";
import { checkLiveRollback, liveRouteObject, readDeploymentAvailability } from "../stacks/cluster-client/live";
import { ClusterApiError } from "../stacks/cluster-client/cluster-api";
import { acquireStackLock, withApplyLock } from "../stacks/operations/lock";
import { modelOutputsOf } from "../stacks/config/models";
import { rollbackFromLastApplied } from "../stacks/operations/recovery";
import { markRouteRecorded, writeRouteBeforeUp } from "../stacks/operations/rollback-write";
import type { RouteWrite } from "../stacks/cluster-client/rollback-route";
import { RolloutPlan, remainingSteps } from "../stacks/config/rollout-plan";
import { AnalysisRecord, RollbackRecord, RolloutRecord, StepRecord } from "./record";
import { recordWriter } from "./status";
import { runStoreFor } from "../stacks/operations/run-store";
import type { ProcessIdentity } from "../stacks/operations/process";

export type RolloutEvent =
    | { type: "step-start"; step: StepRecord; total: number }
    | { type: "step-applied"; step: StepRecord; total: number }
    | { type: "analysis"; step: StepRecord; total: number; analysis: AnalysisRecord; decision: StepDecisionResult; remainingMs: number }
    | { type: "rollback-start"; reason: string }
    /** `routeWriteMs`: on a cluster, the live route's write before the `up` (absent when none was made). */
    | { type: "rollback-done"; actionMs: number; routeWriteMs?: number }
    | { type: "promote-start" }
    | { type: "finish"; record: RolloutRecord }
    /** The run took over the lease of a holder that had died or let it expire (stacks/operations/lock.ts, a coordination store). */
    | { type: "lease-taken-over"; from: { host: string; pid: number; command: string } };

export interface RolloutOptions {
    ref: StackRef;
    /** The model to roll out (`--model`); may be omitted when the stack has one. */
    model?: string;
    plan: RolloutPlan;
    /** Default: a PrometheusClient for `plan.prometheusUrl`. */
    prometheus?: InstantQuerier;
    onEvent?: (event: RolloutEvent) => void;
    /** Aborting stops the rollout at a consistent point: between analyses, or once a running `up` finishes. */
    signal?: AbortSignal;
    /** Notices that are not events (a dead holder's lock taken over). Default: standard error. */
    onMessage?: (message: string) => void;
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        if (signal?.aborted) return resolve();
        const timer = setTimeout(done, ms);
        function done() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
    });
}

function hasData(m: WorkloadMeasurement, minRequests: number): boolean {
    return typeof m.requests === "number" && m.requests >= minRequests;
}

export interface TrafficChange {
    /** Wall time of the `up` that moved the traffic, in ms. */
    actionMs: number;
    /**
     * With `canary.replicas: auto`, when a version's count went down: the second `up`, which
     * removed the pods once the traffic had moved (its wall time and when it finished), or why it
     * failed. Absent when no count went down.
     */
    restore?: { restoreMs: number; restoredAt: string } | { error: string };
    /**
     * A rollback on a cluster: the live route's write before the `up` (stacks/operations/rollback-write.ts),
     * or why none was made. Absent for a step, and for a stack that renders.
     */
    routeWrite?: RouteWrite;
}

/** A model entry's canary when its replicas are `auto`. */
function autoCanaryOf(entry: Record<string, unknown>): Record<string, unknown> | undefined {
    const canary = entry.canary as Record<string, unknown> | undefined;
    return canary?.replicas === "auto" ? canary : undefined;
}

/** Removes holds from the config: older versions wrote them there, and an interrupted command left them. */
function dropHolds(entry: Record<string, unknown>): void {
    const canary = autoCanaryOf(entry);
    if (!canary || typeof canary.autoReplicas !== "object" || canary.autoReplicas === null) return;
    const { hold: _h, holdStable: _s, ...rest } = canary.autoReplicas as Record<string, unknown>;
    canary.autoReplicas = Object.keys(rest).length > 0 ? rest : undefined;
}

/**
 * Edits one model's traffic in the stack's config and applies it, holding the stack's apply lock
 * (another model's step waits for this change, and this one for its). Without
 * `canary.replicas: auto` that is one `up`. With it, pod counts that go down are held
 * (as `autoReplicas.hold`, `holdStable` would, but given to that `up` alone: see
 * stacks/config/replica-holds.ts) for the `up` that moves the traffic, and a second `up` removes the
 * pods: traffic first, replicas after. Counts that go up need no hold: the
 * Deployments are updated and awaited before the VirtualService, so pods come before their traffic.
 */
async function applyTraffic(stack: auto.Stack, model: ModelConfig, edit: (entry: Record<string, unknown>) => void, message: string, command: "rollout" | "rollback" = "rollout"): Promise<TrafficChange> {
    return withApplyLock(stack, command, async () => {
        const before = selectModel(checkConfig(stack), model.name, stack.name).resolved;
        const edited = setModelConfig(stack, model, (c) => { edit(c); dropHolds(c); });
        const targetModel = selectModel(edited, model.name, stack.name);
        const target = targetModel.resolved;
        // A rollback on a cluster moves the traffic first with one write to the live route, as the
        // provider's field manager; the `up` below then records that state (and the rest of the config).
        const routeWrite = command === "rollback" ? await writeRouteBeforeUp(edited, targetModel, notice) : undefined;
        const written = routeWrite ? { routeWrite } : {};
        let holds: ReturnType<typeof scaleDownHolds> = {};
        if (target.canary?.autoReplicas) {
            // What runs now; the config's counts for a stack deployed before they were recorded.
            const running = modelOutputsOf(await readOutputs(stack, { model: model.name }), model.name).replicas as Record<string, unknown> | undefined;
            const count = (version: string, fallback: number) => typeof running?.[version] === "number" ? running[version] as number : fallback;
            const now = {
                stable: count(target.stable.version, before.stable.version === target.stable.version ? before.stable.replicas : target.stable.replicas),
                canary: count(target.canary.version, before.canary?.version === target.canary.version ? before.canary.replicas : target.canary.replicas),
            };
            holds = scaleDownHolds(now, { stable: target.stable.replicas, canary: target.canary.replicas });
        }
        const held = Object.entries(holds).map(([k, n]) => `${k === "hold" ? target.canary!.version : target.stable.version} held at ${n} pods`);
        const started = Date.now();
        // Scoped to this model: the other models' resources are left as they are (stacks/operations/scope.ts).
        // The holds go to this `up` alone, not into the config: an interruption leaves none behind.
        const up = (text: string, extra: UpExtra = {}) => command === "rollback" ? rollbackUp(stack, text, model.name, extra) : applyStack(stack, { message: text, model: model.name, refresh: "all", ...extra });
        await up(held.length > 0 ? `${message} (traffic first; ${held.join(", ")})` : message, { holds: { [model.name]: holds } });
        const actionMs = Date.now() - started;
        await markRouteRecorded(edited, targetModel, routeWrite, notice);
        if (held.length === 0) return { actionMs, ...written };
        try {
            const restoreStarted = Date.now();
            await up(`${message}: replicas after the traffic moved`);
            return { actionMs, ...written, restore: { restoreMs: Date.now() - restoreStarted, restoredAt: new Date().toISOString() } };
        } catch (e) {
            // The traffic has moved, which is what the change is for; the held pods are only cost.
            return { actionMs, ...written, restore: { error: `the traffic moved, but removing the held pods failed (${held.join(", ")}; \`up\` or \`rollback\` again removes them): ${(e as Error).message}` } };
        }
    }, { onMessage: notice });
}

/** What an `up` of a traffic change may carry besides its message and model (the holds of `canary.replicas: auto`). */
type UpExtra = Pick<NonNullable<Parameters<typeof applyStack>[1]>, "holds">;

/**
 * A rollback's `up`. It does not read the Deployments live first (a hand-scaled one would stop it
 * with a field conflict): it applies from the state, and reads its route back afterwards
 * (confirmRolledBack). When that `up` fails (a route deleted by hand fails as "not found"), the
 * model's routing objects are read live and it runs once more.
 */
async function rollbackUp(stack: auto.Stack, message: string, model: string, extra: UpExtra = {}): Promise<void> {
    try {
        // A rollback always goes through, even from settings written before another runner's step.
        await applyStack(stack, { message, model, refresh: "none", overrideStale: true, ...extra });
    } catch (e) {
        if (e instanceof StackOperationError && e.kind === "conflict") {
            // A Deployment changed by hand (`kubectl scale`) must not keep traffic on the canary:
            // the routing objects alone are applied, the Deployments left as they are.
            notice(`model-canary: the rollback's \`up\` stopped on a field conflict (${e.message.split("\n")[0]}); applying the routing objects of \`${model}\` alone, the Deployments left as they are`);
            await applyStack(stack, { message: `${message} (routing objects only)`, model, refresh: "none", routingOnly: true, overrideStale: true, ...extra });
            return;
        }
        if (!(e instanceof StackOperationError) || e.kind !== "engine") throw e;
        notice(`model-canary: the rollback's \`up\` failed (${e.message.split("\n")[0]}); reading the routing objects of \`${model}\` from the cluster and applying again`);
        await applyStack(stack, { message: `${message} (routing read from the cluster)`, model, refresh: "routing", overrideStale: true, ...extra });
    }
}

/**
 * Sets the weight and the mirror in the stack's config and applies them: a weight step removes
 * the shadow stage's mirror (mirrorPercent 0 leaves the key out), the shadow step sets it with
 * weight 0.
 */
async function applyWeight(stack: auto.Stack, model: ModelConfig, weight: number, mirrorPercent: number, message: string): Promise<TrafficChange> {
    return applyTraffic(stack, model, (c) => { c.canaryWeight = weight; c.mirrorPercent = mirrorPercent > 0 ? mirrorPercent : undefined; }, message);
}

const notice = (m: string) => { process.stderr.write(terminalText(`${m}\n`)); };

/**
 * Takes traffic back from one model's canary at once (`model`: its name, optional when the stack
 * has one): its canaryWeight 0, its shadow stage's mirror and its header routes to the canary
 * removed, then `up`. Other models are untouched. With `canary.replicas: auto` the canary keeps
 * its pods for that `up` and a second one scales it down (a shrunk stable is back at its full
 * count before the routing changes): traffic first, replicas after.
 */
export async function rollbackStack(stack: auto.Stack, reason: string, model?: string): Promise<TrafficChange> {
    let target: ModelConfig;
    let change: TrafficChange;
    try {
        target = selectModel(checkConfig(stack), model, stack.name);
    } catch (e) {
        // An invalid config never blocks a rollback: the last applied config is rolled back instead.
        if (!(e instanceof StackOperationError && e.kind === "validation")) throw e;
        change = { actionMs: (await rollbackFromLastApplied(stack, reason, e.problems ?? [e.message], model)).actionMs };
        // That wrote the last applied config, with weight 0, as the stack's: valid again.
        await confirmRolledBack(stack, model, reason);
        return change;
    }
    const canaryVersion = target.resolved.canary?.version;
    change = await applyTraffic(stack, target, (c) => {
        c.canaryWeight = 0;
        c.mirrorPercent = undefined;
        const routes = Array.isArray(c.headerRoutes) ? c.headerRoutes.filter((r: { version?: string }) => r.version !== canaryVersion) : [];
        c.headerRoutes = routes.length > 0 ? routes : undefined;
    }, `model-canary rollback${target.path.length > 0 ? ` of ${target.name}` : ""}: ${reason}`, "rollback");
    await confirmRolledBack(stack, target.name, reason);
    return change;
}

/**
 * A rollback ends by reading the live VirtualService back: the state says what the last `up`
 * applied, not what the cluster holds (a hand edit the `up` saw no diff for, a deleted route).
 * When anything but stable still gets traffic, the model's routing objects are read live and
 * applied once more (a deleted one is created again); if the route still disagrees, this throws
 * saying what is live. Nothing is read in render mode.
 */
export async function confirmRolledBack(stack: auto.Stack, model: string | undefined, reason: string): Promise<void> {
    const config = checkConfig(stack);
    const target = selectModel(config, model, stack.name);
    const r = target.resolved;
    const route = liveRouteObject(r);
    const where = `${route.kind} ${r.namespace}/${route.name}`;
    const read = async () => {
        try {
            return await checkLiveRollback(config, target);
        } catch (e) {
            throw new StackOperationError("engine", `the rollback was applied, but reading the live ${where} back failed, so it is not known to send all traffic to ${r.stable.version}: ${(e as Error).message}`);
        }
    };
    const first = await read();
    if (!first || first.problems.length === 0) return;
    notice(`model-canary: after the rollback the live ${where} still does not send all traffic to ${r.stable.version} (${first.problems.join("; ")}); reading it from the cluster and applying it again`);
    await withApplyLock(stack, "rollback", () => applyStack(stack, { message: `model-canary rollback${target.path.length > 0 ? ` of ${target.name}` : ""}: ${reason} (repairing the live route)`, model: target.name, refresh: "routing", routingOnly: true, overrideStale: true }), { onMessage: notice });
    const second = await read();
    if (!second || second.problems.length === 0) return;
    throw new StackOperationError("engine", `the rollback was applied, but the live ${where} still does not send all traffic to ${r.stable.version}: ${second.problems.join("; ")}${second.otherManagers.length > 0 ? `. Other writers of it (field managers): ${second.otherManagers.join(", ")}` : ""}. Something else is writing the route (a controller, an admission webhook, another tool): stop it, then run \`rollback\` again; \`kubectl get ${route.kind.toLowerCase()} ${route.name} -n ${r.namespace} -o yaml\` shows what is live`);
}

/**
 * Makes the canary the stable version and removes the old stable (its Deployment is deleted);
 * header routes go too, since they could only name one of the two. Refused below 100% unless
 * forced, since it moves every request to the canary at once.
 */
export async function promoteStack(stack: auto.Stack, options: { force?: boolean; model?: string; beforeWhole?: (reason: string) => void | Promise<void> } = {}): Promise<number> {
    return withApplyLock(stack, "promote", async () => {
        const config = checkConfig(stack);
        const target = selectModel(config, options.model, stack.name);
        const resolved = target.resolved;
        const key = (k: string) => `\`${[...target.path, k].join(".")}\``;
        const whose = target.path.length > 0 ? `model \`${target.name}\` of stack \`${stack.name}\`` : `stack \`${stack.name}\``;
        if (!resolved.canary) throw new StackOperationError("refused", `${whose} has no ${key("canary")} to promote`);
        if (resolved.canaryWeight !== 100 && !options.force) {
            throw new StackOperationError("refused", `${key("canaryWeight")} is ${resolved.canaryWeight}, not 100: promoting now would move ${100 - resolved.canaryWeight}% of traffic to ${resolved.canary.version} at once; finish the rollout first or pass --force`);
        }
        // Against a cluster, the stable Deployment is deleted only for a canary that can carry
        // everything: Available, at the count it is configured to run (what the state says it
        // runs does not count).
        const canaryName = deploymentName(resolved.app, resolved.canary.version);
        let availability: Awaited<ReturnType<typeof readDeploymentAvailability>>;
        try {
            availability = await readDeploymentAvailability(config, target, canaryName);
        } catch (e) {
            // An API server that cannot be read is a refusal with its cause, not a crash: stable stays.
            if (!(e instanceof ClusterApiError)) throw e;
            throw new StackOperationError("refused", `${whose}: cannot read Deployment ${resolved.namespace}/${canaryName} to check it is Available before the stable one is deleted, so nothing was changed: ${e.message}`);
        }
        const full = resolved.canary.replicas;
        if (availability && (!availability.available || availability.availableReplicas < full || availability.replicas < full)) {
            const live = availability.replicas !== full ? `; it asks for ${availability.replicas} replicas in the cluster, ${key("canary")} says ${full}` : "";
            throw new StackOperationError("refused", `${whose}: ${availability.message}${live}, and promoting deletes Deployment ${resolved.namespace}/${deploymentName(resolved.app, resolved.stable.version)} (${resolved.stable.version}), which would leave no version with ${full} ready pods. Nothing was changed. Wait until ${canaryName} has ${full} available replicas (\`kubectl get deployment ${canaryName} -n ${resolved.namespace}\`), or \`rollback\``);
        }
        if (options.beforeWhole) {
            // Told before the config is edited, so that a refusal there leaves nothing half-done.
            const planned = await planModelUpdate(stack, target.name);
            if ("whole" in planned) await options.beforeWhole(planned.whole);
        }
        setModelConfig(stack, target, (c) => {
            // Promotion ends at the full count: an automatically sized canary takes the stable's
            // configured replicas (what it has at 100%, unless `autoReplicas.max` capped it).
            const canary = c.canary as Record<string, unknown>;
            if (canary.replicas === "auto") {
                const { autoReplicas: _auto, ...rest } = canary;
                c.stable = { ...rest, replicas: (c.stable as Record<string, unknown>).replicas ?? 1 };
            } else {
                c.stable = c.canary;
            }
            c.canary = undefined;
            c.canaryWeight = 0;
            c.mirrorPercent = undefined;
            c.headerRoutes = undefined;
        });
        const started = Date.now();
        await applyStack(stack, { message: `model-canary promote ${target.path.length > 0 ? `${target.name} ` : ""}${resolved.canary.version}`, model: target.name });
        return Date.now() - started;
    }, { onMessage: notice });
}

/** The route write's wall time, when a rollback made one. */
function routeWriteMs(result: TrafficChange): { routeWriteMs?: number } {
    return result.routeWrite && "written" in result.routeWrite ? { routeWriteMs: result.routeWrite.written.writeMs } : {};
}

/** The record of a rollback: when traffic left the canary and, with `replicas: auto`, when replicas were restored. */
function rollbackRecord(decidedAt: string, result: TrafficChange, reason: string): RollbackRecord {
    // The traffic `up` ended `restoreMs` before the restore finished.
    const trafficAt = result.restore && "restoredAt" in result.restore
        ? new Date(Date.parse(result.restore.restoredAt) - result.restore.restoreMs).toISOString()
        : new Date().toISOString();
    return {
        decidedAt, appliedAt: trafficAt, actionMs: result.actionMs, reason,
        ...(result.restore && "restoredAt" in result.restore ? { replicasRestoredAt: result.restore.restoredAt, restoreMs: result.restore.restoreMs } : {}),
        ...(result.restore && "error" in result.restore ? { restoreError: result.restore.error } : {}),
        ...(result.routeWrite && "written" in result.routeWrite ? { routeWrittenAt: result.routeWrite.written.writtenAt, routeWriteMs: result.routeWrite.written.writeMs } : {}),
        ...(result.routeWrite && !("written" in result.routeWrite) ? { routeNotWritten: "failed" in result.routeWrite ? result.routeWrite.failed : result.routeWrite.skipped } : {}),
    };
}

function restoreNote(result: TrafficChange): string {
    if (!result.restore) return "";
    return "error" in result.restore ? `; ${result.restore.error}` : "; then the replica counts were restored";
}

/** One step as walked: the shadow step has weight 0 and a mirror. */
interface Step {
    weight: number;
    /** 0 outside the shadow step. */
    mirrorPercent: number;
    intervalMs: number;
    /** 1-based position in the plan, the shadow step counted. */
    index: number;
}

/** The mirror percentage the stack's last `up` applied to this canary, 0 for none. */
function appliedMirrorPercent(outputs: Record<string, unknown>, canaryVersion: string): number {
    const mirror = outputs.mirror as { version?: unknown; percent?: unknown } | null | undefined;
    return mirror && mirror.version === canaryVersion && typeof mirror.percent === "number" ? mirror.percent : 0;
}

/** Walks the plan from the weight the stack serves now. Never throws for a failing canary: that is an outcome. */
export async function runRollout(options: RolloutOptions): Promise<RolloutRecord> {
    const { ref } = options;
    const stack = await openStack(ref);
    const config = checkConfig(stack);
    const model = selectModel(config, options.model, ref.stack).name;
    // The model is this run's until it ends: a second rollout of it, an `up` of the stack or its
    // `promote` is refused, and its `rollback` asks this run to stop (see stacks/operations/lock.ts) before it
    // applies anything. Other models of the stack may roll out at the same time.
    const notice = options.onMessage ?? ((m: string) => process.stderr.write(terminalText(`${m}\n`)));
    const runStore = runStoreFor(ref, model, config);
    const lock = await acquireStackLock(ref, "rollout", {
        model, onMessage: notice, runStore,
        onTakeOver: (from) => options.onEvent?.({ type: "lease-taken-over", from: { host: from.host, pid: from.pid, command: from.command } }),
    });
    // The record goes to the store every runner reads (and to this checkout, as a cache).
    const records = recordWriter(stack.workspace.workDir, runStore);
    let told = false;
    const save = (record: RolloutRecord) => void records.save(record).catch((e: Error) => {
        if (!told) notice(`model-canary: warning: the rollout record could not be written to ${lock.file}: ${e.message}; this checkout's copy has it`);
        told = true;
    });
    try {
        return await walk(options, stack, model, lock.preempted, lock.holder, save);
    } finally {
        await records.flushed();
        await lock.release();
    }
}

async function walk(options: RolloutOptions, stack: auto.Stack, modelName: string, preempted: AbortSignal, runner: ProcessIdentity, saveRecord: (record: RolloutRecord) => void): Promise<RolloutRecord> {
    const { ref, plan } = options;
    const signal = options.signal ? AbortSignal.any([options.signal, preempted]) : preempted;
    const emit = options.onEvent ?? (() => undefined);
    const configured = checkConfig(stack);
    const model = selectModel(configured, modelName, ref.stack);
    const config = model.resolved;
    const canaryKey = `\`${[...model.path, "canary"].join(".")}\``;
    if (!config.canary) throw new StackOperationError("refused", `${model.path.length > 0 ? `model \`${model.name}\` of stack` : "stack"} \`${ref.stack}\` has no ${canaryKey} configured: set ${canaryKey} to the version to roll out`);
    const canary = config.canary;
    const prometheus = options.prometheus ?? new PrometheusClient({ url: plan.prometheusUrl, timeoutMs: plan.prometheusTimeoutMs, ...(plan.prometheusHeaders ? { headers: plan.prometheusHeaders } : {}) });

    // Resume from what is applied, not only from what is configured.
    const applied = modelOutputsOf(await readOutputs(stack, { model: model.name }), model.name);
    const appliedWeight = applied.canaryVersion === canary.version && typeof applied.canaryWeight === "number" ? applied.canaryWeight : 0;
    const appliedMirror = appliedMirrorPercent(applied, canary.version);
    // The shadow stage only while the canary serves no user: a resumed run past it does not go back.
    const shadow = plan.shadow && appliedWeight === 0 ? plan.shadow : undefined;
    const steps: Step[] = [...(shadow ? [{ weight: 0, mirrorPercent: shadow.percent, intervalMs: shadow.intervalMs, index: 1 }] : []),
        ...remainingSteps(plan.steps, appliedWeight).map((weight) => ({ weight, mirrorPercent: 0, intervalMs: plan.intervalMs, index: plan.steps.indexOf(weight) + 1 + (plan.shadow ? 1 : 0) }))];
    const total = plan.steps.length + (plan.shadow ? 1 : 0);
    if (steps.length === 0) {
        // Walking nothing would report success for a weight no analysis looked at.
        const last = plan.steps[plan.steps.length - 1];
        throw new ValidationError([`${canary.version} already serves ${appliedWeight}%, above the plan's last step ${last}% (steps ${plan.steps.join(",")}): this rollout would analyse nothing and leave ${appliedWeight}% applied. Nothing was changed. Include a step of at least ${appliedWeight}% (e.g. \`--steps ${appliedWeight === 100 ? "100" : `${appliedWeight},100`}\`) to analyse it, or run \`rollback\` first`]);
    }
    // A Prometheus the analysis cannot use would roll a healthy canary back: refuse instead.
    // Asked again for up to 10 s: a Prometheus that was just started (or a stable workload whose
    // traffic just began) may not have scraped it yet.
    const ask = () => preflightPrometheus({
        prometheus, url: plan.prometheusUrl, signal,
        stable: { namespace: config.namespace, workload: deploymentName(config.app, config.stable.version), reporters: plan.reporters },
        ...(plan.predictions ? { stablePredictions: { ...plan.predictions, app: config.app, namespace: config.namespace, version: config.stable.version } } : {}),
    });
    let unusable = await ask();
    for (let waited = 0; unusable && waited < 10_000 && !signal.aborted; waited += 1000) {
        await pause(1000, signal);
        unusable = await ask();
    }
    if (unusable && !signal.aborted) throw new ValidationError([`${unusable.message}. Nothing was changed; ${unusable.fix} and run \`rollout\` again`]);
    const stopped = (at: string) => preempted.aborted
        ? `${(preempted.reason as Error).message} ${at}`
        : `interrupted ${at}`;
    const record: RolloutRecord = {
        stack: ref.stack,
        model: model.name,
        stableVersion: config.stable.version,
        canaryVersion: canary.version,
        plan: plan.steps,
        startedAt: new Date().toISOString(),
        outcome: "running",
        ...(plan.shadow ? { shadow: { percent: plan.shadow.percent } } : {}),
        message: appliedWeight > 0 ? `resuming at ${appliedWeight}%` : appliedMirror > 0 ? `resuming in the shadow stage (mirror ${appliedMirror}%)` : "starting",
        steps: [],
        thresholds: {
            ...plan.thresholds,
            ...(plan.predictions ? { predictionMaxPsi: plan.predictions.maxPsi, predictionMaxKs: plan.predictions.maxKs, predictionMinSamples: plan.predictions.minSamples } : {}),
        },
        reporters: [...plan.reporters],
        runner,
    };
    const save = () => saveRecord(record);
    const finish = (outcome: RolloutRecord["outcome"], message: string) => {
        record.outcome = outcome;
        // An engine or check error can quote config; a secret in it never reaches the record.
        record.message = redact(message, configured.secrets);
        record.finishedAt = new Date().toISOString();
        save();
        emit({ type: "finish", record });
        return record;
    };
    const workloads = { canary: deploymentName(config.app, canary.version), stable: deploymentName(config.app, config.stable.version) };
    let stableBaseline: WorkloadMeasurement | undefined;
    let stablePredictions: PredictionMeasurement | undefined;
    let currentWeight = appliedWeight;
    let currentMirror = appliedMirror;
    /** What is applied, for messages: `10%` or `the shadow stage (mirror 100%)`. */
    const appliedNow = () => currentMirror > 0 ? `the shadow stage (mirror ${currentMirror}%, canary serving no user)` : `${currentWeight}%`;

    for (const { weight, mirrorPercent, intervalMs, index } of steps) {
        const name = mirrorPercent > 0 ? "shadow" : `${weight}%`;
        if (signal.aborted) return finish("interrupted", `${stopped(`before the ${name} step`)}; ${appliedNow()} is applied`);
        const step: StepRecord = { index, weight, ...(mirrorPercent > 0 ? { mirrorPercent } : {}), startedAt: new Date().toISOString(), appliedAt: "", applyMs: 0, analyses: [], verdict: "running" };
        record.steps.push(step);
        save(); // `status` sees the run (and who runs it) before the step's `up` starts
        emit({ type: "step-start", step, total });
        // Against a cluster, no step sends traffic to a canary whose pods are not ready.
        const availability = await readDeploymentAvailability(configured, model, workloads.canary);
        if (availability && !availability.available) {
            step.verdict = "failed";
            step.reason = `${availability.message}; no traffic is sent to it`;
            save();
            emit({ type: "rollback-start", reason: step.reason });
            const decidedAt = new Date().toISOString();
            let result: TrafficChange;
            try {
                result = await rollbackStack(stack, `${canary.version} not Available before the ${name} step`, model.name);
            } catch (e) {
                finish("error", `the canary is not Available before the ${name} step and the rollback failed: ${(e as Error).message}`);
                throw e;
            }
            record.rollback = rollbackRecord(decidedAt, result, step.reason);
            emit({ type: "rollback-done", actionMs: result.actionMs, ...routeWriteMs(result) });
            return finish("rolled-back", `rolled back from ${appliedNow()} to 0% before the ${name} step: ${step.reason}${restoreNote(result)}`);
        }
        const configuredNow = selectModel(checkConfig(stack), model.name, ref.stack).resolved;
        // A canary scaled by hand (`kubectl scale`) is not the one analysed so far, nor the one the
        // config sizes for this step: the step is refused, naming the live count, rather than
        // sending traffic to it or scaling it back over someone's decision.
        const expected = configuredNow.canary?.replicas;
        if (availability && expected !== undefined && availability.replicas !== expected) {
            step.verdict = "failed";
            step.reason = `Deployment ${config.namespace}/${workloads.canary} runs ${availability.replicas} replica${availability.replicas === 1 ? "" : "s"} in the cluster (scaled outside model-canary), but ${canaryKey.slice(0, -1)}.replicas\` is ${expected}; the ${name} step was not applied`;
            finish("error", `stopped at ${appliedNow()}: ${step.reason}. Scale it back (\`kubectl scale deployment ${workloads.canary} -n ${config.namespace} --replicas ${expected}\`) and run \`rollout\` again, or set the count in config and \`up\` once with PULUMI_K8S_ENABLE_PATCH_FORCE=true, or \`rollback\``);
            throw new StackOperationError("refused", record.message);
        }
        if (weight !== currentWeight || mirrorPercent !== currentMirror || configuredNow.canaryWeight !== weight || configuredNow.mirrorPercent !== mirrorPercent) {
            try {
                const change = await applyWeight(stack, model, weight, mirrorPercent, `model-canary rollout ${model.path.length > 0 ? `${model.name} ` : ""}${canary.version} step ${index}/${total}: ${mirrorPercent > 0 ? `shadow, mirroring ${mirrorPercent}%` : `${weight}%`}`);
                step.applyMs = change.actionMs;
                if (change.restore && "restoreMs" in change.restore) step.restoreMs = change.restore.restoreMs;
                if (change.restore && "error" in change.restore) step.restoreError = redact(change.restore.error, configured.secrets);
            } catch (e) {
                // Keep config equal to what is applied, so a rerun resumes from the truth.
                await withApplyLock(stack, "rollout", async () => { setModelConfig(stack, model, (c) => { c.canaryWeight = currentWeight; c.mirrorPercent = currentMirror > 0 ? currentMirror : undefined; }); });
                step.verdict = "failed";
                step.reason = redact(`applying ${mirrorPercent > 0 ? `the shadow stage (mirror ${mirrorPercent}%)` : `${weight}%`} failed: ${(e as Error).message}`, configured.secrets);
                finish("error", `stopped at ${appliedNow()}: ${step.reason}`);
                throw e;
            }
            currentWeight = weight;
            currentMirror = mirrorPercent;
        }
        const appliedAtMs = Date.now();
        step.appliedAt = new Date(appliedAtMs).toISOString();
        save();
        emit({ type: "step-applied", step, total });

        const stepStart = Date.now();
        const outcomes: TickOutcome[] = [];
        for (;;) {
            await pause(plan.tickMs, signal);
            const interrupted = () => {
                step.verdict = "interrupted";
                step.reason = preempted.aborted ? (preempted.reason as Error).message : "interrupted during analysis";
                return finish("interrupted", preempted.aborted
                    ? `${stopped(`at ${appliedNow()}`)}; this run applies nothing more`
                    : `interrupted at ${appliedNow()}; config and cluster both hold it, rerun \`rollout\` to resume`);
            };
            if (signal.aborted) return interrupted();
            const report = await runAnalysis({
                prometheus, namespace: config.namespace, app: config.app, canaryWorkload: workloads.canary, stableWorkload: workloads.stable,
                window: plan.window, reporters: plan.reporters, thresholds: plan.thresholds, predictions: plan.predictions, customChecks: plan.checks, secrets: configured.secrets, signal,
                // In the shadow step the canary's traffic is the mirrored copy: the same queries see it.
                context: { canaryVersion: canary.version, stableVersion: config.stable.version, weight, ...(mirrorPercent > 0 ? { mirrorPercent } : {}), step: index, steps: total },
            });
            // An analysis cut short by the abort judged nothing: it neither passes nor counts toward rollback.
            if (signal.aborted) return interrupted();
            let { results, summary } = report;
            const measurement = report.measurement;
            const gate = plan.predictions;
            const stableMeasured = hasData(measurement.stable, plan.thresholds.minRequests);
            const stablePredicted = gate !== undefined && hasPredictionData(measurement.stable.predictions, gate);
            if (stableMeasured) stableBaseline = measurement.stable;
            if (stablePredicted) stablePredictions = measurement.stable.predictions;
            const useMetrics = !stableMeasured && stableBaseline !== undefined;
            const usePredictions = gate !== undefined && !stablePredicted && stablePredictions !== undefined;
            if (weight === 100 && (useMetrics || usePredictions)) {
                // At 100% stable serves nothing; compare against its last measured behaviour (and predictions) instead.
                const stable = { ...(useMetrics ? stableBaseline! : measurement.stable), ...(usePredictions ? { predictions: stablePredictions } : {}) };
                const custom = results.slice(results.length - plan.checks.length);
                results = [...judgeMeasurement({ canary: measurement.canary, stable }, plan.thresholds, gate), ...custom];
                summary = summarize(results);
            }
            // No data before the step's traffic could have been scraped is pending, not a failure.
            const tick = judgeTick({ summary, results, atMs: report.at.getTime(), appliedAtMs, windowMs: parseDurationMs(plan.window) });
            const analysis: AnalysisRecord = { at: report.at.toISOString(), summary: tick.outcome, ...(tick.pendingReason ? { pendingReason: tick.pendingReason } : {}), results, measurement };
            step.analyses.push(analysis);
            outcomes.push(tick.outcome);
            const elapsedMs = Date.now() - stepStart;
            const decision = decideStep({ outcomes, elapsedMs, intervalMs, failureThreshold: plan.thresholds.failureThreshold });
            save();
            emit({ type: "analysis", step, total, analysis, decision, remainingMs: Math.max(0, intervalMs - elapsedMs) });

            if (decision.decision === "advance") {
                step.verdict = "passed";
                step.reason = decision.reason;
                break;
            }
            if (decision.decision === "rollback") {
                step.verdict = "failed";
                const failing = [...new Set(results.filter((r) => r.status !== "pass").map((r) => r.message))].join("; ");
                step.reason = `${decision.reason}: ${failing}`;
                const decidedAt = new Date().toISOString();
                emit({ type: "rollback-start", reason: step.reason });
                let result: TrafficChange;
                try {
                    result = await rollbackStack(stack, `${canary.version} failed analysis at ${mirrorPercent > 0 ? "the shadow stage" : `${weight}%`}`, model.name);
                } catch (e) {
                    finish("error", `the canary failed at ${appliedNow()} and the rollback failed: ${(e as Error).message}`);
                    throw e;
                }
                record.rollback = rollbackRecord(decidedAt, result, step.reason);
                emit({ type: "rollback-done", actionMs: result.actionMs, ...routeWriteMs(result) });
                return finish("rolled-back", (mirrorPercent > 0
                    ? `rolled back at the shadow stage, having served no user: mirror removed, 0%: ${step.reason}`
                    : `rolled back from ${weight}% to 0%: ${step.reason}`) + restoreNote(result));
            }
        }
        save();
    }

    if (plan.promote) {
        if (signal.aborted) return finish("interrupted", `${stopped("before promotion")}; the canary serves 100%`);
        emit({ type: "promote-start" });
        await promoteStack(stack, { model: model.name });
        return finish("promoted", `${canary.version} passed every step and is now the stable version`);
    }
    return finish("completed", `${canary.version} passed every step and serves ${currentWeight}%; run \`promote\` to make it stable`);
}

// What `status` reports, as data: for each model of a stack, what is applied (its stack outputs),
// the configured weight and mirror and whether they drift from it, the live VirtualService on a
// cluster, who holds the model's lock and its last rollout. `model-canary status --json` prints
// exactly a StackStatus; its text is rendered from the same result (cli/rollout.ts).
import type * as auto from "@pulumi/pulumi/automation";
import { defaultRouteMirror, Mirror, sameMirror } from "../components/routing";
import { GatewayApiRouteKind, gatewayApiRouteKind } from "../components/routers/gateway-api-route";
import { HeaderRoute } from "../components/types";
import { checkConfig, configuredModelNames, openStack, readOutputs, StackOperationError, StackRef } from "../stacks/operations/automation";
import { ModelConfig, StackConfig } from "../stacks/config/config";
import { LiveReplicas, readLiveReplicas, readLiveRouting } from "../stacks/cluster-client/live";
import { lockHolder, RunHolder } from "../stacks/operations/lock";
import { runStoreFor } from "../stacks/operations/run-store";
import { CoordinationStoreError } from "../stacks/coordination/store";
import { modelOutputsOf, selectModelName, shorthandModel } from "../stacks/config/models";
import { Liveness, liveness, ProcessIdentity } from "../stacks/operations/process";
import { appliedFromOutputs } from "../stacks/operations/recovery";
import { stackSettingsPath } from "../stacks/config/settings";
import { AnalysisRecord, plannedStepCount, RolloutOutcome, RolloutRecord, StepRecord } from "./record";
import { readSharedRecord, RecordSource, UnreadableRecordError } from "./status";
import * as path from "path";

/** What the last `up` applied, from the model's stack outputs; null (or []) for what is not there. */
export interface AppliedRouting {
    split: Record<string, number> | null;
    mirror: Mirror | null;
    replicas: Record<string, number> | null;
    headerRoutes: HeaderRoute[];
    canaryWeight: number | null;
}

/**
 * The live VirtualService and Deployments (on a cluster; null in render mode or when the config
 * is invalid), or why they could not be read. `replicas`: each version's Deployment (applied or
 * configured) as the cluster has it, null for one that does not exist. `rollbackWrittenAt`: a
 * rollback set the live route to stable then, and no `up` has recorded it yet (applied live, not recorded).
 */
export type LiveStatus = ({ split: Record<string, number> | null; drift: boolean; differences: string[]; replicas: Record<string, LiveReplicas>; rollbackWrittenAt?: string } | { error: string }) & RouteKindStatus | null;

/** The kind of the live route, named only when it is not a VirtualService (`router: gateway-api`: an HTTPRoute, or a GRPCRoute for `protocol: grpc`), so the Istio router's status reads as before. */
export interface RouteKindStatus {
    route?: GatewayApiRouteKind;
}

/**
 * The model's run lock holder (with its lease: user, acquiredAt, renewedAt, leaseSeconds) and
 * whether its process still runs, or null when free; `{ error }` when the store cannot be read.
 */
export type LockStatus = (RunHolder & { state: Liveness["state"] }) | { error: string } | null;

/** The model's last recorded rollout, why its record cannot be read, or null when none ran here. */
export type RolloutStatus = {
    outcome: RolloutOutcome;
    /** The outcome, or for a run not finished: `running (pid N)`, `died (...)`, `running on host ...`. */
    state: string;
    runner: ProcessIdentity | null;
    message: string;
    /** `2/4`: the last step reached of the planned steps; null before the first step. */
    step: string | null;
    weight: number | null;
    lastAnalysis: AnalysisRecord | null;
    /** The run's notifications, when it had any (`rollout.notifications`, Kubernetes Events). */
    notifications?: RolloutRecord["notifications"];
} | { error: string } | null;

export interface ModelStatus {
    /** Present on a stack of several models, or for a `models` entry (absent for the shorthand's model `model`). */
    model?: string;
    applied: AppliedRouting;
    /** Null when the config is invalid. */
    configuredWeight: number | null;
    configuredMirror: Mirror | null;
    /** The config's weight or mirror differs from what is applied. */
    drift: boolean;
    live: LiveStatus;
    lock: LockStatus;
    rollout: RolloutStatus;
    /** Set when the record shown is this checkout's cache because the shared store could not be read. */
    recordFrom?: { cache: string; storeError: string };
}

export interface ConfigState {
    valid: boolean;
    /** Why the config is refused; empty when it is valid. */
    problems: string[];
}

/** One model (asked for with `model`, or the stack's only one): its status with the stack's name and config state. */
export interface SingleModelStatus extends ModelStatus {
    stack: string;
    config: ConfigState;
}

/** Every model of a stack of several, in config order. */
export interface StackModelsStatus {
    stack: string;
    config: ConfigState;
    models: ModelStatus[];
}

export type StackStatus = SingleModelStatus | StackModelsStatus;

/** What the text of `status` needs beyond the StackStatus (internal to the command). */
export interface ModelStatusDetails {
    name: string;
    named: boolean;
    /** The model's key prefix in the config (`models.fraud`), empty for the shorthand. */
    configPath: string[];
    autoReplicas: boolean;
    weightDrift: boolean;
    mirrorDrift: boolean;
    /** The applied canaryWeight output as it is (for the drift line). */
    appliedWeight: unknown;
    holder: RunHolder | undefined;
    /** Why the lock's store could not be read. */
    lockError?: string;
    /** Where the record shown was read from. */
    source?: RecordSource;
    lastStep: StepRecord | undefined;
}

/**
 * The status of a stack's models, as `model-canary status --json` prints it: one model (`model`,
 * or the only one) or, on a stack of several, every model. Reads what is applied even when the
 * config is invalid (then `config.valid` is false with its problems). Changes nothing.
 */
export async function stackStatus(ref: StackRef, options: { model?: string } = {}): Promise<StackStatus> {
    return (await collectStackStatus(ref, options)).status;
}

/**
 * The stack's config, or the problems that make it invalid (nothing else is caught), and its model
 * names either way: with an invalid config, those the settings file names, else those the last
 * `up` recorded. For the commands that must work on an invalid config: `status` and `rollback`.
 */
export async function readConfigLeniently(stack: auto.Stack, stackName: string): Promise<{ config: StackConfig | undefined; problems: string[]; names: string[] }> {
    try {
        const config = checkConfig(stack);
        return { config, problems: [], names: Object.keys(config.models) };
    } catch (e) {
        if (!(e instanceof StackOperationError && e.kind === "validation")) throw e;
        const names = configuredModelNames(stack.workspace.workDir, stackName) ?? await recordedModelNames(stack);
        return { config: undefined, problems: e.problems ?? [e.message], names };
    }
}

/** stackStatus with what the command's text needs besides. */
export async function collectStackStatus(ref: StackRef, options: { model?: string } = {}): Promise<{ status: StackStatus; details: ModelStatusDetails[]; settingsFile: string }> {
    const stack = await openStack(ref);
    const outputs = await readOutputs(stack, options.model !== undefined ? { model: options.model } : {});
    // What is applied is worth showing even when the config would be refused: say why, too.
    const { config, problems, names } = await readConfigLeniently(stack, ref.stack);
    const shown = options.model !== undefined || names.length === 1 ? [selectModelName(names, options.model, ref.stack)] : names;
    const settingsFile = path.basename(stackSettingsPath(stack.workspace.workDir, ref.stack));
    const reports: { object: ModelStatus; details: ModelStatusDetails }[] = [];
    for (const name of shown) reports.push(await modelStatus(ref, stack, outputs, config, name, shown.length > 1 || name !== shorthandModel));
    const configState: ConfigState = { valid: config !== undefined, problems };
    const details = reports.map((r) => r.details);
    if (shown.length === 1) {
        // One model: the shape `status` always had, with the config's state inside.
        const status: SingleModelStatus = { stack: ref.stack, ...(shown[0] !== shorthandModel ? { model: shown[0] } : {}), ...reports[0].object, config: configState };
        return { status, details, settingsFile };
    }
    return { status: { stack: ref.stack, config: configState, models: reports.map((r) => r.object) }, details, settingsFile };
}

/** The model names the last `up` recorded (its `appliedConfig`), for a settings file that cannot be read. */
export async function recordedModelNames(stack: auto.Stack): Promise<string[]> {
    const models = appliedFromOutputs(await readOutputs(stack))?.plain["model-canary:models"];
    return typeof models === "object" && models !== null && !Array.isArray(models) && Object.keys(models).length > 0 ? Object.keys(models) : [shorthandModel];
}

/** What `status` says about a recorded run that has not finished: running, or died. */
export function runState(record: RolloutRecord): string {
    if (record.outcome !== "running" || !record.runner) return record.outcome;
    const state = liveness(record.runner);
    if (state.state === "dead") return `died (${state.reason})`;
    if (state.state === "unknown") return `running on host ${record.runner.host} (pid ${record.runner.pid}; ${state.reason})`;
    return `running (pid ${record.runner.pid})`;
}

/**
 * One model's status: what is applied, drift, the live VirtualService, its lock and its last
 * rollout. `named`: the model's name is part of it (a stack of several, or a `models` entry).
 */
async function modelStatus(ref: StackRef, stack: auto.Stack, stackOutputs: Record<string, unknown>, config: StackConfig | undefined, name: string, named: boolean): Promise<{ object: ModelStatus; details: ModelStatusDetails }> {
    const outputs = modelOutputsOf(stackOutputs, name);
    const model: ModelConfig | undefined = config?.models[name];
    const configured = model?.resolved;
    // Against a cluster, the route (VirtualService, HTTPRoute or GRPCRoute) as it is there, which a hand edit may have changed.
    const routeKind: RouteKindStatus = configured?.router === "gateway-api" ? { route: gatewayApiRouteKind(configured) } : {};
    let live: Awaited<ReturnType<typeof readLiveRouting>>;
    let liveReplicas: Record<string, LiveReplicas> | undefined;
    let liveError: string | undefined;
    try {
        live = config && model ? await readLiveRouting(config, model) : undefined;
        const versions = [...new Set([...Object.keys((outputs.replicas ?? {}) as object), ...(configured ? [configured.stable.version, ...(configured.canary ? [configured.canary.version] : [])] : [])])];
        liveReplicas = live && config && model ? await readLiveReplicas(config, model, versions) : undefined;
    } catch (e) {
        // What is applied is still worth showing when the cluster cannot be read.
        liveError = (e as Error).message;
    }
    // A damaged record is reported, not fatal: the routing is what status is for.
    let record: RolloutRecord | undefined;
    let recordError: string | undefined;
    let source: RecordSource | undefined;
    const runStore = runStoreFor(ref, name, config);
    try {
        const shared = await readSharedRecord(ref, stack.workspace.workDir, name, runStore);
        record = shared.record;
        source = shared.source;
    } catch (e) {
        if (!(e instanceof UnreadableRecordError)) throw e;
        recordError = e.message;
    }
    // A store that cannot be read shows no holder: the line below says why.
    let holder: RunHolder | undefined;
    let lockError: string | undefined;
    try {
        holder = await lockHolder(ref, name, runStore);
    } catch (e) {
        if (!(e instanceof CoordinationStoreError)) throw e;
        lockError = e.message;
    }
    const last = record?.steps.at(-1);
    const lastAnalysis = last?.analyses.at(-1);
    const appliedMirror = (outputs.mirror ?? null) as Mirror | null;
    const configuredMirror = configured ? defaultRouteMirror(configured) ?? null : null;
    const weightDrift = configured !== undefined && outputs.canaryWeight !== undefined && outputs.canaryWeight !== configured.canaryWeight;
    // Outputs from before the shadow stage existed have no `mirror`: nothing was mirrored then.
    const mirrorDrift = configured !== undefined && outputs.split !== undefined && !sameMirror(appliedMirror, configuredMirror);
    const object: ModelStatus = {
        ...(named ? { model: name } : {}),
        applied: {
            split: (outputs.split ?? null) as Record<string, number> | null,
            mirror: appliedMirror,
            replicas: (outputs.replicas ?? null) as Record<string, number> | null,
            headerRoutes: (outputs.headerRoutes ?? []) as HeaderRoute[],
            canaryWeight: (outputs.canaryWeight ?? null) as number | null,
        },
        configuredWeight: configured?.canaryWeight ?? null,
        configuredMirror,
        drift: weightDrift || mirrorDrift,
        live: live ? { split: live.split ?? null, drift: live.differences.length > 0, differences: live.differences, replicas: liveReplicas ?? {}, ...(live.rollbackWrittenAt !== undefined ? { rollbackWrittenAt: live.rollbackWrittenAt } : {}), ...routeKind } : liveError ? { error: liveError, ...routeKind } : null,
        lock: lockError !== undefined ? { error: lockError } : holder ? { ...holder, state: liveness(holder).state } : null,
        rollout: recordError ? { error: recordError } : record ? { outcome: record.outcome, state: runState(record), runner: record.runner ?? null, message: record.message, step: last ? `${last.index}/${plannedStepCount(record)}` : null, weight: last?.weight ?? null, lastAnalysis: lastAnalysis ?? null, ...(record.notifications ? { notifications: record.notifications } : {}) } : null,
        ...(source?.from === "checkout" && source.storeError !== undefined ? { recordFrom: { cache: source.file, storeError: source.storeError } } : {}),
    };
    const details: ModelStatusDetails = {
        name, named, configPath: model?.path ?? [], autoReplicas: Boolean(configured?.canary?.autoReplicas),
        weightDrift, mirrorDrift, appliedWeight: outputs.canaryWeight, holder, ...(lockError !== undefined ? { lockError } : {}), ...(source ? { source } : {}), lastStep: last,
    };
    return { object, details };
}

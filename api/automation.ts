// `model-canary/automation`: the typed API behind the `model-canary` command, for pipelines and
// scripts that drive a stack (any Pulumi project whose program declares a ModelCanary from the
// stack config) without the command line.
export {
    backendFor, openStack, previewStack, readOutputs, StackOperationError, toolchainDir, upStack,
} from "../stacks/automation";
export type { OperationResult, ResourceStep, StackErrorKind, StackRef, UpResult } from "../stacks/automation";
export { promoteStack, rollbackStack, runRollout } from "../rollout/runner";
export type { RolloutEvent, RolloutOptions } from "../rollout/runner";
export type { AnalysisRecord, RollbackRecord, RolloutOutcome, RolloutRecord, StepRecord } from "../rollout/record";
export { readRecord, recordFile, UnreadableRecordError } from "../rollout/status";
export { defaultPlan, resolvePlan } from "../stacks/rollout-plan";
export type { PlanFlags, RolloutPlan } from "../stacks/rollout-plan";
export { rollbackFromLastApplied } from "../stacks/recovery";
export type { RecoveryResult } from "../stacks/recovery";
export { acquireStackLock, lockHolder, preemptStackLock, StackLockedError } from "../stacks/lock";
export type { StackLock } from "../stacks/lock";
export { PrometheusClient, PrometheusError } from "../analysis/prometheus";
export type { InstantQuerier } from "../analysis/prometheus";
export type { AnalysisThresholds, CheckResult, CheckStatus } from "../analysis/verdict";
export type { CustomCheck } from "../analysis/custom";

// `model-canary/automation`: the typed API behind the `model-canary` command, for pipelines and
// scripts that drive a stack (any Pulumi project whose program declares a ModelCanary from the
// stack config) without the command line.
export {
    backendFor, openStack, previewStack, readOutputs, StackOperationError, toolchainDir, upStack,
} from "../stacks/operations/automation";
export type { OperationResult, ResourceStep, StackErrorKind, StackRef, UpResult } from "../stacks/operations/automation";
export { promoteStack, rollbackStack, runRollout } from "../rollout/runner";
export type { RolloutEvent, RolloutOptions, TrafficChange } from "../rollout/runner";
export type { AnalysisRecord, RollbackRecord, RolloutOutcome, RolloutRecord, StepRecord } from "../rollout/record";
export { readRecord, recordFile, UnreadableRecordError } from "../rollout/status";
export { defaultPlan, resolvePlan } from "../stacks/config/rollout-plan";
export type { PlanFlags, RolloutPlan, ShadowStage } from "../stacks/config/rollout-plan";
export { rollbackFromLastApplied } from "../stacks/operations/recovery";
export type { RecoveryResult } from "../stacks/operations/recovery";
export { acquireStackLock, lockHolder, lockHolders, preemptStackLock, StackLockedError, withApplyLock } from "../stacks/operations/lock";
// Many models in one stack: which model a call acts on, and its part of the stack outputs.
export { checkConfig, setModelConfig } from "../stacks/operations/automation";
export { selectModel } from "../stacks/config/config";
export type { ModelConfig, StackConfig } from "../stacks/config/config";
export { ModelSelectionError, modelOutputsOf, selectModelName, shorthandModel } from "../stacks/config/models";
export type { StackLock } from "../stacks/operations/lock";
export { PrometheusClient, PrometheusError } from "../analysis/prometheus";
export type { InstantQuerier } from "../analysis/prometheus";
export type { AnalysisThresholds, CheckResult, CheckStatus } from "../analysis/verdict";
export type { CustomCheck } from "../analysis/custom";
// What `status --json` prints, as a typed result.
export { stackStatus } from "../rollout/stack-status";
export type {
    AppliedRouting, ConfigState, LiveStatus, LockStatus, ModelStatus, RolloutStatus, SingleModelStatus, StackModelsStatus, StackStatus,
} from "../rollout/stack-status";

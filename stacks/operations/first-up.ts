// The first `up` of a stack writes its state once, at the end, instead of after every step.
//
// The local file backend rewrites the whole checkpoint (every resource so far) before and after
// each step, so a first `up` of n resources writes O(n^2) bytes: with 100 models (602 resources)
// that was most of its time, and it grew faster than the number of models. Pulumi's
// PULUMI_SKIP_CHECKPOINTS writes the state once when the update ends, successful or not (an
// interrupt ends it too). Only a process that dies without ending (SIGKILL, power loss) loses
// what it did, and on an empty stack that is safe: the state held nothing to lose, and every step
// of a first `up` is a create that a rerun repeats harmlessly (the Kubernetes provider creates
// with server-side apply, which takes over an object that already exists, and a rendered file is
// written again). That takeover is the pinned provider's (4.25.0): from 4.29 the provider creates
// client-side and refuses an existing object unless `upsertExistingObjects` is set, so upgrading it
// means revisiting this. With checkpoints, the same death leaves "interrupted" operations that need
// `pulumi refresh` or an export/import to clear. Any later `up` keeps checkpointing every step,
// scoped ones too: there the argument fails. A step killed after the engine changed an object (a
// VirtualService moved to 10%) but before the state was written leaves the old value (1%) in the
// state, unmarked; a next `up` asking for that old value sees no change and leaves the object at
// 10%. With checkpoints that window is the provider call and the save after it, and the
// operation is recorded as interrupted.
import type * as auto from "@pulumi/pulumi/automation";

export const skipCheckpointsEnvVar = "PULUMI_SKIP_CHECKPOINTS";

/** True when the stack's state holds no resources (never updated, or destroyed). */
export async function isEmptyStack(stack: auto.Stack): Promise<boolean> {
    const state = await stack.exportStack();
    const resources = (state.deployment as { resources?: unknown[] } | undefined)?.resources ?? [];
    return resources.length === 0;
}

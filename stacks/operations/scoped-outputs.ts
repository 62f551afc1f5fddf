// The program's side of a scoped update (scope.ts): the stack outputs it returns. A whole update
// returns its own outputs plus `sharedConfigDigest`; a scoped one keeps every other model's
// outputs and applied config from the outputs before the update, since the engine replaces the
// stack's outputs with whatever the program returns.
import * as pulumi from "@pulumi/pulumi";
import type { AppliedSecret } from "../config/applied";
import { mergeAppliedConfig, mergeModelOutputs, previousApplied, sharedConfigDigest, UpdateScope } from "./scope";

/** The outputs a whole update of the program would return. */
export interface StackOutputs {
    /** Each model's outputs, each with its component's `urn` (a scoped update's target). */
    models: Record<string, unknown>;
    appliedConfig: Record<string, unknown>;
    appliedSecrets?: pulumi.Output<AppliedSecret[]>;
    [key: string]: unknown;
}

export function scopedStackOutputs(scope: UpdateScope | undefined, fresh: StackOutputs, settingsConfig: Record<string, unknown> | undefined): Record<string, unknown> {
    const digest = sharedConfigDigest(settingsConfig);
    if (!scope) return { ...fresh, sharedConfigDigest: digest };
    const previous = previousApplied(scope.previous);
    const plain = mergeAppliedConfig(previous, { plain: fresh.appliedConfig, secrets: [] }, scope.model).plain;
    const { appliedSecrets: freshSecrets, ...rest } = fresh;
    // Kept as the whole update would: a secret output only when there are secrets.
    const othersHaveSecrets = mergeAppliedConfig(previous, { plain: fresh.appliedConfig, secrets: [] }, scope.model).secrets.length > 0;
    const appliedSecrets = freshSecrets || othersHaveSecrets
        ? pulumi.secret(pulumi.output(freshSecrets ?? []).apply((own) => mergeAppliedConfig(previous, { plain: fresh.appliedConfig, secrets: own }, scope.model).secrets))
        : undefined;
    return {
        ...rest,
        models: mergeModelOutputs(scope.previous, scope.model, fresh.models[scope.model]),
        appliedConfig: plain,
        ...(appliedSecrets ? { appliedSecrets } : {}),
        sharedConfigDigest: digest,
    };
}

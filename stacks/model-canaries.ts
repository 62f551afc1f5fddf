// The one-line way for a Pulumi program to build its models from the stack config, as this
// project's own program does: the shorthand keys or the `models` map, validated before anything is
// registered, one ModelCanary per model with the caller's provider and options. With the outputs
// below exported, `model-canary rollout --stack prod --model fraud` drives a stack whose program
// the user wrote.
import * as pulumi from "@pulumi/pulumi";
import { HeaderRoute, ModelCanary, TrafficSplit } from "../components";
import { appliedConfigOutputs, AppliedSecret } from "./applied";
import { componentArgs, configNamespace, loadStackConfig, ModelConfig, StackConfig } from "./config";
import { stackSettingsPath } from "./settings";

export interface ModelCanariesOptions {
    /**
     * Options for every model's component (the provider, say), or a function giving each model
     * its own. Default none: the default Kubernetes provider.
     */
    opts?: pulumi.ComponentResourceOptions | ((model: ModelConfig) => pulumi.ComponentResourceOptions | undefined);
    /** The stack config to build from. Default: this stack's, read and validated now (a bad value stops the program before any resource). */
    config?: StackConfig;
}

/**
 * One ModelCanary per model of the stack config, by model name. Each component is named after its
 * model (the shorthand's is `model`), so resource URNs stay the same when a stack moves from the
 * shorthand to a `models` entry named `model`.
 */
export function modelCanariesFromConfig(options: ModelCanariesOptions = {}): Record<string, ModelCanary> {
    const config = options.config ?? loadStackConfig();
    const canaries: Record<string, ModelCanary> = {};
    for (const model of Object.values(config.models)) {
        const opts = typeof options.opts === "function" ? options.opts(model) : options.opts;
        canaries[model.name] = new ModelCanary(model.name, componentArgs(config, model), opts);
    }
    return canaries;
}

/** What the commands read about one deployed model (its `models.<name>` stack output). */
export interface ModelOutputs {
    namespace: string;
    serviceName: pulumi.Output<string>;
    virtualServiceName: pulumi.Output<string>;
    destinationRuleName: pulumi.Output<string>;
    deploymentNames: pulumi.Output<Record<string, string>>;
    stableVersion: string;
    canaryVersion: string | null;
    canaryWeight: number;
    split: TrafficSplit;
    /** The shadow stage: `{ version, percent }` of default traffic mirrored, or null. */
    mirror: ModelCanary["mirror"] | null;
    headerRoutes: HeaderRoute[];
}

/** One model's outputs. */
export function modelOutputs(canary: ModelCanary): ModelOutputs {
    return {
        namespace: canary.namespace,
        serviceName: canary.serviceName,
        virtualServiceName: canary.virtualServiceName,
        destinationRuleName: canary.destinationRuleName,
        deploymentNames: canary.deploymentNames,
        stableVersion: canary.stableVersion,
        canaryVersion: canary.canaryVersion ?? null,
        canaryWeight: canary.canaryWeight,
        split: canary.split,
        mirror: canary.mirror ?? null,
        headerRoutes: canary.headerRoutes,
    };
}

/**
 * The stack outputs the commands read, to export from the program (`export = async () =>
 * modelCanaryOutputs(models)`, or spread into its own): `models` (each model's routing: `status`,
 * `preview` and a resumed `rollout` read it) and the config this `up` applied (`appliedConfig`, and
 * `appliedSecrets` as a secret), which `rollback` falls back on when the settings file has become invalid.
 */
export function modelCanaryOutputs(canaries: Record<string, ModelCanary>): {
    models: Record<string, ModelOutputs>;
    appliedConfig: Record<string, unknown>;
    appliedSecrets?: pulumi.Output<AppliedSecret[]>;
} {
    // The engine runs the program in the project directory, beside the stack settings.
    const applied = appliedConfigOutputs(stackSettingsPath(process.cwd(), pulumi.getStack()), configNamespace);
    return {
        models: Object.fromEntries(Object.entries(canaries).map(([name, canary]) => [name, modelOutputs(canary)])),
        appliedConfig: applied.appliedConfig,
        ...(applied.appliedSecrets ? { appliedSecrets: applied.appliedSecrets } : {}),
    };
}

// The one-line way for a Pulumi program to build its models from the stack config, as this
// project's own program does: the shorthand keys or the `models` map, validated before anything is
// registered, one ModelCanary per model with the caller's provider and options. With the outputs
// below exported, `model-canary rollout --stack prod --model fraud` drives a stack whose program
// the user wrote.
import * as pulumi from "@pulumi/pulumi";
import { HeaderRoute, ModelCanary, RouterKind, RoutingObjectName, TrafficSplit } from "../../components";
import { appliedConfigOutputs, AppliedSecret } from "../config/applied";
import { componentArgs, configNamespace, loadStackConfig, ModelConfig, programError, refuseStackPerModel, StackConfig } from "../config/config";
import { configStackOf } from "../operations/model-stacks";
import { ownerAnnotation, ownerEnvVar, ownerName } from "../cluster-client/ownership";
import { isStackProvider } from "./provider";
import { readScope, readSettingsConfig } from "../operations/scope-file";
import { scopedStackOutputs } from "../operations/scoped-outputs";
import { stackSettingsPath } from "../config/settings";
import { routingRecordFor, routingStamp } from "./routing-revision";
import type { RoutingRecord } from "../config/routing-revision";

/** Each component's routing record (see routing-revision.ts), exported with its outputs. */
const routingRecords = new WeakMap<ModelCanary, RoutingRecord>();

export interface ModelCanariesOptions {
    /**
     * Options for every model's component (the provider, say), or a function giving each model
     * its own. Default none: the default Kubernetes provider.
     */
    opts?: pulumi.ComponentResourceOptions | ((model: ModelConfig) => pulumi.ComponentResourceOptions | undefined);
    /** The stack config to build from. Default: this stack's, read and validated now (a bad value stops the program before any resource). */
    config?: StackConfig;
    /**
     * During a scoped update (a rollout step, rollback or promotion of one model in a stack of
     * several; see stacks/operations/scope.ts), build only the model being updated: the engine leaves every
     * other model's resources as the state holds them, and the step costs what it costs in a
     * one-model stack. Only for programs in which nothing else refers to the other models'
     * components. Default false: every model is built, and the engine still acts on the stepped
     * model only.
     */
    onlyScopedModel?: boolean;
}

/**
 * One ModelCanary per model of the stack config, by model name. Each component is named after its
 * model (the shorthand's is `model`), so resource URNs stay the same when a stack moves from the
 * shorthand to a `models` entry named `model`.
 */
export function modelCanariesFromConfig(options: ModelCanariesOptions = {}): Record<string, ModelCanary> {
    const config = options.config ?? loadStackConfig();
    // A config the caller loaded itself is checked here (loadStackConfig checks its own).
    refuseStackPerModel(config, pulumi.getStack());
    const canaries: Record<string, ModelCanary> = {};
    const only = options.onlyScopedModel ? readScope()?.model : undefined;
    const models = Object.values(config.models).filter((model) => only === undefined || model.name === only);
    const optsOf = new Map(models.map((model) => [model.name, typeof options.opts === "function" ? options.opts(model) : options.opts]));
    // Before anything is registered.
    refuseIgnoredTarget(config, models.filter((m) => !isStackProvider(kubernetesProvider(optsOf.get(m.name)))).map((m) => m.name));
    const stamp = ownerStamp(config);
    for (const model of models) {
        const opts = optsOf.get(model.name);
        const record = routingRecordFor(config, model.name);
        const stamps = [...(stamp ? [stamp] : []), ...(record ? [routingStamp(record)] : [])];
        canaries[model.name] = new ModelCanary(model.name, componentArgs(config, model), stamps.length > 0 ? { ...opts, transformations: [...(opts?.transformations ?? []), ...stamps] } : opts);
        if (record) routingRecords.set(canaries[model.name], record);
    }
    return canaries;
}

/**
 * On a cluster, stamps every Kubernetes object with its owner (`model-canary/owner:
 * <project>/<stack>`, see stacks/cluster-client/ownership.ts), which the commands check before each operation so
 * that another stack with the same names is refused instead of taking the objects over. The
 * owner is the one a command hands over, else this stack's (a model's own stack is owned as the
 * stack holding its config). Only metadata: a Deployment's pods are not restarted by it.
 */
function ownerStamp(config: StackConfig): pulumi.ResourceTransformation | undefined {
    if (config.kubeconfig === undefined && !config.kubernetesProviderConfigured) return undefined;
    const owner = process.env[ownerEnvVar] ?? ownerName(pulumi.getProject(), pulumi.getStack(), configStackOf(process.cwd(), pulumi.getStack()));
    if (owner === "") return undefined;
    return ({ type, props, opts }) => {
        if (!type.startsWith("kubernetes:")) return undefined;
        const metadata = (props.metadata ?? {}) as { annotations?: pulumi.Input<Record<string, string>> };
        const stamped = (a: Record<string, string> | undefined) => ({ ...a, [ownerAnnotation]: owner });
        // The component passes plain annotations; an Output's are stamped once known.
        const given = metadata.annotations;
        const annotations = given === undefined || (typeof given === "object" && !pulumi.Output.isInstance(given) && !(given instanceof Promise))
            ? stamped(given as Record<string, string> | undefined)
            : pulumi.output(given).apply(stamped);
        return { props: { ...props, metadata: { ...metadata, annotations } }, opts };
    };
}

/** What the commands read about one deployed model (its `models.<name>` stack output). */
export interface ModelOutputs {
    namespace: string;
    serviceName: pulumi.Output<string>;
    /** With `router: istio` (the default) only. */
    virtualServiceName?: pulumi.Output<string>;
    /** With `router: istio` (the default) only. */
    destinationRuleName?: pulumi.Output<string>;
    /** Set for a router other than `istio` (which existing stacks' outputs do not name). */
    router?: RouterKind;
    /** With a router other than `istio`: the objects it created, the route last. */
    routingObjects?: RoutingObjectName[];
    deploymentNames: pulumi.Output<Record<string, string>>;
    stableVersion: string;
    canaryVersion: string | null;
    canaryWeight: number;
    split: TrafficSplit;
    /** The shadow stage: `{ version, percent }` of default traffic mirrored, or null. */
    mirror: ModelCanary["mirror"] | null;
    /** Pods per version, e.g. `{ v1: 5, v2: 1 }`. */
    replicas: Record<string, number>;
    headerRoutes: HeaderRoute[];
    /** The stack's last routing change of the model: its revision, a digest of its routing, who applied it and when (see stacks/config/routing-revision.ts). */
    routingRecord?: RoutingRecord;
}

/** One model's outputs. */
export function modelOutputs(canary: ModelCanary): ModelOutputs {
    return {
        namespace: canary.namespace,
        serviceName: canary.serviceName,
        // Keyed as before for the Istio router, so existing stacks' outputs do not change.
        ...(canary.virtualServiceName ? { virtualServiceName: canary.virtualServiceName } : {}),
        ...(canary.destinationRuleName ? { destinationRuleName: canary.destinationRuleName } : {}),
        ...(canary.router !== "istio" ? { router: canary.router, routingObjects: canary.routingObjectNames } : {}),
        deploymentNames: canary.deploymentNames,
        stableVersion: canary.stableVersion,
        canaryVersion: canary.canaryVersion ?? null,
        canaryWeight: canary.canaryWeight,
        split: canary.split,
        mirror: canary.mirror ?? null,
        // Pods per version; with `canary.replicas: auto` they follow the traffic.
        replicas: canary.replicas,
        headerRoutes: canary.headerRoutes,
        ...(routingRecords.has(canary) ? { routingRecord: routingRecords.get(canary) } : {}),
    };
}

/**
 * The stack outputs the commands read, to export from the program (`export = async () =>
 * modelCanaryOutputs(models)`, or spread into its own): `models` (each model's routing: `status`,
 * `preview` and a resumed `rollout` read it; and its component's `urn`, which a scoped update
 * targets) and the config this `up` applied (`appliedConfig`, and `appliedSecrets` as a secret),
 * which `rollback` falls back on when the settings file has become invalid. During a scoped update
 * of one model, every other model's outputs and applied config are kept from before the update;
 * with several models, `sharedConfigDigest` records the config outside `models` (stacks/operations/scope.ts).
 */
export function modelCanaryOutputs(canaries: Record<string, ModelCanary>): {
    models: Record<string, ModelOutputs & { urn: pulumi.Output<string> }>;
    appliedConfig: Record<string, unknown>;
    appliedSecrets?: pulumi.Output<AppliedSecret[]>;
    sharedConfigDigest?: string;
} {
    refuseIgnoredTarget(loadStackConfig(), Object.entries(canaries).filter(([, c]) => !isStackProvider(c.getProvider("kubernetes::Provider"))).map(([name]) => name));
    // The engine runs the program in the project directory, beside the stack settings.
    const settingsFile = stackSettingsPath(process.cwd(), pulumi.getStack());
    const applied = appliedConfigOutputs(settingsFile, configNamespace);
    const fresh = {
        models: Object.fromEntries(Object.entries(canaries).map(([name, canary]) => [name, { ...modelOutputs(canary), urn: canary.urn }])),
        appliedConfig: applied.appliedConfig,
        ...(applied.appliedSecrets ? { appliedSecrets: applied.appliedSecrets } : {}),
    };
    const scope = readScope();
    if (scope === undefined && Object.keys(canaries).length < 2) return fresh;
    return scopedStackOutputs(scope, fresh, readSettingsConfig(settingsFile)) as ReturnType<typeof modelCanaryOutputs>;
}

/** The Kubernetes provider in a component's options, if any. */
function kubernetesProvider(opts: pulumi.ComponentResourceOptions | undefined): pulumi.ProviderResource | undefined {
    if (opts?.provider) return opts.provider;
    const providers = opts?.providers;
    return Array.isArray(providers) ? providers.find((p) => isStackProvider(p)) ?? providers[0] : providers?.kubernetes;
}

/**
 * `kubeconfig` and `renderDir` say where the objects go, and only the provider `stackProvider()`
 * builds reads them: models given another provider (the program's own, or the default one)
 * would silently be applied or rendered elsewhere. Refused, naming the keys and the one call
 * that makes them work. `own`: the models whose components use another provider.
 */
function refuseIgnoredTarget(config: StackConfig, own: string[]): void {
    if (own.length === 0) return;
    // A model's own stack renders where its config stack would by default (stacks/operations/model-stacks.ts).
    const defaultDir = `rendered/${configStackOf(process.cwd(), pulumi.getStack())}`;
    const keys = [...(config.kubeconfig !== undefined ? ["kubeconfig"] : []), ...(config.renderDir !== defaultDir ? ["renderDir"] : [])];
    if (keys.length === 0) return;
    const named = keys.map((k) => `\`${configNamespace}:${k}\``).join(" and ");
    throw programError(`${named} ${keys.length === 1 ? "is" : "are"} set in the stack config, but the components of ${own.map((n) => `\`${n}\``).join(", ")} do not use the provider that reads ${keys.length === 1 ? "it" : "them"}: `
        + `the objects would go where this program's own provider sends them instead. Build the provider from the config with \`const { opts, target } = await stackProvider(config)\` `
        + `(from \`model-canary/program\`) and pass \`opts\` to the components (export \`target\` too), or remove ${named} and configure your own provider`);
}

// The component behind ./modelCanaries.ts: what index.ts's TypeScript program does, as a component
// served to other languages. Construct hands the provider the consumer's stack config, so the
// `model-canary:*` keys are read here with the same checks; the engine starts the plugin in the
// project directory, beside Pulumi.<stack>.yaml, so the settings file is found the same way too.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, programError, stackKeys, stackPerModelUnsupported } from "../stacks/config/config";
import { modelKeys } from "../stacks/config/models";
import { modelCanariesFromConfig, modelCanaryOutputs } from "../stacks/program/model-canaries";
import { stackProvider } from "../stacks/program/provider";
import type { ModelCanariesArgs } from "./args";

export class ModelCanariesComponent extends pulumi.ComponentResource {
    public readonly models: pulumi.Output<unknown>;
    public readonly appliedConfig: pulumi.Output<unknown>;
    public readonly appliedSecrets: pulumi.Output<unknown>;
    public readonly target: pulumi.Output<unknown>;

    constructor(name: string, _args: ModelCanariesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("model-canary:index:ModelCanaries", name, {}, opts);
        // A bad config stops the update here, before anything is registered, naming the key.
        refuseProjectNamespacedKeys(pulumi.getProject(), Object.keys(pulumi.runtime.allConfig()));
        // `stackPerModel` is for a TypeScript program: the commands refuse it for this one too.
        const config = loadStackConfig((c, stack) => {
            if (c.stackPerModel) throw programError(stackPerModelUnsupported(stack, "this program declares `ModelCanaries`"));
        });
        const built = (async () => {
            const { opts: providerOpts, target } = await stackProvider(config, "kubernetes", this);
            // The models are this component's children: their URNs (exported in `models`) are what a scoped update targets.
            const canaries = modelCanariesFromConfig({ config, opts: { ...providerOpts, parent: this } });
            // Always the `models` map, the shorthand's model under `model`: the commands read either form.
            // Not `sharedConfigDigest`: without it the commands update such a stack whole, never scoped
            // to one model (the engine still changes only what differs).
            const { models, appliedConfig, appliedSecrets } = modelCanaryOutputs(canaries);
            return { models, appliedConfig, appliedSecrets, target };
        })();
        this.models = pulumi.output(built.then((b) => b.models));
        this.appliedConfig = pulumi.output(built.then((b) => b.appliedConfig));
        this.appliedSecrets = pulumi.output(built.then((b) => b.appliedSecrets ?? null));
        this.target = pulumi.output(built.then((b) => b.target));
        this.registerOutputs({});
    }
}

/**
 * In a project not named model-canary, `pulumi config set canaryWeight 10` writes
 * `<project>:canaryWeight`, which nothing reads: the step would silently not happen. Such keys
 * (model-canary's own names under the project's namespace) stop the update, naming the key and
 * the one that is read.
 */
export function refuseProjectNamespacedKeys(project: string, keys: readonly string[]): void {
    if (project === "model-canary") return;
    const ours = new Set<string>([...modelKeys, ...stackKeys]);
    const stray = keys.filter((k) => k.startsWith(`${project}:`) && ours.has(k.slice(project.length + 1)));
    if (stray.length === 0) return;
    throw programError(stray.map((k) => {
        const key = k.slice(project.length + 1);
        return `\`${k}\` is not read: model-canary's keys are in the \`model-canary\` namespace, so set \`model-canary:${key}\` (e.g. \`pulumi config set model-canary:${key} ...\`) and remove \`${k}\` (\`pulumi config rm ${key}\`). Nothing was applied.`;
    }).join("\n"));
}

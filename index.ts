// Stack entry: read and validate the stack config, pick where objects go, check that a cluster
// can take them, build the component.
// One user of the package: it imports only the package's public API (api/ is what `model-canary`
// and `model-canary/program` export), as a program of your own would.
import { inlineProgram, loadStackConfig, modelCanariesFromConfig, modelCanaryOutputs, modelOutputs, stackProvider } from "./api/program";

// `inlineProgram`: the model-canary commands run it in their own process (docs/how-commands-run-the-program.md).
export = inlineProgram(async () => {
    const config = loadStackConfig();

    // Render to `renderDir`, or apply to the cluster `kubeconfig` names (checked for Istio's kinds first).
    const { opts, target } = await stackProvider(config);

    // One ModelCanary per model, named after it (the shorthand's is `model`, as before `models` existed).
    // A rollout step of one model in a stack of several builds that model only (see stacks/operations/scope.ts).
    const canaries = modelCanariesFromConfig({ config, opts, onlyScopedModel: true });
    const { models, ...applied } = modelCanaryOutputs(canaries);

    // The shorthand keeps the outputs it always had (top-level), so an existing stack's outputs do
    // not change; a `models` map has one entry per model under `models`.
    return config.shorthand
        ? { target, ...modelOutputs(canaries.model), ...applied }
        : { target, models, ...applied };
});

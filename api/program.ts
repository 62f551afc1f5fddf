// `model-canary/program`: what a Pulumi program needs so that the `model-canary` command can
// drive it: the stack config (the `model-canary:` keys of Pulumi.<stack>.yaml) read and checked
// the way the commands check it, the component's arguments built from it, and the outputs the
// commands read back (the applied config, for `rollback` when the file has become invalid).
// Only for use inside a running Pulumi program.
import * as pulumi from "@pulumi/pulumi";
import { appliedConfigOutputs } from "../stacks/config/applied";
import { configNamespace, stackSettingsPath } from "../stacks/config/config";

export { componentArgs, configNamespace, kubeconfigInput, loadStackConfig, programError, renderedSecretPaths, selectModel, shorthandModel } from "../stacks/config/config";
export type { ModelConfig, StackConfig } from "../stacks/config/config";
// Many models from the same config, in one line: see stacks/program/model-canaries.ts.
export { modelCanariesFromConfig, modelCanaryOutputs, modelOutputs } from "../stacks/program/model-canaries";
export type { ModelCanariesOptions, ModelOutputs } from "../stacks/program/model-canaries";
// Marks the program as one the commands may run in their own process: docs/how-commands-run-the-program.md.
export { inlineProgram } from "../stacks/program/inline";
export { checkIstioApi } from "../stacks/cluster-client/preflight";
// The provider the stack config asks for (`kubeconfig`, `renderDir`), as this project's program builds it.
export { stackProvider } from "../stacks/program/provider";
export type { StackProvider } from "../stacks/program/provider";
export { ClusterApiError } from "../stacks/cluster-client/cluster-api";

/**
 * The stack outputs that record the config this `up` applies: `appliedConfig` (secret fields as
 * `null`) and, when the config has secrets, `appliedSecrets` (a secret output). Export both from
 * the program: `rollback` rolls back from them when Pulumi.<stack>.yaml has become invalid.
 */
export function appliedConfig(): { appliedConfig: Record<string, unknown>; appliedSecrets?: pulumi.Output<unknown> } {
    // The engine runs the program in the project directory, beside the stack settings.
    return appliedConfigOutputs(stackSettingsPath(process.cwd(), pulumi.getStack()), configNamespace);
}

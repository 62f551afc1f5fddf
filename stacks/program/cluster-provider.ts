// The Kubernetes provider's settings for a stack applied to a cluster, inside a running program:
// the kubeconfig (a secret), the context, and the `clusterIdentifier` that keeps the provider, and
// so every object, from being replaced when the kubeconfig names the same cluster differently
// (see cluster-identity.ts). What index.ts uses, and what a program of your own can use too.
import * as pulumi from "@pulumi/pulumi";
import { readClusterIdentity } from "../cluster-client/cluster-api";
import { clusterIdEnvVar } from "../cluster-client/cluster-identity";
import { kubeconfigInput, programError, StackConfig } from "../config/config";

export interface ClusterProviderArgs {
    kubeconfig?: pulumi.Input<string>;
    context?: string;
    /** The UID of the cluster's `kube-system` namespace; absent when it could not be read. */
    clusterIdentifier?: string;
}

/**
 * Arguments for a `k8s.Provider` that applies the stack config's cluster (`kubeconfig`, else the
 * provider's own `kubernetes:kubeconfig` / `kubernetes:context`). Under a `model-canary` command
 * the identifier is the one the command checked against the stack's record (it refuses another
 * cluster first, and keeps the recorded one while the cluster is unreachable); under a plain
 * `pulumi up` it is read from the cluster now: an update that cannot reach the cluster is refused
 * before anything is registered; a preview, or a cluster that answers without giving it (no
 * permission to read `kube-system`), goes on without it, with a warning.
 */
export async function clusterProviderArgs(config: StackConfig): Promise<ClusterProviderArgs> {
    const args = { kubeconfig: kubeconfigInput(config), context: config.kubernetesContext };
    const handed = process.env[clusterIdEnvVar];
    if (handed !== undefined) return handed === "" ? args : { ...args, clusterIdentifier: handed };
    const { live, unreachable } = await readClusterIdentity({ kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext });
    if ("uid" in live) return { ...args, clusterIdentifier: live.uid };
    // An update without the identity could replace the provider (a closed port, an address written
    // differently), and every object once the cluster answers again: refuse it; a preview still runs.
    if (unreachable && !pulumi.runtime.isDryRun()) {
        throw programError(`the cluster the stack's kubeconfig names cannot be reached, so nothing was applied: ${live.unknown}. Without the cluster's identity this update could replace the Kubernetes provider, and every object with it; run it again when the cluster answers (\`pulumi preview\` still runs without it)`);
    }
    pulumi.log.warn(`the cluster's identity (its \`kube-system\` namespace's UID) could not be read, so the Kubernetes provider is replaced, with every object, if the kubeconfig's server changed: ${live.unknown}`);
    return args;
}

/** The `target` stack output of a stack applied to a cluster: what the commands check the next operation against. */
export function clusterTarget(args: ClusterProviderArgs): { mode: "cluster"; clusterIdentifier?: string } {
    return args.clusterIdentifier === undefined ? { mode: "cluster" } : { mode: "cluster", clusterIdentifier: args.clusterIdentifier };
}

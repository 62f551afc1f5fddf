// Which cluster a stack's objects live in, and what an operation does when its kubeconfig now
// reaches another. Pure: the reads are in cluster-api.ts, the uses in automation.ts (the commands)
// and cluster-provider.ts (the program).
//
// The Kubernetes provider replaces itself, and with it every object (create the "new" one, a
// server-side apply of the same name that changes nothing, then delete the "old" one: the live
// object), whenever the server of the kubeconfig's active cluster changes: `localhost` written for
// `127.0.0.1`, a port that was briefly wrong. With `clusterIdentifier` set, the provider is replaced
// only when that value changes (pulumi-kubernetes provider.go, DiffConfig; setting it where the
// state had none is an update). The identifier here is the UID of the cluster's `kube-system`
// namespace: the same for every address of one cluster, different for another cluster.

/** The environment variable through which the commands hand the program the identifier they checked. */
export const clusterIdEnvVar = "MODEL_CANARY_CLUSTER_ID";

/** What reading the live cluster's identity gave: its UID, or why there is none (unreachable, forbidden). */
export type LiveClusterIdentity = { uid: string } | { unknown: string };

/** What an operation hands the provider as `clusterIdentifier`, or the two clusters when they differ. */
export type ClusterIdentifierChoice = { identifier?: string } | { different: { recorded: string; live: string } };

/**
 * The identifier for this operation: the live one when it is known and agrees with the recorded
 * one (or nothing was recorded: a first `up`, a stack from before identifiers); the recorded one
 * when the live one cannot be read (an unreachable cluster must not change the identifier, or the
 * provider would replace every object once it is reachable again); `different` when both are
 * known and differ, which the commands refuse.
 */
export function chooseClusterIdentifier(recorded: string | undefined, live: LiveClusterIdentity): ClusterIdentifierChoice {
    if (!("uid" in live)) return recorded === undefined ? {} : { identifier: recorded };
    if (recorded === undefined || recorded === live.uid) return { identifier: live.uid };
    return { different: { recorded, live: live.uid } };
}

/** The identifier a stack's `target` output recorded, or undefined. */
export function recordedClusterIdentifier(outputs: Record<string, unknown>): string | undefined {
    const id = (outputs.target as { clusterIdentifier?: unknown } | undefined)?.clusterIdentifier;
    return typeof id === "string" && id !== "" ? id : undefined;
}

/** The refusal when the kubeconfig reaches another cluster than the one holding the stack's objects. */
export function differentClusterMessage(stack: string, server: string, different: { recorded: string; live: string }): string {
    return [
        `stack \`${stack}\` holds objects in the cluster whose \`kube-system\` namespace has UID ${different.recorded}, and its kubeconfig now reaches another cluster (${server}, \`kube-system\` UID ${different.live}).`,
        "Nothing was applied: updating would create every object in the new cluster and delete it from the old one.",
        `To keep this stack on the old cluster, put its kubeconfig back. To move, either make a new stack for the new cluster (\`pulumi stack init <name> --copy-config-from ${stack}\`, then \`model-canary up --stack <name>\`),`,
        `or delete this stack's objects from the old cluster first (with the old kubeconfig: \`pulumi destroy --stack ${stack}\`; if the old cluster is gone for good: \`PULUMI_K8S_DELETE_UNREACHABLE=true pulumi destroy --stack ${stack}\`, which forgets them), then set the new kubeconfig and \`model-canary up --stack ${stack}\`.`,
    ].join(" ");
}

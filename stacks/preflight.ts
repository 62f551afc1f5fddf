// Checks made against a cluster before the program registers any resource, so that a cluster
// that cannot take the objects is refused up front instead of being left half-applied.
import { ClusterApiError, ClusterTarget, connect, servedKinds } from "./cluster-api";

/** The Istio kinds the component creates. */
export const istioKinds = ["DestinationRule", "VirtualService"] as const;

/** The refusal when kinds are missing: what, where, and how to fix it (`usableVersions`: other versions serving both kinds). Pure. */
export function istioMissingMessage(apiVersion: string, missing: string[], where: string, usableVersions: string[]): string {
    const others = usableVersions.filter((v) => v !== apiVersion);
    return [
        `the cluster ${where} does not serve ${missing.join(" and ")} at ${apiVersion} (\`istioApiVersion\`); nothing was applied.`,
        others.length > 0
            ? `It serves ${others.join(", ")}: set \`istioApiVersion\` to one of them (e.g. \`pulumi config set istioApiVersion ${others[0]}\`), or upgrade Istio.`
            : "Install Istio's CRDs first: `istioctl install`, the `base` Helm chart, or `kubectl apply --server-side -f manifests/charts/base/files/crd-all.gen.yaml` from an Istio release.",
    ].join(" ");
}

/**
 * Refuses (throws ClusterApiError) unless the cluster serves DestinationRule and VirtualService
 * at `apiVersion`. Also refuses when the API server cannot be reached or read.
 */
export async function checkIstioApi(target: ClusterTarget, apiVersion: string): Promise<void> {
    const connection = connect(target);
    const served = await servedKinds(connection, apiVersion);
    const missing = istioKinds.filter((k) => !served.includes(k));
    if (missing.length === 0) return;
    // Other versions of the group that serve both kinds, to suggest instead.
    const group = apiVersion.split("/")[0];
    const res = await connection.request(`/apis/${group}`);
    const versions = res.status === 200 ? (JSON.parse(res.body).versions as { groupVersion: string }[]).map((v) => v.groupVersion) : [];
    const usable: string[] = [];
    for (const v of versions.filter((v) => v !== apiVersion)) {
        const kinds = await servedKinds(connection, v);
        if (istioKinds.every((k) => kinds.includes(k))) usable.push(v);
    }
    throw new ClusterApiError(istioMissingMessage(apiVersion, missing, `${connection.server} (context ${connection.context})`, usable));
}

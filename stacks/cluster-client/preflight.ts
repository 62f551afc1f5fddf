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

/** The Gateway API kinds `router: gateway-api` creates, at `gateway.networking.k8s.io/v1`: an HTTPRoute, or a GRPCRoute for `protocol: grpc`. */
export const gatewayApiKinds = ["HTTPRoute", "GRPCRoute"] as const;

/**
 * The refusal when the Gateway API kinds are missing: which, where, the settings asking for them
 * (`[key, value]`: `router` `gateway-api`, and `protocol` `grpc` for a GRPCRoute), and how to
 * install the standard channel. Pure.
 */
export function gatewayApiMissingMessage(missing: string[], where: string, settings: [key: string, value: string][]): string {
    const asking = settings.map(([k, v]) => `\`${k}\` \`${v}\``);
    const listed = asking.length > 1 ? `${asking.slice(0, -1).join(", ")} and ${asking.at(-1)}` : asking.join("");
    return [
        `the cluster ${where} does not serve ${missing.join(" and ")} at gateway.networking.k8s.io/v1, which ${listed} ${asking.length > 1 ? "need" : "needs"}; nothing was applied.`,
        `Install the Gateway API's standard channel CRDs (v1.3 or later, for the mirror's \`percent\`): \`kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml\`, or \`config/crd/standard/*.yaml\` of the \`sigs.k8s.io/gateway-api\` Go module;`,
        "with Istio, keep istiod's `PILOT_ENABLE_GATEWAY_API` on (its default). Or use `router: istio`.",
    ].join(" ");
}

/**
 * Refuses (throws ClusterApiError) unless the cluster serves `kinds` (default: HTTPRoute) at
 * gateway.networking.k8s.io/v1. `settings`: the config keys and values asking for them.
 */
export async function checkGatewayApi(target: ClusterTarget, settings: [key: string, value: string][], kinds: readonly (typeof gatewayApiKinds)[number][] = ["HTTPRoute"]): Promise<void> {
    const connection = connect(target);
    const served = await servedKinds(connection, "gateway.networking.k8s.io/v1");
    const missing = kinds.filter((k) => !served.includes(k));
    if (missing.length > 0) throw new ClusterApiError(gatewayApiMissingMessage(missing, `${connection.server} (context ${connection.context})`, settings));
}

/**
 * The refusal when the cluster does not serve DestinationRule at networking.istio.io/v1, which
 * `trafficPolicy` with `router: gateway-api` writes one per version Service (`keys`: the
 * `trafficPolicy` keys asking for it). Pure.
 */
export function destinationRuleMissingMessage(where: string, keys: string[]): string {
    const named = keys.map((k) => `\`${k}\``).join(", ");
    return `the cluster ${where} does not serve DestinationRule at networking.istio.io/v1, which ${named} with \`router: gateway-api\` ${keys.length > 1 ? "need" : "needs"} (a DestinationRule per version Service); nothing was applied. `
        + "Install Istio 1.22 or later (its CRDs: `istioctl install`, or the `base` Helm chart), or remove `trafficPolicy`.";
}

/** Refuses (throws ClusterApiError) unless the cluster serves DestinationRule at networking.istio.io/v1. `keys`: the `trafficPolicy` keys asking for it. */
export async function checkDestinationRuleApi(target: ClusterTarget, keys: string[]): Promise<void> {
    const connection = connect(target);
    if ((await servedKinds(connection, "networking.istio.io/v1")).includes("DestinationRule")) return;
    throw new ClusterApiError(destinationRuleMissingMessage(`${connection.server} (context ${connection.context})`, keys));
}

/** A namespace the models put objects in, and the config key that names it. */
export interface NamespaceUse {
    namespace: string;
    /** e.g. `namespace` or `models.fraud.namespace` (a default from `defaults.namespace` is named as the model's key). */
    key: string;
}

/** The refusal when namespaces do not exist: which, set by which key, where, and how to create them. Pure. */
export function namespacesMissingMessage(missing: NamespaceUse[], where: string): string {
    const names = [...new Set(missing.map((m) => m.namespace))];
    return [
        `namespace${names.length === 1 ? "" : "s"} ${missing.map((m) => `${JSON.stringify(m.namespace)} (\`${m.key}\`)`).join(", ")} ${names.length === 1 ? "does" : "do"} not exist in the cluster ${where}; nothing was applied.`,
        `Create ${names.length === 1 ? "it" : "them"} first (\`${names.map((n) => `kubectl create namespace ${n}`).join(" && ")}\`), or set ${missing.map((m) => `\`${m.key}\``).join(", ")} to a namespace that exists.`,
    ].join(" ");
}

/**
 * Refuses (throws ClusterApiError) when a namespace the models use does not exist, instead of the
 * provider retrying each object for a minute. A namespace the credentials may not read is not refused.
 */
export async function checkNamespaces(target: ClusterTarget, uses: NamespaceUse[]): Promise<void> {
    const connection = connect(target);
    const missing: NamespaceUse[] = [];
    const exists = new Map<string, boolean>();
    for (const use of uses) {
        if (!exists.has(use.namespace)) {
            const res = await connection.request(`/api/v1/namespaces/${encodeURIComponent(use.namespace)}`);
            exists.set(use.namespace, res.status !== 404);
        }
        if (!exists.get(use.namespace)) missing.push(use);
    }
    if (missing.length > 0) throw new ClusterApiError(namespacesMissingMessage(missing, `${connection.server} (context ${connection.context})`));
}

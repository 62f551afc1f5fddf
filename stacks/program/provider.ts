// The Kubernetes provider a program builds from the stack config: render manifests to `renderDir`,
// or apply to the cluster that `kubeconfig` (or the provider's own `kubernetes:kubeconfig` /
// `kubernetes:context`) names, after checking that it serves Istio's kinds. This project's own
// program uses it, and so can a program of your own: the keys then mean the same in both.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterApiError } from "../cluster-client/cluster-api";
import { clusterProviderArgs, clusterTarget } from "./cluster-provider";
import { loadStackConfig, programError, renderedSecretPaths, StackConfig } from "../config/config";
import { checkDestinationRuleApi, checkGatewayApi, checkIstioApi, checkNamespaces } from "../cluster-client/preflight";
import { checkRoutingRevisions } from "./routing-revision";
import { gatewayApiRouteKind } from "../../components/routers/gateway-api-route";

export interface StackProvider {
    mode: "render" | "cluster";
    provider: k8s.Provider;
    /** Options for every model's component: the provider and, when rendering, a transformation that removes a replaced object's file before writing the new one. */
    opts: pulumi.ComponentResourceOptions;
    /**
     * Export it as the stack output `target`: the commands refuse to move a stack between
     * rendering and a cluster by it, and to another cluster by its `clusterIdentifier`.
     */
    target: { mode: "render"; renderDir: string } | { mode: "cluster"; clusterIdentifier?: string };
}

/** Providers built here: a program's own provider, beside `kubeconfig` or `renderDir` in config, is refused (stacks/program/model-canaries.ts). */
const built = new WeakSet<pulumi.ProviderResource>();

/** True when `provider` was built by `stackProvider`. */
export function isStackProvider(provider: pulumi.ProviderResource | undefined): boolean {
    return provider !== undefined && built.has(provider);
}

/**
 * The provider the stack config asks for. The mode is explicit: `kubeconfig` (or the provider's
 * own keys) applies to that cluster; anything else renders to `renderDir` (default
 * `rendered/<stack>`, relative to the project), whatever `KUBECONFIG` says in the environment.
 * `name` is the provider's resource name (default `kubernetes`; keep it once deployed); `parent`
 * the component it belongs to, if any (a component served to other languages builds its own).
 */
export async function stackProvider(config: StackConfig = loadStackConfig(), name = "kubernetes", parent?: pulumi.Resource): Promise<StackProvider> {
    const mode = config.kubeconfig !== undefined || config.kubernetesProviderConfigured ? "cluster" : "render";
    // Before anything is registered: settings written before another runner's routing change are
    // refused (stacks/config/routing-revision.ts), and the record this update leaves is worked out.
    await checkRoutingRevisions(config);

    if (mode === "cluster") {
        // Refuse before registering anything: a cluster without Istio's kinds would otherwise get
        // the Deployments and the Service, then fail on the DestinationRule after a minute of retries.
        // An unreachable API server is the provider's to report (a preview still works without one).
        // A missing namespace likewise, instead of a minute of retries on each object.
        const target = { kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext, configKey: config.kubeconfig !== undefined ? "kubeconfig" : "kubernetes:kubeconfig" };
        try {
            // Every Istio API version the models routed by Istio use, and the Gateway API's kinds for the others.
            const models = Object.values(config.models);
            for (const version of new Set(models.filter((m) => m.resolved.router === "istio").map((m) => m.resolved.istioApiVersion))) {
                await checkIstioApi(target, version);
            }
            const gatewayApi = models.filter((m) => m.resolved.router === "gateway-api");
            // The route kinds those models need (an HTTPRoute, or a GRPCRoute for `protocol: grpc`), asked for by the keys that chose them.
            const kinds = [...new Set(gatewayApi.map((m) => gatewayApiRouteKind(m.resolved)))];
            const settings = gatewayApi.flatMap((m): [string, string][] => [
                [[...m.path, "router"].join("."), "gateway-api"],
                ...(m.resolved.protocol === "grpc" ? [[[...m.path, "protocol"].join("."), "grpc"] as [string, string]] : []),
            ]);
            if (gatewayApi.length > 0) await checkGatewayApi(target, settings, kinds);
            // Their DestinationRules, with `trafficPolicy`: Istio's v1 (an Istio-routed model's check may have covered it already).
            const policies = gatewayApi.filter((m) => m.resolved.trafficPolicy !== undefined).map((m) => [...m.path, "trafficPolicy"].join("."));
            if (policies.length > 0) await checkDestinationRuleApi(target, policies);
            await checkNamespaces(target, Object.values(config.models).map((m) => ({ namespace: m.resolved.namespace, key: [...m.path, "namespace"].join(".") })));
        } catch (e) {
            if (e instanceof ClusterApiError && e.unreachable) pulumi.log.warn(`the Istio API check was skipped: ${e.message}`);
            else throw programError((e as Error).message);
        }
    }

    // One provider, named the same in both modes (older stacks named it `render` or `cluster`), so
    // changing its settings updates it instead of replacing every object. The SDK would fill in
    // `kubeconfig` from `KUBECONFIG`, which the provider refuses next to `renderYamlToDirectory`.
    // On a cluster, its `clusterIdentifier` (the cluster's identity, see cluster-identity.ts) keeps
    // a kubeconfig that names the same cluster differently from replacing it, and every object.
    const clusterArgs = mode === "cluster" ? await clusterProviderArgs(config) : undefined;
    const provider = new k8s.Provider(name, clusterArgs ??
        // Relative to the project directory, where the engine runs the provider: the state
        // then does not depend on where the project is checked out.
        { renderYamlToDirectory: config.renderDir, kubeconfig: "" },
    { parent, ...(name === "kubernetes" && parent === undefined ? { aliases: [{ name: "render" }, { name: "cluster" }] } : {}) });
    built.add(provider);

    // Render mode writes what a cluster would receive: a Secret's values base64-encoded, not encrypted.
    const rendered = mode === "render" ? renderedSecretPaths(config) : [];
    if (rendered.length > 0) {
        pulumi.log.warn(`secret ${rendered.map((p) => `\`${p}\``).join(", ")} ${rendered.length === 1 ? "is" : "are"} written base64-encoded, not encrypted, into the Secret manifests under ${config.renderDir}, as a cluster would receive ${rendered.length === 1 ? "it" : "them"}; keep that directory private`);
    }

    // A rendered object is a file: replacing one must remove the old file before writing the new,
    // or a replacement that writes the same file (every object, when the render provider itself is
    // replaced, as for stacks that recorded an absolute directory) ends with the file deleted.
    const deleteFirst: pulumi.ResourceTransformation = ({ props, opts }) => ({ props, opts: pulumi.mergeOptions(opts, { deleteBeforeReplace: true }) });
    return {
        mode,
        provider,
        opts: { provider, transformations: mode === "render" ? [deleteFirst] : [] },
        target: clusterArgs ? clusterTarget(clusterArgs) : { mode: "render", renderDir: config.renderDir },
    };
}

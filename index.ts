// Stack entry: read and validate the stack config, pick where objects go, check that a cluster
// can take them, build the component.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
// One user of the package: it imports only the package's public API (api/ is what `model-canary`
// and `model-canary/program` export), as a program of your own would.
import { checkIstioApi, ClusterApiError, kubeconfigInput, loadStackConfig, modelCanariesFromConfig, modelCanaryOutputs, modelOutputs, programError, renderedSecretPaths } from "./api/program";

export = async () => {
    const config = loadStackConfig();

    // The mode is explicit: the stack's `kubeconfig` (or the provider's own `kubernetes:kubeconfig`
    // / `kubernetes:context`) applies to that cluster; anything else renders manifests to a
    // folder, whatever `KUBECONFIG` says in the environment.
    const mode = config.kubeconfig !== undefined || config.kubernetesProviderConfigured ? "cluster" : "render";

    if (mode === "cluster") {
        // Refuse before registering anything: a cluster without Istio's kinds would otherwise get
        // the Deployments and the Service, then fail on the DestinationRule after a minute of retries.
        // An unreachable API server is the provider's to report (a preview still works without one).
        try {
            // Every Istio API version the models use.
            for (const version of new Set(Object.values(config.models).map((m) => m.resolved.istioApiVersion))) {
                await checkIstioApi({ kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext }, version);
            }
        } catch (e) {
            if (e instanceof ClusterApiError && e.unreachable) pulumi.log.warn(`the Istio API check was skipped: ${e.message}`);
            else throw programError((e as Error).message);
        }
    }

    // One provider, named the same in both modes (older stacks named it `render` or `cluster`), so
    // changing its settings updates it instead of replacing every object. The SDK would fill in
    // `kubeconfig` from `KUBECONFIG`, which the provider refuses next to `renderYamlToDirectory`.
    const provider = new k8s.Provider("kubernetes", mode === "render"
        // Relative to the project directory, where the engine runs the provider: the state
        // then does not depend on where the project is checked out.
        ? { renderYamlToDirectory: config.renderDir, kubeconfig: "" }
        : { kubeconfig: kubeconfigInput(config), context: config.kubernetesContext },
    { aliases: [{ name: "render" }, { name: "cluster" }] });

    // Render mode writes what a cluster would receive: a Secret's values base64-encoded, not encrypted.
    const rendered = mode === "render" ? renderedSecretPaths(config) : [];
    if (rendered.length > 0) {
        pulumi.log.warn(`secret ${rendered.map((p) => `\`${p}\``).join(", ")} ${rendered.length === 1 ? "is" : "are"} written base64-encoded, not encrypted, into the Secret manifests under ${config.renderDir}, as a cluster would receive ${rendered.length === 1 ? "it" : "them"}; keep that directory private`);
    }

    // A rendered object is a file: replacing one must remove the old file before writing the new,
    // or a replacement that writes the same file (every object, when the render provider itself is
    // replaced, as for stacks that recorded an absolute directory) ends with the file deleted.
    const deleteFirst: pulumi.ResourceTransformation = ({ props, opts }) => ({ props, opts: pulumi.mergeOptions(opts, { deleteBeforeReplace: true }) });

    // One ModelCanary per model, named after it (the shorthand's is `model`, as before `models` existed).
    // A rollout step of one model in a stack of several builds that model only (see stacks/scope.ts).
    const canaries = modelCanariesFromConfig({ config, opts: { provider, transformations: mode === "render" ? [deleteFirst] : [] }, onlyScopedModel: true });
    const { models, ...applied } = modelCanaryOutputs(canaries);
    const target = mode === "render" ? { mode, renderDir: config.renderDir } : { mode };

    // The shorthand keeps the outputs it always had (top-level), so an existing stack's outputs do
    // not change; a `models` map has one entry per model under `models`.
    return config.shorthand
        ? { target, ...modelOutputs(canaries.model), ...applied }
        : { target, models, ...applied };
};

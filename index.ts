// Stack entry: read and validate the stack config, pick where objects go, build the component.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ModelCanary } from "./components";
import { componentArgs, kubeconfigInput, loadStackConfig, renderedSecretPaths } from "./stacks/config";

const config = loadStackConfig();

// No cluster configured: render manifests to a folder instead of applying them, so the whole
// rollout can be previewed and reviewed without a cluster.
const mode = config.kubeconfig !== undefined || config.kubernetesProviderConfigured ? "cluster" : "render";
const provider = config.kubeconfig !== undefined
    ? new k8s.Provider("cluster", { kubeconfig: kubeconfigInput(config) })
    : mode === "render"
        // Relative to the project directory, where the engine runs the provider: the state
        // then does not depend on where the project is checked out.
        ? new k8s.Provider("render", { renderYamlToDirectory: config.renderDir })
        : undefined;

// Render mode writes what a cluster would receive: a Secret's values base64-encoded, not encrypted.
const rendered = mode === "render" ? renderedSecretPaths(config) : [];
if (rendered.length > 0) {
    pulumi.log.warn(`secret ${rendered.map((p) => `\`${p}\``).join(", ")} ${rendered.length === 1 ? "is" : "are"} written base64-encoded, not encrypted, into the Secret manifests under ${config.renderDir}, as a cluster would receive ${rendered.length === 1 ? "it" : "them"}; keep that directory private`);
}

// A rendered object is a file: replacing one must remove the old file before writing the new,
// or a replacement that writes the same file (every object, when the render provider itself is
// replaced, as for stacks that recorded an absolute directory) ends with the file deleted.
const deleteFirst: pulumi.ResourceTransformation = ({ props, opts }) => ({ props, opts: pulumi.mergeOptions(opts, { deleteBeforeReplace: true }) });

const model = new ModelCanary("model", componentArgs(config), { provider, transformations: mode === "render" ? [deleteFirst] : [] });

export const target = mode === "render" ? { mode, renderDir: config.renderDir } : { mode };
export const namespace = model.namespace;
export const serviceName = model.serviceName;
export const virtualServiceName = model.virtualServiceName;
export const destinationRuleName = model.destinationRuleName;
export const deploymentNames = model.deploymentNames;
export const stableVersion = model.stableVersion;
export const canaryVersion = model.canaryVersion ?? null;
export const canaryWeight = model.canaryWeight;
export const split = model.split;
export const headerRoutes = model.headerRoutes;

import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { defaultRouteMirror, deploymentName, destinationRuleSpec, Mirror, TrafficSplit, trafficSplit, versionLabels, virtualServiceSpec } from "./routing";
import { secretMark } from "./secrets";
import { HeaderRoute, ModelCanaryArgs, ModelVersionArgs } from "./types";
import { ResolvedModelCanaryArgs, ResolvedModelVersion, validateModelCanaryArgs } from "./validation";

const podSecurityDefaults: k8s.types.input.core.v1.PodSecurityContext = {
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
};

const containerSecurityDefaults: k8s.types.input.core.v1.SecurityContext = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    runAsNonRoot: true,
};

/**
 * A model service rolled out gradually with Istio: one Deployment per model version, a Service
 * in front of them, a DestinationRule with one subset per version and a VirtualService whose
 * header routes and weighted split come from the arguments.
 *
 * Child names depend only on the component name and the model version, so changing
 * `canaryWeight` or `headerRoutes` updates the VirtualService in place and nothing else, and
 * promoting the canary keeps its Deployment.
 */
export class ModelCanary extends pulumi.ComponentResource {
    /** Name of the Kubernetes Service (the Istio host). */
    public readonly serviceName: pulumi.Output<string>;
    public readonly virtualServiceName: pulumi.Output<string>;
    public readonly destinationRuleName: pulumi.Output<string>;
    /** Kubernetes Deployment name per model version, e.g. `{ v1: "model-v1", v2: "model-v2" }`. */
    public readonly deploymentNames: pulumi.Output<Record<string, string>>;
    /** Default-route share per version, e.g. `{ v1: 90, v2: 10 }`. */
    public readonly split: TrafficSplit;
    public readonly headerRoutes: HeaderRoute[];
    public readonly stableVersion: string;
    public readonly canaryVersion: string | undefined;
    public readonly canaryWeight: number;
    /** What the default route mirrors to the canary (the shadow stage), or undefined. */
    public readonly mirror: Mirror | undefined;
    public readonly namespace: string;

    public readonly deployments: Record<string, k8s.apps.v1.Deployment>;
    public readonly service: k8s.core.v1.Service;
    public readonly destinationRule: k8s.apiextensions.CustomResource;
    public readonly virtualService: k8s.apiextensions.CustomResource;

    /** The Secret holding each version's secret environment values, for versions that have any. */
    public readonly envSecrets: Record<string, k8s.core.v1.Secret>;

    constructor(name: string, args: ModelCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate before super(): a bad argument must not leave even the component registered.
        const { checkable, secretEnv } = separateSecretEnv(args);
        const resolved = validateModelCanaryArgs(checkable);
        super("model-canary:index:ModelCanary", name, {}, opts);
        const self = { parent: this };

        this.split = trafficSplit(resolved);
        this.headerRoutes = resolved.headerRoutes;
        this.stableVersion = resolved.stable.version;
        this.canaryVersion = resolved.canary?.version;
        this.canaryWeight = resolved.canaryWeight;
        this.mirror = defaultRouteMirror(resolved);
        this.namespace = resolved.namespace;

        this.deployments = {};
        this.envSecrets = {};
        for (const [role, model] of [["stable", resolved.stable], ...(resolved.canary ? [["canary", resolved.canary] as const] : [])] as const) {
            // Named by version only, never by role or weight: the promoted canary keeps its
            // Deployment and its Secret, and a weight step touches neither.
            const secrets = secretEnv[role];
            let secret: k8s.core.v1.Secret | undefined;
            if (Object.keys(secrets).length > 0) {
                secret = new k8s.core.v1.Secret(`${name}-${model.version}-env`, {
                    metadata: { name: envSecretName(resolved.app, model.version), namespace: resolved.namespace, labels: versionLabels(resolved.app, model.version) },
                    type: "Opaque",
                    // Encrypted in state and shown as [secret] in previews, whatever the caller passed.
                    data: pulumi.secret(pulumi.all(secrets).apply((values) =>
                        Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(String(value), "utf8").toString("base64")])))),
                }, { ...self, additionalSecretOutputs: ["data", "stringData"] });
                this.envSecrets[model.version] = secret;
            }
            this.deployments[model.version] = new k8s.apps.v1.Deployment(`${name}-${model.version}`,
                deploymentArgs(resolved, model, new Set(Object.keys(secrets))), { ...self, ...(secret ? { dependsOn: [secret] } : {}) });
        }

        this.service = new k8s.core.v1.Service(`${name}-svc`, {
            metadata: {
                name: resolved.serviceName,
                namespace: resolved.namespace,
                labels: { app: resolved.app },
                // The provider would wait for the Service's endpoints (about 10 s on a first `up`);
                // the Deployments' own await already covers ready pods, and the VirtualService
                // waits for them.
                annotations: { "pulumi.com/skipAwait": "true" },
            },
            spec: {
                selector: { app: resolved.app },
                // The port name tells Istio the protocol is HTTP.
                ports: [{ name: "http", protocol: "TCP", appProtocol: "http", port: resolved.servicePort, targetPort: resolved.containerPort }],
            },
        }, self);

        this.destinationRule = new k8s.apiextensions.CustomResource(`${name}-dr`, {
            apiVersion: resolved.istioApiVersion,
            kind: "DestinationRule",
            metadata: { name: resolved.destinationRuleName, namespace: resolved.namespace, labels: { app: resolved.app } },
            spec: destinationRuleSpec(resolved),
        }, self);

        // Routing waits for the subsets and the pods it sends traffic to; when only the weight
        // changes, nothing else is touched, so there is nothing to wait for.
        this.virtualService = new k8s.apiextensions.CustomResource(`${name}-vs`, {
            apiVersion: resolved.istioApiVersion,
            kind: "VirtualService",
            metadata: {
                name: resolved.virtualServiceName,
                namespace: resolved.namespace,
                labels: { app: resolved.app },
                // Routing is this tool's to decide: a weight step or a rollback takes the fields
                // back from whoever edited the VirtualService by hand, instead of failing on a
                // server-side apply conflict. Only here: other objects' conflicts are reported.
                annotations: { "pulumi.com/patchForce": "true" },
            },
            spec: virtualServiceSpec(resolved),
        }, { ...self, dependsOn: [this.destinationRule, this.service, ...Object.values(this.deployments)] });

        this.serviceName = this.service.metadata.name;
        this.virtualServiceName = this.virtualService.metadata.name;
        this.destinationRuleName = this.destinationRule.metadata.name;
        this.deploymentNames = pulumi.all(
            Object.entries(this.deployments).map(([version, d]) => d.metadata.name.apply((n) => [version, n] as const)),
        ).apply((pairs) => Object.fromEntries(pairs));

        this.registerOutputs({
            serviceName: this.serviceName,
            virtualServiceName: this.virtualServiceName,
            destinationRuleName: this.destinationRuleName,
            deploymentNames: this.deploymentNames,
            split: this.split,
            mirror: this.mirror ?? null,
            headerRoutes: this.headerRoutes,
        });
    }
}

/** The Secret holding a version's secret environment values: named like its Deployment. */
export function envSecretName(app: string, version: string): string {
    return `${deploymentName(app, version)}-env`;
}

function isInputObject(value: unknown): boolean {
    return pulumi.Output.isInstance(value) || (typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function");
}

/**
 * Splits the secret environment values (those given as Outputs or promises) from the arguments.
 * The pure validation sees a placeholder in their place, so their names are still checked.
 */
function separateSecretEnv(args: ModelCanaryArgs): { checkable: unknown; secretEnv: Record<"stable" | "canary", Record<string, pulumi.Output<string>>> } {
    const secretEnv = { stable: {}, canary: {} } as Record<"stable" | "canary", Record<string, pulumi.Output<string>>>;
    if (typeof args !== "object" || args === null) return { checkable: args, secretEnv };
    const checkable: Record<string, unknown> = { ...args };
    for (const role of ["stable", "canary"] as const) {
        const model = args[role] as unknown;
        if (typeof model !== "object" || model === null) continue;
        const env = (model as ModelVersionArgs).env as unknown;
        if (typeof env !== "object" || env === null || Array.isArray(env)) continue;
        const plainEnv: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(env)) {
            if (isInputObject(value)) {
                secretEnv[role][key] = pulumi.output(value as pulumi.Input<string>);
                plainEnv[key] = secretMark;
            } else {
                plainEnv[key] = value;
            }
        }
        checkable[role] = { ...model, env: plainEnv };
    }
    return { checkable, secretEnv };
}

function deploymentArgs(args: ResolvedModelCanaryArgs, model: ResolvedModelVersion, secretNames: Set<string>): k8s.apps.v1.DeploymentArgs {
    const labels = versionLabels(args.app, model.version);
    const tcpCheck = { tcpSocket: { port: args.containerPort } };
    return {
        metadata: { name: deploymentName(args.app, model.version), namespace: args.namespace, labels },
        spec: {
            replicas: model.replicas,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels, ...(model.podAnnotations ? { annotations: model.podAnnotations } : {}) },
                spec: {
                    securityContext: { ...podSecurityDefaults, ...args.podSecurityContext },
                    containers: [{
                        name: args.containerName,
                        image: model.image,
                        ports: [{ name: "http", containerPort: args.containerPort }],
                        env: Object.entries(model.env).map(([envName, value]) => secretNames.has(envName)
                            ? { name: envName, valueFrom: { secretKeyRef: { name: envSecretName(args.app, model.version), key: envName } } }
                            : { name: envName, value }),
                        ...(model.resources ? { resources: model.resources } : {}),
                        readinessProbe: model.readinessProbe ?? { ...tcpCheck, periodSeconds: 5 },
                        livenessProbe: model.livenessProbe ?? { ...tcpCheck, initialDelaySeconds: 15, periodSeconds: 20 },
                        securityContext: containerSecurityContext(args.containerSecurityContext),
                    }],
                },
            },
        },
    };
}

/**
 * The container's security context: the user's fields over the secure defaults, with
 * `capabilities` merged one level deeper, so that adding a capability (`add: [NET_BIND_SERVICE]`)
 * keeps `drop: [ALL]` instead of silently replacing it; an explicit `drop` still wins.
 */
function containerSecurityContext(user: k8s.types.input.core.v1.SecurityContext | undefined): k8s.types.input.core.v1.SecurityContext {
    const userCapabilities = user?.capabilities as k8s.types.input.core.v1.Capabilities | undefined;
    return { ...containerSecurityDefaults, ...user, capabilities: { ...(containerSecurityDefaults.capabilities as object), ...userCapabilities } };
}

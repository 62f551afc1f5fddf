import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { deploymentName, destinationRuleSpec, TrafficSplit, trafficSplit, versionLabels, virtualServiceSpec } from "./routing";
import { HeaderRoute, ModelCanaryArgs } from "./types";
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
    public readonly namespace: string;

    public readonly deployments: Record<string, k8s.apps.v1.Deployment>;
    public readonly service: k8s.core.v1.Service;
    public readonly destinationRule: k8s.apiextensions.CustomResource;
    public readonly virtualService: k8s.apiextensions.CustomResource;

    constructor(name: string, args: ModelCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate before super(): a bad argument must not leave even the component registered.
        const resolved = validateModelCanaryArgs(args);
        super("model-canary:index:ModelCanary", name, {}, opts);
        const self = { parent: this };

        this.split = trafficSplit(resolved);
        this.headerRoutes = resolved.headerRoutes;
        this.stableVersion = resolved.stable.version;
        this.canaryVersion = resolved.canary?.version;
        this.canaryWeight = resolved.canaryWeight;
        this.namespace = resolved.namespace;

        this.deployments = {};
        for (const model of [resolved.stable, ...(resolved.canary ? [resolved.canary] : [])]) {
            // Named by version only, never by role: the promoted canary keeps its Deployment.
            this.deployments[model.version] = new k8s.apps.v1.Deployment(`${name}-${model.version}`, deploymentArgs(resolved, model), self);
        }

        this.service = new k8s.core.v1.Service(`${name}-svc`, {
            metadata: { name: resolved.serviceName, namespace: resolved.namespace, labels: { app: resolved.app } },
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
            metadata: { name: resolved.virtualServiceName, namespace: resolved.namespace, labels: { app: resolved.app } },
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
            headerRoutes: this.headerRoutes,
        });
    }
}

function deploymentArgs(args: ResolvedModelCanaryArgs, model: ResolvedModelVersion): k8s.apps.v1.DeploymentArgs {
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
                        env: Object.entries(model.env).map(([envName, value]) => ({ name: envName, value })),
                        ...(model.resources ? { resources: model.resources } : {}),
                        readinessProbe: model.readinessProbe ?? { ...tcpCheck, periodSeconds: 5 },
                        livenessProbe: model.livenessProbe ?? { ...tcpCheck, initialDelaySeconds: 15, periodSeconds: 20 },
                        securityContext: { ...containerSecurityDefaults, ...args.containerSecurityContext },
                    }],
                },
            },
        },
    };
}

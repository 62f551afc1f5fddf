import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { defaultRouteMirror, deploymentName, Mirror, TrafficSplit, trafficSplit, versionLabels } from "./routing";
import { RouterKind, routers, RoutingObjectName } from "./routers";
import { secretMark } from "./secrets";
import { HeaderRoute, ModelCanaryArgs } from "./types";
import { checkKnownInput, DeferrableField, ResolvedModelCanaryArgs, ResolvedModelVersion, validateModelCanaryArgs, ValidationError } from "./validation";

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
 * in front of them, and the router's objects whose header routes and weighted split come from
 * the arguments: a DestinationRule with one subset per version and a VirtualService (`router:
 * istio`, the default), or one Service per version and an HTTPRoute (`router: gateway-api`, with
 * a DestinationRule per version Service only when `trafficPolicy` is set).
 *
 * Child names depend only on the component name and the model version, so changing
 * `canaryWeight` or `headerRoutes` updates the route in place and nothing else, and
 * promoting the canary keeps its Deployment.
 */
export class ModelCanary extends pulumi.ComponentResource {
    /** Name of the Kubernetes Service (the Istio host). */
    public readonly serviceName: pulumi.Output<string>;
    /** Name of the VirtualService; with `router: gateway-api`, undefined. */
    public readonly virtualServiceName: pulumi.Output<string> | undefined;
    /** Name of the DestinationRule; with `router: gateway-api`, undefined. */
    public readonly destinationRuleName: pulumi.Output<string> | undefined;
    /** What splits the traffic: `istio` or `gateway-api`. */
    public readonly router: RouterKind;
    /** The objects the router created, as the API server names them, the route last. */
    public readonly routingObjectNames: RoutingObjectName[];
    /** Kubernetes Deployment name per model version, e.g. `{ v1: "model-v1", v2: "model-v2" }`. */
    public readonly deploymentNames: pulumi.Output<Record<string, string>>;
    /** Default-route share per version, e.g. `{ v1: 90, v2: 10 }`. */
    public readonly split: TrafficSplit;
    public readonly headerRoutes: HeaderRoute[];
    public readonly stableVersion: string;
    public readonly canaryVersion: string | undefined;
    public readonly canaryWeight: number;
    /** Pod count per version, e.g. `{ v1: 5, v2: 1 }`; with `canary.replicas: auto`, the counts for the current traffic. */
    public readonly replicas: Record<string, number>;
    /** What the default route mirrors to the canary (the shadow stage), or undefined. */
    public readonly mirror: Mirror | undefined;
    public readonly namespace: string;

    public readonly deployments: Record<string, k8s.apps.v1.Deployment>;
    public readonly service: k8s.core.v1.Service;
    /** With `router: istio` (the default); undefined with `gateway-api`. */
    public readonly destinationRule: k8s.apiextensions.CustomResource | undefined;
    /** With `router: istio` (the default); undefined with `gateway-api`. */
    public readonly virtualService: k8s.apiextensions.CustomResource | undefined;
    /** The object holding the weights and header routes: the VirtualService or the HTTPRoute. */
    public readonly route: k8s.apiextensions.CustomResource;
    /** Every object the router created, by resource name (with `gateway-api`, the version Services, their DestinationRules with `trafficPolicy`, and the HTTPRoute). */
    public readonly routingObjects: Record<string, pulumi.CustomResource>;

    /** The Secret holding each version's secret environment values, for versions that have any. */
    public readonly envSecrets: Record<string, k8s.core.v1.Secret>;

    constructor(name: string, args: ModelCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate before super(): a bad argument must not leave even the component registered.
        // Arguments given as Outputs are checked once known (below); the rest right here.
        const { checkable, secretEnv, deferred } = separateInputs(args);
        refuseOutputs(checkable);
        const resolved = validateModelCanaryArgs(checkable);
        super("model-canary:index:ModelCanary", name, {}, opts);

        // An Output argument that resolves to a bad value fails every child with the message a
        // plain value gets up front, so none of them is created: each depends on the checks.
        const checks = checkedInputs(deferred, secretEnv, this);
        const gate = checks.length > 0 ? pulumi.all(checks).apply((): pulumi.Resource[] => []) : undefined;
        const self = { parent: this, ...(gate ? { dependsOn: gate } : {}) };
        // The SDK walks nested inputs of `dependsOn` (its type allows one level): the gate is an
        // Output of an empty list, the resources stay listed themselves, known or not.
        const after = (...resources: pulumi.Resource[]): pulumi.CustomResourceOptions =>
            ({ parent: this, dependsOn: gate ? [gate as unknown as pulumi.Input<pulumi.Resource>, ...resources] : resources });

        this.split = trafficSplit(resolved);
        this.headerRoutes = resolved.headerRoutes;
        this.stableVersion = resolved.stable.version;
        this.canaryVersion = resolved.canary?.version;
        this.canaryWeight = resolved.canaryWeight;
        this.mirror = defaultRouteMirror(resolved);
        this.replicas = { [resolved.stable.version]: resolved.stable.replicas, ...(resolved.canary ? { [resolved.canary.version]: resolved.canary.replicas } : {}) };
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
                        Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value, "utf8").toString("base64")])))),
                }, { ...self, additionalSecretOutputs: ["data", "stringData"] });
                this.envSecrets[model.version] = secret;
            }
            this.deployments[model.version] = new k8s.apps.v1.Deployment(`${name}-${model.version}`,
                deploymentArgs(resolved, model, new Set(Object.keys(secrets)), deferred[role]), secret ? after(secret) : self);
        }

        this.service = new k8s.core.v1.Service(`${name}-svc`, {
            metadata: {
                name: resolved.serviceName,
                namespace: resolved.namespace,
                labels: { app: resolved.app },
                // The provider would wait for the Service's endpoints (about 10 s on a first `up`);
                // the Deployments' own await already covers ready pods, and the route (the
                // VirtualService or the HTTPRoute) waits for them.
                annotations: { "pulumi.com/skipAwait": "true" },
            },
            spec: {
                selector: { app: resolved.app },
                // `appProtocol` tells Istio the protocol (`http`, or `grpc` with `protocol: grpc`);
                // the port's name stays `http` either way, so changing the protocol renames nothing.
                ports: [{ name: "http", protocol: "TCP", appProtocol: resolved.protocol, port: resolved.servicePort, targetPort: resolved.containerPort }],
            },
        }, self);

        // The objects that split the traffic: the router's to build, from the same model and targets.
        this.router = resolved.router;
        const routing = routers[resolved.router].create({ name, args: resolved, service: this.service, deployments: this.deployments, self, after });
        this.route = routing.route;
        this.routingObjects = routing.resources;
        this.routingObjectNames = routers[resolved.router].objectNames(resolved);
        if (resolved.router === "istio") {
            this.destinationRule = routing.resources[`${name}-dr`] as k8s.apiextensions.CustomResource;
            this.virtualService = routing.route;
        }

        this.serviceName = this.service.metadata.name;
        this.virtualServiceName = this.virtualService?.metadata.name;
        this.destinationRuleName = this.destinationRule?.metadata.name;
        this.deploymentNames = pulumi.all(
            Object.entries(this.deployments).map(([version, d]) => d.metadata.name.apply((n) => [version, n] as const)),
        ).apply((pairs) => Object.fromEntries(pairs));

        this.registerOutputs({
            serviceName: this.serviceName,
            // The Istio router's outputs as they always were; another router adds its own keys.
            ...(this.virtualService ? { virtualServiceName: this.virtualServiceName, destinationRuleName: this.destinationRuleName } : {}),
            ...(resolved.router !== "istio" ? { router: resolved.router, routingObjects: this.routingObjectNames } : {}),
            deploymentNames: this.deploymentNames,
            split: this.split,
            mirror: this.mirror ?? null,
            replicas: this.replicas,
            headerRoutes: this.headerRoutes,
        });
    }
}

/** The Secret holding a version's secret environment values: named like its Deployment. */
export function envSecretName(app: string, version: string): string {
    return `${deploymentName(app, version)}-env`;
}

/** An Output or a promise: a value known only once the engine resolves it. */
function isInputObject(value: unknown): boolean {
    return pulumi.Output.isInstance(value) || (typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function");
}

/** True when a value is, or holds somewhere inside, an Output or a promise. */
function holdsInputObject(value: unknown): boolean {
    if (isInputObject(value)) return true;
    if (Array.isArray(value)) return value.some(holdsInputObject);
    if (typeof value === "object" && value !== null) return Object.values(value).some(holdsInputObject);
    return false;
}

/** Where under `value` an Output or a promise is, as `canary.version`, `headerRoutes[0]`. */
function inputObjectPaths(value: unknown, at: string): string[] {
    if (isInputObject(value)) return [at];
    if (Array.isArray(value)) return value.flatMap((item, i) => inputObjectPaths(item, `${at}[${i}]`));
    if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([k, v]) => inputObjectPaths(v, at ? `${at}.${k}` : k));
    return [];
}

/**
 * Refuses Outputs and promises where the component needs the value itself (everything but the
 * versions' image, resources, pod annotations and labels, and env values): the names of the
 * children and the traffic split are built from them while the program registers resources,
 * before any Output is known. One error whose message is the whole story (the engine prints a
 * RunError's message alone), instead of the SDK's "Calling [toJSON] on an [Output<T>]" warning
 * and a stack trace from the checks.
 */
function refuseOutputs(checkable: unknown): void {
    const paths = inputObjectPaths(checkable, "");
    if (paths.length === 0) return;
    const named = paths.map((p) => `\`${p}\``).join(", ");
    const error = new pulumi.RunError(`invalid ModelCanary argument: ${named} must be ${paths.length === 1 ? "a plain value" : "plain values"}, not an Output or a promise: ModelCanary checks ${paths.length === 1 ? "it" : "them"} and builds resource names and the traffic split from ${paths.length === 1 ? "it" : "them"} while the program registers resources, before any Output is known; pass the value itself (Outputs are accepted only for a version's \`image\`, \`resources\`, \`podAnnotations\`, \`podLabels\` and \`env\` values)`);
    error.stack = error.message;
    throw error;
}

/** A version's arguments given as Outputs, as the Deployment takes them once checked. */
interface DeferredInputs {
    image?: pulumi.Output<string>;
    resources?: pulumi.Output<k8s.types.input.core.v1.ResourceRequirements>;
    podAnnotations?: pulumi.Output<Record<string, string>>;
    podLabels?: pulumi.Output<Record<string, string>>;
}

type Role = "stable" | "canary";

/** What a deferred field stands in for during the up-front checks: a value they accept. */
const placeholders: Record<keyof DeferredInputs, unknown> = { image: "deferred.invalid/model:output", resources: undefined, podAnnotations: undefined, podLabels: undefined };

/**
 * Splits the arguments given as Outputs (or promises) from the plain ones. The pure validation
 * sees an accepted placeholder in their place (for env values, `[secret]`, so their names are
 * still checked); the Outputs are checked once known, by `checkedInputs`.
 */
function separateInputs(args: ModelCanaryArgs): { checkable: unknown; secretEnv: Record<Role, Record<string, pulumi.Output<string>>>; deferred: Record<Role, DeferredInputs> } {
    const secretEnv = { stable: {}, canary: {} } as Record<Role, Record<string, pulumi.Output<string>>>;
    const deferred: Record<Role, DeferredInputs> = { stable: {}, canary: {} };
    if (typeof args !== "object" || args === null) return { checkable: args, secretEnv, deferred };
    const checkable: Record<string, unknown> = { ...args };
    for (const role of ["stable", "canary"] as const) {
        const model = args[role] as unknown;
        if (typeof model !== "object" || model === null) continue;
        const version: Record<string, unknown> = { ...model };
        for (const field of Object.keys(placeholders) as (keyof DeferredInputs)[]) {
            if (!holdsInputObject(version[field])) continue;
            (deferred[role] as Record<string, unknown>)[field] = pulumi.output(version[field]);
            version[field] = placeholders[field];
        }
        const env = version.env;
        if (typeof env === "object" && env !== null && !Array.isArray(env)) {
            const plainEnv: Record<string, unknown> = {};
            for (const [key, value] of Object.entries(env)) {
                if (isInputObject(value)) {
                    secretEnv[role][key] = pulumi.output(value as pulumi.Input<string>);
                    plainEnv[key] = secretMark;
                } else {
                    plainEnv[key] = value;
                }
            }
            version.env = plainEnv;
        }
        checkable[role] = version;
    }
    return { checkable, secretEnv, deferred };
}

/**
 * Replaces each deferred argument (and each env value given as an Output) by the same Output
 * checked once known; a bad value fails with the up-front message, against the component.
 * Returns every check, for the children to wait on.
 */
function checkedInputs(deferred: Record<Role, DeferredInputs>, secretEnv: Record<Role, Record<string, pulumi.Output<string>>>, component: pulumi.Resource): pulumi.Output<unknown>[] {
    const checks: pulumi.Output<unknown>[] = [];
    const check = <T>(role: Role, field: DeferrableField, output: pulumi.Output<T>): pulumi.Output<T> => {
        const checked = output.apply((value) => {
            try {
                checkKnownInput(role, field, value);
            } catch (e) {
                if (!(e instanceof ValidationError)) throw e;
                const error = new pulumi.ResourceError(`invalid ModelCanary argument: ${e.message}`, component, true);
                // A program that has already returned (the usual case: registration outlives it)
                // gets its late errors printed by `stack`: the message is the whole story.
                error.stack = error.message;
                throw error;
            }
            return value;
        });
        checks.push(checked);
        return checked;
    };
    for (const role of ["stable", "canary"] as const) {
        const fields = deferred[role] as Record<string, pulumi.Output<unknown>>;
        for (const field of Object.keys(fields) as (keyof DeferredInputs)[]) fields[field] = check(role, field, fields[field]);
        for (const key of Object.keys(secretEnv[role])) secretEnv[role][key] = check(role, `env.${key}`, secretEnv[role][key]).apply(String);
    }
    return checks;
}

function deploymentArgs(args: ResolvedModelCanaryArgs, model: ResolvedModelVersion, secretNames: Set<string>, deferred: DeferredInputs): k8s.apps.v1.DeploymentArgs {
    const labels = versionLabels(args.app, model.version);
    const podAnnotations = deferred.podAnnotations ?? model.podAnnotations;
    const resources = deferred.resources ?? model.resources;
    // The component's own labels last: they are refused as pod labels, and the selectors need them.
    const podLabels = deferred.podLabels ? deferred.podLabels.apply((extra) => ({ ...extra, ...labels })) : { ...model.podLabels, ...labels };
    const tcpCheck = { tcpSocket: { port: args.containerPort } };
    return {
        metadata: { name: deploymentName(args.app, model.version), namespace: args.namespace, labels },
        spec: {
            replicas: model.replicas,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels: podLabels, ...(podAnnotations ? { annotations: podAnnotations } : {}) },
                spec: {
                    securityContext: { ...podSecurityDefaults, ...args.podSecurityContext },
                    containers: [{
                        name: args.containerName,
                        image: deferred.image ?? model.image,
                        ports: [{ name: "http", containerPort: args.containerPort }],
                        env: Object.entries(model.env).map(([envName, value]) => secretNames.has(envName)
                            ? { name: envName, valueFrom: { secretKeyRef: { name: envSecretName(args.app, model.version), key: envName } } }
                            : { name: envName, value }),
                        ...(resources ? { resources } : {}),
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

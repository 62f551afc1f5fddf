// The arguments of ModelCanary as other languages see them: the component provider host infers
// the package's schema from these types, which must stay within what it accepts (plain types,
// arrays, string-keyed maps, named interfaces, enums, Input<>; no other unions). Where the
// TypeScript arguments (components/types.ts) use a union, a field of its own carries each case;
// ./typescriptArgs.ts maps them back, so the component and its checks are the TypeScript ones.
// Nothing here imports the component or @pulumi/kubernetes: the host compiles what index.ts
// imports each time the plugin starts, and their types would take seconds of it.
import type * as pulumi from "@pulumi/pulumi";

/** networking.istio.io API versions the component can emit. */
export enum IstioApiVersion {
    /** Istio 1.22 and later (the default). */
    V1 = "networking.istio.io/v1",
    V1beta1 = "networking.istio.io/v1beta1",
    V1alpha3 = "networking.istio.io/v1alpha3",
}

/** What splits the traffic. */
export enum Router {
    /** A VirtualService and a DestinationRule with one subset per version (the default). */
    Istio = "istio",
    /** One Service per version and an HTTPRoute (or GRPCRoute) attached to the model's Service. */
    GatewayApi = "gateway-api",
}

/** What the model serves. */
export enum Protocol {
    Http = "http",
    Grpc = "grpc",
}

/** Send every request whose header matches to one version, ahead of the weighted split. */
export interface HeaderRoute {
    /** Lowercase HTTP header name (with `protocol: grpc`, a gRPC metadata key), e.g. `x-canary-version`. */
    header: string;
    /** The whole value. Exactly one of `exact`, `prefix` and `regex` is set; values are case-sensitive. */
    exact?: string;
    /** The value's start. */
    prefix?: string;
    /** An RE2 regular expression the whole value matches. */
    regex?: string;
    /** The stable or the canary version. */
    version: string;
}

/** Bounds and options of `replicasAuto` (canary only). */
export interface AutoReplicas {
    /** Fewest canary pods, at least 1. Default 1. */
    min?: number;
    /** Most canary pods. Default none (the stable count is the most any weight asks for). */
    max?: number;
    /** Shrink the stable version as the canary grows, so the total stays near the stable count. Default false. */
    shrinkStable?: boolean;
    /** Keep the canary at this many pods whatever its traffic (set by the model-canary commands for one `up`). */
    hold?: number;
    /** The same for the stable version. */
    holdStable?: number;
}

/** `sticky`: the cookie that keeps a client on the version it was first served. */
export interface Sticky {
    /** The cookie's name: an RFC 6265 token, at most 256 characters. */
    cookie: string;
}

/** A port by number or by the container port's name: set one of `port` and `portName`. */
export interface TcpSocketAction {
    port?: number;
    portName?: string;
    host?: string;
}

export interface HttpHeader {
    name: string;
    value: string;
}

/** An HTTP GET probe: set one of `port` and `portName`. */
export interface HttpGetAction {
    path?: string;
    port?: number;
    portName?: string;
    host?: string;
    /** `HTTP` (default) or `HTTPS`. */
    scheme?: string;
    httpHeaders?: HttpHeader[];
}

export interface GrpcAction {
    port: number;
    service?: string;
}

export interface ExecAction {
    command?: string[];
}

/** A Kubernetes container probe; ports that Kubernetes takes as a number or a name are two fields here. */
export interface Probe {
    exec?: ExecAction;
    grpc?: GrpcAction;
    httpGet?: HttpGetAction;
    tcpSocket?: TcpSocketAction;
    initialDelaySeconds?: number;
    periodSeconds?: number;
    timeoutSeconds?: number;
    successThreshold?: number;
    failureThreshold?: number;
    terminationGracePeriodSeconds?: number;
}

/** A resource claim of the pod (Kubernetes' dynamic resource allocation) the container uses. */
export interface ResourceClaim {
    name: string;
    request?: string;
}

/** Container requests and limits (Kubernetes' ResourceRequirements). */
export interface ResourceRequirements {
    /** E.g. `{ cpu: "2", memory: "4Gi", "nvidia.com/gpu": "1" }`. */
    limits?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    requests?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    claims?: ResourceClaim[];
}

// The security contexts as Kubernetes (core/v1) defines them, field for field; the component
// merges them over its secure defaults.

export interface AppArmorProfile {
    /** `RuntimeDefault`, `Localhost` or `Unconfined`. */
    type: string;
    localhostProfile?: string;
}

export interface SeccompProfile {
    /** `RuntimeDefault`, `Localhost` or `Unconfined`. */
    type: string;
    localhostProfile?: string;
}

export interface SELinuxOptions {
    level?: string;
    role?: string;
    type?: string;
    user?: string;
}

export interface WindowsSecurityContextOptions {
    gmsaCredentialSpec?: string;
    gmsaCredentialSpecName?: string;
    hostProcess?: boolean;
    runAsUserName?: string;
}

export interface Sysctl {
    name: string;
    value: string;
}

export interface Capabilities {
    add?: string[];
    drop?: string[];
}

/** The pod's security context (Kubernetes' PodSecurityContext). */
export interface PodSecurityContext {
    appArmorProfile?: AppArmorProfile;
    fsGroup?: number;
    fsGroupChangePolicy?: string;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seLinuxChangePolicy?: string;
    seLinuxOptions?: SELinuxOptions;
    seccompProfile?: SeccompProfile;
    supplementalGroups?: number[];
    supplementalGroupsPolicy?: string;
    sysctls?: Sysctl[];
    windowsOptions?: WindowsSecurityContextOptions;
}

/** The model server container's security context (Kubernetes' SecurityContext). */
export interface SecurityContext {
    allowPrivilegeEscalation?: boolean;
    appArmorProfile?: AppArmorProfile;
    /** Merged with the default `drop: [ALL]`: adding a capability keeps it. */
    capabilities?: Capabilities;
    privileged?: boolean;
    procMount?: string;
    readOnlyRootFilesystem?: boolean;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seLinuxOptions?: SELinuxOptions;
    seccompProfile?: SeccompProfile;
    windowsOptions?: WindowsSecurityContextOptions;
}

/** `trafficPolicy.connectionPool.tcp`. Unset fields keep Istio's defaults. */
export interface TcpConnectionPool {
    /** Most HTTP/1 and TCP connections to one destination host, at least 1. */
    maxConnections?: number;
    /** TCP connect timeout, an Istio duration such as `10s` or `500ms`. */
    connectTimeout?: string;
}

/** `trafficPolicy.connectionPool.http`. */
export interface HttpConnectionPool {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    /** An Istio duration. */
    idleTimeout?: string;
}

/** `trafficPolicy.connectionPool`: connection and request limits per destination host. */
export interface ConnectionPool {
    tcp?: TcpConnectionPool;
    http?: HttpConnectionPool;
}

/** `trafficPolicy.outlierDetection`: ejecting pods that keep failing. */
export interface OutlierDetection {
    consecutive5xxErrors?: number;
    consecutiveGatewayErrors?: number;
    /** An Istio duration. */
    interval?: string;
    /** An Istio duration. */
    baseEjectionTime?: string;
    /** A percentage, 0 to 100. */
    maxEjectionPercent?: number;
    /** A percentage, 0 to 100. */
    minHealthPercent?: number;
}

/** Connection-pool limits and outlier detection, with Istio's DestinationRule field names. */
export interface TrafficPolicy {
    connectionPool?: ConnectionPool;
    outlierDetection?: OutlierDetection;
}

/** One model version served by its own Deployment. */
export interface ModelVersion {
    /** The version label, the DestinationRule subset and the Deployment's name suffix: a DNS label. */
    version: string;
    /** The model server's container image; may be another resource's output. */
    image: pulumi.Input<string>;
    /** Pod count. Default 1. `0` keeps the Deployment but runs no pods. Not with `replicasAuto`. */
    replicas?: number;
    /**
     * Canary only: size the canary from the traffic it gets (`replicas: auto` in TypeScript):
     * `ceil(stable replicas × weight / 100)` within `autoReplicas.min`..`max`.
     */
    replicasAuto?: boolean;
    /** Bounds and options of `replicasAuto`. */
    autoReplicas?: AutoReplicas;
    /** Environment variables of the model server. A secret value reaches the pod through a Kubernetes Secret. */
    env?: Record<string, pulumi.Input<string>>;
    /** Container requests and limits, e.g. `limits: { "nvidia.com/gpu": "1" }`. Default none. */
    resources?: pulumi.Input<ResourceRequirements>;
    /** Readiness probe. Default: a TCP check of the container port. */
    readinessProbe?: Probe;
    /** Liveness probe. Default: a TCP check of the container port, slower than readiness. */
    livenessProbe?: Probe;
    /** Extra pod annotations. Default none. */
    podAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Extra pod labels (not `app` or `version`). Default none. */
    podLabels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The arguments of ModelCanary: the TypeScript arguments' names, with the unions split (see ModelVersion, Probe). */
export interface ModelCanaryArgs {
    /** The `app` label shared by every version's pods and selected by the Service. Default `model`. */
    app?: string;
    /** Namespace of every object. Default `default`. */
    namespace?: string;
    /** Name of the Kubernetes Service and the Istio host. Default `<app>-service`. */
    serviceName?: string;
    /** Port the Service listens on. Default 80. */
    servicePort?: number;
    /** Port the model server listens on. Default 8080. */
    containerPort?: number;
    /** Name of the model server container. Default `model-server`. */
    containerName?: string;
    /** The version serving production. */
    stable: ModelVersion;
    /** The version being rolled out. Omit when no rollout is in flight. */
    canary?: ModelVersion;
    /** Integer share (0..100) of default-route traffic sent to the canary. Default 0. */
    canaryWeight?: number;
    /** Share (0..100) of default-route requests mirrored to the canary while its weight is 0. Default 0. */
    mirrorPercent?: number;
    /** Header routes, evaluated in order, before the weighted split. Default none. */
    headerRoutes?: HeaderRoute[];
    /** VirtualService hosts (`router: istio`). Default `[serviceName]`. */
    hosts?: string[];
    /** Gateways the route binds to besides the mesh (`<name>` or `<namespace>/<name>`). Default none. */
    gateways?: string[];
    /** `router: gateway-api` with `gateways`: the route's hostnames. Default none. */
    hostnames?: string[];
    /** Name of the VirtualService (`router: istio`). Default `<app>-virtual-service`. */
    virtualServiceName?: string;
    /** Name of the DestinationRule (`router: istio`). Default `<app>-destination`. */
    destinationRuleName?: string;
    /** networking.istio.io API version (`router: istio`). Default `networking.istio.io/v1`. */
    istioApiVersion?: IstioApiVersion;
    /** What splits the traffic. Default `istio`. */
    router?: Router;
    /** What the model serves. Default `http`. */
    protocol?: Protocol;
    /** Sticky assignment while traffic is split. Default none. */
    sticky?: Sticky;
    /** The DestinationRule's connection-pool limits and outlier detection (either router). Default none. */
    trafficPolicy?: TrafficPolicy;
    /** Merged over the secure pod defaults (`runAsNonRoot: true`, `seccompProfile: RuntimeDefault`). */
    podSecurityContext?: PodSecurityContext;
    /** Merged over the secure container defaults (`allowPrivilegeEscalation: false`, `capabilities.drop: [ALL]`, `runAsNonRoot: true`). */
    containerSecurityContext?: SecurityContext;
}

/** ModelCanaries' arguments: none, it reads the stack config the commands write (./modelCanaries.ts). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModelCanariesArgs {}

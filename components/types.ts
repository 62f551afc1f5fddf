import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { IstioApiVersion } from "./istio";
import type { AutoReplicas } from "./replicas";
import type { ModelProtocol, RouterKind } from "./routers/kinds";
import type { TrafficPolicyArgs } from "./traffic-policy";

export type { ConnectionPoolArgs, HttpConnectionPoolArgs, OutlierDetectionArgs, TcpConnectionPoolArgs, TrafficPolicyArgs } from "./traffic-policy";

type Probe = k8s.types.input.core.v1.Probe;
type ResourceRequirements = k8s.types.input.core.v1.ResourceRequirements;
type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;

/** One model version served by its own Deployment. */
export interface ModelVersionArgs {
    /**
     * The version label (`version=<v>`), the DestinationRule subset name and the suffix of the
     * Deployment's name. A DNS label: lowercase letters, digits and `-`, at most 63 characters.
     */
    version: string;
    /**
     * The model server's container image. Changing it rolls that Deployment's pods only. May be an
     * Output (an image another resource builds or pushes): it is checked once known, with the same
     * rules and message as a plain value, and no object of the component is created when it fails.
     */
    image: pulumi.Input<string>;
    /**
     * Pod count. Default 1. `0` keeps the Deployment but runs no pods. On the canary only, `auto`
     * sizes it from the traffic it gets: `ceil(stable replicas × weight / 100)` (in the shadow
     * stage, × mirrorPercent / 100), within `autoReplicas.min`..`max`, so a weight step also
     * changes the canary Deployment's `replicas` (and nothing else of it: no pod restarts).
     */
    replicas?: number | "auto";
    /** Bounds and options of `replicas: auto` (canary only). */
    autoReplicas?: Partial<AutoReplicas>;
    /**
     * Environment variables of the model server container. Default none. A value given as an
     * Output (`pulumi.secret(...)`, `config.requireSecret(...)`) is a secret: it reaches the
     * container through the Kubernetes Secret `<app>-<version>-env` and `secretKeyRef`, never as
     * plaintext in the Deployment.
     */
    env?: Record<string, pulumi.Input<string>>;
    /**
     * Container requests and limits. Default none (the namespace's LimitRange applies). May be, or
     * hold, Outputs: checked once known.
     */
    resources?: pulumi.Input<ResourceRequirements>;
    /** Readiness probe. Default: a TCP check of the container port. */
    readinessProbe?: Probe;
    /** Liveness probe. Default: a TCP check of the container port, slower than readiness. */
    livenessProbe?: Probe;
    /** Extra pod annotations (e.g. Prometheus scrape hints). Default none. May be, or hold, Outputs: checked once known. */
    podAnnotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /**
     * Extra pod labels (a team, a cost centre). Default none. `app` and `version` are the
     * component's: the Service and the DestinationRule subsets select on them. Only the pods carry
     * these, not the Deployment's selector, so changing them restarts that version's pods and
     * replaces nothing. May be, or hold, Outputs: checked once known.
     */
    podLabels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Send every request whose header matches to one version, ahead of the weighted split. */
export interface HeaderRoute {
    /** Lowercase HTTP header name, e.g. `x-canary-version`. */
    header: string;
    /** Exactly one of `exact`, `prefix` and `regex` (RE2 syntax) is set. Values are case-sensitive. */
    exact?: string;
    prefix?: string;
    regex?: string;
    /** The stable or the canary version. */
    version: string;
}

/**
 * The arguments of a ModelCanary. Whatever decides names and routing (versions, weights, header
 * routes, ports, names, hosts) is a plain value, checked before anything is registered; a
 * version's image, env values, resources, pod annotations and pod labels may also be Outputs.
 */
/** `sticky`: the cookie that keeps a client on the version it was first served. */
export interface StickyArgs {
    /** The cookie's name: an RFC 6265 token (letters, digits and ! # $ % & ' * + - . ^ _ ` | ~), at most 256 characters. */
    cookie: string;
}

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
    /** The version serving production. Required. */
    stable: ModelVersionArgs;
    /** The version being rolled out. Omit when no rollout is in flight. */
    canary?: ModelVersionArgs;
    /**
     * Integer share (0..100) of default-route traffic sent to the canary; the stable version gets
     * the rest. Default 0. Must be 0 when there is no canary.
     */
    canaryWeight?: number;
    /**
     * Share (0..100, up to 4 decimal places) of default-route requests also mirrored to the canary:
     * a shadow stage. The canary's answers are discarded; users keep getting stable's. Default 0
     * (no mirror). Needs a `canary` and `canaryWeight` 0: mirroring happens only while the canary
     * serves no user. Header routes are not mirrored.
     */
    mirrorPercent?: number;
    /** Header routes, evaluated in the order given, before the weighted split. Default none. */
    headerRoutes?: HeaderRoute[];
    /** VirtualService hosts. Default `[serviceName]` (mesh-internal traffic). `router: istio` only (`hostnames` with `gateway-api`). */
    hosts?: string[];
    /**
     * Gateways the route binds to besides the mesh. Default none (the mesh only). `router: istio`:
     * the VirtualService's `gateways` (`mesh`, `<name>` or `<namespace>/<name>`). `router:
     * gateway-api`: each `<name>` or `<namespace>/<name>` (DNS labels) becomes a Gateway parentRef
     * of the HTTPRoute beside the model's Service, at most 31.
     */
    gateways?: string[];
    /**
     * `router: gateway-api` only, with `gateways`: the HTTPRoute's `hostnames`, the Host headers it
     * answers on those Gateways (lowercase DNS names, a wildcard only as a leading `*.`), at most 16.
     * Default none (every hostname the Gateway's listeners accept).
     */
    hostnames?: string[];
    /** Name of the VirtualService. Default `<app>-virtual-service`. */
    virtualServiceName?: string;
    /** Name of the DestinationRule. Default `<app>-destination`. */
    destinationRuleName?: string;
    /** networking.istio.io API version. Default `networking.istio.io/v1` (Istio 1.22+). */
    istioApiVersion?: IstioApiVersion;
    /**
     * What splits the traffic. `istio` (default): a VirtualService and a DestinationRule with one
     * subset per version. `gateway-api`: one Service per version (`<serviceName>-<version>`) and an
     * HTTPRoute (`gateway.networking.k8s.io/v1`, named `<serviceName>`) attached to the model's
     * Service, and Gateways named in `gateways`; `hosts`, `virtualServiceName`,
     * `destinationRuleName` and `istioApiVersion` are for `istio` only and refused with it, and
     * `hostnames` is for `gateway-api` only.
     */
    router?: RouterKind;
    /**
     * What the model serves: `http` (default) or `grpc`. With `router: gateway-api`, `grpc` makes
     * the route a GRPCRoute (`gateway.networking.k8s.io/v1`, same name and rules) instead of an
     * HTTPRoute; with either router, the Services' port says `appProtocol: grpc`, so Istio speaks
     * HTTP/2 to the pods and reports gRPC statuses. Header routes must then name gRPC metadata keys.
     */
    protocol?: ModelProtocol;
    /**
     * Sticky assignment, opt-in: while traffic is split, each response sets the cookie `cookie`
     * to the version that served it (`Set-Cookie: <cookie>=<version>; Path=/`), and a request
     * carrying it goes back to that version, after the header routes and before the split. At 0%
     * and 100% nothing is pinned. Default none. Either router; HTTP clients that keep cookies only.
     */
    sticky?: StickyArgs;
    /**
     * Connection-pool limits and outlier detection, as Istio's DestinationRule `trafficPolicy`
     * takes them (a subset; each field as Istio names it). Default none: no `trafficPolicy`, and
     * with `router: gateway-api` no DestinationRule at all. `router: istio`: the DestinationRule's
     * `trafficPolicy` (its subsets inherit it). `router: gateway-api`: one DestinationRule per
     * version's Service (`<serviceName>-<version>`, the Service's name), no subsets. Checked
     * before anything is registered.
     */
    trafficPolicy?: TrafficPolicyArgs;
    /**
     * Merged over the secure pod defaults (`runAsNonRoot: true`, `seccompProfile: RuntimeDefault`).
     */
    podSecurityContext?: PodSecurityContext;
    /**
     * Merged over the secure container defaults (`allowPrivilegeEscalation: false`,
     * `capabilities.drop: [ALL]`, `runAsNonRoot: true`).
     */
    containerSecurityContext?: SecurityContext;
}

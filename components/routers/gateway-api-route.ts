// Pure routing for the Gateway API router: from validated arguments to the HTTPRoute spec and
// the names of its objects. No Pulumi here, so every rule is tested directly. Field names follow
// the Gateway API v1 standard channel (gateway.networking.k8s.io/v1 HTTPRoute and GRPCRoute:
// for what this tool writes, a parent, header matches, a RequestMirror filter and weighted
// Service backends, the two kinds' specs are the same).
import { defaultRouteMirror, trafficSplit } from "../routing";
import type { HeaderRoute } from "../types";
import type { ResolvedModelCanaryArgs } from "../validation";
import { re2Literal, stickyCookieRegex, stickySetCookie, stickyVersions } from "../sticky";
import type { DestinationRuleSpec } from "../istio";
import { versionDestinationRuleName, versionServiceName } from "./gateway-api-names";

export { httpRouteName, maxGatewayApiHeaderRoutes, versionDestinationRuleName, versionServiceName } from "./gateway-api-names";

export const gatewayApiVersion = "gateway.networking.k8s.io/v1";

/**
 * The API version of the router's DestinationRules (with `trafficPolicy` only): Istio's v1, which
 * Istio 1.22 and later serve, as GAMMA routing needs a newer Istio anyway.
 */
export const gatewayApiDestinationRuleVersion = "networking.istio.io/v1";

/** The route kinds the router writes: a GRPCRoute for `protocol: grpc`, else an HTTPRoute. */
export type GatewayApiRouteKind = "HTTPRoute" | "GRPCRoute";

/** The route's kind for the model's protocol. */
export function gatewayApiRouteKind(args: Pick<ResolvedModelCanaryArgs, "protocol">): GatewayApiRouteKind {
    return args.protocol === "grpc" ? "GRPCRoute" : "HTTPRoute";
}

/** The mesh (GAMMA) parent: the model's Service, at its port. */
export interface ServiceParentReference {
    group: "";
    kind: "Service";
    name: string;
    port: number;
}

/** A north-south parent: a Gateway, in the route's namespace unless `namespace` is given. */
export interface GatewayParentReference {
    group: "gateway.networking.k8s.io";
    kind: "Gateway";
    name: string;
    namespace?: string;
}

export type ParentReference = ServiceParentReference | GatewayParentReference;

/** Headers added to the responses of one backend (sticky assignment's `Set-Cookie`). */
export interface HTTPBackendFilter {
    type: "ResponseHeaderModifier";
    responseHeaderModifier: { add: { name: string; value: string }[] };
}

/** A Service in the route's namespace; `weight` is relative (absent means 1). */
export interface BackendRef {
    name: string;
    port: number;
    weight?: number;
    filters?: HTTPBackendFilter[];
}

/** Header names match case-insensitively; values case-sensitively. A GRPCHeaderMatch has the same fields. */
export interface HTTPHeaderMatch {
    type: "Exact" | "RegularExpression";
    name: string;
    value: string;
}

/** Conditions inside one match are ANDed; a rule's matches are ORed. */
export interface HTTPRouteMatch {
    headers: HTTPHeaderMatch[];
}

/** A copy of the rule's requests, its answers discarded: `percent` or `fraction`, never both. */
export interface HTTPRequestMirrorFilter {
    backendRef: { name: string; port: number };
    percent?: number;
    fraction?: { numerator: number; denominator: number };
}

export interface HTTPRouteFilter {
    type: "RequestMirror";
    requestMirror: HTTPRequestMirrorFilter;
}

export interface HTTPRouteRule {
    name: string;
    /** Absent: every request (the API server fills in a `/` path prefix). */
    matches?: HTTPRouteMatch[];
    filters?: HTTPRouteFilter[];
    backendRefs: BackendRef[];
}

/** An HTTPRoute's spec; a GRPCRoute's is the same for everything this tool writes (no path matches, no HTTP-only filters). */
export interface HTTPRouteSpec {
    parentRefs: ParentReference[];
    /** The Host headers the route answers on its Gateways; absent: every one they accept. */
    hostnames?: string[];
    /**
     * Gateway API picks the rule with more header matches first and, among equals, the first in
     * list order: the header routes (one header each) come first, in the order given, then the
     * default rule, which has none.
     */
    rules: HTTPRouteRule[];
}

/** The running versions: stable, then the canary if any. */
export function runningVersions(args: Pick<ResolvedModelCanaryArgs, "stable" | "canary">): string[] {
    return [args.stable.version, ...(args.canary ? [args.canary.version] : [])];
}

/** A `gateways` entry (`name` or `namespace/name`) as a Gateway parentRef. */
export function gatewayParent(ref: string): GatewayParentReference {
    const [namespace, name] = ref.includes("/") ? ref.split("/") : [undefined, ref];
    return { group: "gateway.networking.k8s.io", kind: "Gateway", name, ...(namespace ? { namespace } : {}) };
}


/**
 * A header route as a Gateway API header match: the API has Exact and RegularExpression only,
 * so a prefix becomes an anchored RE2 expression (`^` the escaped prefix `.*`).
 */
export function headerMatch(route: HeaderRoute): HTTPHeaderMatch {
    if (route.exact !== undefined) return { type: "Exact", name: route.header, value: route.exact };
    if (route.prefix !== undefined) return { type: "RegularExpression", name: route.header, value: `^${re2Literal(route.prefix)}.*` };
    return { type: "RegularExpression", name: route.header, value: route.regex! };
}

/**
 * The mirror's share as the filter takes it: a whole percent as `percent`, a fractional one
 * (up to 4 decimal places) as a `fraction` of a million.
 */
export function mirrorShare(percent: number): Pick<HTTPRequestMirrorFilter, "percent" | "fraction"> {
    if (Number.isInteger(percent)) return { percent };
    return { fraction: { numerator: Math.round(percent * 10_000), denominator: 1_000_000 } };
}

/**
 * Header routes in the order given, then (with `sticky`, while traffic is split) one cookie rule
 * per version, then the default rule with the weighted split. A version at
 * weight 0 is left out of the split (trafficSplit), so no rule ever has only zero weights, which
 * Istio answers with a 500. The shadow stage mirrors the default rule to the canary's Service.
 */
export function httpRouteSpec(args: ResolvedModelCanaryArgs): HTTPRouteSpec {
    const port = args.servicePort;
    const backend = (version: string): { name: string; port: number } => ({ name: versionServiceName(args.serviceName, version), port });
    const headerRules: HTTPRouteRule[] = args.headerRoutes.map((route, i) => ({
        name: `header-${i}-${route.version}`,
        matches: [{ headers: [headerMatch(route)] }],
        backendRefs: [backend(route.version)],
    }));
    // Sticky assignment: a client carrying the cookie goes back to its version; the split sets it.
    const split = trafficSplit(args);
    const pinned = args.sticky ? stickyVersions(split) : [];
    const stickyRules: HTTPRouteRule[] = pinned.map((version) => ({
        name: `sticky-${version}`,
        matches: [{ headers: [{ type: "RegularExpression", name: "Cookie", value: stickyCookieRegex(args.sticky!.cookie, version) }] }],
        backendRefs: [backend(version)],
    }));
    const setCookie = (version: string): Pick<BackendRef, "filters"> => pinned.includes(version)
        ? { filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "Set-Cookie", value: stickySetCookie(args.sticky!.cookie, version) }] } }] }
        : {};
    const defaultRule: HTTPRouteRule = {
        name: "default",
        backendRefs: Object.entries(split).map(([version, weight]) => ({ ...backend(version), weight, ...setCookie(version) })),
    };
    const mirror = defaultRouteMirror(args);
    if (mirror) defaultRule.filters = [{ type: "RequestMirror", requestMirror: { backendRef: backend(mirror.version), ...mirrorShare(mirror.percent) } }];
    return {
        // The mesh first, then any Gateways (north-south): the same rules serve both.
        parentRefs: [{ group: "", kind: "Service", name: args.serviceName, port }, ...(args.gateways ?? []).map(gatewayParent)],
        ...(args.hostnames ? { hostnames: args.hostnames } : {}),
        rules: [...headerRules, ...stickyRules, defaultRule],
    };
}

/**
 * With `trafficPolicy`, one DestinationRule per version's Service, whose host it is: the
 * HTTPRoute's backends are those Services, so their traffic policy is what applies (a
 * DestinationRule of the model's Service would not reach them). No subsets: each Service is one
 * version. None without `trafficPolicy`.
 */
export function versionDestinationRules(args: Pick<ResolvedModelCanaryArgs, "serviceName" | "stable" | "canary" | "trafficPolicy">): { version: string; name: string; spec: DestinationRuleSpec }[] {
    const trafficPolicy = args.trafficPolicy;
    if (!trafficPolicy) return [];
    return runningVersions(args).map((version) => ({
        version,
        name: versionDestinationRuleName(args.serviceName, version),
        spec: { host: versionServiceName(args.serviceName, version), trafficPolicy },
    }));
}

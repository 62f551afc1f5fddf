// Typed shapes of the parts of Istio's networking API this component emits.
// Field names follow istio/api (networking/v1 VirtualService and DestinationRule).
import type { TrafficPolicyArgs } from "./traffic-policy";

/** API versions of networking.istio.io this component can emit. */
export const istioApiVersions = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"] as const;
export type IstioApiVersion = (typeof istioApiVersions)[number];

/**
 * Whether an API version's servers define `mirrors` (a list of mirror policies). Istio's v1 API
 * (1.22+) always does; this component's docs say v1beta1 and v1alpha3 are for Istio before 1.22,
 * which may predate `mirrors`, so those get the older `mirror` + `mirrorPercentage`.
 */
export function supportsMirrors(apiVersion: IstioApiVersion): boolean {
    return apiVersion === "networking.istio.io/v1";
}

/** One way to match a string; exactly one field is set. */
export interface StringMatch {
    exact?: string;
    prefix?: string;
    /** RE2 syntax. */
    regex?: string;
}

export interface HTTPMatchRequest {
    name?: string;
    headers?: Record<string, StringMatch>;
}

export interface Destination {
    host: string;
    subset?: string;
    port?: { number: number };
}

/** Header changes for the requests to, or the responses from, one destination. */
export interface HeaderOperations {
    add?: Record<string, string>;
}

export interface HTTPRouteDestination {
    destination: Destination;
    /** Relative weight; this component always emits totals of exactly 100. */
    weight?: number;
    /** Sticky assignment sets its cookie on this destination's responses. */
    headers?: { response?: HeaderOperations };
}

/** `Percent`: a double from 0 to 100. */
export interface Percent {
    value: number;
}

/** One entry of `mirrors` (Istio 1.18+; every `networking.istio.io/v1` server has it). */
export interface HTTPMirrorPolicy {
    destination: Destination;
    /** Absent means 100%. */
    percentage?: Percent;
}

export interface HTTPRoute {
    name?: string;
    /** Blocks are ORed; conditions inside one block are ANDed. */
    match?: HTTPMatchRequest[];
    route: HTTPRouteDestination[];
    /**
     * A copy of the route's requests goes here too, fire-and-forget: the caller gets the
     * response of `route`, the mirror's is discarded. Only one of `mirror` and `mirrors` is set.
     */
    mirror?: Destination;
    /** Share of requests `mirror` copies; absent means 100%. */
    mirrorPercentage?: Percent;
    mirrors?: HTTPMirrorPolicy[];
}

export interface VirtualServiceSpec {
    hosts: string[];
    gateways?: string[];
    /** Evaluated in order; the first route whose match applies wins. */
    http: HTTPRoute[];
}

export interface Subset {
    name: string;
    labels: Record<string, string>;
}

export interface DestinationRuleSpec {
    host: string;
    /** Connection-pool limits and outlier detection for every endpoint of `host`; subsets inherit it. */
    trafficPolicy?: TrafficPolicyArgs;
    /** Absent on the Gateway API router's DestinationRules: each Service there is one version. */
    subsets?: Subset[];
}

// Typed shapes of the parts of Istio's networking API this component emits.
// Field names follow istio/api (networking/v1 VirtualService and DestinationRule).

/** API versions of networking.istio.io this component can emit. */
export const istioApiVersions = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"] as const;
export type IstioApiVersion = (typeof istioApiVersions)[number];

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

export interface HTTPRouteDestination {
    destination: Destination;
    /** Relative weight; this component always emits totals of exactly 100. */
    weight?: number;
}

export interface HTTPRoute {
    name?: string;
    /** Blocks are ORed; conditions inside one block are ANDed. */
    match?: HTTPMatchRequest[];
    route: HTTPRouteDestination[];
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
    subsets: Subset[];
}

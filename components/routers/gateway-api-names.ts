// The Gateway API router's names and limits, which the argument checks need too: no imports,
// so validation can read them without reaching the routing code (which reads validation's types).

/** An HTTPRoute holds at most 16 rules (the CRD's `maxItems`): the header routes and the default rule. */
export const maxGatewayApiHeaderRoutes = 15;

/** The Service of one version: the model's Service name and the version, e.g. `model-service-v2`. */
export function versionServiceName(serviceName: string, version: string): string {
    return `${serviceName}-${version}`;
}

/** The HTTPRoute (or GRPCRoute) is named like the Service it routes, whose name is unique in the namespace already. */
export function httpRouteName(serviceName: string): string {
    return serviceName;
}

/**
 * With `trafficPolicy`, the DestinationRule of one version's Service: named like that Service
 * (DestinationRules are a kind of their own, so the name is free), whatever the weights.
 */
export function versionDestinationRuleName(serviceName: string, version: string): string {
    return versionServiceName(serviceName, version);
}

// The objects each router creates, named from the validated arguments alone: the ownership check,
// a router switch's message and the component itself name them before anything is registered.
// Pure, and apart from the routers that build the objects, so that a command naming them does not
// load @pulumi/kubernetes (the program loads it when it runs).
import type { ResolvedModelCanaryArgs } from "../validation";
import {
    gatewayApiDestinationRuleVersion, gatewayApiRouteKind, gatewayApiVersion, httpRouteName, runningVersions, versionDestinationRules, versionServiceName,
} from "./gateway-api-route";
import type { RouterKind } from "./kinds";
import type { RoutingObjectName } from "./router";

/** The Istio router's DestinationRule and VirtualService, the route last. */
export function istioObjectNames(args: ResolvedModelCanaryArgs): RoutingObjectName[] {
    return [
        { apiVersion: args.istioApiVersion, kind: "DestinationRule", namespace: args.namespace, name: args.destinationRuleName },
        { apiVersion: args.istioApiVersion, kind: "VirtualService", namespace: args.namespace, name: args.virtualServiceName },
    ];
}

/** The Gateway API router's Service per version, their DestinationRules (with `trafficPolicy`), and the route last. */
export function gatewayApiObjectNames(args: ResolvedModelCanaryArgs): RoutingObjectName[] {
    return [
        ...runningVersions(args).map((version) => ({ apiVersion: "v1", kind: "Service", namespace: args.namespace, name: versionServiceName(args.serviceName, version) })),
        ...versionDestinationRules(args).map((rule) => ({ apiVersion: gatewayApiDestinationRuleVersion, kind: "DestinationRule", namespace: args.namespace, name: rule.name })),
        { apiVersion: gatewayApiVersion, kind: gatewayApiRouteKind(args), namespace: args.namespace, name: httpRouteName(args.serviceName) },
    ];
}

/** Each router's object names, by the `router` argument; a router's `objectNames` is its entry here. */
export const routingObjectNames: Record<RouterKind, (args: ResolvedModelCanaryArgs) => RoutingObjectName[]> = {
    "istio": istioObjectNames,
    "gateway-api": gatewayApiObjectNames,
};

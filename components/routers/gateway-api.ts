// The Gateway API router (mesh routing, GAMMA): one Service per version, selecting its pods by
// `app` and `version`, and an HTTPRoute (a GRPCRoute for `protocol: grpc`) attached to the
// model's Service that splits its traffic between them. HTTPRoutes cannot use DestinationRule subsets: a Service per version is how a
// backend names one version. The spec is built, purely, in gateway-api-route.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { versionLabels } from "../routing";
import {
    gatewayApiDestinationRuleVersion, gatewayApiRouteKind, gatewayApiVersion, httpRouteName, httpRouteSpec, runningVersions, versionDestinationRules,
    versionServiceName,
} from "./gateway-api-route";
import { gatewayApiObjectNames } from "./object-names";
import type { Router, RouterTargets, Routing } from "./router";

export const gatewayApiRouter: Router = {
    kind: "gateway-api",

    objectNames: gatewayApiObjectNames,

    create({ name, args, service, deployments, self, after }: RouterTargets): Routing {
        const resources: Record<string, pulumi.CustomResource> = {};
        const versionServices: k8s.core.v1.Service[] = [];
        for (const version of runningVersions(args)) {
            // Named by version only: a weight step or a promotion keeps it.
            const versionService = new k8s.core.v1.Service(`${name}-${version}-svc`, {
                metadata: {
                    name: versionServiceName(args.serviceName, version),
                    namespace: args.namespace,
                    labels: versionLabels(args.app, version),
                    // As the model's Service: the Deployments' own await covers ready pods.
                    annotations: { "pulumi.com/skipAwait": "true" },
                },
                spec: {
                    selector: versionLabels(args.app, version),
                    // The port keeps its name whatever the protocol; `appProtocol` tells Istio which it is.
                    ports: [{ name: "http", protocol: "TCP", appProtocol: args.protocol, port: args.servicePort, targetPort: args.containerPort }],
                },
            }, self);
            resources[`${name}-${version}-svc`] = versionService;
            versionServices.push(versionService);
        }
        // With `trafficPolicy`, each version Service's pool limits and outlier detection, in place
        // before the route sends it a request; named by version only, as the Services.
        const destinationRules: pulumi.CustomResource[] = [];
        for (const rule of versionDestinationRules(args)) {
            const destinationRule = new k8s.apiextensions.CustomResource(`${name}-${rule.version}-dr`, {
                apiVersion: gatewayApiDestinationRuleVersion,
                kind: "DestinationRule",
                // As the route: a step or a rollback takes a hand edit of the policy back.
                metadata: { name: rule.name, namespace: args.namespace, labels: versionLabels(args.app, rule.version), annotations: { "pulumi.com/patchForce": "true" } },
                spec: rule.spec,
            }, self);
            resources[`${name}-${rule.version}-dr`] = destinationRule;
            destinationRules.push(destinationRule);
        }
        // Routing waits for its parent, its backends and their pods; a weight step touches only it.
        // A change of `protocol` changes the kind: Pulumi creates the new route before it deletes
        // the old one, so the Service is never left without a route.
        const route = new k8s.apiextensions.CustomResource(`${name}-route`, {
            apiVersion: gatewayApiVersion,
            kind: gatewayApiRouteKind(args),
            metadata: {
                name: httpRouteName(args.serviceName),
                namespace: args.namespace,
                labels: { app: args.app },
                // As the VirtualService: routing is this tool's to decide, a step takes it back.
                annotations: { "pulumi.com/patchForce": "true" },
            },
            spec: httpRouteSpec(args),
        }, after(service, ...versionServices, ...destinationRules, ...Object.values(deployments)));
        resources[`${name}-route`] = route;
        return { route, resources };
    },
};

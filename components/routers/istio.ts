// The Istio router: a DestinationRule with one subset per version and a VirtualService whose
// header routes and weighted split come from the arguments (the specs are built, purely, in
// ../routing.ts). The resource names `<name>-dr` and `<name>-vs` are what existing stacks hold.
import * as k8s from "@pulumi/kubernetes";
import { destinationRuleSpec, virtualServiceSpec } from "../routing";
import { istioObjectNames } from "./object-names";
import type { Router, RouterTargets, Routing } from "./router";

export const istioRouter: Router = {
    kind: "istio",

    objectNames: istioObjectNames,

    create({ name, args, service, deployments, self, after }: RouterTargets): Routing {
        const destinationRule = new k8s.apiextensions.CustomResource(`${name}-dr`, {
            apiVersion: args.istioApiVersion,
            kind: "DestinationRule",
            // As the VirtualService: its subsets are what the routes send to, so a step or a
            // rollback takes a hand edit of them (or of the traffic policy) back instead of failing.
            metadata: { name: args.destinationRuleName, namespace: args.namespace, labels: { app: args.app }, annotations: { "pulumi.com/patchForce": "true" } },
            spec: destinationRuleSpec(args),
        }, self);

        // Routing waits for the subsets and the pods it sends traffic to; when only the weight
        // changes, nothing else is touched, so there is nothing to wait for.
        const virtualService = new k8s.apiextensions.CustomResource(`${name}-vs`, {
            apiVersion: args.istioApiVersion,
            kind: "VirtualService",
            metadata: {
                name: args.virtualServiceName,
                namespace: args.namespace,
                labels: { app: args.app },
                // Routing is this tool's to decide: a weight step or a rollback takes the fields
                // back from whoever edited the VirtualService by hand, instead of failing on a
                // server-side apply conflict. Only the routing objects: other objects' conflicts are reported.
                annotations: { "pulumi.com/patchForce": "true" },
            },
            spec: virtualServiceSpec(args),
        }, after(destinationRule, service, ...Object.values(deployments)));

        return { route: virtualService, resources: { [`${name}-dr`]: destinationRule, [`${name}-vs`]: virtualService } };
    },
};

// What every router does, whichever API it routes with: given the validated model and the
// objects that serve it (one Deployment per version, the Service clients call), it creates the
// objects that split the traffic, and names them. One module per router (istio.ts,
// gateway-api.ts); the component holds a Router and does not know which one.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ResolvedModelCanaryArgs } from "../validation";
import type { RouterKind } from "./kinds";

/** An object a router creates, as the API server knows it. */
export interface RoutingObjectName {
    apiVersion: string;
    kind: string;
    namespace: string;
    name: string;
}

/** What a router is handed: the model and the objects serving it, children of `parent`. */
export interface RouterTargets {
    /** The component's name: every child's resource name starts with it. */
    name: string;
    args: ResolvedModelCanaryArgs;
    /** The model's Service, the one clients call. */
    service: k8s.core.v1.Service;
    /** One Deployment per version, by version. */
    deployments: Record<string, k8s.apps.v1.Deployment>;
    /** Options for a child that waits on nothing but the component's own checks. */
    self: pulumi.CustomResourceOptions;
    /** Options for a child that also waits on `resources`. */
    after(...resources: pulumi.Resource[]): pulumi.CustomResourceOptions;
}

/** What a router created. */
export interface Routing {
    /** The object holding the weights and header routes: the only one a weight step updates. */
    route: k8s.apiextensions.CustomResource;
    /** Every object it created, the route included, by resource name. */
    resources: Record<string, pulumi.CustomResource>;
}

export interface Router {
    readonly kind: RouterKind;
    /**
     * The objects the router creates for these arguments, route last; from the arguments alone,
     * so checks and status can name them before anything is registered. Names never depend on
     * a weight or a step.
     */
    objectNames(args: ResolvedModelCanaryArgs): RoutingObjectName[];
    /** Creates the routing objects. */
    create(targets: RouterTargets): Routing;
}

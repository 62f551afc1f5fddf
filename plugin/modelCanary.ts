// ModelCanary for other languages: the same component (type token, children, checks) as
// components/modelCanary.ts, taking the arguments of ./args.ts and exposing its outputs as values
// a program in any language can read (names of the objects it created, the split it applied).
import type * as pulumi from "@pulumi/pulumi";
import type { HeaderRoute, ModelCanaryArgs, Router } from "./args";

/**
 * The TypeScript component taking these arguments (./component.ts), typed as a ComponentResource:
 * the schema is inferred from classes that extend ComponentResource itself, and from the files
 * index.ts imports, compiled each time the plugin starts. Required rather than imported so that
 * they do not include the component and @pulumi/kubernetes, whose types took 7 s of CPU to compile.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Component: new (name: string, args: ModelCanaryArgs, opts?: pulumi.ComponentResourceOptions) => pulumi.ComponentResource = require("./component").ModelCanaryComponent;

/** One object the router created, as the API server names it. */
export interface RoutingObjectName {
    apiVersion: string;
    kind: string;
    namespace: string;
    name: string;
}

/** What the default route mirrors to the canary (the shadow stage). */
export interface Mirror {
    version: string;
    percent: number;
}

/**
 * A model service rolled out gradually: one Deployment per model version, a Service in front of
 * them, and the router's objects (an Istio VirtualService and DestinationRule, or a Gateway API
 * route) whose header routes and weighted split come from the arguments.
 */
export class ModelCanary extends Component {
    // Declared only: the values are the TypeScript component's own fields.
    /** Name of the Kubernetes Service (the Istio host). */
    declare public readonly serviceName: pulumi.Output<string>;
    /** Name of the VirtualService (`router: istio`). */
    declare public readonly virtualServiceName?: pulumi.Output<string>;
    /** Name of the DestinationRule (`router: istio`). */
    declare public readonly destinationRuleName?: pulumi.Output<string>;
    /** Kubernetes Deployment name per model version, e.g. `{ v1: "model-v1", v2: "model-v2" }`. */
    declare public readonly deploymentNames: pulumi.Output<Record<string, string>>;
    /** What splits the traffic. */
    declare public readonly router: Router;
    /** The objects the router created, the route last. */
    declare public readonly routingObjectNames: RoutingObjectName[];
    /** Default-route share per version, e.g. `{ v1: 90, v2: 10 }`. */
    declare public readonly split: Record<string, number>;
    /** The header routes applied, in order. */
    declare public readonly headerRoutes: HeaderRoute[];
    declare public readonly stableVersion: string;
    declare public readonly canaryVersion?: string;
    declare public readonly canaryWeight: number;
    /** Pod count per version, e.g. `{ v1: 5, v2: 1 }`. */
    declare public readonly replicas: Record<string, number>;
    /** What the default route mirrors to the canary, if anything. */
    declare public readonly mirror?: Mirror;
    declare public readonly namespace: string;

    constructor(name: string, args: ModelCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(name, args, opts);
    }
}

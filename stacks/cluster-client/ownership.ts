// One owner per object. Every Kubernetes object a model's component creates carries the
// annotation `model-canary/owner: <project>/<stack>` (stamped by modelCanariesFromConfig), and an
// operation is refused before anything is applied when an object it would create already exists
// under another owner: another stack of this tool (its annotation), another Pulumi stack, or
// another tool. Without this, a second stack with the same names would server-side apply over the
// first one's objects (the VirtualService even forces its fields) and both states would claim them.
// Pure: the reads are in ownership-check.ts.
import { ResolvedModelCanaryArgs } from "../../components/validation";
import { deploymentName } from "../../components/routing";
import { routingObjectNames } from "../../components/routers/object-names";

/** The annotation naming the owner: `<project>/<stack>`, the stack that holds the config. */
export const ownerAnnotation = "model-canary/owner";

/** The environment variable through which the commands hand the program the owner to stamp (empty: stamp none). */
export const ownerEnvVar = "MODEL_CANARY_OWNER";

/**
 * The owner a stack's objects are stamped with: `<project>/<stack>`, where a model's own stack
 * (`stackPerModel`: `prod.fraud`) is owned as the stack holding its config (`prod`), so the owner
 * is the same before and after the model moved to its own stack.
 */
export function ownerName(project: string, stack: string, configStack?: string): string {
    return `${project}/${(configStack ?? stack).split("/").pop()}`;
}

/** One object a model creates, as the API server names it. */
export interface OwnedObject {
    kind: string;
    /** `apps/v1`, `v1`, `networking.istio.io/v1`. */
    apiVersion: string;
    /** The resource's plural, for the API path. */
    plural: string;
    namespace: string;
    name: string;
}

/** The objects one model's component creates, as the owner check reads them (a version's env Secret goes with its Deployment). */
export function objectsOfModel(r: ResolvedModelCanaryArgs): OwnedObject[] {
    const versions = [r.stable.version, ...(r.canary ? [r.canary.version] : [])];
    return [
        ...versions.map((v) => ({ kind: "Deployment", apiVersion: "apps/v1", plural: "deployments", namespace: r.namespace, name: deploymentName(r.app, v) })),
        { kind: "Service", apiVersion: "v1", plural: "services", namespace: r.namespace, name: r.serviceName },
        // The router's objects: a DestinationRule and a VirtualService, or a Service per version and an HTTPRoute.
        ...routingObjectNames[r.router](r).map((o) => ({ ...o, plural: `${o.kind.toLowerCase()}s` })),
    ];
}

/** What the check needs of a live object's metadata. */
export interface LiveMetadata {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    managedFields?: { manager?: string }[];
}

/** Who else holds an object, when it is not `me`'s to apply. */
export type ForeignOwner = { stack: string } | { pulumi: true } | { tool: string[] };

/**
 * Whether `me` may apply over the live object: yes when it does not exist or carries `me`'s
 * annotation, or carries none and is in `me`'s own state (`inOwnState`: made before owner
 * annotations; the next `up` stamps it). Otherwise who holds it: the stack its annotation names,
 * another Pulumi stack (a `pulumi-kubernetes` field manager, or the provider's managed-by label),
 * or another tool (its field managers).
 */
export function foreignOwner(meta: LiveMetadata | undefined, me: string, inOwnState: () => boolean): ForeignOwner | undefined {
    if (meta === undefined) return undefined;
    const annotated = meta.annotations?.[ownerAnnotation];
    if (annotated !== undefined) return annotated === me ? undefined : { stack: annotated };
    if (inOwnState()) return undefined;
    const managers = [...new Set((meta.managedFields ?? []).map((f) => f.manager).filter((m): m is string => typeof m === "string"))];
    if (managers.some((m) => m.startsWith("pulumi-kubernetes")) || meta.labels?.["app.kubernetes.io/managed-by"] === "pulumi") return { pulumi: true };
    return { tool: managers };
}

/** How an object's owner reads in the refusal. */
function describeOwner(owner: ForeignOwner): string {
    if ("stack" in owner) return `stack \`${owner.stack}\` (its \`${ownerAnnotation}\` annotation)`;
    if ("pulumi" in owner) return "another Pulumi stack (it has no owner annotation and is not in this stack's state)";
    return owner.tool.length > 0 ? `another tool (field managers ${owner.tool.map((m) => `\`${m}\``).join(", ")})` : "another tool (it has no owner annotation and is not in this stack's state)";
}

/** The refusal naming each object's owner and the command that adopts it on purpose. */
export function foreignObjectsMessage(stack: string, me: string, found: { object: OwnedObject; owner: ForeignOwner }[]): string {
    const what = (o: OwnedObject) => `${o.kind} ${o.namespace}/${o.name}`;
    const resource = (o: OwnedObject) => `${o.plural}${o.apiVersion.includes("/") && !o.apiVersion.startsWith("apps/") ? `.${o.apiVersion.split("/")[0]}` : ""}/${o.name}`;
    return [
        `stack \`${stack}\` would take over objects that another owner manages: ${found.map((f) => `${what(f.object)} is managed by ${describeOwner(f.owner)}`).join("; ")}.`,
        "Nothing was applied. Give this stack's model other names (`app`, `serviceName`, `virtualServiceName`, `destinationRuleName`) or another `namespace`;",
        `or, to adopt ${found.length === 1 ? "it" : "them"} on purpose once ${found.length === 1 ? "its" : "their"} owner no longer manages ${found.length === 1 ? "it" : "them"}, annotate ${found.length === 1 ? "it" : "each"} with this stack as owner and run the command again:`,
        found.map((f) => `\`kubectl annotate --overwrite -n ${f.object.namespace} ${resource(f.object)} ${ownerAnnotation}=${me}\``).join(", "),
    ].join(" ");
}

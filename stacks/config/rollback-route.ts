// A rollback's first write: the model's live route object (its VirtualService, or its HTTPRoute
// with `router: gateway-api`) set to the rolled-back routing in one server-side apply, before the
// `up` that records it. The apply is made as the field manager the Kubernetes provider applied
// the object with, and carries every field that manager set (the spec from the rolled-back
// config, its labels and annotations as they are live), so the `up` that follows applies over
// its own fields: no conflict, nothing another manager holds is taken. Pure: the read and the
// write are in stacks/cluster-client/rollback-route.ts.
import { gatewayApiRouteKind, gatewayApiVersion, httpRouteName, httpRouteSpec } from "../../components/routers/gateway-api-route";
import { virtualServiceSpec } from "../../components/routing";
import type { ResolvedModelCanaryArgs } from "../../components/validation";

/**
 * Set on the route by the rollback's write, and left out of everything the program applies: the
 * `up` that records the rollback removes it (its field manager no longer sets it). While it is
 * there, the live route holds a rollback the stack has not recorded.
 */
export const rollbackWriteAnnotation = "model-canary/rollback-written-at";

/** The route object of a model as the API server names it. */
export interface RouteObjectName {
    kind: "VirtualService" | "HTTPRoute" | "GRPCRoute";
    apiVersion: string;
    plural: string;
    namespace: string;
    name: string;
}

/** The object holding a model's weights: its VirtualService or, with `router: gateway-api`, its HTTPRoute (GRPCRoute with `protocol: grpc`). */
export function routeObjectName(r: ResolvedModelCanaryArgs): RouteObjectName {
    return r.router === "gateway-api"
        ? { kind: gatewayApiRouteKind(r), apiVersion: gatewayApiVersion, plural: `${gatewayApiRouteKind(r).toLowerCase()}s`, namespace: r.namespace, name: httpRouteName(r.serviceName) }
        : { kind: "VirtualService", apiVersion: r.istioApiVersion, plural: "virtualservices", namespace: r.namespace, name: r.virtualServiceName };
}

/** What the write needs of the live object's metadata. */
export interface LiveRouteMetadata {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: { manager?: string; operation?: string; time?: string; fieldsV1?: Record<string, unknown> }[];
}

/**
 * The Kubernetes provider's field manager of a live object: the `pulumi-kubernetes-…` manager that
 * applied it (operation Apply), the latest when there are several. Undefined when none did.
 */
export function providerFieldManager(meta: LiveRouteMetadata | undefined): { manager: string; fields: Record<string, unknown> } | undefined {
    const entries = (meta?.managedFields ?? []).filter((f) => f.operation === "Apply" && typeof f.manager === "string" && f.manager.startsWith("pulumi-kubernetes"));
    const latest = entries.sort((a, b) => (a.time ?? "").localeCompare(b.time ?? "")).at(-1);
    return latest ? { manager: latest.manager!, fields: latest.fieldsV1 ?? {} } : undefined;
}

/** The keys of a metadata map (`f:labels`, `f:annotations`) that a manager's fields hold. */
function ownedKeys(fields: Record<string, unknown>, map: "labels" | "annotations"): string[] {
    const owned = ((fields["f:metadata"] as Record<string, unknown> | undefined)?.[`f:${map}`] ?? {}) as Record<string, unknown>;
    return Object.keys(owned).filter((k) => k.startsWith("f:")).map((k) => k.slice(2));
}

/** The entries of `map` whose keys the manager holds. */
function pick(map: Record<string, string> | undefined, keys: string[]): Record<string, string> {
    return Object.fromEntries(keys.filter((k) => map?.[k] !== undefined).map((k) => [k, map![k]]));
}

/** The rolled-back route's spec: what the program applies for `r` (weight 0, no mirror, no header route to the canary); a GRPCRoute's is an HTTPRoute's. */
export function routeSpec(r: ResolvedModelCanaryArgs): Record<string, unknown> {
    return (r.router === "gateway-api" ? httpRouteSpec(r) : virtualServiceSpec(r)) as unknown as Record<string, unknown>;
}

/** The apply to make, or why none is made (the `up` alone then moves the traffic). */
export type RollbackRouteApply =
    | { object: RouteObjectName; fieldManager: string; body: { metadata: { name: string } } & Record<string, unknown> }
    | { object: RouteObjectName; skip: string };

/**
 * The server-side apply that sets `live` (the model's route as the API server holds it; undefined
 * when it does not exist) to the routing of `r`, the rolled-back config, at `writtenAt`. Made as
 * the provider's field manager with its labels and annotations as they are live (the `up` updates
 * those) and `rollbackWriteAnnotation`, or without it when `writtenAt` is undefined (the route
 * once its `up` recorded it). None for a route that does not exist (the `up` creates it) or that
 * the provider never applied.
 */
export function rollbackRouteApply(r: ResolvedModelCanaryArgs, live: { metadata?: LiveRouteMetadata } | undefined, writtenAt: string | undefined): RollbackRouteApply {
    const object = routeObjectName(r);
    const where = `${object.kind} ${object.namespace}/${object.name}`;
    if (live === undefined) return { object, skip: `the ${where} does not exist in the cluster; the \`up\` creates it` };
    const owner = providerFieldManager(live.metadata);
    if (!owner) return { object, skip: `the ${where} was not applied by the Kubernetes provider (no pulumi-kubernetes field manager), so a write could not be the one the \`up\` makes` };
    const body = {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {
            name: object.name,
            namespace: object.namespace,
            labels: pick(live.metadata?.labels, ownedKeys(owner.fields, "labels")),
            annotations: { ...pick(live.metadata?.annotations, ownedKeys(owner.fields, "annotations").filter((k) => k !== rollbackWriteAnnotation)), ...(writtenAt !== undefined ? { [rollbackWriteAnnotation]: writtenAt } : {}) },
        },
        spec: routeSpec(r),
    };
    return { object, fieldManager: owner.manager, body };
}

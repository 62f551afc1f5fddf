// The live route in the cluster (the VirtualService, or the HTTPRoute or GRPCRoute with `router:
// gateway-api`, compared in live-httproute.ts) next to what the stack config says it should be: the drift
// `status` reports (a hand edit during an incident, another tool writing routes).
import type { HTTPRouteDestination, VirtualServiceSpec } from "../../components/istio";
import { httpRouteName } from "../../components/routers/gateway-api-names";
import { gatewayApiRouteKind, gatewayApiVersion, httpRouteSpec } from "../../components/routers/gateway-api-route";
import { deploymentName, virtualServiceSpec } from "../../components/routing";
import type { ResolvedModelCanaryArgs } from "../../components/validation";
import { httpRouteDifferences, httpRouteSplit, httpRouteTrafficOffStable } from "./live-httproute";
import { isStickyRuleName, stickyDifferences, StickyRule, StickyView } from "./live-sticky";
import { connect, getObject, getObjectIfServed, listObjects } from "./cluster-api";
import { destinationRuleDifferences, renderedDestinationRules } from "./live-destination-rule";
import { rollbackWriteAnnotation } from "../config/rollback-route";
import { ModelConfig, StackConfig } from "../config/config";
import { canonical } from "./canonical-json";

export interface LiveRouting {
    /** The live default route's weights by subset; undefined when the VirtualService is missing. */
    split?: Record<string, number>;
    /** Empty when the live spec is the configured one. */
    differences: string[];
    /**
     * When a rollback wrote the live route and no `up` has recorded it since (its annotation
     * `model-canary/rollback-written-at`, which the recording `up` removes): the time it was written.
     */
    rollbackWrittenAt?: string;
}

/** The default route's weights of a VirtualService spec. */
function splitOf(spec: VirtualServiceSpec | undefined): Record<string, number> | undefined {
    const last = spec?.http?.at(-1);
    return last ? Object.fromEntries(last.route.map((r) => [r.destination.subset ?? r.destination.host, r.weight ?? 100])) : undefined;
}

const showSplit = (split: Record<string, number> | undefined): string =>
    split ? Object.entries(split).map(([v, w]) => `${v} ${w}`).join(", ") : "none";

/** The default route's mirrors, e.g. `v2 100%`, or `none`. */
function showMirror(spec: VirtualServiceSpec): string {
    const last = spec.http?.at(-1);
    const mirrors = [
        ...(last?.mirror ? [`${last.mirror.subset ?? last.mirror.host} ${last.mirrorPercentage?.value ?? 100}%`] : []),
        ...(last?.mirrors ?? []).map((m) => `${m.destination.subset ?? m.destination.host} ${m.percentage?.value ?? 100}%`),
    ];
    return mirrors.length > 0 ? mirrors.join(", ") : "none";
}

/** What differs between a live VirtualService spec and the configured one. Pure. */
export function virtualServiceDifferences(live: VirtualServiceSpec | undefined, expected: VirtualServiceSpec): string[] {
    if (!live) return ["the VirtualService does not exist in the cluster"];
    const out: string[] = [];
    const liveSplit = splitOf(live);
    const wantSplit = splitOf(expected);
    if (canonical(liveSplit) !== canonical(wantSplit)) out.push(`split: live ${showSplit(liveSplit)}, config ${showSplit(wantSplit)}`);
    // The shadow stage's mirror (or one added by hand) copies traffic to a version: drift too.
    const mirrorOf = (spec: VirtualServiceSpec) => {
        const last = spec.http?.at(-1);
        return canonical({ mirror: last?.mirror, mirrorPercentage: last?.mirrorPercentage, mirrors: last?.mirrors });
    };
    if (mirrorOf(live) !== mirrorOf(expected)) out.push(`mirror: live ${showMirror(live)}, config ${showMirror(expected)}`);
    // The routes ahead of the default one: header routes, then sticky assignment's cookie routes (by name).
    const liveHeaders = (live.http ?? []).slice(0, -1).filter((h) => !isStickyRuleName(h.name));
    const wantHeaders = (expected.http ?? []).slice(0, -1).filter((h) => !isStickyRuleName(h.name));
    if (canonical(liveHeaders) !== canonical(wantHeaders)) out.push(`header routes: live ${liveHeaders.length}, config ${wantHeaders.length}, or their matches differ`);
    out.push(...stickyDifferences(virtualServiceSticky(live), virtualServiceSticky(expected)));
    const rest = (spec: VirtualServiceSpec) => canonical({ ...spec, http: undefined });
    if (rest(live) !== rest(expected)) out.push("hosts or gateways differ");
    return out;
}

/** What a change of a destination's headers says: `sets \`model-version=v1; Path=/\`` for sticky assignment's cookie alone, `none`, or the change as JSON. */
function showHeaderChange(headers: HTTPRouteDestination["headers"] | undefined): string {
    if (headers === undefined || canonical(headers) === "{}") return "none";
    const cookie = headers.response?.add?.["Set-Cookie"];
    const only = { response: { add: { "Set-Cookie": cookie } } };
    return cookie !== undefined && canonical(headers) === canonical(only) ? `sets \`${cookie}\`` : `changes headers ${canonical(headers)}`;
}

/** Sticky assignment's part of a VirtualService spec: its cookie routes and what each destination of the default route adds to its answers. */
function virtualServiceSticky(spec: VirtualServiceSpec): StickyView {
    const http = spec.http ?? [];
    const rules = new Map(http.slice(0, -1).filter((h) => isStickyRuleName(h.name)).map((h): [string, StickyRule] => {
        const regex = h.match?.length === 1 ? h.match[0].headers?.cookie?.regex : undefined;
        const cookieOnly = regex !== undefined && canonical(h.match) === canonical([{ headers: { cookie: { regex } } }]);
        return [h.name!, { key: canonical(h), match: cookieOnly ? regex : canonical(h.match ?? []), to: h.route.map((r) => r.destination.subset ?? r.destination.host).join(", ") }];
    }));
    const setting = (http.at(-1)?.route ?? []).map((r): [string, string] => [r.destination.subset ?? r.destination.host, showHeaderChange(r.headers)]);
    return { rules, setting };
}

/** Whether the stack applies to a cluster (its objects are live there), as opposed to rendering manifests. */
export function targetsCluster(config: StackConfig): boolean {
    return config.kubeconfig !== undefined || config.kubernetesProviderConfigured;
}

/** A connection to the stack's cluster, from its `kubeconfig` (or the provider's own keys). */
export function connectTo(config: StackConfig) {
    return connect({ kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext });
}

/** The object holding a model's weights, as the API server names it: its VirtualService or, with `router: gateway-api`, its HTTPRoute (GRPCRoute for `protocol: grpc`). */
export function liveRouteObject(r: ResolvedModelCanaryArgs): { kind: string; apiVersion: string; plural: string; name: string } {
    const kind = gatewayApiRouteKind(r);
    return r.router === "gateway-api"
        ? { kind, apiVersion: gatewayApiVersion, plural: `${kind.toLowerCase()}s`, name: httpRouteName(r.serviceName) }
        : { kind: "VirtualService", apiVersion: r.istioApiVersion, plural: "virtualservices", name: r.virtualServiceName };
}

async function readRoute(config: StackConfig, r: ResolvedModelCanaryArgs): Promise<any | undefined> {
    const route = liveRouteObject(r);
    return getObject(connectTo(config), route.apiVersion, route.plural, r.namespace, route.name);
}

/** Reads a model's live route (VirtualService, HTTPRoute or GRPCRoute) in a cluster stack; undefined for a stack that renders. */
export async function readLiveRouting(config: StackConfig, model: ModelConfig): Promise<LiveRouting | undefined> {
    if (!targetsCluster(config)) return undefined;
    const r = model.resolved;
    const live = await readRoute(config, r);
    const others = otherRouterObjects(r, await listOtherRouter(config, r));
    const writtenAt = live?.metadata?.annotations?.[rollbackWriteAnnotation];
    const unrecorded = typeof writtenAt === "string" ? { rollbackWrittenAt: writtenAt } : {};
    const rules = await readDestinationRuleDrift(config, r);
    if (r.router === "gateway-api") return { split: httpRouteSplit(live?.spec, r.serviceName), differences: [...httpRouteDifferences(live?.spec, httpRouteSpec(r), r.serviceName, gatewayApiRouteKind(r)), ...rules, ...others], ...unrecorded };
    return { split: splitOf(live?.spec), differences: [...virtualServiceDifferences(live?.spec, virtualServiceSpec(r)), ...rules, ...others], ...unrecorded };
}

/**
 * The DestinationRules the model's router renders (the Istio router's one; with `router:
 * gateway-api` and `trafficPolicy`, one per version Service), each read once and compared with
 * what is rendered (see live-destination-rule.ts). A cluster that does not serve the kind is said, not fatal.
 */
async function readDestinationRuleDrift(config: StackConfig, r: ResolvedModelCanaryArgs): Promise<string[]> {
    const rules = renderedDestinationRules(r);
    if (rules.length === 0) return [];
    const conn = connectTo(config);
    const lives = await Promise.all(rules.map((rule) => getObjectIfServed(conn, rule.apiVersion, "destinationrules", rule.namespace, rule.name)));
    return rules.flatMap((rule, i) => {
        const got = lives[i];
        return destinationRuleDifferences(typeof got === "string" ? got : { spec: got.object?.spec ?? {} }, rule, rule.apiVersion);
    });
}

/**
 * The other router's route objects in the model's namespace, each with its `kind`: HTTPRoutes and
 * GRPCRoutes beside the Istio router, VirtualServices beside the Gateway API's. None where the
 * kind is not served, or where the user may not list it (status needs only to read the model's
 * own objects).
 */
async function listOtherRouter(config: StackConfig, r: ResolvedModelCanaryArgs): Promise<any[]> {
    const conn = connectTo(config);
    const kinds: [string, string, string][] = r.router === "gateway-api"
        ? [["networking.istio.io/v1", "virtualservices", "VirtualService"]]
        : [[gatewayApiVersion, "httproutes", "HTTPRoute"], [gatewayApiVersion, "grpcroutes", "GRPCRoute"]];
    const lists = await Promise.all(kinds.map(async ([apiVersion, plural, kind]) => ((await listObjects(conn, apiVersion, plural, r.namespace)) ?? []).map((o) => ({ ...o, kind }))));
    return lists.flat();
}

/**
 * Drift of another kind: a route object of the other router for the model's host (an HTTPRoute
 * whose parent is the model's Service beside the Istio router's VirtualService, or a mesh
 * VirtualService for the Service's host beside the HTTPRoute). Istio follows the HTTPRoute and
 * ignores the VirtualService, so one of them routes nothing and an edit of it changes nothing. A
 * switch of routers leaves exactly one; another tool or a hand may have added the other. Names
 * both objects and what to do. Pure: `others` are the listed objects of the other kind.
 */
export function otherRouterObjects(r: ResolvedModelCanaryArgs, others: any[]): string[] {
    const ns = r.namespace;
    const host = `${r.serviceName}.${ns}.svc.cluster.local`;
    const own = liveRouteObject(r);
    const ours = `the ${own.kind} \`${ns}/${own.name}\` (this stack's, \`router: ${r.router}\`)`;
    if (r.router === "gateway-api") {
        const forms = new Set([r.serviceName, `${r.serviceName}.${ns}`, `${r.serviceName}.${ns}.svc`, host]);
        const mesh = (vs: any) => !Array.isArray(vs.spec?.gateways) || vs.spec.gateways.length === 0 || vs.spec.gateways.includes("mesh");
        return others.filter((vs) => mesh(vs) && (vs.spec?.hosts ?? []).some((h: string) => forms.has(h))).map((vs) => {
            const name = vs.metadata.name;
            return `both ${ours} and the VirtualService \`${ns}/${name}\` route host \`${host}\`: Istio follows the ${own.kind} and ignores the VirtualService, so editing it changes nothing. `
                + `Delete the VirtualService (\`kubectl delete virtualservice ${name} -n ${ns}\`) unless it is meant for another router`;
        });
    }
    const parentIsService = (p: any) => p.kind === "Service" && (p.group ?? "gateway.networking.k8s.io") === "" && p.name === r.serviceName && (p.namespace ?? ns) === ns;
    return others.filter((route) => (route.spec?.parentRefs ?? []).some(parentIsService)).map((route) => {
        const name = route.metadata.name;
        const kind = route.kind === "GRPCRoute" ? "GRPCRoute" : "HTTPRoute";
        return `both ${ours} and the ${kind} \`${ns}/${name}\` route host \`${host}\`: Istio follows the ${kind} and ignores the VirtualService, so this stack's weights and rollbacks do not apply. `
            + `Delete the ${kind} (\`kubectl delete ${kind.toLowerCase()} ${name} -n ${ns}\`), or switch this model to \`router: gateway-api\` (\`up\` then replaces the VirtualService with its own route \`${ns}/${httpRouteName(r.serviceName)}\`)`;
    });
}

const showDestination = (d: { host: string; subset?: string }, expectedHost: string) => (d.host === expectedHost ? d.subset ?? d.host : `${d.host}${d.subset ? `/${d.subset}` : ""}`);

/**
 * What in a live VirtualService spec sends requests, or copies of them, anywhere but `stable` (a
 * destination of the service's host and the stable subset); empty when all traffic goes to
 * stable. Header routes to stable are fine. Pure.
 */
export function trafficOffStable(live: VirtualServiceSpec | undefined, host: string, stable: string): string[] {
    if (!live) return ["the VirtualService does not exist in the cluster"];
    const http = live.http ?? [];
    if (http.length === 0) return ["it has no HTTP routes"];
    const isStable = (d: { host: string; subset?: string }) => d.host === host && d.subset === stable;
    const out: string[] = [];
    http.forEach((route, i) => {
        const where = i === http.length - 1 ? "the default route" : `route ${i + 1} (${route.name ?? "unnamed"})`;
        const sending = route.route.filter((r) => (r.weight ?? (route.route.length === 1 ? 100 : 0)) > 0);
        if (sending.length === 0) out.push(`${where} sends to no destination`);
        else if (!sending.every((r) => isStable(r.destination))) out.push(`${where} sends ${route.route.map((r) => `${showDestination(r.destination, host)} ${r.weight ?? 100}`).join(", ")}`);
        const mirrors = [...(route.mirror ? [route.mirror] : []), ...(route.mirrors ?? []).map((m) => m.destination)];
        if (mirrors.length > 0) out.push(`${where} mirrors to ${mirrors.map((m) => showDestination(m, host)).join(", ")}`);
    });
    return out;
}

/** The live VirtualService's problems for a rollback (see trafficOffStable), and who wrote it besides model-canary. */
export interface RollbackCheck {
    problems: string[];
    /** Field managers of the live object other than the Kubernetes provider's. */
    otherManagers: string[];
}

/**
 * Reads a model's live route (VirtualService, HTTPRoute or GRPCRoute) back after a rollback: what still sends traffic anywhere
 * but its stable version; undefined for a stack that renders (its files are what was applied).
 */
export async function checkLiveRollback(config: StackConfig, model: ModelConfig): Promise<RollbackCheck | undefined> {
    if (!targetsCluster(config)) return undefined;
    const r = model.resolved;
    const live = await readRoute(config, r);
    const managers = ((live?.metadata?.managedFields ?? []) as { manager?: string }[]).map((m) => m.manager ?? "").filter((m) => m !== "" && !/^pulumi-(resource-)?kubernetes/.test(m));
    const problems = r.router === "gateway-api" ? httpRouteTrafficOffStable(live?.spec, r.serviceName, r.stable.version, gatewayApiRouteKind(r)) : trafficOffStable(live?.spec, r.serviceName, r.stable.version);
    return { problems, otherManagers: [...new Set(managers)] };
}

/** A version's Deployment as it is in the cluster: the count it asks for and how many are available; null when it does not exist. */
export type LiveReplicas = { replicas: number; availableReplicas: number } | null;

/** The live Deployment of each version, by version; undefined for a stack that renders. */
export async function readLiveReplicas(config: StackConfig, model: ModelConfig, versions: string[]): Promise<Record<string, LiveReplicas> | undefined> {
    if (!targetsCluster(config)) return undefined;
    const connection = connectTo(config);
    const r = model.resolved;
    const out: Record<string, LiveReplicas> = {};
    for (const version of versions) {
        const d = await getObject(connection, "apps/v1", "deployments", r.namespace, deploymentName(r.app, version));
        out[version] = d ? { replicas: d.spec?.replicas ?? 1, availableReplicas: d.status?.availableReplicas ?? 0 } : null;
    }
    return out;
}

export interface Availability {
    available: boolean;
    availableReplicas: number;
    replicas: number;
    /** e.g. `Deployment default/model-v2 is Available (3 of 3 replicas)`. */
    message: string;
}

/** Whether a Deployment is Available (its condition); undefined for a stack that renders. */
export async function readDeploymentAvailability(config: StackConfig, model: ModelConfig, name: string): Promise<Availability | undefined> {
    if (!targetsCluster(config)) return undefined;
    const connection = connectTo(config);
    const namespace = model.resolved.namespace;
    const where = `${namespace}/${name}`;
    const d = await getObject(connection, "apps/v1", "deployments", namespace, name);
    if (!d) return { available: false, availableReplicas: 0, replicas: 0, message: `Deployment ${where} does not exist` };
    const condition = (d.status?.conditions ?? []).find((c: { type: string }) => c.type === "Available");
    const availableReplicas = d.status?.availableReplicas ?? 0;
    const replicas = d.spec?.replicas ?? 1;
    const available = condition?.status === "True" && (replicas === 0 || availableReplicas > 0);
    return {
        available,
        availableReplicas,
        replicas,
        message: `Deployment ${where} is ${available ? "Available" : "not Available"} (${availableReplicas} of ${replicas} replicas${!available && condition?.message ? `; ${condition.message}` : ""})`,
    };
}

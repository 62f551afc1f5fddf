// The checks of the model-canary policy pack as pure functions of the objects a ModelCanary
// creates (Deployments, the per-version Services, the VirtualService or HTTPRoute), so they are
// tested without an engine; index.ts hands them what the engine sends and reports what they find.

/** What a policy sees of a resource: its type token, name, URN and inputs (Kubernetes objects). */
export interface PolicyObject {
    type: string;
    name: string;
    urn: string;
    props: any;
}

/** Every object one ModelCanary component created, as a stack policy finds them. */
export interface ComponentObjects {
    /** The component's URN. */
    urn: string;
    name: string;
    children: PolicyObject[];
}

export const componentType = "model-canary:index:ModelCanary";
export const deploymentType = "kubernetes:apps/v1:Deployment";
const serviceType = "kubernetes:core/v1:Service";
const virtualServiceType = /^kubernetes:networking\.istio\.io\/v[0-9a-z]+:VirtualService$/;
const httpRouteType = /^kubernetes:gateway\.networking\.k8s\.io\/v[0-9a-z]+:HTTPRoute$/;

/** Whether a URN names a resource a ModelCanary created (its type chain passes through the component). */
export function createdByModelCanary(urn: string): boolean {
    return urn.includes(`::${componentType}$`) || urn.includes(`$${componentType}$`);
}

/** The containers of a Deployment's pod template. */
function containers(deployment: any): any[] {
    return deployment?.spec?.template?.spec?.containers ?? [];
}

/** The `version` label a ModelCanary puts on a version's Deployment. */
function versionOf(deployment: any): string | undefined {
    return deployment?.metadata?.labels?.version ?? deployment?.spec?.template?.metadata?.labels?.version;
}

/**
 * Why an image reference can change under the same name, or undefined if it cannot: pinned by
 * digest (`@sha256:...`) or by a tag other than `latest`.
 */
export function mutableImage(image: string): string | undefined {
    if (image.includes("@")) return undefined;
    const lastSlash = image.lastIndexOf("/");
    const colon = image.lastIndexOf(":");
    if (colon <= lastSlash) return "has no tag (it means `latest`)";
    if (image.slice(colon + 1) === "latest") return "uses the tag `latest`";
    return undefined;
}

/** The images of a Deployment that can change without the program changing. */
export function mutableImageProblems(deployment: any): string[] {
    return containers(deployment).flatMap((c) => {
        if (typeof c?.image !== "string") return [];
        const why = mutableImage(c.image);
        return why ? [`container \`${c.name}\` image \`${c.image}\` ${why}: pin a version tag or a digest, so a rollout compares what it deploys`] : [];
    });
}

export interface Bounds {
    /** Most pods one version's Deployment may run. */
    maxReplicas: number;
    /** Most GPUs one pod may ask for, summed over its containers' limits. */
    maxGpusPerPod: number;
    /** The extended resource names that count as GPUs. */
    gpuResources: string[];
}

export const defaultBounds: Bounds = { maxReplicas: 50, maxGpusPerPod: 8, gpuResources: ["nvidia.com/gpu", "amd.com/gpu"] };

export function replicaProblems(deployment: any, bounds: Pick<Bounds, "maxReplicas">): string[] {
    const replicas = deployment?.spec?.replicas;
    return typeof replicas === "number" && replicas > bounds.maxReplicas
        ? [`\`replicas\` is ${replicas}, more than the ${bounds.maxReplicas} this policy allows (its \`maxReplicas\`)`]
        : [];
}

export function gpuProblems(deployment: any, bounds: Pick<Bounds, "maxGpusPerPod" | "gpuResources">): string[] {
    let total = 0;
    for (const c of containers(deployment)) {
        for (const name of bounds.gpuResources) {
            const value = Number(c?.resources?.limits?.[name] ?? c?.resources?.requests?.[name] ?? 0);
            if (Number.isFinite(value)) total += value;
        }
    }
    return total > bounds.maxGpusPerPod
        ? [`each pod asks for ${total} GPUs (${bounds.gpuResources.join(", ")}), more than the ${bounds.maxGpusPerPod} this policy allows (its \`maxGpusPerPod\`)`]
        : [];
}

/** A route as both routers express it: header routes first, then the weighted default route. */
interface Route {
    /** Header routes: the version each sends to. */
    headerTargets: string[];
    /** The default route's weights by version (what reaches a version without a header). */
    weights: Record<string, number>;
    /** The version the default route mirrors to, if any. */
    mirror?: string;
    /** The object's kind and name, for messages. */
    label: string;
    /** Whether weights are shares of 100 (Istio) rather than relative (Gateway API). */
    percent: boolean;
}

function virtualServiceRoute(vs: any): Route {
    const http: any[] = vs?.spec?.http ?? [];
    const headerTargets = http.filter((r) => r?.match?.length).flatMap((r) => (r.route ?? []).map((d: any) => d?.destination?.subset));
    const last = http.filter((r) => !r?.match?.length).at(-1) ?? {};
    const weights: Record<string, number> = {};
    for (const d of last.route ?? []) weights[d?.destination?.subset] = d?.weight ?? (last.route.length === 1 ? 100 : 0);
    const mirror = last.mirror?.subset ?? last.mirrors?.[0]?.destination?.subset;
    return { headerTargets, weights, mirror, label: `VirtualService \`${vs?.metadata?.name}\``, percent: true };
}

function httpRouteRoute(route: any, serviceVersions: Map<string, string>): Route {
    const rules: any[] = route?.spec?.rules ?? [];
    const version = (ref: any): string => serviceVersions.get(ref?.name) ?? `Service ${ref?.name}`;
    const headerTargets = rules.filter((r) => r?.matches?.some((m: any) => m?.headers?.length)).flatMap((r) => (r.backendRefs ?? []).map(version));
    const last = rules.filter((r) => !r?.matches?.some((m: any) => m?.headers?.length)).at(-1) ?? {};
    const weights: Record<string, number> = {};
    for (const ref of last.backendRefs ?? []) weights[version(ref)] = ref?.weight ?? 1;
    const mirrorFilter = (last.filters ?? []).find((f: any) => f?.type === "RequestMirror");
    const mirror = mirrorFilter ? version(mirrorFilter.requestMirror?.backendRef) : undefined;
    return { headerTargets, weights, mirror, label: `HTTPRoute \`${route?.metadata?.name}\``, percent: false };
}

/** The routes of one component's objects, with the versions its Deployments declare. */
function componentRoutes(component: ComponentObjects): { routes: Route[]; versions: Map<string, any> } {
    const versions = new Map<string, any>();
    const serviceVersions = new Map<string, string>();
    for (const o of component.children) {
        if (o.type === deploymentType) {
            const v = versionOf(o.props);
            if (v) versions.set(v, o.props);
        } else if (o.type === serviceType && o.props?.spec?.selector?.version) {
            serviceVersions.set(o.props.metadata?.name, o.props.spec.selector.version);
        }
    }
    const routes: Route[] = [];
    for (const o of component.children) {
        if (virtualServiceType.test(o.type)) routes.push(virtualServiceRoute(o.props));
        else if (httpRouteType.test(o.type)) routes.push(httpRouteRoute(o.props, serviceVersions));
    }
    return { routes, versions };
}

/** The canary's image must differ from the stable's: otherwise a rollout compares a version with itself. */
export function sameImageProblems(component: ComponentObjects): string[] {
    const byImage = new Map<string, string[]>();
    for (const o of component.children) {
        if (o.type !== deploymentType) continue;
        const images = containers(o.props).map((c) => c?.image).filter((i) => typeof i === "string").join(",");
        if (!images) continue;
        byImage.set(images, [...(byImage.get(images) ?? []), versionOf(o.props) ?? o.name]);
    }
    return [...byImage].filter(([, versions]) => versions.length > 1)
        // In name order: the engine lists a component's objects in the order their registrations
        // finished, which varies from run to run.
        .map(([image, versions]) => `versions ${[...versions].sort().map((v) => `\`${v}\``).join(" and ")} run the same image \`${image}\`: a canary must run a different image than the stable version, or the rollout compares a version with itself`);
}

export function headerRouteProblems(component: ComponentObjects): string[] {
    const { routes, versions } = componentRoutes(component);
    return routes.flatMap((r) => r.headerTargets.filter((t) => !versions.has(t))
        .map((t) => `${r.label} sends a header route to \`${t}\`, which is not a version of this model (declared: ${[...versions.keys()].map((v) => `\`${v}\``).join(", ") || "none"})`));
}

export function mirrorProblems(component: ComponentObjects): string[] {
    return componentRoutes(component).routes.flatMap((r) => r.mirror !== undefined && (r.weights[r.mirror] ?? 0) > 0
        ? [`${r.label} mirrors traffic to \`${r.mirror}\` while it also gets weight ${r.weights[r.mirror]}: mirror (shadow) a canary only at canary weight 0`]
        : []);
}

export function weightProblems(component: ComponentObjects): string[] {
    return componentRoutes(component).routes.flatMap((r) => {
        const weights = Object.values(r.weights);
        if (weights.some((w) => !Number.isInteger(w) || w < 0 || (r.percent && w > 100))) {
            return [`${r.label} has weights ${JSON.stringify(r.weights)}: each must be an integer${r.percent ? " from 0 to 100" : " of at least 0"}`];
        }
        const total = weights.reduce((a, b) => a + b, 0);
        if (r.percent && total !== 100) return [`${r.label}'s default route weights ${JSON.stringify(r.weights)} total ${total}, not 100`];
        if (!r.percent && total === 0) return [`${r.label}'s default rule has only zero weights: every request without a header would fail`];
        return [];
    });
}

/** A version that gets traffic (a weight above 0 or a header route) must run pods. */
export function idleTargetProblems(component: ComponentObjects): string[] {
    const { routes, versions } = componentRoutes(component);
    const targets = new Set<string>();
    for (const r of routes) {
        for (const [v, w] of Object.entries(r.weights)) if (w > 0) targets.add(v);
        for (const v of r.headerTargets) targets.add(v);
    }
    return [...targets].filter((v) => versions.has(v) && versions.get(v)?.spec?.replicas === 0)
        .map((v) => `version \`${v}\` gets traffic but its Deployment runs 0 replicas: its requests would fail`);
}

// Simulated mesh traffic that follows what a stack rendered: the exporter's request rates are set
// from the rendered default route (a VirtualService's last http route, or an HTTPRoute's last
// rule), as the mesh would split them. Shared by the rollout tests of the TypeScript program
// (test/rollout.test.ts) and of the YAML program (test/yaml-program.test.ts).
import type { IstioExporter, TrafficSettings } from "./istio-exporter";

/** How each version's simulated traffic behaves. */
export interface Behaviour {
    stable: Omit<TrafficSettings, "rps" | "namespace">;
    canary: Omit<TrafficSettings, "rps" | "namespace">;
    /** Canary traffic regardless of its weight (e.g. 0 for a canary nobody reaches). */
    canaryRps?: number;
    /** The canary starts failing this share of requests from this served weight on. */
    canaryFailsFrom?: { weight: number; errorRatio: number };
}

/** The rendered objects of one model, and its workloads as the analysis names them. */
export interface RenderedModel {
    virtualService: string;
    /** The Service an HTTPRoute attaches to (`router: gateway-api`); its backends are `<service>-<version>`. */
    service: string;
    stable: { version: string; workload: string };
    canary: { version: string; workload: string };
}

/** The test project's model (test/support/engine.ts's program with test/rollout.test.ts's config). */
export const defaultModel: RenderedModel = {
    virtualService: "model-virtual-service",
    service: "model-service",
    stable: { version: "v1", workload: "model-v1" },
    canary: { version: "v2", workload: "model-v2" },
};

/** A route's mirror to `subset` in percent (`mirrors` or `mirror` + `mirrorPercentage`), 0 for none. */
export function mirrorPercentOf(route: any, subset = defaultModel.canary.version): number {
    const policy = route?.mirrors?.find((m: any) => m.destination.subset === subset) ?? (route?.mirror?.subset === subset ? { percentage: route.mirrorPercentage } : undefined);
    return policy ? policy.percentage?.value ?? 100 : 0;
}

/**
 * The rendered default route whichever the router: its weights by version and the percent of it
 * mirrored to the canary. The VirtualService's last http route, or (`router: gateway-api`) the
 * HTTPRoute's last rule, whose backends are the Services `<service>-<version>`. Undefined while
 * neither is rendered.
 */
export function renderedDefaultRoute(objects: Map<string, any>, model: RenderedModel = defaultModel): { split: Record<string, number>; mirrored: number } | undefined {
    const vs = objects.get(`VirtualService/${model.virtualService}`)?.spec?.http?.at(-1);
    if (vs) return Array.isArray(vs.route) ? { split: Object.fromEntries(vs.route.map((r: any) => [r.destination.subset, r.weight])), mirrored: mirrorPercentOf(vs, model.canary.version) } : undefined;
    const rule = objects.get(`HTTPRoute/${model.service}`)?.spec?.rules?.at(-1);
    if (!Array.isArray(rule?.backendRefs)) return undefined;
    const prefix = `${model.service}-`;
    const split = Object.fromEntries(rule.backendRefs.map((b: any) => [b.name.startsWith(prefix) ? b.name.slice(prefix.length) : b.name, b.weight ?? 1]));
    const mirror = rule.filters?.find((f: any) => f.type === "RequestMirror" && f.requestMirror?.backendRef?.name === `${prefix}${model.canary.version}`)?.requestMirror;
    const mirrored = mirror ? mirror.percent ?? (mirror.fraction ? 100 * mirror.fraction.numerator / (mirror.fraction.denominator ?? 100) : 100) : 0;
    return { split, mirrored };
}

/** Every (served canary weight, mirrored percent) pair the mesh was seen to apply, in order, without repeats. */
export type Observed = [served: number, mirrored: number][];

/**
 * Keeps the exporter's rates equal to the rendered route until stopped: each version serves its
 * share of `totalRps`, and the canary also gets the mirrored share of default traffic (which all
 * goes to stable while it is mirrored), reported by its destination proxy only.
 */
export function followRenderedSplit(
    source: { rendered(): Map<string, any> },
    exporter: IstioExporter,
    namespace: string,
    behaviour: Behaviour,
    observed: Observed = [],
    model: RenderedModel = defaultModel,
    totalRps = 1000,
): () => void {
    const apply = () => {
        // One read of the rendered route for both the split and the mirror. While the provider
        // rewrites the file, a read can find no route (or half of one): that is no state of the
        // mesh, so this tick changes nothing and records nothing.
        let route: ReturnType<typeof renderedDefaultRoute>;
        try {
            route = renderedDefaultRoute(source.rendered(), model);
        } catch {
            return;
        }
        if (!route) return;
        const { split, mirrored } = route;
        const stableWeight = split[model.stable.version] ?? 0;
        const canaryWeight = split[model.canary.version] ?? 0;
        const seen: [number, number] = [canaryWeight, mirrored];
        // The provider rewrites a manifest file in place: a read while it does finds no route, or
        // the start of one (weights short of 100), which is not a state of the mesh.
        const rendered = Object.values(split).reduce((sum, w) => sum + w, 0) === 100;
        if (rendered && (observed.length === 0 || observed.at(-1)!.join() !== seen.join())) observed.push(seen);
        exporter.set(model.stable.workload, { ...behaviour.stable, namespace, rps: totalRps * stableWeight / 100 });
        const failing = behaviour.canaryFailsFrom && canaryWeight >= behaviour.canaryFailsFrom.weight ? { errorRatio: behaviour.canaryFailsFrom.errorRatio } : {};
        exporter.set(model.canary.workload, { ...behaviour.canary, ...failing, namespace, rps: behaviour.canaryRps ?? totalRps * canaryWeight / 100, mirroredRps: totalRps * mirrored / 100 });
    };
    apply();
    const timer = setInterval(apply, 100);
    // Stopping reads the rendered files once more: the command that wrote them last has returned,
    // so `observed` ends with the state it left, not the one the last 100 ms tick happened to see.
    return () => {
        clearInterval(timer);
        apply();
    };
}

// Pure routing: from validated arguments to the Istio specs. No Pulumi here, so every rule is
// tested directly.
import { DestinationRuleSpec, HTTPRoute, HTTPRouteDestination, supportsMirrors, VirtualServiceSpec } from "./istio";
import { stickyCookieRegex, stickySetCookie, stickyVersions } from "./sticky";
import { ResolvedModelCanaryArgs } from "./validation";

/** Share of default-route traffic per version, e.g. `{ v1: 90, v2: 10 }`; totals exactly 100. */
export type TrafficSplit = Record<string, number>;

/** The default route's split. Versions at 0 are left out, as a single-destination route has no use for them. */
export function trafficSplit(args: Pick<ResolvedModelCanaryArgs, "stable" | "canary" | "canaryWeight">): TrafficSplit {
    if (!args.canary || args.canaryWeight === 0) return { [args.stable.version]: 100 };
    if (args.canaryWeight === 100) return { [args.canary.version]: 100 };
    return { [args.stable.version]: 100 - args.canaryWeight, [args.canary.version]: args.canaryWeight };
}

/** What the default route mirrors: the canary and the share of requests, or undefined. */
export interface Mirror {
    version: string;
    percent: number;
}

export function defaultRouteMirror(args: Pick<ResolvedModelCanaryArgs, "canary" | "canaryWeight" | "mirrorPercent">): Mirror | undefined {
    if (!args.canary || args.mirrorPercent <= 0 || args.canaryWeight > 0) return undefined;
    return { version: args.canary.version, percent: args.mirrorPercent };
}

/**
 * Whether two mirrors are the same, by value: a mirror read back from the stack outputs has its
 * keys in another order than one built here, so their JSON texts differ.
 */
export function sameMirror(a: Mirror | null | undefined, b: Mirror | null | undefined): boolean {
    if (!a || !b) return !a && !b;
    return a.version === b.version && a.percent === b.percent;
}

/** The mirror in words, for status and previews: `mirrors 100% of default traffic to v2; v2 serves no users`. */
export function describeMirror(mirror: Mirror, quote: (text: string) => string = (t) => t): string {
    return `mirrors ${mirror.percent}% of default traffic to ${quote(mirror.version)}; ${quote(mirror.version)} serves no users (its answers are discarded)`;
}

/** Pod labels of one version; Deployments select on both, the Service on `app` only. */
export function versionLabels(app: string, version: string): Record<string, string> {
    return { app, version };
}

export function deploymentName(app: string, version: string): string {
    return `${app}-${version}`;
}

function destination(args: ResolvedModelCanaryArgs, version: string, weight: number): HTTPRouteDestination {
    return { destination: { host: args.serviceName, subset: version }, weight };
}

/** Header routes in the order given, then the weighted default route. */
export function virtualServiceSpec(args: ResolvedModelCanaryArgs): VirtualServiceSpec {
    const headerRoutes: HTTPRoute[] = args.headerRoutes.map((route, i) => {
        const { header, version, ...match } = route;
        return {
            name: `header-${i}-${version}`,
            match: [{ headers: { [header]: match } }],
            route: [destination(args, version, 100)],
        };
    });
    const split = trafficSplit(args);
    // Sticky assignment: a client carrying the cookie goes back to its version (after the testers'
    // header routes, before the split); each weighted destination sets the cookie on its responses.
    const pinned = args.sticky ? stickyVersions(split) : [];
    const stickyRoutes: HTTPRoute[] = pinned.map((version) => ({
        name: `sticky-${version}`,
        match: [{ headers: { cookie: { regex: stickyCookieRegex(args.sticky!.cookie, version) } } }],
        route: [destination(args, version, 100)],
    }));
    const defaultRoute: HTTPRoute = {
        name: "default",
        route: Object.entries(split).map(([version, weight]) => ({
            ...destination(args, version, weight),
            ...(pinned.includes(version) ? { headers: { response: { add: { "Set-Cookie": stickySetCookie(args.sticky!.cookie, version) } } } } : {}),
        })),
    };
    // The shadow stage: a copy of default traffic to the canary, its answers discarded. Header
    // routes are not mirrored: they already send testers' requests where they asked.
    const mirror = defaultRouteMirror(args);
    if (mirror) {
        const target = { host: args.serviceName, subset: mirror.version };
        if (supportsMirrors(args.istioApiVersion)) defaultRoute.mirrors = [{ destination: target, percentage: { value: mirror.percent } }];
        else Object.assign(defaultRoute, { mirror: target, mirrorPercentage: { value: mirror.percent } });
    }
    return {
        hosts: args.hosts,
        ...(args.gateways ? { gateways: args.gateways } : {}),
        http: [...headerRoutes, ...stickyRoutes, defaultRoute],
    };
}

/** One subset per running version, selected by its `version` label. */
export function destinationRuleSpec(args: ResolvedModelCanaryArgs): DestinationRuleSpec {
    const versions = [args.stable.version, ...(args.canary ? [args.canary.version] : [])];
    return {
        host: args.serviceName,
        // Only when configured: a model without `trafficPolicy` keeps the DestinationRule it always had.
        ...(args.trafficPolicy ? { trafficPolicy: args.trafficPolicy } : {}),
        subsets: versions.map((version) => ({ name: version, labels: { version } })),
    };
}

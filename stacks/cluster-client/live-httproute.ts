// The live HTTPRoute (or GRPCRoute, whose spec has the same fields for what this tool writes) of
// the Gateway API router next to the configured one: its split by version, what differs (the
// drift `status` reports) and what still sends traffic anywhere but stable after a rollback.
// Pure: live.ts reads the object.
import { versionServiceName } from "../../components/routers/gateway-api-names";
import type { HTTPRouteRule, HTTPRouteSpec } from "../../components/routers/gateway-api-route";
import { isStickyRuleName, stickyDifferences, StickyRule, StickyView } from "./live-sticky";
import { canonical } from "./canonical-json";

const isRootPath = (path: { type?: string; value?: string } | undefined) => path?.type === "PathPrefix" && path.value === "/";

/** A backend reference without the API server's defaults (group "", kind Service, weight 1). */
function plainBackend(ref: Record<string, unknown>): Record<string, unknown> {
    const { group, kind, weight, ...rest } = ref;
    return {
        ...rest,
        ...(group !== undefined && group !== "" ? { group } : {}),
        ...(kind !== undefined && kind !== "Service" ? { kind } : {}),
        weight: weight ?? 1,
    };
}

/**
 * A rule as this tool writes it: the API server fills in a `/` path prefix for a rule or match
 * without a path, the core group, kind Service and weight 1 of a backend, and the mirror's
 * backend defaults; those are left out, so a live rule compares equal to the configured one.
 */
export function normalizeRule(rule: HTTPRouteRule): Record<string, unknown> {
    const matches = (rule.matches as ({ path?: { type?: string; value?: string } } & Record<string, unknown>)[] | undefined ?? [])
        .map(({ path, ...rest }) => ({ ...rest, ...(path && !isRootPath(path) ? { path } : {}) }))
        .filter((m) => Object.keys(m).length > 0);
    const filters = (rule.filters ?? []).map((f) => f.type === "RequestMirror" && f.requestMirror
        ? { ...f, requestMirror: { ...f.requestMirror, backendRef: plainBackend(f.requestMirror.backendRef as unknown as Record<string, unknown>) } }
        : f);
    return {
        ...rule,
        matches: matches.length > 0 ? matches : undefined,
        filters: filters.length > 0 ? filters : undefined,
        backendRefs: (rule.backendRefs ?? []).map((b) => plainBackend(b as unknown as Record<string, unknown>)),
    };
}

/** The version a backend Service serves, by its name (`<serviceName>-<version>`), or the name itself. */
function versionOf(name: string, serviceName: string): string {
    return name.startsWith(`${serviceName}-`) ? name.slice(serviceName.length + 1) : name;
}

/** The default rule's weights by version (the last rule); undefined without a route. */
export function httpRouteSplit(spec: HTTPRouteSpec | undefined, serviceName: string): Record<string, number> | undefined {
    const last = spec?.rules?.at(-1);
    return last ? Object.fromEntries((last.backendRefs ?? []).map((b) => [versionOf(b.name, serviceName), b.weight ?? 1])) : undefined;
}

const showSplit = (split: Record<string, number> | undefined): string =>
    split ? Object.entries(split).map(([v, w]) => `${v} ${w}`).join(", ") : "none";

/** The default rule's mirrors, e.g. `v2 100%`, or `none`. */
function showMirror(spec: HTTPRouteSpec, serviceName: string): string {
    const mirrors = (spec.rules?.at(-1)?.filters ?? []).filter((f) => f.type === "RequestMirror" && f.requestMirror).map((f) => {
        const m = f.requestMirror;
        const share = m.percent ?? (m.fraction ? (m.fraction.numerator / (m.fraction.denominator ?? 100)) * 100 : 100);
        return `${versionOf(m.backendRef.name, serviceName)} ${share}%`;
    });
    return mirrors.length > 0 ? mirrors.join(", ") : "none";
}

/** What a backend's filters do: `sets \`model-version=v1; Path=/\`` for sticky assignment's cookie alone, `none`, or the filters as JSON. */
function showBackendFilters(filters: unknown[] | undefined): string {
    if (filters === undefined || filters.length === 0) return "none";
    const cookie = (filters[0] as { responseHeaderModifier?: { add?: { name?: string; value?: string }[] } }).responseHeaderModifier?.add?.[0];
    const only = [{ type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "Set-Cookie", value: cookie?.value }] } }];
    return cookie?.value !== undefined && canonical(filters) === canonical(only) ? `sets \`${cookie.value}\`` : `has filters ${canonical(filters)}`;
}

/** Sticky assignment's part of normalized rules: the cookie rules and what each backend of the default rule adds to its answers. */
function httpRouteSticky(rules: Record<string, unknown>[], serviceName: string): StickyView {
    type Rule = { name?: string; matches?: { headers?: { type?: string; name?: string; value?: string }[] }[]; backendRefs: { name: string; filters?: unknown[] }[] };
    const typed = rules as Rule[];
    const sticky = new Map(typed.slice(0, -1).filter((r) => isStickyRuleName(r.name)).map((r): [string, StickyRule] => {
        const header = r.matches?.length === 1 && r.matches[0].headers?.length === 1 && Object.keys(r.matches[0]).length === 1 ? r.matches[0].headers[0] : undefined;
        const cookieOnly = header?.type === "RegularExpression" && header.name?.toLowerCase() === "cookie";
        return [r.name!, { key: canonical(r), match: cookieOnly ? header!.value! : canonical(r.matches ?? []), to: r.backendRefs.map((b) => versionOf(b.name, serviceName)).join(", ") }];
    }));
    const setting = (typed.at(-1)?.backendRefs ?? []).map((b): [string, string] => [versionOf(b.name, serviceName), showBackendFilters(b.filters)]);
    return { rules: sticky, setting };
}

/** What differs between a live HTTPRoute (or GRPCRoute: `kind`) spec and the configured one. Pure. */
export function httpRouteDifferences(live: HTTPRouteSpec | undefined, expected: HTTPRouteSpec, serviceName: string, kind = "HTTPRoute"): string[] {
    if (!live) return [`the ${kind} does not exist in the cluster`];
    const out: string[] = [];
    const liveSplit = httpRouteSplit(live, serviceName);
    const wantSplit = httpRouteSplit(expected, serviceName);
    if (canonical(liveSplit) !== canonical(wantSplit)) out.push(`split: live ${showSplit(liveSplit)}, config ${showSplit(wantSplit)}`);
    const liveRules = (live.rules ?? []).map(normalizeRule);
    const wantRules = expected.rules.map(normalizeRule);
    const filtersOf = (rule: Record<string, unknown> | undefined) => canonical(rule?.filters);
    if (filtersOf(liveRules.at(-1)) !== filtersOf(wantRules.at(-1))) out.push(`mirror: live ${showMirror(live, serviceName)}, config ${showMirror(expected, serviceName)}`);
    // The rules ahead of the default one: header routes, then sticky assignment's cookie rules (by name).
    const liveHeaders = liveRules.slice(0, -1).filter((r) => !isStickyRuleName(r.name as string | undefined));
    const wantHeaders = wantRules.slice(0, -1).filter((r) => !isStickyRuleName(r.name as string | undefined));
    if (canonical(liveHeaders) !== canonical(wantHeaders)) out.push(`header routes: live ${liveHeaders.length}, config ${wantHeaders.length}, or their matches differ`);
    out.push(...stickyDifferences(httpRouteSticky(liveRules, serviceName), httpRouteSticky(wantRules, serviceName)));
    const rest = (spec: HTTPRouteSpec) => canonical({ ...spec, rules: undefined });
    if (rest(live) !== rest(expected)) out.push("parentRefs or hostnames differ");
    return out;
}

/**
 * What in a live HTTPRoute (or GRPCRoute: `kind`) spec sends requests, or copies of them, anywhere but `stable` (its
 * version Service); empty when all traffic goes to stable. Header rules to stable are fine. Pure.
 */
export function httpRouteTrafficOffStable(live: HTTPRouteSpec | undefined, serviceName: string, stable: string, kind = "HTTPRoute"): string[] {
    if (!live) return [`the ${kind} does not exist in the cluster`];
    const rules = live.rules ?? [];
    if (rules.length === 0) return ["it has no rules"];
    const stableService = versionServiceName(serviceName, stable);
    const isStable = (b: { name: string; group?: string; kind?: string }) => b.name === stableService && (b.group ?? "") === "" && (b.kind ?? "Service") === "Service";
    const out: string[] = [];
    rules.forEach((rule, i) => {
        const where = i === rules.length - 1 ? "the default rule" : `rule ${i + 1} (${rule.name ?? "unnamed"})`;
        const backends = rule.backendRefs ?? [];
        const sending = backends.filter((b) => (b.weight ?? 1) > 0);
        if (sending.length === 0) out.push(`${where} sends to no backend`);
        else if (!sending.every(isStable)) out.push(`${where} sends ${backends.map((b) => `${versionOf(b.name, serviceName)} ${b.weight ?? 1}`).join(", ")}`);
        const mirrors = (rule.filters ?? []).filter((f) => f.type === "RequestMirror" && f.requestMirror).map((f) => f.requestMirror.backendRef.name);
        if (mirrors.length > 0) out.push(`${where} mirrors to ${mirrors.map((m) => versionOf(m, serviceName)).join(", ")}`);
    });
    return out;
}

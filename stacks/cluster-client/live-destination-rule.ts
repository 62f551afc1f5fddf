// A live DestinationRule next to the one a router renders: the Istio router's (subsets and their
// labels, and `trafficPolicy` when configured) or, with `router: gateway-api` and `trafficPolicy`,
// one per version Service (host and `trafficPolicy`, no subsets). A hand edit of it changes which
// pods a subset reaches or how failing pods are ejected without touching the route, so `status`
// names it as it names route drift. Pure: live.ts reads the objects.
import type { DestinationRuleSpec } from "../../components/istio";
import { gatewayApiDestinationRuleVersion, versionDestinationRules } from "../../components/routers/gateway-api-route";
import { destinationRuleSpec } from "../../components/routing";
import type { ResolvedModelCanaryArgs } from "../../components/validation";
import { isRecord } from "../config/models";
import { canonical } from "./canonical-json";

/** A DestinationRule as this stack renders it, and where it lives. */
export interface ExpectedDestinationRule {
    namespace: string;
    name: string;
    spec: DestinationRuleSpec;
}

/**
 * The live object as read: its spec, `absent` (no such object), or `unserved` (the API server
 * does not serve DestinationRule at that API version, so nothing could be compared).
 */
export type LiveDestinationRule = { spec: Record<string, unknown> } | "absent" | "unserved";

/** Every difference of a DestinationRule starts with this, so a reader can tell them from the route's. */
export const destinationRulePrefix = (rule: Pick<ExpectedDestinationRule, "namespace" | "name">): string => `DestinationRule \`${rule.namespace}/${rule.name}\``;

/** Whether a difference (of LiveRouting's) is a DestinationRule's. */
export const isDestinationRuleDifference = (difference: string): boolean => difference.startsWith("DestinationRule `");

/** A value as a difference shows it: `none` when absent, else canonical JSON (strings as written). */
const show = (v: unknown): string => (v === undefined ? "none" : canonical(v));

/**
 * The leaves that differ between two values, by dotted path under `path`: where both sides are
 * objects, field by field (sorted), else the value itself, e.g.
 * `trafficPolicy.outlierDetection.interval: live 10s, config 30s`.
 */
function fieldDifferences(path: string, live: unknown, want: unknown): string[] {
    if (isRecord(live) && isRecord(want)) {
        const keys = [...new Set([...Object.keys(want), ...Object.keys(live)])].filter((k) => live[k] !== undefined || want[k] !== undefined).sort();
        return keys.flatMap((k) => fieldDifferences(`${path}.${k}`, live[k], want[k]));
    }
    return canonical(live) === canonical(want) ? [] : [`${path}: live ${show(live)}, config ${show(want)}`];
}

const showLabels = (labels: unknown): string =>
    isRecord(labels) && Object.keys(labels).length > 0 ? Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${String(v)}`).join(", ") : "none";

/**
 * What differs between a live DestinationRule and the rendered one, each prefixed with the object
 * (`DestinationRule \`default/model-destination\`: ...`): its absence; `host`; each `trafficPolicy`
 * field (missing, added or changed); each subset missing, added, or with other labels or a
 * policy of its own. `unserved`: one line saying the cluster does not serve the kind. Empty when they agree.
 */
export function destinationRuleDifferences(live: LiveDestinationRule, expected: ExpectedDestinationRule, apiVersion: string): string[] {
    const prefix = destinationRulePrefix(expected);
    if (live === "unserved") return [`${prefix}: the cluster does not serve DestinationRule at ${apiVersion}, so it could not be compared`];
    if (live === "absent") return [`${prefix} does not exist in the cluster`];
    const spec = live.spec ?? {};
    const want = expected.spec;
    const out: string[] = [];
    if (canonical(spec.host) !== canonical(want.host)) out.push(`host: live ${show(spec.host)}, config ${show(want.host)}`);
    out.push(...fieldDifferences("trafficPolicy", spec.trafficPolicy, want.trafficPolicy));
    // Subsets by name: the route sends to a subset by its name, the labels pick its pods.
    const liveSubsets = new Map((Array.isArray(spec.subsets) ? spec.subsets : []).filter(isRecord).map((s) => [String(s.name), s]));
    const wantSubsets = new Map((want.subsets ?? []).map((s) => [s.name, s as unknown as Record<string, unknown>]));
    for (const [name, w] of wantSubsets) {
        const l = liveSubsets.get(name);
        if (!l) out.push(`subset \`${name}\`: missing live, config labels ${showLabels(w.labels)}`);
        else {
            if (canonical(l.labels ?? {}) !== canonical(w.labels ?? {})) out.push(`subset \`${name}\` labels: live ${showLabels(l.labels)}, config ${showLabels(w.labels)}`);
            const { name: _l, labels: _ll, ...liveRest } = l;
            const { name: _w, labels: _wl, ...wantRest } = w;
            out.push(...fieldDifferences(`subset \`${name}\``, liveRest, wantRest));
        }
    }
    for (const [name, l] of liveSubsets) {
        if (!wantSubsets.has(name)) out.push(`subset \`${name}\`: live labels ${showLabels(l.labels)}, not in the config`);
    }
    // Anything else this tool does not write (exportTo, workloadSelector): drift too, named by key.
    const rendered = new Set(["host", "trafficPolicy", "subsets"]);
    for (const key of Object.keys(spec).filter((k) => !rendered.has(k) && spec[k] !== undefined).sort()) out.push(`${key}: live ${show(spec[key])}, config none`);
    return out.map((d) => `${prefix} ${d}`);
}

/** The DestinationRules a model's router renders, with their API version: the Istio router's one, or the Gateway API router's one per version Service (with `trafficPolicy` only). */
export function renderedDestinationRules(r: ResolvedModelCanaryArgs): (ExpectedDestinationRule & { apiVersion: string })[] {
    if (r.router === "gateway-api") {
        return versionDestinationRules(r).map((rule) => ({ apiVersion: gatewayApiDestinationRuleVersion, namespace: r.namespace, name: rule.name, spec: rule.spec }));
    }
    return [{ apiVersion: r.istioApiVersion, namespace: r.namespace, name: r.destinationRuleName, spec: destinationRuleSpec(r) }];
}

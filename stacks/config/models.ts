// Many models in one stack: the `models` map of the stack config, the one-model shorthand (the
// top-level keys), which model a command acts on, and the names that must not collide across
// models. Pure: no Pulumi, no I/O.
import type { PredictionGate } from "../../analysis/prediction-gate";
import { versionDestinationRuleName, versionServiceName } from "../../components/routers/gateway-api-names";
import { gatewayApiDestinationRuleVersion } from "../../components/routers/gateway-api-route";
import { deploymentName } from "../../components/routing";
import { show } from "../../components/secrets";
import { isDnsLabel } from "../../components/syntax";
import { argKeys, ResolvedModelCanaryArgs, unknownKeyProblem } from "../../components/validation";

/** The name of the model the top-level (shorthand) keys describe; also the component's resource name, so existing stacks keep their URNs. */
export const shorthandModel = "model";

/** Keys each model has: the component's arguments and its `rollout` block. */
export const modelKeys: readonly string[] = [...argKeys, "rollout", "routingRevision"];

/**
 * Keys the stack-wide `defaults` map may hold (merged under every entry of `models`): settings
 * many models share. The others belong to one model: its versions, its traffic (which `rollout`,
 * `rollback` and `promote` edit in its own entry, so a default would come back when they remove
 * it) and the names of its objects (equal in two models, they would collide).
 */
export const defaultKeys: readonly string[] = [
    "namespace", "servicePort", "containerPort", "containerName", "gateways", "istioApiVersion", "router", "protocol", "sticky", "trafficPolicy", "podSecurityContext", "containerSecurityContext", "rollout",
];

/** Why a model key cannot be in `defaults`. */
const ownKeyReasons: Record<string, string> = {
    stable: "a model version belongs to one model",
    canary: "a model version belongs to one model",
    canaryWeight: "it is one model's traffic, which `rollout`, `rollback` and `promote` edit in the model's own entry",
    mirrorPercent: "it is one model's traffic, which `rollout`, `rollback` and `promote` edit in the model's own entry",
    headerRoutes: "they are one model's traffic, which `rollback` and `promote` edit in the model's own entry",
    routingRevision: "it is the revision of one model's routing, which the commands write in the model's own entry",
    app: "it names one model's objects, and two models with the same value would collide",
    serviceName: "it names one model's objects, and two models with the same value would collide",
    virtualServiceName: "it names one model's objects, and two models with the same value would collide",
    destinationRuleName: "it names one model's objects, and two models with the same value would collide",
    hosts: "they are one model's hosts, and two models with the same hosts would collide",
    hostnames: "they are one model's hostnames on its Gateways, and two models with the same hostnames would collide",
};

/** A model's entry as configured: its name and its keys, as the program reads them. */
export interface ModelEntry {
    name: string;
    /** The entry's keys (the shorthand's top-level keys, or `models.<name>` with `defaults` merged under it). */
    values: Record<string, unknown>;
    /** Where the entry lives in the config tree: `[]` for the shorthand, `["models", name]` otherwise. */
    path: string[];
    /** With `defaults`: the entry's own keys and the defaults, to name where a value came from. */
    layers?: { own: Record<string, unknown>; defaults: Record<string, unknown> };
}

/** Thrown when `--model` is missing where several models need it, or names none of them. */
export class ModelSelectionError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ModelSelectionError";
    }
}

const nameWhat = "a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";

export function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The models of a config (`values`: the project's keys, structured values parsed), or the problems
 * that stop it from having any: `models` that is not a map of names to objects, or `models` next to
 * the shorthand's keys. A config without `models` is the shorthand: one model named `model`.
 */
export function modelEntries(values: Record<string, unknown>, problems: string[]): ModelEntry[] {
    const shorthandKeys = Object.keys(values).filter((k) => modelKeys.includes(k));
    if (values.models === undefined) {
        if (values.defaults !== undefined) {
            problems.push(shorthandKeys.length > 0
                ? `${shorthandKeys.map((k) => `\`${k}\``).join(", ")} ${shorthandKeys.length === 1 ? "is a key" : "are keys"} of the one-model shorthand and cannot be used with \`defaults\`, which applies under the entries of \`models\`: move ${shorthandKeys.length === 1 ? "it" : "them"} into a model's entry, e.g. \`models.${shorthandModel}.${shorthandKeys[0]}\` (the shorthand's model is \`${shorthandModel}\`: its resources keep their names), or remove \`defaults\``
                : `\`defaults\` applies under the entries of \`models\`, and there is no \`models\`: list the stack's models under \`models\`, or remove \`defaults\``);
            return [];
        }
        const own = Object.fromEntries(shorthandKeys.map((k) => [k, values[k]]));
        return [{ name: shorthandModel, values: own, path: [] }];
    }
    const defaults = stackDefaults(values.defaults, problems);
    const models = values.models;
    if (!isRecord(models) || Object.keys(models).length === 0) {
        problems.push(`\`models\` must map each model's name to its keys, e.g. { fraud: { stable: { version: v1, image: registry/fraud:v1 } } }, got ${show(models)}`);
        return [];
    }
    if (shorthandKeys.length > 0) {
        const names = Object.keys(models);
        problems.push(`${shorthandKeys.map((k) => `\`${k}\``).join(", ")} ${shorthandKeys.length === 1 ? "is a key" : "are keys"} of the one-model shorthand and cannot be used with \`models\` (${names.map((n) => `\`${n}\``).join(", ")}): move ${shorthandKeys.length === 1 ? "it" : "them"} into a model's entry, e.g. \`models.${names[0]}.${shorthandKeys[0]}\``);
    }
    const entries: ModelEntry[] = [];
    for (const [name, entry] of Object.entries(models)) {
        if (!isDnsLabel(name)) {
            problems.push(`\`models\` key ${show(name)} must be a model name: ${nameWhat}`);
            continue;
        }
        if (!isRecord(entry)) {
            problems.push(`\`models.${name}\` must be an object with the model's keys (\`stable\`, \`canary\`, \`canaryWeight\`, ...), got ${show(entry)}`);
            continue;
        }
        entries.push(defaults
            ? { name, values: mergeDefaults(defaults, entry), path: ["models", name], layers: { own: entry, defaults } }
            : { name, values: entry, path: ["models", name] });
    }
    return entries;
}

/** The `defaults` map's keys that may be merged (undefined when there is none), or the problems with it. */
function stackDefaults(defaults: unknown, problems: string[]): Record<string, unknown> | undefined {
    if (defaults === undefined) return undefined;
    if (!isRecord(defaults)) {
        problems.push(`\`defaults\` must map model keys to the value every entry of \`models\` gets unless it sets its own, e.g. { namespace: ml, rollout: { prometheus: "http://prometheus:9090" } }, got ${show(defaults)}`);
        return undefined;
    }
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(defaults)) {
        if (defaultKeys.includes(key)) kept[key] = value;
        else if (key in ownKeyReasons) problems.push(`\`defaults.${key}\` cannot be a default: ${ownKeyReasons[key]}; set it in each model's entry (\`models.<name>.${key}\`)`);
        else problems.push(unknownKeyProblem(`defaults.${key}`, key, defaultKeys));
    }
    return kept;
}

/**
 * A model's keys with the defaults under them: maps are merged key by key, at every depth; any
 * other value the entry sets (a list, a scalar, `null`) replaces the default whole. Pure.
 */
export function mergeDefaults(defaults: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
    const merged: Record<string, unknown> = { ...defaults };
    for (const [key, value] of Object.entries(own)) {
        if (value === undefined) continue;
        merged[key] = isRecord(value) && isRecord(defaults[key]) ? mergeDefaults(defaults[key] as Record<string, unknown>, value) : value;
    }
    return merged;
}

/** A key path as messages write it: `rollout.checks[0].name` -> `["rollout", "checks", 0, "name"]`. */
function keyPath(text: string): (string | number)[] {
    return text.split(".").flatMap((part) => {
        const [, key, indices] = part.match(/^([^[]*)((?:\[\d+\])*)$/) ?? [undefined, part, ""];
        return [...(key ? [key] : []), ...[...indices.matchAll(/\[(\d+)\]/g)].map((i) => Number(i[1]))];
    });
}

/** True when the value at `path` comes from the defaults: the entry has no value on the way there, and the defaults do. */
function fromDefaults(layers: NonNullable<ModelEntry["layers"]>, path: (string | number)[]): boolean {
    let own: unknown = layers.own;
    let defaults: unknown = layers.defaults;
    for (const segment of path) {
        // A list or scalar the entry sets replaces the default whole: everything below it is the entry's.
        if (!isRecord(own)) return false;
        if (own[segment] === undefined) return isRecord(defaults) && defaults[segment] !== undefined;
        own = own[segment];
        defaults = isRecord(defaults) ? defaults[segment] : undefined;
    }
    return false;
}

/**
 * A message about a model's key, moved under its entry: `` `canaryWeight` ... `` becomes
 * `` `models.fraud.canaryWeight` ... `` (and `` unknown key `rollout.x` `` becomes `` unknown key
 * `models.fraud.rollout.x` ``), or `` `defaults.rollout.interval` ... `` when the value came from
 * `defaults`.
 */
export function inModel(entry: Pick<ModelEntry, "path" | "layers">, problem: string): string {
    if (entry.path.length === 0) return problem;
    const at = problem.match(/^(unknown key )?`([^`]+)`/);
    if (!at) return `\`${entry.path.join(".")}\`: ${problem}`;
    const path = keyPath(at[2]);
    const prefix = entry.layers && fromDefaults(entry.layers, path) ? "defaults" : entry.path.join(".");
    return `${at[1] ?? ""}\`${prefix}.${at[2]}\`${problem.slice(at[0].length)}`;
}

/** The model a command acts on: `requested` (from `--model`), or the only one. */
export function selectModelName(names: readonly string[], requested: string | undefined, stack: string): string {
    const list = names.map((n) => `\`${n}\``).join(", ");
    if (requested !== undefined) {
        if (names.includes(requested)) return requested;
        throw new ModelSelectionError(`\`--model\` must name a model of stack \`${stack}\`, got ${show(requested)}; its models are ${list}`);
    }
    if (names.length === 1) return names[0];
    throw new ModelSelectionError(`stack \`${stack}\` has ${names.length} models (${list}): name the one to act on with \`--model NAME\``);
}

/**
 * One model's part of the stack outputs: `models.<name>` when the program exports the `models` map
 * (a `models` config, or a user's program), else the top-level outputs for the shorthand's `model`
 * (what this project's program exports for the shorthand). Empty when the model was never deployed.
 */
export function modelOutputsOf(outputs: Record<string, unknown>, name: string): Record<string, unknown> {
    const models = outputs.models;
    if (isRecord(models)) return isRecord(models[name]) ? models[name] : {};
    return name === shorthandModel ? outputs : {};
}

/** A model's names that must be unique in the stack: what two models would both claim. */
interface Claim {
    /** What is claimed, for the message: `the Deployment default/fraud-v1`. */
    what: string;
    /** The key that decides it, below the model's entry; empty: the model's own name (the entry's). */
    key: string;
}

/** The hosts of a VirtualService, qualified the way Istio reads a short name (relative to the VirtualService's namespace). */
function qualifiedHost(host: string, namespace: string): string {
    return host.includes(".") || host.includes("*") ? host : `${host}.${namespace}.svc.cluster.local`;
}

/**
 * A gateway as Istio reads a VirtualService's reference to it: `mesh` is every sidecar, a bare
 * name is a gateway in the VirtualService's namespace, `<namespace>/<name>` is that one, and a
 * name with dots is the older host-name form, whose first label is the name and second the
 * namespace (`public.edge.svc.cluster.local` and `public.edge` are both `edge/public`; istiod's
 * `resolveGatewayName`). For comparing references only: the VirtualService keeps what was written.
 */
export function qualifiedGateway(gateway: string, namespace: string): string {
    if (gateway === "mesh" || gateway.includes("/")) return gateway;
    const [name, inNamespace] = gateway.split(".");
    return `${inNamespace ?? namespace}/${name}`;
}

/** The gateways a model's VirtualService binds to, qualified (see `qualifiedGateway`), each once. */
function gatewaysOf(r: ResolvedModelCanaryArgs): string[] {
    return [...new Set((r.gateways ?? ["mesh"]).map((g) => qualifiedGateway(g, r.namespace)))];
}

/**
 * True when a request for a host could match both: equal, or one is a wildcard (`*`, or
 * `*.example.com`, which Istio matches as a suffix: `a.example.com`, `a.b.example.com`) that
 * matches the other (a name, or a narrower wildcard such as `*.api.example.com`).
 */
export function hostsOverlap(a: string, b: string): boolean {
    if (a === b || a === "*" || b === "*") return true;
    const covers = (wild: string, other: string) => wild.startsWith("*.") && other.endsWith(wild.slice(1));
    return covers(a, b) || covers(b, a);
}

function claims(name: string, r: ResolvedModelCanaryArgs): Claim[] {
    const ns = r.namespace;
    const versions = [["stable", r.stable.version], ...(r.canary ? [["canary", r.canary.version]] : [])] as const;
    const gateways = gatewaysOf(r);
    return [
        // Deployments and their env Secrets are `<app>-<version>`, so equal Deployment names mean equal Secret names too.
        ...versions.map(([role, v]) => ({ what: `the Deployment (and env Secret) name ${show(`${ns}/${deploymentName(r.app, v)}`)}`, key: `${role}.version` })),
        // The component names its children `<model>-<version>`: two models could build the same resource name.
        ...versions.map(([role, v]) => ({ what: `the Pulumi resource name ${show(`${name}-${v}`)} (a Deployment)`, key: `${role}.version` })),
        // The model's Service is `<model>-svc`, a Gateway API version Service `<model>-<version>-svc`: model `fraud-v2`'s
        // meets model `fraud`'s version `v2` (components/modelCanary.ts, components/routers/).
        { what: `the Pulumi resource name ${show(`${name}-svc`)} (a Service)`, key: "" },
        ...(r.router === "gateway-api"
            ? versions.flatMap(([role, v]) => [
                { what: `the Pulumi resource name ${show(`${name}-${v}-svc`)} (a Service)`, key: `${role}.version` },
                ...(r.trafficPolicy ? [{ what: `the Pulumi resource name ${show(`${name}-${v}-dr`)} (a DestinationRule, ${gatewayApiDestinationRuleVersion})`, key: `${role}.version` }] : []),
            ])
            // The Istio router's DestinationRule is `<model>-dr`.
            : [{ what: `the Pulumi resource name ${show(`${name}-dr`)} (a DestinationRule, ${r.istioApiVersion})`, key: "" }]),
        { what: `the Service ${show(`${ns}/${r.serviceName}`)}`, key: "serviceName" },
        // A Service selects its pods by `app` alone: a shared label makes one model's Service send requests to the other's pods.
        { what: `the \`app\` label ${show(r.app)} in namespace ${show(ns)} (each Service would select the other model's pods)`, key: "app" },
        ...(r.router === "gateway-api"
            // One Service per version, `<serviceName>-<version>`, beside the model's: it may meet another model's Service. The HTTPRoute is named like the model's Service.
            ? versions.flatMap(([role, v]) => [
                { what: `the Service ${show(`${ns}/${versionServiceName(r.serviceName, v)}`)}`, key: `${role}.version` },
                // With `trafficPolicy`, each version Service's DestinationRule, named like it: it may meet an Istio-routed model's DestinationRule.
                ...(r.trafficPolicy ? [{ what: `the DestinationRule ${show(`${ns}/${versionDestinationRuleName(r.serviceName, v)}`)}`, key: `${role}.version` }] : []),
            ])
            : [
                { what: `the VirtualService ${show(`${ns}/${r.virtualServiceName}`)}`, key: "virtualServiceName" },
                { what: `the DestinationRule ${show(`${ns}/${r.destinationRuleName}`)}`, key: "destinationRuleName" },
                ...r.hosts.flatMap((h) => gateways.map((g) => ({ what: `the VirtualService host ${show(qualifiedHost(h, ns))}${gateways.length > 1 || g !== "mesh" ? ` on gateway ${show(g)}` : ""}`, key: "hosts" }))),
            ]),
    ];
}

/**
 * Problems where two models claim the same name: Deployments, Secrets, Services, VirtualServices
 * and DestinationRules in one namespace, VirtualService hosts (on the same gateway), `app` labels,
 * and the component's own resource names. Each names both models and the colliding value.
 */
export function modelCollisions(models: { name: string; path: string[]; resolved: ResolvedModelCanaryArgs }[]): string[] {
    const owner = new Map<string, { model: string; path: string[]; key: string }>();
    const problems: string[] = [];
    for (const m of models) {
        const seen = new Set<string>();
        for (const claim of claims(m.name, m.resolved)) {
            if (seen.has(claim.what)) continue;
            seen.add(claim.what);
            const first = owner.get(claim.what);
            if (!first) {
                owner.set(claim.what, { model: m.name, path: m.path, key: claim.key });
                continue;
            }
            // A claim by the model's own name is its entry (`models.fraud-v2`): renaming the model is the way out.
            const at = (path: string[], key: string) => (key === "" ? `the model's name \`${[...path].join(".") || shorthandModel}\`` : `\`${[...path, key].join(".")}\``);
            problems.push(`models \`${first.model}\` and \`${m.name}\` collide: both would use ${claim.what} (${at(first.path, first.key)} and ${at(m.path, claim.key)}); give one of them another value`);
        }
    }
    return [...problems, ...wildcardHostCollisions(models)];
}

/**
 * Problems where one model's wildcard host (`*.example.com`, `*`) covers another model's host on
 * a gateway both bind to: both VirtualServices claim requests for that host. Envoy gives such a
 * request to the more specific host, so what one model serves would change with another model's
 * hosts. Equal hosts are `modelCollisions`' own claims.
 */
/** A host a request could have that both overlapping hosts match: the name among them, else the narrower wildcard's `x.` instance. */
function sharedRequest(a: string, b: string): string {
    const name = [a, b].find((h) => !h.startsWith("*"));
    if (name !== undefined) return name;
    const narrower = a === "*" ? b : b === "*" ? a : a.length >= b.length ? a : b;
    return `x${narrower.slice(1)}`;
}

function wildcardHostCollisions(models: { name: string; path: string[]; resolved: ResolvedModelCanaryArgs }[]): string[] {
    const problems: string[] = [];
    const hostsOf = (r: ResolvedModelCanaryArgs) => [...new Set(r.hosts.map((h) => qualifiedHost(h, r.namespace)))];
    for (let i = 0; i < models.length; i++) {
        for (let j = i + 1; j < models.length; j++) {
            const [a, b] = [models[i], models[j]];
            const shared = gatewaysOf(a.resolved).filter((g) => gatewaysOf(b.resolved).includes(g));
            if (shared.length === 0) continue;
            for (const ha of hostsOf(a.resolved)) {
                for (const hb of hostsOf(b.resolved)) {
                    if (ha === hb || !hostsOverlap(ha, hb)) continue;
                    const key = (m: typeof a) => `\`${[...m.path, "hosts"].join(".")}\``;
                    const on = shared.length > 1 || shared[0] !== "mesh" ? ` on gateway ${shared.map((g) => show(g)).join(" and ")}` : "";
                    problems.push(`models \`${a.name}\` and \`${b.name}\` collide: ${key(a)} has ${show(ha)} and ${key(b)} has ${show(hb)}, which overlap${on}: both VirtualServices claim requests for ${show(sharedRequest(ha, hb))}; narrow the wildcard, or bind them to different gateways`);
                }
            }
        }
    }
    return problems;
}

/**
 * Problems where one model's prediction gate would count another model's predictions as its own:
 * two models in one namespace, both with the gate on and the same histogram metric, sharing a
 * version name, where one of them selects without an app label (`rollout.predictions.appLabel:
 * null`). With the app label on both sides, their distinct `app` labels (see `modelCollisions`)
 * keep them apart. Each names both models, the version and the key to set.
 */
export function predictionGateCollisions(models: { name: string; path: string[]; layers?: ModelEntry["layers"]; resolved: ResolvedModelCanaryArgs; predictions?: PredictionGate }[]): string[] {
    const problems: string[] = [];
    const gated = models.filter((m) => m.predictions !== undefined);
    const versions = (r: ResolvedModelCanaryArgs) => [r.stable.version, ...(r.canary ? [r.canary.version] : [])];
    for (let i = 0; i < gated.length; i++) {
        for (let j = i + 1; j < gated.length; j++) {
            const [a, b] = [gated[i], gated[j]];
            const [ga, gb] = [a.predictions!, b.predictions!];
            if (a.resolved.namespace !== b.resolved.namespace || ga.metric !== gb.metric) continue;
            if (ga.appLabel !== null && gb.appLabel !== null) continue;
            const shared = versions(a.resolved).filter((v, k, all) => all.indexOf(v) === k && versions(b.resolved).includes(v));
            if (shared.length === 0) continue;
            // Named where the null is: each model's entry, or `defaults` once.
            const unset = [...new Set([a, b].filter((m) => m.predictions!.appLabel === null).map((m) => inModel(m, "`rollout.predictions.appLabel`")))];
            problems.push(`models \`${a.name}\` and \`${b.name}\` collide: both have the prediction gate on for \`${ga.metric}\` in namespace ${show(a.resolved.namespace)} with version ${shared.map((v) => show(v)).join(" and ")}, `
                + `and ${unset.join(" and ")} ${unset.length === 1 ? "is" : "are"} null, so a gate would count the other model's predictions as its own; `
                + "set `appLabel` (default `app`, the label each model's pods carry) or give the versions different names");
        }
    }
    return problems;
}

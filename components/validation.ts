// Pure checks of ModelCanary arguments: no Pulumi, no I/O. Every problem is reported at once,
// each naming the key, the value received and what would be accepted, before anything is
// registered with the engine.
import * as k8s from "@pulumi/kubernetes";
import { RE2JS } from "re2js";
import { IstioApiVersion, istioApiVersions } from "./istio";
import { ConfigPath, formatPath, isSecretPath, secretMark, show } from "./secrets";
import {
    checkKubernetesValue, livenessProbeSchema, podSecurityContextSchema, readinessProbeSchema, resourceRequirementsSchema,
    securityContextSchema,
} from "./kubernetesTypes";
import {
    codePoint, controlCharacter, describeCharacter, formatCharacter, int32Max, visibleFormatCharacters, integerValue, isDns1035Label, isDnsLabel, isDnsSubdomain, isEnvVarName,
    isImageReference, isLabelValue, isQualifiedName, percentValue,
} from "./syntax";
import { AutoReplicas, autoReplicaCounts } from "./replicas";
import { maxGatewayApiHeaderRoutes, versionServiceName } from "./routers/gateway-api-names";
import { ModelProtocol, modelProtocols, RouterKind, routerKinds } from "./routers/kinds";
import { isCookieName } from "./sticky";
import {
    ConnectionPoolArgs, connectionPoolKeys, HttpConnectionPoolArgs, httpConnectionPoolKeys, istioDurationMs, maxIstioDurationMs, OutlierDetectionArgs,
    outlierDetectionKeys, TcpConnectionPoolArgs, tcpConnectionPoolKeys, TrafficPolicyArgs, trafficPolicyKeys,
} from "./traffic-policy";
import { HeaderRoute, ModelCanaryArgs, ModelVersionArgs, StickyArgs } from "./types";

// Callers that build messages the same way import it from here.
export { show };

/** The arguments with every default applied. */
export interface ResolvedModelVersion extends Omit<ModelVersionArgs, "replicas" | "autoReplicas"> {
    image: string;
    /** The pod count the Deployment gets: for `replicas: auto`, the count for the current traffic. */
    replicas: number;
    /** The canary's automatic sizing, when its `replicas` is `auto`. */
    autoReplicas?: AutoReplicas;
    env: Record<string, string>;
    resources?: k8s.types.input.core.v1.ResourceRequirements;
    podAnnotations?: Record<string, string>;
    podLabels?: Record<string, string>;
}

export interface ResolvedModelCanaryArgs {
    app: string;
    namespace: string;
    serviceName: string;
    servicePort: number;
    containerPort: number;
    containerName: string;
    stable: ResolvedModelVersion;
    canary?: ResolvedModelVersion;
    canaryWeight: number;
    /** 0 when nothing is mirrored. */
    mirrorPercent: number;
    headerRoutes: HeaderRoute[];
    hosts: string[];
    gateways?: string[];
    /** `router: gateway-api` only: the HTTPRoute's hostnames on its Gateway parents. */
    hostnames?: string[];
    virtualServiceName: string;
    destinationRuleName: string;
    istioApiVersion: IstioApiVersion;
    router: RouterKind;
    /** `http` unless the model serves gRPC. */
    protocol: ModelProtocol;
    sticky?: StickyArgs;
    /** Only the fields given, numbers as numbers, in Istio's field order; absent when not configured. */
    trafficPolicy?: TrafficPolicyArgs;
    podSecurityContext?: k8s.types.input.core.v1.PodSecurityContext;
    containerSecurityContext?: k8s.types.input.core.v1.SecurityContext;
}

/** Thrown when arguments or config are invalid; `problems` holds one sentence per problem. */
export class ValidationError extends Error {
    constructor(public readonly problems: string[]) {
        super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n- ${problems.join("\n- ")}`);
        this.name = "ValidationError";
    }
}

export const argKeys: readonly (keyof ModelCanaryArgs)[] = [
    "app", "namespace", "serviceName", "servicePort", "containerPort", "containerName", "stable", "canary",
    "canaryWeight", "mirrorPercent", "headerRoutes", "hosts", "gateways", "hostnames", "virtualServiceName", "destinationRuleName",
    "istioApiVersion", "router", "protocol", "sticky", "trafficPolicy", "podSecurityContext", "containerSecurityContext",
];
export const versionKeys: readonly (keyof ModelVersionArgs)[] = [
    "version", "image", "replicas", "autoReplicas", "env", "resources", "readinessProbe", "livenessProbe", "podAnnotations", "podLabels",
];
export const autoReplicasKeys: readonly (keyof AutoReplicas)[] = ["min", "max", "shrinkStable", "hold", "holdStable"];
export const headerRouteKeys: readonly (keyof HeaderRoute)[] = ["header", "exact", "prefix", "regex", "version"];
const matchKinds = ["exact", "prefix", "regex"] as const;

// An HTTP token (RFC 9110) in lowercase, which is how Istio expects header names in matches.
const lowercaseHeaderName = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;

/**
 * Limits on sizes, stated in the README's configuration reference. The engine hands the whole
 * config to the program in one environment variable, which Linux caps at 128 KiB
 * (MAX_ARG_STRLEN): past it `pulumi up` dies with "argument list too long" before the program
 * can say why, so the config is kept well below that.
 */
export const limits = {
    /** Kubernetes' int32 `replicas`. */
    replicas: int32Max,
    headerRoutes: 100,
    headerNameLength: 256,
    headerValueLength: 1024,
    hosts: 100,
    gateways: 100,
    /** An HTTPRoute has at most 32 parentRefs (the CRD's `maxItems`): the model's Service and the Gateways. */
    gatewayApiGateways: 31,
    /** An HTTPRoute has at most 16 hostnames (the CRD's `maxItems`). */
    hostnames: 16,
    envVars: 100,
    podAnnotations: 100,
    podLabels: 100,
    /** Characters of all project config as the engine passes it (keys and JSON values). */
    configBytes: 64 * 1024,
} as const;


/** Edit distance, for "did you mean" hints on misspelt keys. */
function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length];
}

/** `unknown key ...` sentence with the closest accepted key as a hint. */
export function unknownKeyProblem(path: string, key: string, accepted: readonly string[]): string {
    const closest = [...accepted].sort((x, y) => distance(key.toLowerCase(), x.toLowerCase()) - distance(key.toLowerCase(), y.toLowerCase()))[0];
    const hint = closest !== undefined && distance(key.toLowerCase(), closest.toLowerCase()) <= 3 ? ` (did you mean \`${closest}\`?)` : "";
    return `unknown key \`${visibleFormatCharacters(path)}\`${hint}; accepted keys are ${accepted.map((k) => `\`${k}\``).join(", ")}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Problems with format characters (Unicode category Cf: U+202E RIGHT-TO-LEFT OVERRIDE, U+200B
 * ZERO WIDTH SPACE...) in any text or key below `value`: names, versions, header routes, images,
 * hosts, queries all reach a pull-request comment or a terminal, where such a character makes the
 * text shown differ from the text applied. Each names the path and the character as `U+XXXX`,
 * never the text; values at `secretPaths` are skipped (they are never shown).
 */
export function formatCharacterProblems(value: unknown, at: ConfigPath = [], secretPaths: ConfigPath[] = []): string[] {
    const problem = (where: string, text: string) => {
        const ch = formatCharacter(text)!;
        return `${where} must not contain invisible format characters (Unicode category Cf), got ${codePoint(ch)} at character ${[...text].indexOf(ch) + 1}: it makes the text shown in a pull-request comment or a terminal differ from the text applied`;
    };
    if (at.length > 0 && isSecretPath(at, secretPaths)) return [];
    if (typeof value === "string") return formatCharacter(value) === undefined ? [] : [problem(`\`${formatPath(at)}\``, value)];
    if (Array.isArray(value)) return value.flatMap((item, i) => formatCharacterProblems(item, [...at, i], secretPaths));
    if (isRecord(value)) {
        return Object.entries(value).flatMap(([key, item]) => [
            ...(formatCharacter(key) === undefined ? [] : [problem(at.length === 0 ? "a key" : `a key of \`${formatPath(at)}\``, key)]),
            ...formatCharacterProblems(item, [...at, key], secretPaths),
        ]);
    }
    return [];
}

/** Collects problems while reading one value tree. */
class Reader {
    readonly problems: string[] = [];

    fail(message: string): undefined {
        this.problems.push(message);
        return undefined;
    }

    keys(path: string, value: Record<string, unknown>, accepted: readonly string[]): void {
        for (const key of Object.keys(value)) {
            if (!accepted.includes(key)) this.fail(unknownKeyProblem(path ? `${path}.${key}` : key, key, accepted));
        }
    }

    /**
     * A whole number in [min, max], as a number or as plain decimal text (`pulumi config set`
     * stores text); `0x10`, `1e2`, `+10`, ` 10 ` and `10.0` are refused, not read as other numbers.
     */
    integer(path: string, value: unknown, min: number, max: number, fallback: number): number;
    integer(path: string, value: unknown, min: number, max: number): number | undefined;
    integer(path: string, value: unknown, min: number, max: number, fallback?: number): number | undefined {
        if (value === undefined) return fallback;
        const n = integerValue(value);
        if (n !== undefined && n >= min && n <= max) return n;
        const hint = typeof value === "string" && value.trim() !== "" && Number.isInteger(Number(value)) && n === undefined ? " written in plain decimal digits" : "";
        return this.fail(`\`${path}\` must be an integer from ${min} to ${max}${hint}, got ${show(value)}`);
    }

    string(path: string, value: unknown, check?: (text: string) => boolean, what?: string): string | undefined {
        if (typeof value !== "string" || value === "") return this.fail(`\`${path}\` must be a non-empty string${what ? ` (${what})` : ""}, got ${show(value)}`);
        if (check && !check(value)) return this.fail(`\`${path}\` must be ${what}, got ${show(value)}${value.length > 63 ? ` (${value.length} characters)` : ""}`);
        return value;
    }

    /** A name this component derives (`<app>-service`...) unless it is set: a bad result names both. */
    derivedName(path: string, given: unknown, derived: string, derivation: string, check: (text: string) => boolean, what: string): string | undefined {
        if (given !== undefined) return this.string(path, given, check, what);
        if (check(derived)) return derived;
        return this.fail(`\`${path}\` defaults to ${derivation} = ${show(derived)} (${derived.length} characters), which is not ${what}; set \`${path}\` or use a shorter \`app\``);
    }

    /** Text that is written into objects or matched against requests: no control characters. */
    plainText(path: string, value: string, maxLength: number): void {
        const ch = controlCharacter(value);
        if (ch !== undefined) this.fail(`\`${path}\` must not contain control characters (newlines, tabs, escapes), got ${show(value)} with "${describeCharacter(ch)}"`);
        if (value.length > maxLength) this.fail(`\`${path}\` must be at most ${maxLength} characters, got ${value.length}`);
    }

    object<T>(path: string, value: unknown): T | undefined {
        if (value === undefined) return undefined;
        if (!isRecord(value)) return this.fail(`\`${path}\` must be an object, got ${show(value)}`);
        return value as T;
    }

    stringList(path: string, value: unknown, max: number, check: (text: string) => boolean, what: string): string[] | undefined {
        if (value === undefined) return undefined;
        if (!Array.isArray(value) || value.length === 0) return this.fail(`\`${path}\` must be a non-empty list of strings, got ${show(value)}`);
        if (value.length > max) return this.fail(`\`${path}\` must have at most ${max} entries, got ${value.length}`);
        value.forEach((item, i) => this.string(`${path}[${i}]`, item, check, what));
        return value as string[];
    }

    stringMap(path: string, value: unknown, max: number, keyCheck: (key: string) => boolean, keyWhat: string): Record<string, string> {
        const map = this.object<Record<string, unknown>>(path, value) ?? {};
        const out: Record<string, string> = {};
        const entries = Object.entries(map);
        if (entries.length > max) this.fail(`\`${path}\` must have at most ${max} entries, got ${entries.length}`);
        for (const [key, item] of entries) {
            if (!keyCheck(key)) this.fail(`\`${path}\` key ${show(key)} must be ${keyWhat}`);
            if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") out[key] = String(item);
            else this.fail(`\`${path}.${key}\` must be a string, number or boolean, got ${show(item)}`);
        }
        return out;
    }

    /** A Kubernetes-typed value, checked against its schema (components/kubernetesTypes.ts). */
    kubernetes<T>(path: string, value: unknown, schema: Parameters<typeof checkKubernetesValue>[0]): T | undefined {
        if (value === undefined) return undefined;
        const before = this.problems.length;
        const checked = checkKubernetesValue(schema, value, path, this.problems);
        return this.problems.length === before ? checked as T : undefined;
    }
}

const dnsLabelWhat = "a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";
const dns1035What = "a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters";
const imageWhat = "a container image reference such as registry.example.com/team/model-runner:v2 (lowercase path, optional :tag and @sha256:digest)";
const hostWhat = "a DNS name (lowercase, at most 253 characters), optionally with a wildcard prefix such as *.example.com, or *";
const gatewayWhat = "an Istio gateway: `mesh`, `<name>` or `<namespace>/<name>` (DNS names)";

function isHost(text: string): boolean {
    return text === "*" || isDnsSubdomain(text.startsWith("*.") ? text.slice(2) : text);
}

const gatewayApiGatewayWhat = "a Gateway: `<name>` (in the model's namespace) or `<namespace>/<name>`, each a DNS label (lowercase letters, digits and '-', at most 63 characters)";
const hostnameWhat = "a Gateway API hostname: a lowercase DNS name of at most 253 characters, with a wildcard only as a leading `*.` (such as *.example.com); no IP address, port or trailing dot";

/** A Gateway parent of an HTTPRoute: `name` or `namespace/name`, both DNS labels. */
export function isGatewayApiGatewayRef(text: string): boolean {
    const parts = text.split("/");
    return parts.length <= 2 && parts.every(isDnsLabel);
}

/** A hostname as the HTTPRoute CRD's pattern takes it: a DNS name, optionally `*.` first, not an IPv4 address. */
export function isGatewayApiHostname(text: string): boolean {
    const name = text.startsWith("*.") ? text.slice(2) : text;
    return text.length <= 253 && isDnsSubdomain(name) && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

function isGatewayRef(text: string): boolean {
    const parts = text.split("/");
    return parts.length === 1 ? isDnsSubdomain(text) : parts.length === 2 && isDnsLabel(parts[0]) && isDnsSubdomain(parts[1]);
}

function readVersion(r: Reader, path: string, value: unknown, app: string): ResolvedModelVersion | undefined {
    if (value === undefined) return undefined;
    if (!isRecord(value)) return r.fail(`\`${path}\` must be an object with \`version\` and \`image\`, got ${show(value)}`);
    r.keys(path, value, versionKeys);
    const version = r.string(`${path}.version`, value.version, isDnsLabel, dnsLabelWhat);
    if (version !== undefined && isDnsLabel(app) && !isDnsLabel(`${app}-${version}`)) {
        r.fail(`\`${path}.version\` makes the Deployment name \`<app>-<version>\` = ${show(`${app}-${version}`)} ${app.length + version.length + 1} characters long; it must be at most 63 (a DNS label): use a shorter \`app\` or version`);
    }
    const image = inputReaders.image(r, path, value.image);
    let replicas: number | undefined;
    let autoReplicas: AutoReplicas | undefined;
    if (value.replicas === "auto") {
        if (path !== "canary") r.fail(`\`${path}.replicas\` must be an integer from 0 to ${limits.replicas}, got "auto": only the canary's replicas can follow its weight; the stable version's count is what \`auto\` scales from`);
        else autoReplicas = readAutoReplicas(r, `${path}.autoReplicas`, value.autoReplicas);
        replicas = 1; // sized once the weight is known
    } else {
        const n = value.replicas === undefined ? 1 : integerValue(value.replicas);
        if (path === "canary" && (n === undefined || n < 0 || n > limits.replicas)) r.fail(`\`canary.replicas\` must be an integer from 0 to ${limits.replicas}, or \`auto\` (follow the canary's traffic), got ${show(value.replicas)}`);
        else replicas = r.integer(`${path}.replicas`, value.replicas, 0, limits.replicas, 1);
        if (value.autoReplicas !== undefined) {
            r.fail(path === "canary" ? `\`canary.autoReplicas\` needs \`canary.replicas: auto\`, got replicas ${show(value.replicas ?? 1)}` : `\`${path}.autoReplicas\` is for the canary only (with \`canary.replicas: auto\`)`);
        }
    }
    const env = r.stringMap(`${path}.env`, value.env, limits.envVars, isEnvVarName, "an environment variable name (letters, digits, '_', '-', '.', not starting with a digit)");
    const podAnnotations = value.podAnnotations === undefined ? undefined : inputReaders.podAnnotations(r, path, value.podAnnotations);
    const podLabels = value.podLabels === undefined ? undefined : inputReaders.podLabels(r, path, value.podLabels);
    const resources = inputReaders.resources(r, path, value.resources);
    const readinessProbe = r.kubernetes<ModelVersionArgs["readinessProbe"]>(`${path}.readinessProbe`, value.readinessProbe, readinessProbeSchema);
    const livenessProbe = r.kubernetes<ModelVersionArgs["livenessProbe"]>(`${path}.livenessProbe`, value.livenessProbe, livenessProbeSchema);
    if (version === undefined || image === undefined) return undefined;
    return { version, image, replicas: replicas ?? 1, env, podAnnotations, podLabels, resources, readinessProbe, livenessProbe, ...(autoReplicas ? { autoReplicas } : {}) };
}

function readAutoReplicas(r: Reader, path: string, value: unknown): AutoReplicas | undefined {
    const given = value === undefined ? {} : r.object<Record<string, unknown>>(path, value);
    if (!given) return undefined;
    r.keys(path, given, autoReplicasKeys);
    const min = r.integer(`${path}.min`, given.min, 1, limits.replicas, 1);
    const max = r.integer(`${path}.max`, given.max, 1, limits.replicas);
    if (min !== undefined && max !== undefined && max < min) r.fail(`\`${path}.max\` must be at least \`${path}.min\` (${min}), got ${max}`);
    let shrinkStable = false;
    if (given.shrinkStable !== undefined) {
        if (given.shrinkStable === true || given.shrinkStable === "true") shrinkStable = true;
        else if (given.shrinkStable !== false && given.shrinkStable !== "false") r.fail(`\`${path}.shrinkStable\` must be true or false, got ${show(given.shrinkStable)}`);
    }
    const hold = r.integer(`${path}.hold`, given.hold, 0, limits.replicas);
    const holdStable = r.integer(`${path}.holdStable`, given.holdStable, 0, limits.replicas);
    if (min === undefined || (given.max !== undefined && max === undefined) || (given.hold !== undefined && hold === undefined) || (given.holdStable !== undefined && holdStable === undefined)) return undefined;
    return { min, ...(max !== undefined ? { max } : {}), shrinkStable, ...(hold !== undefined ? { hold } : {}), ...(holdStable !== undefined ? { holdStable } : {}) };
}

/** The pod labels the component sets itself: the Service and the DestinationRule subsets select on them. */
const componentLabels = ["app", "version"];

/**
 * The model-version fields that may be given as Outputs, each read by the same rules whether its
 * value is known up front or only once the Output resolves (`checkKnownInput`).
 */
const inputReaders = {
    image: (r: Reader, path: string, value: unknown) => r.string(`${path}.image`, value, isImageReference, imageWhat),
    resources: (r: Reader, path: string, value: unknown) =>
        r.kubernetes<k8s.types.input.core.v1.ResourceRequirements>(`${path}.resources`, value, resourceRequirementsSchema),
    podAnnotations: (r: Reader, path: string, value: unknown) => r.stringMap(`${path}.podAnnotations`, value, limits.podAnnotations, isQualifiedName,
        "an annotation key: an optional DNS-name prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"),
    podLabels: (r: Reader, path: string, value: unknown) => {
        const labels = r.stringMap(`${path}.podLabels`, value, limits.podLabels, isQualifiedName,
            "a label key: an optional DNS-name prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit");
        for (const [key, text] of Object.entries(labels)) {
            if (componentLabels.includes(key)) r.fail(`\`${path}.podLabels\` must not set ${show(key)}: the component sets the pods' \`app\` and \`version\` labels, which the Service and the DestinationRule subsets select on`);
            else if (!isLabelValue(text)) r.fail(`\`${path}.podLabels.${key}\` must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or empty), got ${show(text)}`);
        }
        return labels;
    },
    /** One env value given as an Output: always shown as [secret], as the component treats it as one. */
    envValue: (r: Reader, path: string, value: unknown) => typeof value === "string" || typeof value === "number" || typeof value === "boolean"
        ? String(value) : r.fail(`\`${path}\` must be a string, number or boolean, got ${secretMark}`),
};

/** A model-version field that may be an Output; `env.<NAME>` is one env value. */
export type DeferrableField = "image" | "resources" | "podAnnotations" | "podLabels" | `env.${string}`;

/**
 * Checks the value an Output argument resolved to, with the rules and messages a plain value gets
 * up front (`path` is `stable` or `canary`). Throws a ValidationError naming the key.
 */
export function checkKnownInput(path: string, field: DeferrableField, value: unknown): void {
    const r = new Reader();
    if (field.startsWith("env.")) inputReaders.envValue(r, `${path}.${field}`, value);
    else inputReaders[field as Exclude<DeferrableField, `env.${string}`>](r, path, value);
    if (r.problems.length > 0) throw new ValidationError(r.problems);
}

/** Why `pattern` is not RE2 syntax (Istio and Envoy match with RE2), or undefined when it is. */
function re2Problem(pattern: string): string | undefined {
    try {
        RE2JS.compile(pattern);
        return undefined;
    } catch (e) {
        return (e as Error).message;
    }
}

function readHeaderRoute(r: Reader, path: string, value: unknown, versions: string[]): HeaderRoute | undefined {
    if (!isRecord(value)) return r.fail(`\`${path}\` must be an object like { header: x-canary-version, exact: v2, version: v2 }, got ${show(value)}`);
    r.keys(path, value, headerRouteKeys);
    const header = r.string(`${path}.header`, value.header, (h) => lowercaseHeaderName.test(h) && h.length <= limits.headerNameLength,
        `a lowercase HTTP header name (Istio matches lowercase names) of at most ${limits.headerNameLength} characters, e.g. "x-canary-version"`);
    const given = matchKinds.filter((kind) => value[kind] !== undefined);
    let kind: (typeof matchKinds)[number] | undefined;
    if (given.length !== 1) {
        r.fail(`\`${path}\` must set exactly one of \`exact\`, \`prefix\` or \`regex\`, got ${given.length === 0 ? "none" : given.map((k) => `\`${k}\``).join(" and ")}`);
    } else {
        kind = given[0];
        const pattern = r.string(`${path}.${kind}`, value[kind]);
        if (pattern !== undefined) {
            r.plainText(`${path}.${kind}`, pattern, limits.headerValueLength);
            const problem = kind === "regex" ? re2Problem(pattern) : undefined;
            if (problem !== undefined) r.fail(`\`${path}.regex\` must be an RE2 regular expression (the syntax Istio uses: no lookaround, no backreferences, no \\Z), got ${show(pattern)} (${problem})`);
        }
    }
    const version = r.string(`${path}.version`, value.version);
    if (version !== undefined && versions.length > 0 && !versions.includes(version)) {
        r.fail(`\`${path}.version\` must be the stable or the canary version (${versions.map((v) => show(v)).join(" or ")}), got ${show(version)}`);
    }
    if (header === undefined || kind === undefined || version === undefined) return undefined;
    return { header, [kind]: value[kind] as string, version };
}

/**
 * Checks ModelCanary arguments (from code or from stack config) and applies defaults.
 * Throws a ValidationError listing every problem; returns only fully valid arguments.
 */
export function validateModelCanaryArgs(input: unknown): ResolvedModelCanaryArgs {
    const r = new Reader();
    if (!isRecord(input)) throw new ValidationError([`ModelCanary arguments must be an object, got ${show(input)}`]);
    r.keys("", input, argKeys);
    r.problems.push(...formatCharacterProblems(input));

    const app = r.string("app", input.app ?? "model", isDnsLabel, dnsLabelWhat) ?? "model";
    const namespace = r.string("namespace", input.namespace ?? "default", isDnsLabel, dnsLabelWhat) ?? "default";
    const serviceName = r.derivedName("serviceName", input.serviceName, `${app}-service`, "`<app>-service`", isDns1035Label, dns1035What) ?? `${app}-service`;
    const servicePort = r.integer("servicePort", input.servicePort, 1, 65535, 80);
    const containerPort = r.integer("containerPort", input.containerPort, 1, 65535, 8080);
    const containerName = r.string("containerName", input.containerName ?? "model-server", isDnsLabel, dnsLabelWhat) ?? "model-server";
    const virtualServiceName = r.derivedName("virtualServiceName", input.virtualServiceName, `${app}-virtual-service`, "`<app>-virtual-service`", isDnsLabel, dnsLabelWhat) ?? "";
    const destinationRuleName = r.derivedName("destinationRuleName", input.destinationRuleName, `${app}-destination`, "`<app>-destination`", isDnsLabel, dnsLabelWhat) ?? "";

    const istioApiVersion = (input.istioApiVersion ?? istioApiVersions[0]) as IstioApiVersion;
    if (!istioApiVersions.includes(istioApiVersion)) {
        r.fail(`\`istioApiVersion\` must be one of ${istioApiVersions.map((v) => `\`${v}\``).join(", ")}, got ${show(input.istioApiVersion)}`);
    }

    if (input.stable === undefined) r.fail("`stable` is required: the version serving production, e.g. { version: v1, image: registry/model-runner:v1 }");
    const stable = readVersion(r, "stable", input.stable, app);
    const canary = readVersion(r, "canary", input.canary, app);
    if (stable && canary && stable.version === canary.version) {
        r.fail(`\`canary.version\` must differ from \`stable.version\`, both are ${show(stable.version)}`);
    }

    const canaryWeight = r.integer("canaryWeight", input.canaryWeight, 0, 100, 0);
    if (input.canary === undefined && canaryWeight !== undefined && canaryWeight > 0) {
        r.fail(`\`canaryWeight\` is ${canaryWeight} but no \`canary\` is configured; set \`canary\` or use canaryWeight 0`);
    }

    let mirrorPercent = 0;
    if (input.mirrorPercent !== undefined) {
        const percent = percentValue(input.mirrorPercent);
        if (percent === undefined) {
            r.fail(`\`mirrorPercent\` must be a number from 0 to 100 in plain decimal with at most 4 decimal places (e.g. 100, 12.5, 0.25), got ${show(input.mirrorPercent)}`);
        } else if (percent > 0 && input.canary === undefined) {
            r.fail(`\`mirrorPercent\` is ${percent} but no \`canary\` is configured: there is nothing to mirror to; set \`canary\` or use mirrorPercent 0`);
        } else if (percent > 0 && canaryWeight !== undefined && canaryWeight > 0) {
            r.fail(`\`mirrorPercent\` is ${percent} while \`canaryWeight\` is ${canaryWeight}: mirroring (the shadow stage) is only for a canary that serves no user; use canaryWeight 0 to shadow, or mirrorPercent 0 to serve ${canaryWeight}%`);
        } else {
            mirrorPercent = percent;
        }
    }

    // `replicas: auto`: both counts follow the traffic the canary gets.
    if (stable && canary?.autoReplicas && canaryWeight !== undefined) {
        const counts = autoReplicaCounts(stable.replicas, canaryWeight, mirrorPercent, canary.autoReplicas);
        canary.replicas = counts.canary;
        stable.replicas = counts.stable;
    }

    const versions = [stable?.version, canary?.version].filter((v): v is string => v !== undefined);
    const headerRoutes: HeaderRoute[] = [];
    if (input.headerRoutes !== undefined) {
        if (!Array.isArray(input.headerRoutes)) {
            r.fail(`\`headerRoutes\` must be a list of { header, exact | prefix | regex, version }, got ${show(input.headerRoutes)}`);
        } else if (input.headerRoutes.length > limits.headerRoutes) {
            r.fail(`\`headerRoutes\` must have at most ${limits.headerRoutes} routes, got ${input.headerRoutes.length}`);
        } else {
            input.headerRoutes.forEach((route, i) => {
                const parsed = readHeaderRoute(r, `headerRoutes[${i}]`, route, versions);
                if (parsed) headerRoutes.push(parsed);
            });
        }
    }

    const hosts = r.stringList("hosts", input.hosts, limits.hosts, isHost, hostWhat) ?? [serviceName];
    const sticky = readSticky(r, input.sticky);
    const router = readRouter(r, input, serviceName, versions, headerRoutes, sticky);
    const protocol = readProtocol(r, input, headerRoutes);
    if (sticky && protocol === "grpc") {
        r.fail(`\`sticky\` pins clients with an HTTP cookie, got ${show(input.sticky)} with \`protocol: grpc\`: gRPC clients keep no cookies (proxyless gRPC sends no \`cookie\` metadata and drops \`set-cookie\`), so every call would be split by weight anyway. Remove \`sticky\`, or use \`headerRoutes\` on a metadata key the clients send`);
    }
    const gateways = router === "gateway-api"
        ? readGatewayParents(r, input.gateways, namespace)
        : r.stringList("gateways", input.gateways, limits.gateways, isGatewayRef, gatewayWhat);
    const hostnames = router === "gateway-api" ? readHostnames(r, input.hostnames, gateways) : undefined;
    const trafficPolicy = readTrafficPolicy(r, input.trafficPolicy);
    const podSecurityContext = r.kubernetes<ResolvedModelCanaryArgs["podSecurityContext"]>("podSecurityContext", input.podSecurityContext, podSecurityContextSchema);
    const containerSecurityContext = r.kubernetes<ResolvedModelCanaryArgs["containerSecurityContext"]>("containerSecurityContext", input.containerSecurityContext, securityContextSchema);

    if (r.problems.length > 0 || !stable) throw new ValidationError(r.problems);
    return {
        app, namespace, serviceName, servicePort, containerPort, containerName, stable, canary, canaryWeight, mirrorPercent,
        headerRoutes, hosts, gateways, ...(hostnames ? { hostnames } : {}), virtualServiceName, destinationRuleName, istioApiVersion, router, protocol,
        ...(sticky ? { sticky } : {}),
        ...(trafficPolicy ? { trafficPolicy } : {}),
        podSecurityContext, containerSecurityContext,
    };
}

/** An Istio int32 limit: a limit of 0 is no limit to Istio (an unset field), so it is refused. */
const int32Limit = 2147483647;
/** Istio's UInt32Value counts. */
const uint32Max = 4294967295;
const durationWhat = `an Istio duration from 1ms to 2562047h: numbers with units h, m, s or ms such as 10s, 500ms or 1m30s, in whole milliseconds`;

/** The object at `path`, refused when it is not one or sets none of `keys` (an empty one would configure nothing). */
function policyObject(r: Reader, path: string, value: unknown, keys: readonly string[], why = ""): Record<string, unknown> | undefined {
    const names = keys.map((k) => `\`${k}\``).join(", ");
    if (!isRecord(value)) return r.fail(`\`${path}\` must be an object with any of ${names}, got ${show(value)}`);
    r.keys(path, value, keys);
    // A misspelt key is its own problem: the object is not called empty because of it.
    if (Object.keys(value).some((k) => !keys.includes(k))) return undefined;
    if (!keys.some((k) => value[k] !== undefined)) return r.fail(`\`${path}\` must set at least one of ${names}${why}, got ${show(value)}`);
    return value;
}

/** A connection-pool limit: 1 or more (Istio reads 0 as unset, so no limit at all). */
function poolLimit(r: Reader, path: string, value: unknown): number | undefined {
    if (value === undefined) return undefined;
    if (integerValue(value) === 0) {
        return r.fail(`\`${path}\` must be an integer from 1 to ${int32Limit}, got ${show(value)}: Istio reads 0 as unset, which is no limit; remove the key for Istio's default`);
    }
    return r.integer(path, value, 1, int32Limit);
}

function policyDuration(r: Reader, path: string, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    const ms = typeof value === "string" ? istioDurationMs(value) : undefined;
    if (ms === undefined || ms < 1 || ms > maxIstioDurationMs) return r.fail(`\`${path}\` must be ${durationWhat}, got ${show(value)}`);
    return value as string;
}

/** An object of only the fields that are set, in the order given. */
function defined<T extends object>(fields: T): T {
    return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

/**
 * `trafficPolicy`: Istio's DestinationRule `connectionPool` and `outlierDetection`, the fields a
 * canary needs, by Istio's own checks (istiod's and the CRD's): limits 1 or more, percentages
 * 0 to 100, durations of at least 1ms in whole milliseconds. Undefined when not configured.
 */
function readTrafficPolicy(r: Reader, value: unknown): TrafficPolicyArgs | undefined {
    if (value === undefined) return undefined;
    const before = r.problems.length;
    const policy = policyObject(r, "trafficPolicy", value, trafficPolicyKeys);
    if (!policy) return undefined;
    let connectionPool: ConnectionPoolArgs | undefined;
    if (policy.connectionPool !== undefined) {
        const pool = policyObject(r, "trafficPolicy.connectionPool", policy.connectionPool, connectionPoolKeys, " (Istio refuses an empty connection pool)");
        if (pool) {
            let tcp: TcpConnectionPoolArgs | undefined;
            let http: HttpConnectionPoolArgs | undefined;
            if (pool.tcp !== undefined) {
                const at = "trafficPolicy.connectionPool.tcp";
                const given = policyObject(r, at, pool.tcp, tcpConnectionPoolKeys);
                if (given) tcp = defined({ maxConnections: poolLimit(r, `${at}.maxConnections`, given.maxConnections), connectTimeout: policyDuration(r, `${at}.connectTimeout`, given.connectTimeout) });
            }
            if (pool.http !== undefined) {
                const at = "trafficPolicy.connectionPool.http";
                const given = policyObject(r, at, pool.http, httpConnectionPoolKeys);
                if (given) {
                    http = defined({
                        http1MaxPendingRequests: poolLimit(r, `${at}.http1MaxPendingRequests`, given.http1MaxPendingRequests),
                        http2MaxRequests: poolLimit(r, `${at}.http2MaxRequests`, given.http2MaxRequests),
                        maxRequestsPerConnection: poolLimit(r, `${at}.maxRequestsPerConnection`, given.maxRequestsPerConnection),
                        maxRetries: poolLimit(r, `${at}.maxRetries`, given.maxRetries),
                        idleTimeout: policyDuration(r, `${at}.idleTimeout`, given.idleTimeout),
                    });
                }
            }
            connectionPool = defined({ tcp, http });
        }
    }
    let outlierDetection: OutlierDetectionArgs | undefined;
    if (policy.outlierDetection !== undefined) {
        const at = "trafficPolicy.outlierDetection";
        const given = policyObject(r, at, policy.outlierDetection, outlierDetectionKeys);
        if (given) {
            outlierDetection = defined({
                consecutive5xxErrors: r.integer(`${at}.consecutive5xxErrors`, given.consecutive5xxErrors, 0, uint32Max),
                consecutiveGatewayErrors: r.integer(`${at}.consecutiveGatewayErrors`, given.consecutiveGatewayErrors, 0, uint32Max),
                interval: policyDuration(r, `${at}.interval`, given.interval),
                baseEjectionTime: policyDuration(r, `${at}.baseEjectionTime`, given.baseEjectionTime),
                maxEjectionPercent: r.integer(`${at}.maxEjectionPercent`, given.maxEjectionPercent, 0, 100),
                minHealthPercent: r.integer(`${at}.minHealthPercent`, given.minHealthPercent, 0, 100),
            });
        }
    }
    if (r.problems.length > before) return undefined;
    return defined({ connectionPool, outlierDetection });
}

const cookieWhat = "an RFC 6265 cookie name: letters, digits and ! # $ % & ' * + - . ^ _ ` | ~, at most 256 characters";

/** `sticky: { cookie }`: the cookie sticky assignment sets and matches. */
function readSticky(r: Reader, value: unknown): StickyArgs | undefined {
    if (value === undefined) return undefined;
    if (!isRecord(value)) return r.fail(`\`sticky\` must be an object { cookie: <name> }, got ${show(value)}`);
    r.keys("sticky", value, ["cookie"]);
    if (value.cookie === undefined) return r.fail("`sticky.cookie` is required: the name of the cookie that keeps a client on its version, such as `model-version`");
    const cookie = r.string("sticky.cookie", value.cookie, isCookieName, cookieWhat);
    return cookie === undefined ? undefined : { cookie };
}

/** The keys that configure only the Istio router's objects (its VirtualService and DestinationRule). */
const istioRouterKeys = ["hosts", "virtualServiceName", "destinationRuleName", "istioApiVersion"] as const;

/** What to use with `router: gateway-api` instead of an Istio router key, where there is something. */
const gatewayApiInstead: Partial<Record<(typeof istioRouterKeys)[number], string>> = {
    hosts: "for north-south traffic use `gateways` and `hostnames`; mesh clients call the model's Service by its name",
};

/**
 * `gateways` with `router: gateway-api`: the HTTPRoute's Gateway parents, each `name` or
 * `namespace/name`; the same Gateway twice is refused (the CRD would need a `sectionName`).
 */
function readGatewayParents(r: Reader, value: unknown, namespace: string): string[] | undefined {
    const gateways = r.stringList("gateways", value, limits.gateways, isGatewayApiGatewayRef, gatewayApiGatewayWhat);
    if (!gateways || !gateways.every((g) => typeof g === "string" && isGatewayApiGatewayRef(g))) return undefined;
    if (gateways.length > limits.gatewayApiGateways) {
        return r.fail(`\`gateways\` must have at most ${limits.gatewayApiGateways} entries with \`router: gateway-api\` (an HTTPRoute has at most 32 parents, one of them the model's Service), got ${gateways.length}`);
    }
    const seen = new Map<string, string>();
    gateways.forEach((g, i) => {
        const qualified = g.includes("/") ? g : `${namespace}/${g}`;
        const first = seen.get(qualified);
        if (first !== undefined) r.fail(`\`gateways[${i}]\` ${show(g)} names the same Gateway as ${show(first)} (${show(qualified)}); list each Gateway once`);
        else seen.set(qualified, g);
    });
    return gateways;
}

/** `hostnames` with `router: gateway-api`: only beside `gateways` (a mesh route ignores hostnames). */
function readHostnames(r: Reader, value: unknown, gateways: string[] | undefined): string[] | undefined {
    const hostnames = r.stringList("hostnames", value, limits.hostnames, isGatewayApiHostname, hostnameWhat);
    if (hostnames && !gateways) {
        r.fail(`\`hostnames\` ${show(hostnames)} applies to the Gateways in \`gateways\`, and there are none: a route attached to the model's Service answers mesh clients whatever their Host header. Add \`gateways\`, or remove \`hostnames\``);
    }
    if (hostnames && new Set(hostnames).size !== hostnames.length) return r.fail(`\`hostnames\` must list each hostname once, got ${show(hostnames)}`);
    return hostnames;
}

/**
 * `router` and what the Gateway API router cannot do yet, each refused rather than ignored: the
 * Istio router's keys, more header routes than an HTTPRoute holds rules for, and a version
 * Service name (`<serviceName>-<version>`) that is not a DNS label.
 */
function readRouter(r: Reader, input: Record<string, unknown>, serviceName: string, versions: string[], headerRoutes: HeaderRoute[], sticky: StickyArgs | undefined): RouterKind {
    const istioHostnames = () => r.fail(`\`hostnames\` is for \`router: gateway-api\` (the HTTPRoute's hostnames on its Gateways), got ${show(input.hostnames)} with \`router: istio\`: `
        + "use `hosts` (the VirtualService's hosts) with `gateways`, or set `router: gateway-api`");
    if (input.router === undefined) {
        if (input.hostnames !== undefined) istioHostnames();
        return "istio";
    }
    if (!routerKinds.includes(input.router as RouterKind)) {
        r.fail(`\`router\` must be one of ${routerKinds.map((k) => `\`${k}\``).join(", ")}, got ${show(input.router)}`);
        return "istio";
    }
    const router = input.router as RouterKind;
    if (router !== "gateway-api") {
        if (input.hostnames !== undefined) istioHostnames();
        return router;
    }
    for (const key of istioRouterKeys.filter((k) => input[k] !== undefined)) {
        r.fail(`\`${key}\` is for \`router: istio\` (it configures the VirtualService and DestinationRule), got ${show(input[key])} with \`router: gateway-api\`, `
            + `which routes with an HTTPRoute attached to the model's Service${gatewayApiInstead[key] ? ` (${gatewayApiInstead[key]})` : ""}: remove it, or use \`router: istio\``);
    }
    // Sticky assignment takes a rule per version while traffic is split: two.
    const maxHeaderRoutes = maxGatewayApiHeaderRoutes - (sticky ? 2 : 0);
    if (headerRoutes.length > maxHeaderRoutes) {
        r.fail(`\`headerRoutes\` must have at most ${maxHeaderRoutes} routes with \`router: gateway-api\` (an HTTPRoute holds at most 16 rules, one of them the default${sticky ? " and two the `sticky` cookie's" : ""}), got ${headerRoutes.length}`);
    }
    for (const version of versions) {
        const name = versionServiceName(serviceName, version);
        if (!isDns1035Label(name)) {
            r.fail(`\`router: gateway-api\` names each version's Service \`<serviceName>-<version>\` = ${show(name)} (${name.length} characters), which is not ${dns1035What}; use a shorter \`serviceName\` or version`);
        }
    }
    return router;
}

/**
 * A gRPC metadata key as gRPC clients send it: lowercase letters, digits, `_`, `-` and `.` (the
 * gRPC wire spec; grpc-go refuses to send any other key).
 */
const grpcMetadataKey = /^[a-z0-9_.-]+$/;

/**
 * `protocol`, and the header routes a gRPC request can never match, each refused rather than left
 * to route nothing: a header name that is not a gRPC metadata key, a `grpc-` name (reserved for
 * gRPC itself), and a `-bin` name (binary metadata, which proxyless gRPC clients drop before
 * matching, and which travels base64-encoded past a proxy).
 */
function readProtocol(r: Reader, input: Record<string, unknown>, headerRoutes: HeaderRoute[]): ModelProtocol {
    if (input.protocol === undefined) return "http";
    if (!modelProtocols.includes(input.protocol as ModelProtocol)) {
        r.fail(`\`protocol\` must be one of ${modelProtocols.map((p) => `\`${p}\``).join(", ")}, got ${show(input.protocol)}`);
        return "http";
    }
    const protocol = input.protocol as ModelProtocol;
    if (protocol !== "grpc") return protocol;
    headerRoutes.forEach((route, i) => {
        const key = `headerRoutes[${i}].header`;
        const why = !grpcMetadataKey.test(route.header)
            ? "is not a gRPC metadata key (gRPC sends only lowercase letters, digits, '_', '-' and '.')"
            : route.header.startsWith("grpc-")
                ? "is reserved for gRPC itself (names starting `grpc-`)"
                : route.header.endsWith("-bin")
                    ? "is binary metadata (`-bin`): proxyless gRPC clients drop it before matching routes, and past a proxy its value is base64"
                    : undefined;
        if (why !== undefined) {
            r.fail(`\`${key}\` ${show(route.header)} ${why}, so no gRPC request would match it with \`protocol: grpc\`; use a text metadata key such as "x-canary-version", or \`protocol: http\``);
        }
    });
    return protocol;
}

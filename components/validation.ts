// Pure checks of ModelCanary arguments: no Pulumi, no I/O. Every problem is reported at once,
// each naming the key, the value received and what would be accepted, before anything is
// registered with the engine.
import * as k8s from "@pulumi/kubernetes";
import { IstioApiVersion, istioApiVersions } from "./istio";
import { maskSecrets, secretMark } from "./secrets";
import { HeaderRoute, ModelCanaryArgs, ModelVersionArgs } from "./types";

/** The arguments with every default applied. */
export interface ResolvedModelVersion extends ModelVersionArgs {
    replicas: number;
    env: Record<string, string>;
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
    headerRoutes: HeaderRoute[];
    hosts: string[];
    gateways?: string[];
    virtualServiceName: string;
    destinationRuleName: string;
    istioApiVersion: IstioApiVersion;
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
    "canaryWeight", "headerRoutes", "hosts", "gateways", "virtualServiceName", "destinationRuleName",
    "istioApiVersion", "podSecurityContext", "containerSecurityContext",
];
const versionKeys: readonly (keyof ModelVersionArgs)[] = [
    "version", "image", "replicas", "env", "resources", "readinessProbe", "livenessProbe", "podAnnotations",
];
const headerRouteKeys: readonly (keyof HeaderRoute)[] = ["header", "exact", "prefix", "regex", "version"];
const matchKinds = ["exact", "prefix", "regex"] as const;

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
// An HTTP token (RFC 9110) in lowercase, which is how Istio expects header names in matches.
const lowercaseHeaderName = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
const envName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * Renders a received value for an error message: strings quoted, everything else as JSON. A
 * secret (see `withSecrets`) is shown as `[secret]`, never its plaintext.
 */
export function show(value: unknown): string {
    if (value === undefined) return "nothing";
    if (typeof value === "number") return String(value);
    const masked = maskSecrets(value);
    if (masked === secretMark) return secretMark;
    const text = JSON.stringify(masked);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

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
    return `unknown key \`${path}\`${hint}; accepted keys are ${accepted.map((k) => `\`${k}\``).join(", ")}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
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

    /** A whole number in [min, max]; numeric strings are accepted since `pulumi config set` stores strings. */
    integer(path: string, value: unknown, min: number, max: number, fallback: number): number;
    integer(path: string, value: unknown, min: number, max: number): number | undefined;
    integer(path: string, value: unknown, min: number, max: number, fallback?: number): number | undefined {
        if (value === undefined) return fallback;
        const accepted = max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
        const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
        if (typeof n !== "number" || Number.isNaN(n)) return this.fail(`\`${path}\` must be ${accepted}, got ${show(value)}`);
        if (!Number.isInteger(n) || n < min || n > max) return this.fail(`\`${path}\` must be ${accepted}, got ${show(value)}`);
        return n;
    }

    string(path: string, value: unknown, pattern?: RegExp, what?: string): string | undefined {
        if (typeof value !== "string" || value === "") return this.fail(`\`${path}\` must be a non-empty string${what ? ` (${what})` : ""}, got ${show(value)}`);
        if (pattern && !pattern.test(value)) return this.fail(`\`${path}\` must be ${what}, got ${show(value)}`);
        return value;
    }

    object<T>(path: string, value: unknown): T | undefined {
        if (value === undefined) return undefined;
        if (!isRecord(value)) return this.fail(`\`${path}\` must be an object, got ${show(value)}`);
        return value as T;
    }

    stringList(path: string, value: unknown): string[] | undefined {
        if (value === undefined) return undefined;
        if (!Array.isArray(value) || value.length === 0) return this.fail(`\`${path}\` must be a non-empty list of strings, got ${show(value)}`);
        value.forEach((item, i) => this.string(`${path}[${i}]`, item));
        return value as string[];
    }

    stringMap(path: string, value: unknown, keyPattern?: RegExp, keyWhat?: string): Record<string, string> {
        const map = this.object<Record<string, unknown>>(path, value) ?? {};
        const out: Record<string, string> = {};
        for (const [key, item] of Object.entries(map)) {
            if (keyPattern && !keyPattern.test(key)) this.fail(`\`${path}\` key ${show(key)} must be ${keyWhat}`);
            if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") out[key] = String(item);
            else this.fail(`\`${path}.${key}\` must be a string, number or boolean, got ${show(item)}`);
        }
        return out;
    }
}

const dnsLabelWhat = "a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

function readVersion(r: Reader, path: string, value: unknown): ResolvedModelVersion | undefined {
    if (value === undefined) return undefined;
    if (!isRecord(value)) return r.fail(`\`${path}\` must be an object with \`version\` and \`image\`, got ${show(value)}`);
    r.keys(path, value, versionKeys);
    const version = r.string(`${path}.version`, value.version, dnsLabel, dnsLabelWhat);
    if (version !== undefined && version.length > 63) r.fail(`\`${path}.version\` must be at most 63 characters, got ${version.length}`);
    const image = r.string(`${path}.image`, value.image, /^\S+$/, "a container image reference without spaces, e.g. registry/model-runner:v2");
    const replicas = r.integer(`${path}.replicas`, value.replicas, 0, Infinity, 1);
    const env = r.stringMap(`${path}.env`, value.env, envName, "an environment variable name (letters, digits, '_', '-', '.')");
    const podAnnotations = value.podAnnotations === undefined ? undefined : r.stringMap(`${path}.podAnnotations`, value.podAnnotations);
    const resources = r.object<ModelVersionArgs["resources"]>(`${path}.resources`, value.resources);
    const readinessProbe = r.object<ModelVersionArgs["readinessProbe"]>(`${path}.readinessProbe`, value.readinessProbe);
    const livenessProbe = r.object<ModelVersionArgs["livenessProbe"]>(`${path}.livenessProbe`, value.livenessProbe);
    if (version === undefined || image === undefined) return undefined;
    return { version, image, replicas, env, podAnnotations, resources, readinessProbe, livenessProbe };
}

// RE2, which Istio uses, has no lookaround and no backreferences; JavaScript would accept them.
const re2Unsupported: [RegExp, string][] = [
    [/\(\?<?[=!]/, "lookaround"],
    [/\\[1-9]/, "backreferences"],
    [/\\k</, "named backreferences"],
];

function readHeaderRoute(r: Reader, path: string, value: unknown, versions: string[]): HeaderRoute | undefined {
    if (!isRecord(value)) return r.fail(`\`${path}\` must be an object like { header: x-canary-version, exact: v2, version: v2 }, got ${show(value)}`);
    r.keys(path, value, headerRouteKeys);
    const header = r.string(`${path}.header`, value.header, lowercaseHeaderName, "a lowercase HTTP header name (Istio matches lowercase names), e.g. \"x-canary-version\"");
    const given = matchKinds.filter((kind) => value[kind] !== undefined);
    let kind: (typeof matchKinds)[number] | undefined;
    if (given.length !== 1) {
        r.fail(`\`${path}\` must set exactly one of \`exact\`, \`prefix\` or \`regex\`, got ${given.length === 0 ? "none" : given.map((k) => `\`${k}\``).join(" and ")}`);
    } else {
        kind = given[0];
        const pattern = r.string(`${path}.${kind}`, value[kind]);
        if (kind === "regex" && pattern !== undefined) {
            try {
                new RegExp(pattern);
                for (const [construct, name] of re2Unsupported) {
                    if (construct.test(pattern)) r.fail(`\`${path}.regex\` must be RE2 syntax, which has no ${name}, got ${show(pattern)}`);
                }
            } catch (e) {
                r.fail(`\`${path}.regex\` must be a valid RE2 regular expression, got ${show(pattern)} (${(e as Error).message})`);
            }
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

    const app = r.string("app", input.app ?? "model", dnsLabel, dnsLabelWhat) ?? "model";
    const namespace = r.string("namespace", input.namespace ?? "default", dnsLabel, dnsLabelWhat) ?? "default";
    const serviceName = r.string("serviceName", input.serviceName ?? `${app}-service`, dns1035Label,
        "a DNS-1035 label: lowercase letters, digits and '-', starting with a letter") ?? `${app}-service`;
    const servicePort = r.integer("servicePort", input.servicePort, 1, 65535, 80);
    const containerPort = r.integer("containerPort", input.containerPort, 1, 65535, 8080);
    const containerName = r.string("containerName", input.containerName ?? "model-server", dnsLabel, dnsLabelWhat) ?? "model-server";
    const virtualServiceName = r.string("virtualServiceName", input.virtualServiceName ?? `${app}-virtual-service`, dnsLabel, dnsLabelWhat) ?? "";
    const destinationRuleName = r.string("destinationRuleName", input.destinationRuleName ?? `${app}-destination`, dnsLabel, dnsLabelWhat) ?? "";

    const istioApiVersion = (input.istioApiVersion ?? istioApiVersions[0]) as IstioApiVersion;
    if (!istioApiVersions.includes(istioApiVersion)) {
        r.fail(`\`istioApiVersion\` must be one of ${istioApiVersions.map((v) => `\`${v}\``).join(", ")}, got ${show(input.istioApiVersion)}`);
    }

    if (input.stable === undefined) r.fail("`stable` is required: the version serving production, e.g. { version: v1, image: registry/model-runner:v1 }");
    const stable = readVersion(r, "stable", input.stable);
    const canary = readVersion(r, "canary", input.canary);
    if (stable && canary && stable.version === canary.version) {
        r.fail(`\`canary.version\` must differ from \`stable.version\`, both are ${show(stable.version)}`);
    }

    const canaryWeight = r.integer("canaryWeight", input.canaryWeight, 0, 100, 0);
    if (input.canary === undefined && canaryWeight !== undefined && canaryWeight > 0) {
        r.fail(`\`canaryWeight\` is ${canaryWeight} but no \`canary\` is configured; set \`canary\` or use canaryWeight 0`);
    }

    const versions = [stable?.version, canary?.version].filter((v): v is string => v !== undefined);
    const headerRoutes: HeaderRoute[] = [];
    if (input.headerRoutes !== undefined) {
        if (!Array.isArray(input.headerRoutes)) {
            r.fail(`\`headerRoutes\` must be a list of { header, exact | prefix | regex, version }, got ${show(input.headerRoutes)}`);
        } else {
            input.headerRoutes.forEach((route, i) => {
                const parsed = readHeaderRoute(r, `headerRoutes[${i}]`, route, versions);
                if (parsed) headerRoutes.push(parsed);
            });
        }
    }

    const hosts = r.stringList("hosts", input.hosts) ?? [serviceName];
    const gateways = r.stringList("gateways", input.gateways);
    const podSecurityContext = r.object<ResolvedModelCanaryArgs["podSecurityContext"]>("podSecurityContext", input.podSecurityContext);
    const containerSecurityContext = r.object<ResolvedModelCanaryArgs["containerSecurityContext"]>("containerSecurityContext", input.containerSecurityContext);

    if (r.problems.length > 0 || !stable) throw new ValidationError(r.problems);
    return {
        app, namespace, serviceName, servicePort, containerPort, containerName, stable, canary, canaryWeight,
        headerRoutes, hosts, gateways, virtualServiceName, destinationRuleName, istioApiVersion,
        podSecurityContext, containerSecurityContext,
    };
}

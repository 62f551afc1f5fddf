// The few Kubernetes types a model version takes from config (Probe, ResourceRequirements,
// PodSecurityContext, SecurityContext), as a small hand-written schema with the fields and
// rules of the Kubernetes API reference (core/v1, 1.36). Config is checked against it before
// anything is registered: unknown fields are refused with their path, wrong types and values
// outside the API server's rules too. Pure: no Pulumi, no I/O.
import { show } from "./secrets";
import { int32Max, integerValue, isQualifiedName, quantityValue } from "./syntax";

/** Sentences naming the path of each problem; the caller decides how to report them. */
type Problems = string[];

export type Field =
    | { type: "string"; oneOf?: readonly string[]; pattern?: RegExp; what?: string }
    | { type: "boolean" }
    | { type: "integer"; min: number; max: number }
    | { type: "port" }
    | { type: "list"; of: Field; min?: number }
    | { type: "object"; fields: Record<string, Field>; required?: readonly string[]; elsewhere?: Record<string, string>; rule?: (value: Record<string, unknown>, path: string, problems: Problems) => void }
    | { type: "quantities" };

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str: Field = { type: "string" };
const bool: Field = { type: "boolean" };
const seconds = (min: number): Field => ({ type: "integer", min, max: int32Max });
// User and group IDs: Kubernetes accepts 0..2147483647 although the field is an int64.
const id: Field = { type: "integer", min: 0, max: int32Max };

/** A profile whose `localhostProfile` is required for `Localhost` and refused otherwise. */
function profile(kind: string): Field {
    return {
        type: "object",
        fields: { type: { type: "string", oneOf: ["RuntimeDefault", "Unconfined", "Localhost"] }, localhostProfile: str },
        required: ["type"],
        rule: (v, path, problems) => {
            if (v.type === "Localhost" && v.localhostProfile === undefined) problems.push(`\`${path}.localhostProfile\` is required when \`${path}.type\` is Localhost (the ${kind} profile file on the node)`);
            if (v.type !== "Localhost" && v.localhostProfile !== undefined) problems.push(`\`${path}.localhostProfile\` may only be set when \`${path}.type\` is Localhost, got type ${show(v.type)}`);
        },
    };
}

const seLinuxOptions: Field = { type: "object", fields: { user: str, role: str, type: str, level: str } };
const windowsOptions: Field = { type: "object", fields: { gmsaCredentialSpecName: str, gmsaCredentialSpec: str, runAsUserName: str, hostProcess: bool } };
const capability: Field = { type: "string", pattern: /^[A-Z][A-Z0-9_]*$/, what: "a Linux capability name such as NET_BIND_SERVICE or ALL" };

export const podSecurityContextSchema: Field = {
    type: "object",
    fields: {
        appArmorProfile: profile("AppArmor"),
        fsGroup: id,
        fsGroupChangePolicy: { type: "string", oneOf: ["OnRootMismatch", "Always"] },
        runAsGroup: id,
        runAsNonRoot: bool,
        runAsUser: id,
        seLinuxChangePolicy: { type: "string", oneOf: ["MountOption", "Recursive"] },
        seLinuxOptions,
        seccompProfile: profile("seccomp"),
        supplementalGroups: { type: "list", of: id },
        supplementalGroupsPolicy: { type: "string", oneOf: ["Merge", "Strict"] },
        sysctls: { type: "list", of: { type: "object", fields: { name: str, value: str }, required: ["name", "value"] } },
        windowsOptions,
    },
    // Fields of the container's SecurityContext that users often put at the pod level.
    elsewhere: Object.fromEntries(["allowPrivilegeEscalation", "capabilities", "privileged", "procMount", "readOnlyRootFilesystem"].map((k) => [k, "containerSecurityContext"])),
    rule: (v, path, problems) => {
        // The component defaults runAsNonRoot to true: user 0 would make the kubelet refuse to start the pod.
        if (v.runAsUser === 0 && v.runAsNonRoot !== false) problems.push(`\`${path}.runAsUser\` is 0 (root) but \`${path}.runAsNonRoot\` is true (the default): the kubelet would refuse to start the pods; set runAsNonRoot: false to run as root`);
    },
};

export const securityContextSchema: Field = {
    type: "object",
    fields: {
        allowPrivilegeEscalation: bool,
        appArmorProfile: profile("AppArmor"),
        capabilities: { type: "object", fields: { add: { type: "list", of: capability }, drop: { type: "list", of: capability } } },
        privileged: bool,
        procMount: { type: "string", oneOf: ["Default", "Unmasked"] },
        readOnlyRootFilesystem: bool,
        runAsGroup: id,
        runAsNonRoot: bool,
        runAsUser: id,
        seLinuxOptions,
        seccompProfile: profile("seccomp"),
        windowsOptions,
    },
    rule: (v, path, problems) => {
        // The API server refuses these with allowPrivilegeEscalation false, which is the component's default.
        if (v.allowPrivilegeEscalation !== true) {
            if (v.privileged === true) problems.push(`\`${path}.privileged\` is true but \`${path}.allowPrivilegeEscalation\` is false (the default); Kubernetes refuses that pair`);
            const add = isRecord(v.capabilities) && Array.isArray(v.capabilities.add) ? v.capabilities.add : [];
            if (add.includes("SYS_ADMIN") || add.includes("CAP_SYS_ADMIN")) problems.push(`\`${path}.capabilities.add\` has SYS_ADMIN but \`${path}.allowPrivilegeEscalation\` is false (the default); Kubernetes refuses that pair`);
        }
        if (v.runAsUser === 0 && v.runAsNonRoot !== false) problems.push(`\`${path}.runAsUser\` is 0 (root) but \`${path}.runAsNonRoot\` is true (the default): the kubelet would refuse to start the container; set runAsNonRoot: false to run as root`);
    },
};

const handlers = ["exec", "httpGet", "tcpSocket", "grpc"] as const;

function probeSchema(kind: "readiness" | "liveness"): Field {
    return {
        type: "object",
        fields: {
            exec: { type: "object", fields: { command: { type: "list", of: str, min: 1 } }, required: ["command"] },
            httpGet: {
                type: "object",
                fields: {
                    path: str,
                    port: { type: "port" },
                    host: str,
                    scheme: { type: "string", oneOf: ["HTTP", "HTTPS"] },
                    httpHeaders: { type: "list", of: { type: "object", fields: { name: str, value: str }, required: ["name", "value"] } },
                },
                required: ["port"],
            },
            tcpSocket: { type: "object", fields: { port: { type: "port" }, host: str }, required: ["port"] },
            grpc: { type: "object", fields: { port: { type: "integer", min: 1, max: 65535 }, service: str }, required: ["port"] },
            initialDelaySeconds: seconds(0),
            timeoutSeconds: seconds(1),
            periodSeconds: seconds(1),
            successThreshold: seconds(1),
            failureThreshold: seconds(1),
            terminationGracePeriodSeconds: seconds(1),
        },
        rule: (v, path, problems) => {
            const given = handlers.filter((h) => v[h] !== undefined);
            if (given.length !== 1) problems.push(`\`${path}\` must set exactly one of ${handlers.map((h) => `\`${h}\``).join(", ")}, got ${given.length === 0 ? "none" : given.map((h) => `\`${h}\``).join(" and ")}`);
            if (kind === "liveness" && v.successThreshold !== undefined && v.successThreshold !== 1) problems.push(`\`${path}.successThreshold\` must be 1 for a liveness probe, got ${show(v.successThreshold)}`);
            if (kind === "readiness" && v.terminationGracePeriodSeconds !== undefined) problems.push(`\`${path}.terminationGracePeriodSeconds\` may not be set on a readiness probe`);
        },
    };
}

export const readinessProbeSchema = probeSchema("readiness");
export const livenessProbeSchema = probeSchema("liveness");

export const resourceRequirementsSchema: Field = {
    type: "object",
    fields: {
        limits: { type: "quantities" },
        requests: { type: "quantities" },
        claims: { type: "list", of: { type: "object", fields: { name: { type: "string", pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, what: "a DNS label naming one of the pod's resource claims" }, request: str }, required: ["name"] } },
    },
    rule: (v, path, problems) => {
        const limits = isRecord(v.limits) ? v.limits : {};
        const requests = isRecord(v.requests) ? v.requests : {};
        for (const [name, request] of Object.entries(requests)) {
            const limit = limits[name];
            if (limit === undefined) continue;
            const [r, l] = [quantityValue(request), quantityValue(limit)];
            if (r === undefined || l === undefined) continue;
            if (isExtendedResource(name) ? r !== l : r > l) {
                problems.push(`\`${path}.requests.${name}\` (${show(request)}) must be ${isExtendedResource(name) ? "equal to" : "at most"} \`${path}.limits.${name}\` (${show(limit)})`);
            }
        }
    },
};

const standardResources = /^(cpu|memory|ephemeral-storage|hugepages-.+)$/;

/** Resources such as `nvidia.com/gpu`: whole units, and requests equal limits. */
function isExtendedResource(name: string): boolean {
    return name.includes("/") && !/^([a-z0-9.-]+\.)?kubernetes\.io\//.test(name);
}

function checkQuantities(value: unknown, path: string, problems: Problems): Record<string, string | number> | undefined {
    if (!isRecord(value)) {
        problems.push(`\`${path}\` must be a map of resource name to quantity, e.g. { cpu: "500m", memory: 2Gi, nvidia.com/gpu: 1 }, got ${show(value)}`);
        return undefined;
    }
    for (const [name, quantity] of Object.entries(value)) {
        if (!isQualifiedName(name) || (!name.includes("/") && !standardResources.test(name))) {
            problems.push(`\`${path}\` key ${show(name)} must be cpu, memory, ephemeral-storage, hugepages-<size> or a prefixed extended resource such as nvidia.com/gpu`);
            continue;
        }
        const n = quantityValue(quantity);
        if (n === undefined) problems.push(`\`${path}.${name}\` must be a Kubernetes quantity such as 500m, 2Gi, 1.5 or 1e3, got ${show(quantity)}`);
        else if (n < 0) problems.push(`\`${path}.${name}\` must not be negative, got ${show(quantity)}`);
        else if (isExtendedResource(name) && !Number.isInteger(n)) problems.push(`\`${path}.${name}\` must be a whole number of ${name}, got ${show(quantity)}`);
    }
    return value as Record<string, string | number>;
}

/**
 * Checks `value` against `schema`; problems are added with their path. Returns the value with
 * integers given as decimal text turned into numbers (what the API expects), or undefined when
 * the value's shape is wrong.
 */
export function checkKubernetesValue(schema: Field, value: unknown, path: string, problems: Problems): unknown {
    switch (schema.type) {
        case "string":
            if (typeof value !== "string") return void problems.push(`\`${path}\` must be a string${schema.oneOf ? ` (${schema.oneOf.join(", ")})` : ""}, got ${show(value)}`);
            if (schema.oneOf && !schema.oneOf.includes(value)) return void problems.push(`\`${path}\` must be one of ${schema.oneOf.join(", ")}, got ${show(value)}`);
            if (schema.pattern && !schema.pattern.test(value)) return void problems.push(`\`${path}\` must be ${schema.what}, got ${show(value)}`);
            return value;
        case "boolean":
            if (typeof value !== "boolean") return void problems.push(`\`${path}\` must be true or false, got ${show(value)}`);
            return value;
        case "integer": {
            const n = integerValue(value);
            if (n === undefined || n < schema.min || n > schema.max) return void problems.push(`\`${path}\` must be an integer from ${schema.min} to ${schema.max}, got ${show(value)}`);
            return n;
        }
        case "port": {
            const n = integerValue(value);
            if (n !== undefined && n >= 1 && n <= 65535) return n;
            // The container has one named port, `http`; any other name would never resolve.
            if (value === "http") return value;
            return void problems.push(`\`${path}\` must be a port number from 1 to 65535 or "http" (the container's named port), got ${show(value)}`);
        }
        case "list": {
            if (!Array.isArray(value)) return void problems.push(`\`${path}\` must be a list, got ${show(value)}`);
            if (schema.min !== undefined && value.length < schema.min) return void problems.push(`\`${path}\` must have at least ${schema.min} item${schema.min === 1 ? "" : "s"}, got none`);
            return value.map((item, i) => checkKubernetesValue(schema.of, item, `${path}[${i}]`, problems));
        }
        case "quantities":
            return checkQuantities(value, path, problems);
        case "object": {
            if (!isRecord(value)) return void problems.push(`\`${path}\` must be an object, got ${show(value)}`);
            const out: Record<string, unknown> = {};
            const accepted = Object.keys(schema.fields);
            for (const [key, item] of Object.entries(value)) {
                const field = schema.fields[key];
                if (!field) {
                    const hint = schema.elsewhere?.[key] ? ` (it belongs in \`${schema.elsewhere[key]}\`)` : "";
                    problems.push(`unknown field \`${path}.${key}\`${hint}; accepted fields are ${accepted.map((k) => `\`${k}\``).join(", ")}`);
                    continue;
                }
                out[key] = checkKubernetesValue(field, item, `${path}.${key}`, problems);
            }
            for (const key of schema.required ?? []) {
                if (value[key] === undefined) problems.push(`\`${path}.${key}\` is required`);
            }
            schema.rule?.(out, path, problems);
            return out;
        }
    }
}

// `model-canary adopt`: the way out of a stale checkout (see stacks/config/routing-revision.ts).
// It writes what the stack last applied to a model's routing (canaryWeight, mirrorPercent,
// headerRoutes, and the versions when a promotion changed them) and the stack's routing revision
// into Pulumi.<stack>.yaml, from the stack's outputs that every checkout sharing the backend
// reads. The cluster is not touched, and an `up` afterwards changes no routing.
import type * as auto from "@pulumi/pulumi/automation";
import { configNamespace, StackConfig } from "../config/config";
import { modelOutputsOf } from "../config/models";
import { recordOf, RoutingRecord, routingRevisionKey } from "../config/routing-revision";
import { appliedFromOutputs } from "./recovery";
import { checkConfig, readOutputs, setModelConfig, StackOperationError } from "./automation";

/** The keys of a model's entry that make up its routing, as adopt copies them from the applied config. */
const routingKeys = ["canaryWeight", "mirrorPercent", "headerRoutes"] as const;

export interface Adopted {
    model: string;
    /** The stack's routing revision now written in the settings (undefined: the stack recorded none). */
    revision: number | undefined;
    record: RoutingRecord | undefined;
    /** The keys whose value changed in the settings file. */
    changed: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The model's entry in the config the last `up` applied: top-level keys for the shorthand, `models.<name>` otherwise. */
function appliedEntry(plain: Record<string, unknown>, path: string[]): Record<string, unknown> | undefined {
    if (path.length === 0) {
        const prefix = `${configNamespace}:`;
        return Object.fromEntries(Object.entries(plain).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    }
    const models = plain[`${configNamespace}:models`];
    return isRecord(models) && isRecord(models[path[1]]) ? models[path[1]] as Record<string, unknown> : undefined;
}

/** True when a value holds a secret leaf (recorded as null in the plain applied config). */
function holdsSecret(value: unknown): boolean {
    if (value === null) return true;
    if (Array.isArray(value)) return value.some(holdsSecret);
    return isRecord(value) && Object.values(value).some(holdsSecret);
}

/** A value as JSON with every map's keys sorted: the applied config and the settings file write keys in different orders. */
function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (isRecord(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
    return JSON.stringify(value ?? null);
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** Engine text (`"10"` for a top-level key) as the number it stands for. */
function numeric(value: unknown): unknown {
    return typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}

/**
 * Writes the stack's applied routing and routing revision of `model` (every model when
 * undefined) into the stack's settings file. Refused, naming the model, when the stack has no
 * applied config for it (never updated), or when a version the stack applied holds a secret
 * environment value this checkout does not have (set it with `pulumi config set --secret`).
 */
export async function adoptRouting(stack: auto.Stack, model?: string): Promise<Adopted[]> {
    const config: StackConfig = checkConfig(stack);
    const names = model !== undefined ? [model] : Object.keys(config.models);
    const adopted: Adopted[] = [];
    for (const name of names) {
        const m = config.models[name];
        if (!m) throw new StackOperationError("validation", `model \`${name}\` is not in the config of stack \`${stack.name}\`; its models: ${Object.keys(config.models).map((n) => `\`${n}\``).join(", ")}`);
        const outputs = await readOutputs(stack, { model: name });
        const applied = appliedFromOutputs(outputs);
        const entry = applied ? appliedEntry(applied.plain, m.path) : undefined;
        if (!entry) throw new StackOperationError("refused", `stack \`${stack.name}\` has no applied config for model \`${name}\` (it was never updated, or by a version from before the applied config was recorded): there is nothing to adopt; \`up\` it first`);
        const record = recordOf(modelOutputsOf(outputs, name));
        const changed: string[] = [];
        setModelConfig(stack, m, (own) => {
            for (const key of routingKeys) {
                const value = numeric(entry[key]);
                if (same(own[key] === undefined ? undefined : numeric(own[key]), value)) continue;
                own[key] = value ?? undefined;
                changed.push(key);
            }
            // A promotion elsewhere changed the versions: the routing names them.
            for (const role of ["stable", "canary"] as const) {
                const mine = own[role] as { version?: unknown } | undefined;
                const theirs = entry[role] as { version?: unknown } | undefined;
                if (same(mine?.version, theirs?.version)) continue;
                if (holdsSecret(theirs)) {
                    throw new StackOperationError("refused", `the stack applied \`${[...m.path, role].join(".")}\` version ${String(theirs?.version)} with secret values this checkout does not hold; nothing was written. Copy that version's settings from the checkout that applied it (or set its secrets with \`pulumi config set --secret --path\`), then run \`adopt\` again`);
                }
                own[role] = theirs ?? undefined;
                changed.push(role);
            }
            if (record !== undefined && own[routingRevisionKey] !== record.revision) {
                own[routingRevisionKey] = record.revision;
                changed.push(routingRevisionKey);
            }
        });
        adopted.push({ model: name, revision: record?.revision, record, changed });
    }
    return adopted;
}

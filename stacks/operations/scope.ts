// One model's update in a stack of many models. A rollout step (or `up --model NAME`) asks the
// program to register that model only, and the engine to act on that model's resources only
// (`--target <its component> --target-dependents`): every other resource is left exactly as the
// state holds it, so a step costs about what it costs in a one-model stack. The stack outputs
// are the engine's to replace with whatever the program returns, so the program keeps every other
// model's outputs, and its part of the applied config, from the outputs before the update.
// Pure: the file that carries the scope to the program is in scope-file.ts.
import * as crypto from "crypto";
import type { AppliedConfig, AppliedSecret } from "../config/applied";

/** The environment variable that names the scope file (see scope-file.ts). */
export const scopeEnvVar = "MODEL_CANARY_SCOPE";

/** The config key holding the `models` map. */
export const modelsKey = "model-canary:models";

export interface UpdateScope {
    /** The model the update registers and acts on. */
    model: string;
    /** Its component's URN: the engine's target (its children and dependents follow). */
    target: string;
    /** The stack outputs before the update, secret values in plaintext. */
    previous: Record<string, unknown>;
}

/**
 * A digest of the settings file's config other than the `models` map, as written (ciphertexts
 * included). A scoped update applies the stack-wide keys too (the provider is always part of an
 * update), which would leave the other models' objects behind: it is used only while these keys
 * are exactly what the last full update applied. `defaults` is among them on purpose: it is
 * merged under every model's entry, so a change to it changes every model. A secret set again
 * gets a new ciphertext, so it counts as a change, on the safe side.
 */
export function sharedConfigDigest(settingsConfig: Record<string, unknown> | undefined): string {
    const shared = Object.entries(settingsConfig ?? {}).filter(([key]) => key !== modelsKey).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return crypto.createHash("sha256").update(canonicalJson(shared)).digest("hex");
}

function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (typeof value === "object" && value !== null) {
        return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
    }
    return JSON.stringify(value) ?? "null";
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The scope for an update of `model`, or why the update must be a whole one: the stack must have
 * been updated before with that model among several (its outputs name the model's component),
 * and the stack-wide config must be unchanged since (`sharedConfigDigest`).
 */
export function planScope(previous: Record<string, unknown>, model: string, settingsConfig: Record<string, unknown> | undefined): UpdateScope | { whole: string } {
    const models = previous.models;
    if (!isRecord(models)) return { whole: "the stack's outputs have no `models` (a one-model stack, or never updated)" };
    if (Object.keys(models).length < 2) return { whole: "the stack holds one model" };
    const own = models[model];
    if (!isRecord(own) || typeof own.urn !== "string") return { whole: `model \`${model}\` is not deployed yet` };
    if (previous.sharedConfigDigest !== sharedConfigDigest(settingsConfig)) return { whole: "config outside `models` changed since the last update" };
    return { model, target: own.urn, previous };
}

/**
 * The config a scoped update applied: the program's own (`fresh`, which reads the whole settings
 * file) with every other model's entry and secrets as the previous update applied them.
 */
export function mergeAppliedConfig(previous: AppliedConfig, fresh: AppliedConfig, model: string): AppliedConfig {
    const freshModels = isRecord(fresh.plain[modelsKey]) ? fresh.plain[modelsKey] as Record<string, unknown> : {};
    const previousModels = isRecord(previous.plain[modelsKey]) ? previous.plain[modelsKey] as Record<string, unknown> : {};
    const models = { ...previousModels };
    if (model in freshModels) models[model] = freshModels[model];
    else delete models[model];
    const ownSecret = (s: AppliedSecret) => s.key === modelsKey && s.path[0] === model;
    return {
        plain: { ...fresh.plain, [modelsKey]: models },
        secrets: [
            ...fresh.secrets.filter((s) => s.key !== modelsKey || ownSecret(s)),
            ...previous.secrets.filter((s) => s.key === modelsKey && !ownSecret(s)),
        ],
    };
}

/** The previous update's applied config, from its outputs (`appliedSecrets` in plaintext). */
export function previousApplied(previous: Record<string, unknown>): AppliedConfig {
    return {
        plain: isRecord(previous.appliedConfig) ? previous.appliedConfig : {},
        secrets: Array.isArray(previous.appliedSecrets) ? previous.appliedSecrets as AppliedSecret[] : [],
    };
}

/** Every other model's outputs as the previous update left them, with this model's new ones. */
export function mergeModelOutputs<T>(previous: Record<string, unknown>, model: string, fresh: T): Record<string, unknown> {
    return { ...(isRecord(previous.models) ? previous.models : {}), [model]: fresh };
}

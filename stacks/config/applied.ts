// What the program records at every successful `up`: the config it was given, as two stack
// outputs, so that `rollback` can return to what is applied even when the stack's settings file
// has since become invalid. Secret values go only into a secret output (encrypted in the state,
// `[secret]` in every display), never into the plain one.
import * as pulumi from "@pulumi/pulumi";
import { readSettingsConfigMap } from "./settings-yaml";

/** A key path inside a structured config value, e.g. `["env", "API_KEY"]`; empty for the whole value. */
export type LeafPath = (string | number)[];

/** One secret the program was given: the whole value of `key`, or one leaf inside it. */
export interface AppliedSecret {
    /** The full config key, e.g. `model-canary:canary` or `kubernetes:kubeconfig`. */
    key: string;
    path: LeafPath;
    /** The plaintext: text as the engine hands it for a whole key, the leaf's value otherwise. */
    value: string;
}

export interface AppliedConfig {
    /**
     * Every config key the program was given (`namespace:key`) with its value: structured values
     * of this project as objects, everything else as the engine's text. A secret leaf holds `null`;
     * a key that is secret as a whole is absent.
     */
    plain: Record<string, unknown>;
    secrets: AppliedSecret[];
}

/** The `{ secure: ... }` leaves of a settings-file value: where `pulumi config set --secret --path` put secrets. */
export function secureLeafPaths(value: unknown, at: LeafPath = []): LeafPath[] {
    if (typeof value !== "object" || value === null) return [];
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && entries[0][0] === "secure" && typeof entries[0][1] === "string") return [at];
    return entries.flatMap(([k, v]) => secureLeafPaths(v, [...at, Array.isArray(value) ? Number(k) : k]));
}

function parseStructured(text: string): unknown {
    const t = text.trim();
    if (!t.startsWith("{") && !t.startsWith("[")) return text;
    try {
        return JSON.parse(t);
    } catch {
        return text;
    }
}

function getAt(value: unknown, path: LeafPath): unknown {
    return path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Record<string | number, unknown>)[k] : undefined), value);
}

function setAt(value: unknown, path: LeafPath, leaf: unknown): void {
    const parent = getAt(value, path.slice(0, -1)) as Record<string | number, unknown>;
    parent[path[path.length - 1]] = leaf;
}

/**
 * Splits the config the engine handed the program into its plain part and its secrets. Pure.
 * `all`: the engine's `namespace:key -> text` map; `secretKeys`: the keys it decrypted;
 * `settings`: the settings file's `config` map, which says where inside a value a secret sits.
 */
export function splitAppliedConfig(all: Record<string, string>, secretKeys: readonly string[], settings: Record<string, unknown> | undefined, namespace: string): AppliedConfig {
    const plain: Record<string, unknown> = {};
    const secrets: AppliedSecret[] = [];
    for (const [key, text] of Object.entries(all)) {
        const structured = key.startsWith(`${namespace}:`) ? parseStructured(text) : text;
        if (!secretKeys.includes(key)) {
            plain[key] = structured;
            continue;
        }
        const leaves = typeof structured === "object" && structured !== null
            ? secureLeafPaths(settings?.[key]).filter((p) => p.length > 0 && ["string", "number", "boolean"].includes(typeof getAt(structured, p)))
            : [];
        if (leaves.length === 0) {
            secrets.push({ key, path: [], value: text });
            continue;
        }
        const copy = structuredClone(structured);
        for (const p of leaves) {
            secrets.push({ key, path: p, value: String(getAt(structured, p)) });
            setAt(copy, p, null);
        }
        plain[key] = copy;
    }
    return { plain, secrets };
}

/** The stack outputs recording this `up`'s config: `appliedConfig`, and `appliedSecrets` as a secret when there are any. */
export function appliedConfigOutputs(settingsFile: string, namespace: string): { appliedConfig: Record<string, unknown>; appliedSecrets?: pulumi.Output<AppliedSecret[]> } {
    const all = pulumi.runtime.allConfig();
    // How @pulumi/pulumi's own Config tells secrets apart: the list the language host passes in.
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (typeof isSecret !== "function") throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret: secret config cannot be told apart");
    let settings: Record<string, unknown> | undefined;
    try {
        settings = readSettingsConfigMap(settingsFile);
    } catch {
        settings = undefined;
    }
    const applied = splitAppliedConfig(all, Object.keys(all).filter((k) => isSecret(k)), settings, namespace);
    // Only when there are secrets: an empty secret would still be re-encrypted, with a new nonce, at every save.
    return { appliedConfig: applied.plain, appliedSecrets: applied.secrets.length > 0 ? pulumi.secret(applied.secrets) : undefined };
}

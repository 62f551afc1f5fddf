// `rollback` when the stack's settings file has become invalid (a typo in the canary's image, an
// unknown key): traffic must still come off the canary. The stack's outputs hold the config the
// last `up` applied (see applied.ts); the rollback writes that config, with `canaryWeight` 0, the
// shadow stage's `mirrorPercent` and the canary's header routes removed, as the stack's settings, saves the user's file aside, and
// applies it. Secrets are written encrypted by the Pulumi CLI (plaintext only on its stdin).
import type * as auto from "@pulumi/pulumi/automation";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { AppliedConfig, AppliedSecret, LeafPath } from "./applied";
import { checkConfig, readOutputs, StackOperationError, upStack } from "./automation";
import { configNamespace } from "./config";
import { stackSettingsPath } from "./settings";

export interface RecoveryResult {
    /** Wall time of the rollback `up` in ms. */
    actionMs: number;
    /** Where the invalid settings file was saved; undefined when there was none. */
    savedAs?: string;
    /** True when the saved file could be edited to `canaryWeight` 0 too (it could not when it is not YAML). */
    savedDisarmed: boolean;
    /** The version that now serves all traffic. */
    stableVersion: string;
}

const key = (name: string) => `${configNamespace}:${name}`;

/** The recorded config from the stack's outputs, or undefined when the stack has none (an older deployment). */
export function appliedFromOutputs(outputs: Record<string, unknown>): AppliedConfig | undefined {
    const plain = outputs.appliedConfig;
    const secrets = outputs.appliedSecrets ?? [];
    if (typeof plain !== "object" || plain === null || Array.isArray(plain) || !Array.isArray(secrets)) return undefined;
    return { plain: plain as Record<string, unknown>, secrets: secrets as AppliedSecret[] };
}

function versionOf(value: unknown): string | undefined {
    const parsed = typeof value === "string" ? (() => { try { return JSON.parse(value); } catch { return undefined; } })() : value;
    return typeof parsed === "object" && parsed !== null && typeof (parsed as { version?: unknown }).version === "string" ? (parsed as { version: string }).version : undefined;
}

/** The last applied config with traffic off the canary: `canaryWeight` 0, no mirror, header routes to the canary removed. Pure. */
export function rollbackConfig(applied: AppliedConfig): AppliedConfig {
    const plain = structuredClone(applied.plain);
    let secrets = applied.secrets.map((s) => ({ ...s, path: [...s.path] }));
    const canaryVersion = versionOf(plain[key("canary")]) ?? versionOf(secrets.find((s) => s.key === key("canary") && s.path.length === 0)?.value);
    plain[key("canaryWeight")] = "0";
    // The shadow stage's mirror sends the canary traffic too (users are not served by it, but it
    // is still load on a canary being rolled back).
    delete plain[key("mirrorPercent")];
    const routes = plain[key("headerRoutes")];
    if (Array.isArray(routes)) {
        // Routes whose target is secret-free or not: keep those to stable, renumbering secret leaves with them.
        const kept = routes.map((r, i) => [r, i] as const).filter(([r]) => canaryVersion === undefined || (r as { version?: unknown })?.version !== canaryVersion);
        const renumber = new Map(kept.map(([, old], now) => [old, now]));
        secrets = secrets
            .filter((s) => s.key !== key("headerRoutes") || (s.path.length > 0 && renumber.has(Number(s.path[0]))))
            .map((s) => (s.key === key("headerRoutes") ? { ...s, path: [renumber.get(Number(s.path[0]))!, ...s.path.slice(1)] } : s));
        if (kept.length > 0) plain[key("headerRoutes")] = kept.map(([r]) => r);
        else delete plain[key("headerRoutes")];
    }
    return { plain, secrets };
}

/** `namespace:key` plus a leaf path in the syntax of `pulumi config set --path`. */
export function configPathKey(fullKey: string, leaf: LeafPath): string {
    return fullKey + leaf.map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join("");
}

/** The settings file's top-level entries other than `config` (the secrets provider's salt or key). */
function providerSettings(text: string | undefined): Record<string, unknown> {
    if (text === undefined) return {};
    try {
        const { config: _config, ...rest } = (YAML.parse(text) ?? {}) as Record<string, unknown>;
        return rest;
    } catch {
        // Not YAML any more: the provider's lines are still plain `key: value` lines at the top level.
        const rest: Record<string, unknown> = {};
        for (const m of text.matchAll(/^(encryptionsalt|secretsprovider|encryptedkey):[ \t]*(\S.*?)[ \t]*$/gm)) rest[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
        return rest;
    }
}

/** The user's file with traffic off the canary too, where it still parses; otherwise as it was. */
function disarmed(text: string, canaryVersion: string | undefined): { text: string; edited: boolean } {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length > 0 || !YAML.isMap(doc.get("config"))) return { text, edited: false };
    doc.setIn(["config", key("canaryWeight")], 0);
    doc.deleteIn(["config", key("mirrorPercent")]);
    const routes = doc.getIn(["config", key("headerRoutes")]);
    if (YAML.isSeq(routes)) {
        const all = routes.toJSON() as { version?: unknown }[];
        for (let i = all.length - 1; i >= 0; i--) if (canaryVersion !== undefined && all[i]?.version === canaryVersion) routes.delete(i);
        if (routes.items.length === 0) doc.deleteIn(["config", key("headerRoutes")]);
    }
    return { text: doc.toString(), edited: true };
}

/** A scalar as the file would hold it: the engine hands `10` and `"10"` alike as the text "10", so a decimal or boolean text is written bare. */
function fileValue(value: unknown): unknown {
    if (typeof value !== "string") return value;
    if (/^(0|[1-9][0-9]{0,14})$/.test(value)) return Number(value);
    return value === "true" ? true : value === "false" ? false : value;
}

function writeAtomically(file: string, text: string): void {
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, text);
    fs.renameSync(temp, file);
}

/** `pulumi config set --secret`, the value on stdin so it never shows in a process list. */
function setSecret(stack: auto.Stack, secret: AppliedSecret): Promise<void> {
    const workspace = stack.workspace as auto.LocalWorkspace;
    const args = ["config", "set", "--secret", ...(secret.path.length > 0 ? ["--path"] : []), "--stack", stack.name, "--non-interactive", configPathKey(secret.key, secret.path)];
    return new Promise((resolve, reject) => {
        const child = spawn(workspace.pulumiCommand.command, args, { cwd: workspace.workDir, env: { ...process.env, ...workspace.envVars }, stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => { stderr += d; });
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new StackOperationError("engine", `writing the secret \`${configPathKey(secret.key, secret.path)}\` failed: ${stderr.trim().split("\n").pop()}`))));
        child.stdin.end(secret.value);
    });
}

/**
 * Takes traffic off the canary from the last applied config. `problems`: why the settings file
 * was refused, for the messages. Throws a "refused" error when the stack has no recorded config.
 */
export async function rollbackFromLastApplied(stack: auto.Stack, reason: string, problems: string[]): Promise<RecoveryResult> {
    const file = stackSettingsPath(stack.workspace.workDir, stack.name);
    const applied = appliedFromOutputs(await readOutputs(stack));
    if (!applied) {
        throw new StackOperationError("refused", [
            `the config of stack \`${stack.name}\` is invalid, and the stack has no record of the config it last applied (it was deployed by an older model-canary, or never), so \`rollback\` cannot apply it instead.`,
            `Set \`canaryWeight\` to 0 and remove the canary's header routes in ${path.basename(file)}, fix the problems below, and run \`model-canary up --stack ${stack.name}\`:`,
            ...problems.map((p) => `- ${p}`),
        ].join("\n"), undefined, problems);
    }
    const target = rollbackConfig(applied);
    const canaryVersion = versionOf(applied.plain[key("canary")]);
    const original = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    const savedAs = original === undefined ? undefined : `${file}.invalid-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    // Saved first, with traffic off the canary there too, so restoring it by hand never sends traffic back.
    const saved = original === undefined ? undefined : disarmed(original, canaryVersion);
    if (savedAs !== undefined) fs.writeFileSync(savedAs, saved!.text);
    try {
        writeAtomically(file, YAML.stringify({ ...providerSettings(original), config: Object.fromEntries(Object.entries(target.plain).map(([k, v]) => [k, fileValue(v)])) }));
        for (const secret of target.secrets) await setSecret(stack, secret);
        checkConfig(stack);
    } catch (e) {
        // Nothing applied yet: the user's file goes back as it was.
        if (original !== undefined) writeAtomically(file, original);
        else fs.rmSync(file, { force: true });
        if (savedAs !== undefined) fs.rmSync(savedAs, { force: true });
        throw e;
    }
    const started = Date.now();
    await upStack(stack, { message: `model-canary rollback from the last applied config: ${reason}` });
    const stableVersion = versionOf(target.plain[key("stable")]) ?? versionOf(target.secrets.find((s) => s.key === key("stable") && s.path.length === 0)?.value) ?? "stable";
    return { actionMs: Date.now() - started, savedAs, savedDisarmed: saved?.edited === true, stableVersion };
}

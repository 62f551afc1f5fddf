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
import { terminalText } from "../../components/syntax";
import { AppliedConfig, AppliedSecret, LeafPath } from "../config/applied";
import { checkConfig, readOutputs, StackOperationError, upStack } from "./automation";
import { configNamespace, parseStackConfig, selectModel, StackConfig } from "../config/config";
import { withApplyLock } from "./lock";
import { markRouteRecorded, writeRouteBeforeUp } from "./rollback-write";
import { modelOutputsOf, shorthandModel } from "../config/models";
import { stackSettingsPath } from "../config/settings";
import { quoteNumberLikeStrings } from "../config/settings-written";

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

/**
 * The last applied config as the stack config it was, secrets included, or undefined when it no
 * longer parses. A `rollback` of a stack whose settings are invalid reads from it where the stack's
 * run locks are (a cluster's Leases or the backend), so that it still pre-empts a rollout another
 * runner holds. Pure.
 */
export function appliedStackConfig(applied: AppliedConfig, stack: string): StackConfig | undefined {
    const structured: Record<string, unknown> = structuredClone(applied.plain);
    const all: Record<string, string> = {};
    for (const secret of applied.secrets) {
        if (secret.path.length === 0) {
            structured[secret.key] = secret.value;
            continue;
        }
        let node = structured[secret.key];
        for (const step of secret.path.slice(0, -1)) node = isRecord(node) || Array.isArray(node) ? (node as Record<string | number, unknown>)[step] : undefined;
        if (!isRecord(node) && !Array.isArray(node)) return undefined;
        (node as Record<string | number, unknown>)[secret.path[secret.path.length - 1]] = secret.value;
    }
    for (const [k, v] of Object.entries(structured)) all[k] = typeof v === "string" ? v : JSON.stringify(v);
    try {
        return parseStackConfig(all, stack, applied.secrets.filter((s) => s.key.startsWith(`${configNamespace}:`)).map((s) => [s.key.slice(configNamespace.length + 1), ...s.path]));
    } catch {
        return undefined;
    }
}

/** The stack's last applied config (see appliedStackConfig), or undefined when the stack recorded none or it cannot be read. */
export async function lastAppliedStackConfig(stack: auto.Stack, model?: string): Promise<StackConfig | undefined> {
    try {
        const applied = appliedFromOutputs(await readOutputs(stack, { model }));
        return applied ? appliedStackConfig(applied, stack.name) : undefined;
    } catch {
        return undefined;
    }
}

function versionOf(value: unknown): string | undefined {
    const parsed = typeof value === "string" ? (() => { try { return JSON.parse(value); } catch { return undefined; } })() : value;
    return typeof parsed === "object" && parsed !== null && typeof (parsed as { version?: unknown }).version === "string" ? (parsed as { version: string }).version : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Where a model's keys are in a recorded config: `[]` for the shorthand, `[name]` in its `models` map. Throws "refused" when it has no such model. */
function recordedModelPath(plain: Record<string, unknown>, model: string): string[] {
    const models = plain[key("models")];
    if (isRecord(models)) {
        if (isRecord(models[model])) return [model];
        throw new StackOperationError("refused", `the config the last \`up\` applied has no model \`${model}\` (its models are ${Object.keys(models).map((m) => `\`${m}\``).join(", ")}), so \`rollback\` cannot apply it instead; fix the settings file and run \`rollback\` again`);
    }
    if (model === shorthandModel) return [];
    throw new StackOperationError("refused", `the config the last \`up\` applied has one model (\`${shorthandModel}\`, the top-level keys), not \`${model}\`, so \`rollback\` cannot apply it instead; fix the settings file and run \`rollback\` again`);
}

/**
 * `canary.replicas: auto` would scale the canary down in the same `up` (Deployments before the
 * routing): hold it at the pods it runs, so traffic leaves first. The hold stays until the fixed
 * config is applied, which sizes the canary for weight 0 again.
 */
function holdAutoCanary(canaryNode: unknown, canaryVersion: string | undefined, runningReplicas: Record<string, unknown> | undefined): void {
    const running = canaryVersion !== undefined ? runningReplicas?.[canaryVersion] : undefined;
    if (!isRecord(canaryNode) || canaryNode.replicas !== "auto" || typeof running !== "number") return;
    const auto = isRecord(canaryNode.autoReplicas) ? canaryNode.autoReplicas : {};
    canaryNode.autoReplicas = { ...auto, hold: auto.hold ?? running };
}

/**
 * The last applied config with traffic off one model's canary (`model`, default the shorthand's):
 * its `canaryWeight` 0, no mirror (an automatically sized canary held at the pods it runs), and its header routes to the canary removed; other models as they were. Pure.
 */
export function rollbackConfig(applied: AppliedConfig, model: string = shorthandModel, runningReplicas?: Record<string, unknown>): AppliedConfig {
    const at = recordedModelPath(applied.plain, model);
    if (at.length > 0) {
        const plain = structuredClone(applied.plain);
        const entry = (plain[key("models")] as Record<string, Record<string, unknown>>)[at[0]];
        const canaryVersion = versionOf(entry.canary);
        entry.canaryWeight = 0;
        delete entry.mirrorPercent;
        holdAutoCanary(entry.canary, canaryVersion, runningReplicas);
        // Header routes cannot hold secrets (refused by validation), so no secret leaf moves with them.
        if (Array.isArray(entry.headerRoutes)) {
            const kept = entry.headerRoutes.filter((r) => canaryVersion === undefined || (r as { version?: unknown })?.version !== canaryVersion);
            if (kept.length > 0) entry.headerRoutes = kept;
            else delete entry.headerRoutes;
        }
        return { plain, secrets: applied.secrets.map((s) => ({ ...s, path: [...s.path] })) };
    }
    const plain = structuredClone(applied.plain);
    let secrets = applied.secrets.map((s) => ({ ...s, path: [...s.path] }));
    const canaryVersion = versionOf(plain[key("canary")]) ?? versionOf(secrets.find((s) => s.key === key("canary") && s.path.length === 0)?.value);
    plain[key("canaryWeight")] = "0";
    // The shadow stage's mirror sends the canary traffic too (users are not served by it, but it
    // is still load on a canary being rolled back).
    delete plain[key("mirrorPercent")];
    holdAutoCanary(plain[key("canary")], canaryVersion, runningReplicas);
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

/** The user's file with traffic off the model's canary too, where it still parses; otherwise as it was. */
function disarmed(text: string, canaryVersion: string | undefined, model: string): { text: string; edited: boolean } {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length > 0 || !YAML.isMap(doc.get("config"))) return { text, edited: false };
    // The model's keys: in its `models` entry when the file has one, else the top-level keys.
    const entry = ["config", key("models"), model];
    const at = (name: string) => (YAML.isMap(doc.getIn(entry)) ? [...entry, name] : ["config", key(name)]);
    if (!YAML.isMap(doc.getIn(entry)) && model !== shorthandModel) return { text, edited: false };
    doc.setIn(at("canaryWeight"), 0);
    doc.deleteIn(at("mirrorPercent"));
    const routes = doc.getIn(at("headerRoutes"));
    if (YAML.isSeq(routes)) {
        const all = routes.toJSON() as { version?: unknown }[];
        for (let i = all.length - 1; i >= 0; i--) if (canaryVersion !== undefined && all[i]?.version === canaryVersion) routes.delete(i);
        if (routes.items.length === 0) doc.deleteIn(at("headerRoutes"));
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
export async function rollbackFromLastApplied(stack: auto.Stack, reason: string, problems: string[], model: string = shorthandModel): Promise<RecoveryResult> {
    return withApplyLock(stack, "rollback", () => recover(stack, reason, problems, model));
}

async function recover(stack: auto.Stack, reason: string, problems: string[], model: string): Promise<RecoveryResult> {
    const file = stackSettingsPath(stack.workspace.workDir, stack.name);
    const outputs = await readOutputs(stack);
    const applied = appliedFromOutputs(outputs);
    if (!applied) {
        throw new StackOperationError("refused", [
            `the config of stack \`${stack.name}\` is invalid, and the stack has no record of the config it last applied (it was deployed by an older model-canary, or never), so \`rollback\` cannot apply it instead.`,
            `Set \`canaryWeight\` to 0 and remove the canary's header routes in ${path.basename(file)}, fix the problems below, and run \`model-canary up --stack ${stack.name}\`:`,
            ...problems.map((p) => `- ${p}`),
        ].join("\n"), undefined, problems);
    }
    const target = rollbackConfig(applied, model, modelOutputsOf(outputs, model).replicas as Record<string, unknown> | undefined);
    const at = recordedModelPath(applied.plain, model);
    const recorded = (plain: Record<string, unknown>) => (at.length > 0 ? (plain[key("models")] as Record<string, Record<string, unknown>>)[at[0]] : undefined);
    const canaryVersion = versionOf(at.length > 0 ? recorded(applied.plain)!.canary : applied.plain[key("canary")]);
    const original = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    const savedAs = original === undefined ? undefined : `${file}.invalid-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    // Saved first, with traffic off the canary there too, so restoring it by hand never sends traffic back.
    const saved = original === undefined ? undefined : disarmed(original, canaryVersion, model);
    if (savedAs !== undefined) fs.writeFileSync(savedAs, saved!.text);
    try {
        const written = new YAML.Document({ ...providerSettings(original), config: Object.fromEntries(Object.entries(target.plain).map(([k, v]) => [k, fileValue(v)])) });
        // Recorded text that another YAML reader would take as a number (`1_000`) stays text.
        quoteNumberLikeStrings(written.contents);
        writeAtomically(file, written.toString());
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
    // On a cluster the live route is moved first, with one write; the `up` records it (rollback-write.ts).
    const rolledBack = checkConfig(stack);
    const told = (m: string) => { process.stderr.write(terminalText(`${m}\n`)); };
    const routeWrite = await writeRouteBeforeUp(rolledBack, selectModel(rolledBack, model, stack.name), told);
    // As any rollback: the Deployments are not read live first (a hand-scaled one would stop it); the caller reads the route back.
    await upStack(stack, { message: `model-canary rollback from the last applied config: ${reason}`, refresh: "none", overrideStale: true });
    await markRouteRecorded(rolledBack, selectModel(rolledBack, model, stack.name), routeWrite, told);
    const stableVersion = (at.length > 0 ? versionOf(recorded(target.plain)!.stable) : versionOf(target.plain[key("stable")])) ?? versionOf(target.secrets.find((s) => s.key === key("stable") && s.path.length === 0)?.value) ?? "stable";
    return { actionMs: Date.now() - started, savedAs, savedDisarmed: saved?.edited === true, stableVersion };
}

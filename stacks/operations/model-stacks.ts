// One Pulumi stack per model (`stackPerModel: true` beside a `models` map). In one stack, every
// update pays for every model: the engine loads, walks and saves the state of all of them, even
// for a step of one (1.46x a one-model stack's step with 100 models, see bench/scale.ts). Here
// the stack the user names (`dev`) keeps the config and holds no resources; each model's
// resources live in a stack of their own, `dev.<model>`, whose settings file is written from
// `dev`'s before every operation: `dev`'s file with the `models` map cut down to that model.
// Ciphertexts and the encryption salt are copied as they are, so the model's stack decrypts its
// secrets with the same passphrase or key, and holds no other model's secrets.
//
// The commands keep taking `--stack dev --model NAME`: `upStack`, `previewStack` and
// `readOutputs` (automation.ts) hand a model's work to its stack through the functions below.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { configNamespace, stackPerModelUnsupported, stackSettingsPath } from "../config/config";
import { parseSettingsText } from "../config/settings-yaml";

/** The config key that turns the layout on. */
export const stackPerModelKey = `${configNamespace}:stackPerModel`;
const modelsKey = `${configNamespace}:models`;
const renderDirKey = `${configNamespace}:renderDir`;

/** The stack of `model`: `dev` -> `dev.fraud` (an `org/project/dev` name keeps its prefix). */
export function modelStackName(stack: string, model: string): string {
    return `${stack}.${model}`;
}

/** The model whose stack `name` is, when it is one of `stack`'s model stacks. */
export function modelOfStackName(stack: string, name: string): string | undefined {
    const short = (s: string) => s.split("/").pop()!;
    const prefix = `${short(stack)}.`;
    const own = short(name);
    return own.startsWith(prefix) && own.length > prefix.length ? own.slice(prefix.length) : undefined;
}

/**
 * Whether the stack's settings file, as written, turns the layout on. It does not validate the
 * file (an invalid one is refused by the config check with every problem named). When the file
 * cannot say (not YAML, or `stackPerModel` neither true nor false), the models' stacks that
 * model-canary made say where the objects are, so `status` and `rollback` (from the last applied
 * config) still find them.
 */
export function isStackPerModel(workDir: string, stack: string): boolean {
    const file = stackSettingsPath(workDir, stack);
    let on: unknown;
    try {
        const value = parseSettingsText(file, fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
        on = value?.config?.[stackPerModelKey];
    } catch {
        on = "unreadable";
    }
    if (on === true || on === "true") return true;
    if (on === undefined || on === false || on === "false") return false;
    return modelsWithSettings(workDir, stack).length > 0;
}

/** The runtime the project in `workDir` names in its Pulumi.yaml (`yaml`, `nodejs`...), or undefined when it cannot be read. */
export function projectRuntime(workDir: string): string | undefined {
    try {
        const project = YAML.parse(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8")) as { runtime?: unknown } | null;
        const runtime = project?.runtime;
        const name = typeof runtime === "object" && runtime !== null ? (runtime as { name?: unknown }).name : runtime;
        return typeof name === "string" ? name : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Refuses `stackPerModel` for a project whose program is not Node.js's (a YAML program drives its
 * models through `ModelCanaries`): see `stackPerModelUnsupported`. Returns the refusal, or
 * undefined when the layout can be used.
 */
export function stackPerModelRefusal(workDir: string, stack: string): string | undefined {
    const runtime = projectRuntime(workDir);
    if (runtime === undefined || runtime === "nodejs") return undefined;
    return stackPerModelUnsupported(stack, `this program's runtime is \`${runtime}\``);
}

/** First line of a model stack's settings file (a YAML comment, without its `#`). */
export const generatedHeader = " Written by model-canary from Pulumi.%s.yaml before every operation on this stack: edit that file, not this one.";

/** The first line of the settings files model-canary writes for `stack`'s models. */
function headerLine(stack: string): string {
    return `#${generatedHeader.replace("%s", stack.split("/").pop()!)}`;
}

/** A model's stack name is another stack's: `writeModelSettings` refuses to touch it. */
export class ModelStackNameTaken extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ModelStackNameTaken";
    }
}

/**
 * A model stack's settings file: the text of `stack`'s file (`hubText`) with the `models` map cut
 * down to `model`'s entry and `stackPerModel` removed (the model's stack is an ordinary one-model
 * stack of the `models` form). Everything else is kept as written, `secure:` ciphertexts and the
 * `encryptionsalt` included. `renderDir` defaults to `stack`'s (`rendered/<stack>`), so rendered
 * manifests land where one stack would put them. Pure.
 */
export function modelSettingsText(hubText: string, stack: string, model: string): string {
    const doc = YAML.parseDocument(hubText);
    if (doc.errors.length > 0) throw new Error(`Pulumi.${stack}.yaml is not valid YAML: ${doc.errors[0].message}`);
    const config = doc.get("config", true);
    if (!YAML.isMap(config)) throw new Error(`Pulumi.${stack}.yaml has no \`config\` map`);
    const models = config.get(modelsKey, true);
    if (!YAML.isMap(models) || !models.has(model)) throw new Error(`Pulumi.${stack}.yaml has no \`models.${model}\` entry`);
    for (const other of models.items.map((pair) => String(YAML.isScalar(pair.key) ? pair.key.value : pair.key))) {
        if (other !== model) models.delete(other);
    }
    config.delete(stackPerModelKey);
    if (!config.has(renderDirKey)) config.set(renderDirKey, `rendered/${stack.split("/").pop()}`);
    doc.commentBefore = generatedHeader.replace("%s", stack.split("/").pop()!);
    return doc.toString();
}

/**
 * The models of `stack` whose settings files model-canary wrote (`Pulumi.<stack>.<model>.yaml`
 * starting with `generatedHeader`): the models that have stacks of their own, as far as this
 * project directory knows.
 */
export function modelsWithSettings(workDir: string, stack: string): string[] {
    const short = stack.split("/").pop()!;
    const header = headerLine(stack);
    const models: string[] = [];
    for (const file of fs.readdirSync(workDir)) {
        const model = file.startsWith(`Pulumi.${short}.`) && file.endsWith(".yaml") ? file.slice(`Pulumi.${short}.`.length, -".yaml".length) : "";
        if (model === "" || model.includes(".")) continue;
        const fd = fs.openSync(`${workDir}/${file}`, "r");
        try {
            const start = Buffer.alloc(header.length);
            fs.readSync(fd, start, 0, header.length, 0);
            if (start.toString("utf8") === header) models.push(model);
        } finally {
            fs.closeSync(fd);
        }
    }
    return models.sort();
}

/**
 * Writes `model`'s stack settings from `stack`'s when they differ from what is there (so a step
 * leaves the file alone), atomically. Returns the file's path.
 */
export function writeModelSettings(workDir: string, stack: string, model: string): string {
    const hub = stackSettingsPath(workDir, stack);
    const file = stackSettingsPath(workDir, modelStackName(stack, model));
    const text = modelSettingsText(fs.readFileSync(hub, "utf8"), stack, model);
    const before = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    if (before === text) return file;
    // Another stack of the same name (a region's `prod.eu`, say) keeps its settings: never overwritten.
    if (before !== undefined && !before.startsWith(headerLine(stack))) {
        throw new ModelStackNameTaken(`${path.basename(file)} exists and was not written by model-canary: stack \`${modelStackName(stack, model)}\` is not model \`${model}\`'s, and its settings are left as they are. Nothing was applied. Rename the model in \`models\`, or that stack.`);
    }
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, text, { mode: 0o600 });
    fs.renameSync(temp, file);
    return file;
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The outputs one stack of every model would have, from each model stack's (secret values in
 * plaintext): every model under `models`, the config applied to each under `appliedConfig` (the
 * `models` map whole again, and `stackPerModel`, so that `rollback` from the last applied config
 * writes back a file that keeps the layout), and `target` (the same for every model: the layout
 * refuses nothing else). Models without outputs (never updated) are left out. Pure.
 */
export function mergeModelStackOutputs(perModel: [model: string, outputs: Record<string, unknown>][]): Record<string, unknown> {
    const deployed = perModel.filter(([, outputs]) => isRecord(outputs.models));
    if (deployed.length === 0) return {};
    const models: Record<string, unknown> = {};
    const appliedModels: Record<string, unknown> = {};
    let shared: Record<string, unknown> = {};
    const secrets = new Map<string, unknown>();
    for (const [model, outputs] of deployed) {
        Object.assign(models, outputs.models as Record<string, unknown>);
        const applied = isRecord(outputs.appliedConfig) ? outputs.appliedConfig : {};
        const entries = isRecord(applied[modelsKey]) ? applied[modelsKey] as Record<string, unknown> : {};
        if (model in entries) appliedModels[model] = entries[model];
        shared = { ...applied, ...shared };
        for (const secret of Array.isArray(outputs.appliedSecrets) ? outputs.appliedSecrets as { key: string; path: unknown[] }[] : []) {
            secrets.set(JSON.stringify([secret.key, secret.path]), secret);
        }
    }
    return {
        target: deployed[0][1].target,
        models,
        appliedConfig: { ...shared, [modelsKey]: appliedModels, [stackPerModelKey]: true },
        ...(secrets.size > 0 ? { appliedSecrets: [...secrets.values()] } : {}),
    };
}

/**
 * One model's part of the outputs of a stack that held every model (`models.<model>`, its entry
 * of the applied config and its secrets, the stack-wide keys): what its own stack would report,
 * for a model moved out of that stack and not updated in its own since. Empty when the stack's
 * outputs have no such model. Pure.
 */
export function modelPartOf(outputs: Record<string, unknown>, model: string): Record<string, unknown> {
    const models = isRecord(outputs.models) ? outputs.models : {};
    if (!(model in models)) return {};
    const applied = isRecord(outputs.appliedConfig) ? outputs.appliedConfig : {};
    const entries = isRecord(applied[modelsKey]) ? applied[modelsKey] as Record<string, unknown> : {};
    const secrets = (Array.isArray(outputs.appliedSecrets) ? outputs.appliedSecrets as { key: string; path: unknown[] }[] : [])
        .filter((s) => s.key !== modelsKey || s.path[0] === model);
    return {
        target: outputs.target,
        models: { [model]: models[model] },
        appliedConfig: { ...applied, [modelsKey]: model in entries ? { [model]: entries[model] } : {} },
        ...(secrets.length > 0 ? { appliedSecrets: secrets } : {}),
    };
}

/**
 * Runs `work` for every item, at most `limit` at once, in order of start. Every item started is
 * waited for; the first failure (in item order) is thrown after, with the items that never
 * started left out: `failed` names what failed, `skipped` what did not run.
 */
export async function eachLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<{ results: (R | undefined)[]; failed: [T, Error][]; skipped: T[] }> {
    const results: (R | undefined)[] = new Array(items.length).fill(undefined);
    const failed: [T, Error][] = [];
    let next = 0;
    const worker = async () => {
        while (next < items.length && failed.length === 0) {
            const i = next++;
            try {
                results[i] = await work(items[i]);
            } catch (e) {
                failed.push([items[i], e as Error]);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    return { results, failed, skipped: items.slice(next) };
}

/**
 * The stack that holds `stack`'s config: for a model's stack whose settings file model-canary
 * wrote (its first line says from which file), that stack (`prod` for `prod.fraud`); else `stack`.
 */
export function configStackOf(workDir: string, stack: string): string {
    let first = "";
    try {
        first = fs.readFileSync(stackSettingsPath(workDir, stack), "utf8").split("\n", 1)[0];
    } catch {
        return stack;
    }
    const [before, after] = `#${generatedHeader}`.split("%s");
    if (!first.startsWith(before) || !first.endsWith(after)) return stack;
    const hub = first.slice(before.length, first.length - after.length);
    return modelOfStackName(hub, stack) !== undefined ? hub : stack;
}

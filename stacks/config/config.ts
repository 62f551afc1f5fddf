// Stack config -> validated ModelCanary arguments. The only place that reads Pulumi config.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { inModel, ModelEntry, modelCollisions, modelEntries, predictionGateCollisions, modelKeys, selectModelName, shorthandModel } from "./models";
import { prometheusAuthSecretKeys, resolvePlan } from "./rollout-plan";
import { readSettingsConfigMap, settingsWrittenProblems } from "./settings-yaml";
import { applyHolds, readHolds } from "./replica-holds";
import { readRoutingRevision } from "./routing-revision";
import { ConfigPath, formatPath, isSecretPath, redact, scalarTexts, secretLocationProblems, secretMark, secureLeaves, show, valueAt, withSecrets } from "../../components/secrets";
import { controlCharacter, overflowingNumbers } from "../../components/syntax";
import type { ModelCanaryArgs } from "../../components/types";
import { formatCharacterProblems, limits, ResolvedModelCanaryArgs, unknownKeyProblem, validateModelCanaryArgs, ValidationError } from "../../components/validation";

/** The project's config namespace: keys are written `model-canary:<key>` in Pulumi.<stack>.yaml. */
export const configNamespace = "model-canary";

/** Keys of the whole stack, whatever its models: they stay at the top level next to `models`. */
export const stackKeys = ["kubeconfig", "renderDir", "models", "defaults", "stackPerModel"] as const;

/** Keys whose value is always text. */
const textKeys: readonly string[] = ["kubeconfig", "renderDir"];

/** One model of the stack: a ModelCanary and its rollout settings. */
export interface ModelConfig {
    /** The model's name: its key in `models`, or `model` for the shorthand. Also the component's resource name. */
    name: string;
    /** Where its keys live in the config tree: `[]` for the shorthand (top-level keys), `["models", name]` otherwise. */
    path: string[];
    /** The component's arguments as configured (defaults not yet applied; in `models`, `app` defaults to the model's name). */
    args: ModelCanaryArgs;
    /** The same with defaults applied: what the component will build. */
    resolved: ResolvedModelCanaryArgs;
    /** The model's `rollout` block, read by the rollout tool. */
    rollout?: Record<string, unknown>;
    /** `routingRevision`: the stack's routing revision these settings were written from (see routing-revision.ts); undefined when none is written. */
    routingRevision?: number;
    /**
     * Per role, a digest of the ciphertexts of its secret env values in the stack settings (set by
     * the program): it changes when a secret is set again, and restarts that version's pods.
     */
    envSecretRevisions?: Partial<Record<"stable" | "canary", string>>;
}

export interface StackConfig {
    /** The stack's models by name, in config order: one (`model`) for the shorthand. */
    models: Record<string, ModelConfig>;
    /** True when the top-level keys describe the only model (no `models` map). */
    shorthand: boolean;
    /** Kubeconfig path or contents; when set, objects are applied to that cluster. */
    kubeconfig?: string;
    /**
     * Where manifests are rendered when no cluster is configured: a normalized path relative to
     * the project directory (the one holding Pulumi.yaml), never absolute, so the state, which
     * records it, is the same in every checkout.
     */
    renderDir: string;
    /** True when `kubernetes:kubeconfig` or `kubernetes:context` configures the cluster. */
    kubernetesProviderConfigured: boolean;
    /**
     * `stackPerModel`: each model of the `models` map lives in a Pulumi stack of its own
     * (`<stack>.<model>`, see stacks/operations/model-stacks.ts), so one model's step costs what it costs in a
     * one-model stack. This stack then holds no resources; the commands act on the models' stacks.
     */
    stackPerModel: boolean;
    /** Where the secret values are, e.g. `["canary", "env", "API_KEY"]`; each is at a place that keeps it secret. */
    secretPaths: ConfigPath[];
    /** The secret values' plaintext: kept out of every message, record and report. */
    secrets: string[];
    /** `kubernetes:kubeconfig`, the provider's own key (used when `kubeconfig` is not set). */
    kubernetesKubeconfig?: string;
    /** `kubernetes:context`: the kubeconfig context to use. */
    kubernetesContext?: string;
}

/** The pod annotation that carries `envSecretRevisions`. */
export const secretRevisionAnnotation = "model-canary/secret-env-revision";

/** Where a stack's settings file is: a fully qualified stack name (org/project/dev) keeps them in Pulumi.dev.yaml. */
export function stackSettingsPath(workDir: string, stack: string): string {
    return path.join(workDir, `Pulumi.${stack.split("/").pop()}.yaml`);
}

/**
 * Parses the flat `namespace:key -> string` map the engine hands a program (structured values
 * arrive as JSON text) into validated arguments. Pure, so it is tested without the engine.
 * Every problem is reported at once; unknown keys are errors, so a typo is never ignored.
 */
export function parseStackConfig(all: Record<string, string>, stack: string, secretPaths: ConfigPath[] = []): StackConfig {
    const problems: string[] = [];
    const size = configSizeProblem(all);
    // Too big to check cheaply, and too big for the engine: say so and nothing else.
    if (size) throw new ValidationError([size]);
    const unreadable = new Set<string>();
    const values: Record<string, unknown> = {};
    const accepted = [...modelKeys, ...stackKeys];
    for (const [fullKey, raw] of Object.entries(all)) {
        const [namespace, key] = splitKey(fullKey);
        if (namespace !== configNamespace) continue;
        if (!accepted.includes(key as (typeof accepted)[number])) {
            problems.push(unknownKeyProblem(key, key, accepted));
            continue;
        }
        const text = raw.trim();
        // A kubeconfig or a path is text even when it looks like JSON (kubeconfigs may be written in JSON).
        if (!textKeys.includes(key) && (text.startsWith("{") || text.startsWith("["))) {
            try {
                const parsed: unknown = JSON.parse(text);
                const overflowing = overflowingNumbers(text);
                if (overflowing.length === 0) values[key] = parsed;
                else {
                    // Read as Infinity, which every later message would show instead of what was written.
                    unreadable.add(key);
                    const secret = secretPaths.some((p) => p[0] === key);
                    problems.push(`\`${key}\` holds ${secret ? "a number" : overflowing.join(", ")}, beyond the largest number config can carry (about 1.8e308): write a number within the range the key accepts`);
                }
            } catch (e) {
                unreadable.add(key);
                // A value holding a secret is not echoed, not even in part.
                const secret = secretPaths.some((p) => p[0] === key);
                problems.push(`\`${key}\` must be valid structured config, got ${secret ? secretMark : show(raw)} (${secret ? "not valid JSON" : (e as Error).message})`);
            }
        } else {
            values[key] = raw;
        }
    }

    // Secret values are validated like any other, but a message shows `[secret]` where it would
    // echo one, and a secret where it cannot stay secret is refused.
    const secrets = [...new Set(secretPaths.flatMap((p) => p.length === 1 && unreadable.has(String(p[0]))
        ? [all[`${configNamespace}:${p[0]}`] ?? ""]
        : scalarTexts(valueAt(values, p))))];
    problems.push(...secretLocationProblems(secretPaths), ...plaintextCredentialProblems(values, secretPaths));
    try {
        return withSecrets(secrets, () => checkValues(values, all, stack, problems, unreadable, secretPaths, secrets));
    } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(e.problems.map((p) => redact(p, secrets)));
        throw e;
    }
}

function checkValues(
    values: Record<string, unknown>, all: Record<string, string>, stack: string, problems: string[], unreadable: Set<string>,
    secretPaths: ConfigPath[], secrets: string[],
): StackConfig {
    // Any text that reaches a comment or a terminal: the rollout block, defaults and every model too.
    problems.push(...formatCharacterProblems(values));
    const { kubeconfig, renderDir } = values;
    if (kubeconfig !== undefined && (typeof kubeconfig !== "string" || kubeconfig.trim() === "")) {
        problems.push(`\`kubeconfig\` must be a kubeconfig path or its contents, got ${show(kubeconfig)}`);
    }
    const renderProblem = renderDirProblem(renderDir);
    if (renderProblem) problems.push(renderProblem);
    const stackPerModel = readStackPerModel(values, problems);

    // A `models` map that could not be read has no entries to check; the shorthand is read as usual.
    const entries = unreadable.has("models") ? [] : modelEntries(values, problems);
    const models: Record<string, ModelConfig> = {};
    for (const entry of entries) {
        const model = checkModel(entry, problems, entry.path.length === 0 ? unreadable : new Set());
        if (model) models[entry.name] = model;
    }
    problems.push(...modelCollisions(Object.values(models)));
    const layers = new Map(entries.map((e) => [e.name, e.layers]));
    problems.push(...predictionGateCollisions(Object.values(models).map((m) => ({ ...m, layers: layers.get(m.name), predictions: predictionGateOf(m.rollout) }))));
    // A bad default is reported once, not once per model.
    if (problems.length > 0 || Object.keys(models).length === 0) throw new ValidationError([...new Set(problems)]);

    return {
        models,
        shorthand: values.models === undefined,
        kubeconfig: kubeconfig as string | undefined,
        renderDir: path.posix.normalize((renderDir as string | undefined) ?? `rendered/${stack}`),
        kubernetesProviderConfigured: ["kubernetes:kubeconfig", "kubernetes:context"].some((k) => all[k] !== undefined),
        stackPerModel,
        secretPaths,
        secrets,
        kubernetesKubeconfig: all["kubernetes:kubeconfig"],
        kubernetesContext: all["kubernetes:context"],
    };
}

/**
 * `stackPerModel`: true or false (`pulumi config set stackPerModel true` stores the text "true"),
 * and only beside a `models` map: the shorthand's one model has its stack already.
 */
function readStackPerModel(values: Record<string, unknown>, problems: string[]): boolean {
    const raw = values.stackPerModel;
    if (raw === undefined) return false;
    const value = raw === true || raw === "true" ? true : raw === false || raw === "false" ? false : undefined;
    if (value === undefined) {
        problems.push(`\`stackPerModel\` must be true or false, got ${show(raw)}`);
        return false;
    }
    if (value && values.models === undefined) {
        problems.push("`stackPerModel` needs a `models` map: the top-level keys describe one model, which has its stack already; move them under `models.<name>` or remove `stackPerModel`");
    }
    return value;
}

/** A model's prediction gate, when its rollout block turns it on (a block with problems has them reported by `checkModel`). */
function predictionGateOf(rollout: Record<string, unknown> | undefined) {
    if (typeof rollout !== "object" || rollout === null || Array.isArray(rollout)) return undefined;
    try {
        return resolvePlan(rollout).predictions;
    } catch (e) {
        if (e instanceof ValidationError) return undefined;
        throw e;
    }
}

/** One model's keys: its rollout block and its component arguments, each problem named at the model's own key. */
function checkModel(entry: ModelEntry, problems: string[], unreadable: Set<string>): ModelConfig | undefined {
    const inEntry = (p: string) => inModel(entry, p);
    const { rollout, routingRevision: writtenRevision, ...componentValues } = entry.values;
    const revisionProblems: string[] = [];
    const routingRevision = readRoutingRevision(writtenRevision, revisionProblems);
    problems.push(...revisionProblems.map(inEntry));
    if (entry.path.length > 0) {
        // Unknown keys are named at their full path; a stack-wide key says where it belongs.
        for (const key of Object.keys(componentValues).filter((k) => !modelKeys.includes(k))) {
            const full = [...entry.path, key].join(".");
            problems.push((stackKeys as readonly string[]).includes(key)
                ? `\`${full}\` is a key of the whole stack, not of one model: set \`${key}\` at the top level`
                : unknownKeyProblem(full, key, modelKeys));
            delete componentValues[key];
        }
    }
    if (rollout !== undefined && (typeof rollout !== "object" || rollout === null || Array.isArray(rollout))) {
        problems.push(inEntry(`\`rollout\` must be an object, got ${show(rollout)}`));
    } else if (rollout !== undefined) {
        // Checked here too, so a typo in the rollout block fails `pulumi up`, not the pipeline later.
        try {
            resolvePlan(rollout as Record<string, unknown>);
        } catch (e) {
            problems.push(...(e instanceof ValidationError ? e.problems : [(e as Error).message]).map(inEntry));
        }
    }
    // In the `models` map a model's `app` label defaults to its name, so models differ without setting it.
    const args = (entry.path.length === 0 ? componentValues : { app: entry.name, ...componentValues }) as unknown as ModelCanaryArgs;
    try {
        const resolved = validateModelCanaryArgs(args);
        return { name: entry.name, path: entry.path, args, resolved, rollout: rollout as Record<string, unknown> | undefined, ...(routingRevision !== undefined ? { routingRevision } : {}) };
    } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        // A value that could not be read is reported once, not again as missing.
        problems.push(...e.problems.filter((p) => ![...unreadable].some((key) => p.startsWith(`\`${key}\``))).map(inEntry));
        return undefined;
    }
}

/**
 * The project's config past `limits.configBytes`, with its largest keys. The engine hands the
 * program every config value in one environment variable, capped by Linux at 128 KiB: past that
 * the program cannot even start ("argument list too long"), so the limit leaves room for the rest.
 */
function configSizeProblem(all: Record<string, string>): string | undefined {
    const sizes = Object.entries(all)
        .filter(([k]) => splitKey(k)[0] === configNamespace)
        .map(([k, v]) => [splitKey(k)[1], Buffer.byteLength(JSON.stringify(k)) + Buffer.byteLength(JSON.stringify(v)) + 2] as const);
    const total = sizes.reduce((sum, [, n]) => sum + n, 0);
    if (total <= limits.configBytes) return undefined;
    const largest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `\`${k}\` (${n} bytes)`);
    return `the project's config is ${total} bytes; at most ${limits.configBytes} are accepted (the engine passes all config to the program in one environment variable, which Linux caps at 128 KiB): largest keys ${largest.join(", ")}`;
}

/**
 * Why `renderDir` is refused, or undefined. It must be a path inside the project, relative to
 * the project directory: the Kubernetes provider keeps it in the stack's state and runs in the
 * project directory, so a relative path means the same thing in every checkout, whereas an
 * absolute one would make every other checkout preview a replacement of every object, and an
 * `up` there delete this checkout's files.
 */
function renderDirProblem(renderDir: unknown): string | undefined {
    const accepted = "a directory inside the project, relative to the directory holding Pulumi.yaml, e.g. rendered/dev";
    if (renderDir === undefined) return undefined;
    if (typeof renderDir !== "string" || renderDir.trim() === "") return `\`renderDir\` must be ${accepted}, got ${show(renderDir)}`;
    if (path.isAbsolute(renderDir) || /^[A-Za-z]:[\\/]/.test(renderDir)) {
        return `\`renderDir\` must be ${accepted}, not an absolute path (the state records it, and other checkouts would write and delete files there), got ${show(renderDir)}`;
    }
    const normal = path.posix.normalize(renderDir.replace(/\\/g, "/"));
    if (normal === "." || normal === ".." || normal.startsWith("../")) return `\`renderDir\` must be ${accepted}, got ${show(renderDir)}, which is ${normal === "." ? "the project directory itself" : "outside the project"}`;
    const ch = controlCharacter(renderDir);
    if (ch !== undefined) return `\`renderDir\` must not contain control characters, got ${show(renderDir)}`;
    return undefined;
}

function splitKey(fullKey: string): [string, string] {
    const i = fullKey.indexOf(":");
    // The engine hands keys as `namespace:key`; older engines used `namespace:config:key`.
    const rest = fullKey.slice(i + 1);
    return [fullKey.slice(0, i), rest.startsWith("config:") ? rest.slice("config:".length) : rest];
}

/**
 * Which of the project's config values are secret, from what the engine says (`secretKeys`: the
 * full keys it decrypted for the program) and the stack settings (`settings`: its `config` map,
 * where `pulumi config set --secret --path` leaves `{ secure: ... }` at the exact field). A key the
 * engine calls secret with no encrypted field in the settings (e.g. one stored as a whole) is
 * secret as a whole. Pure.
 */
export function engineSecretPaths(secretKeys: readonly string[], settings: Record<string, unknown> | undefined): ConfigPath[] {
    const paths: ConfigPath[] = [];
    for (const fullKey of secretKeys) {
        const [namespace, key] = splitKey(fullKey);
        if (namespace !== configNamespace) continue;
        const leaves = secureLeaves(settings?.[`${configNamespace}:${key}`], [key]).map((l) => l.path);
        paths.push(...(leaves.length > 0 ? leaves : [[key]]));
    }
    return paths;
}

/**
 * For `stable` and `canary` of one model (`at`: where its keys live, `[]` for the shorthand), a
 * digest of the ciphertexts of their secret env values in the stack settings. Ciphertexts are
 * public (they are committed) and change whenever a value is set again, so the digest reveals
 * nothing about a value yet tells its pods to restart when it changes; a promotion moves the
 * ciphertexts unchanged, so the promoted pods keep running. Pure.
 */
export function envSecretRevisions(settings: Record<string, unknown> | undefined, at: string[] = []): Partial<Record<"stable" | "canary", string>> {
    const revisions: Partial<Record<"stable" | "canary", string>> = {};
    for (const role of ["stable", "canary"] as const) {
        const [key, ...rest] = [...at, role];
        const env = valueAt(settings?.[`${configNamespace}:${key}`], [...rest, "env"]);
        const leaves = secureLeaves(env, []).map((l) => `${JSON.stringify(l.path)}=${l.ciphertext}`).sort();
        if (leaves.length > 0) revisions[role] = crypto.createHash("sha256").update(leaves.join("\n")).digest("hex").slice(0, 16);
    }
    return revisions;
}

/**
 * `prometheusAuth`'s token or password written in plaintext, in any rollout block (the top-level
 * one, `defaults.rollout`, `models.<name>.rollout`): it would be committed with the settings file.
 */
function plaintextCredentialProblems(values: Record<string, unknown>, secretPaths: ConfigPath[]): string[] {
    const blocks: ConfigPath[] = [["rollout"], ["defaults", "rollout"]];
    const models = values.models;
    if (typeof models === "object" && models !== null && !Array.isArray(models)) blocks.push(...Object.keys(models).map((name) => ["models", name, "rollout"]));
    return blocks.flatMap((block) => prometheusAuthSecretKeys
        .map((key) => [...block, "prometheusAuth", key])
        .filter((at) => valueAt(values, at) !== undefined && !isSecretPath(at, secretPaths))
        .map((at) => `\`${formatPath(at)}\` must be a secret, set with \`pulumi config set --secret --path '${formatPath(at)}' VALUE\`: in plaintext it would be committed with the stack's settings file`));
}

/** The full keys the engine handed this program as secrets. */
function programSecretKeys(all: Record<string, string>): string[] {
    // `isConfigSecret` is how @pulumi/pulumi's own Config tells secrets apart; it reads the list the
    // language host passes in PULUMI_CONFIG_SECRET_KEYS.
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret;
    if (typeof isSecret !== "function") throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret: secret config cannot be told apart");
    return Object.keys(all).filter((k) => isSecret(k));
}

/**
 * The stack settings' `config` map, or undefined when there is no settings file here (config
 * given to the engine another way): then a secret key is secret as a whole.
 */
function readSettingsConfig(workDir: string, stack: string): Record<string, unknown> | undefined {
    const file = stackSettingsPath(workDir, stack);
    if (!fs.existsSync(file)) return undefined;
    // The engine hands over `0x10` as 16: how each value is written is checked in the file itself.
    refuseWrittenForms(file, fs.readFileSync(file, "utf8"), pulumi.getProject());
    return readSettingsConfigMap(file);
}

/**
 * Refuses a settings text whose project keys are written in forms the engine hands over as other
 * values (`canaryWeight: 0x10` as 16; see settings-written.ts), before any value is checked: a
 * value check would only see the other value. `projectName`: whose settings they are.
 */
export function refuseWrittenForms(file: string, text: string, projectName: string | undefined): void {
    const problems = settingsWrittenProblems(file, text, configNamespace, projectName);
    if (problems.length > 0) throw new ValidationError(problems);
}

/**
 * Reads this stack's config; a bad value ends the program with the message alone, before any
 * resource. `refuseLayout` stops a stack whose config sets `stackPerModel` (by default
 * `refuseStackPerModel`; `ModelCanaries` refuses the layout outright).
 */
export function loadStackConfig(refuseLayout: (config: StackConfig, stack: string) => void = refuseStackPerModel): StackConfig {
    try {
        const all = pulumi.runtime.allConfig();
        const stack = pulumi.getStack();
        // The engine runs the program in the project directory, next to the stack settings.
        const settings = readSettingsConfig(process.cwd(), stack);
        const config = parseStackConfig(all, stack, engineSecretPaths(programSecretKeys(all), settings));
        for (const model of Object.values(config.models)) model.envSecretRevisions = envSecretRevisions(settings, model.path);
        // Pods held for this one `up` by the command that runs it (a traffic change first, pods after).
        const holds = readHolds();
        for (const model of Object.values(config.models)) applyHolds(model, holds[model.name]);
        refuseLayout(config, stack);
        return config;
    } catch (e) {
        if (e instanceof ValidationError) {
            throw programError(`invalid stack config for \`${configNamespace}\`: ${e.message}`);
        }
        throw e;
    }
}

/**
 * The error a program stops with when it refuses to go on (a config it would not apply): the
 * engine shows its message alone. Its stack is its message: @pulumi/pulumi 3.248 also formats an
 * uncaught error with `util.inspect` for its tracing, and with the program's stack frames that
 * took 12-13 s of CPU, so a hand `pulumi up` with `canaryWeight` 500 refused after 14 s instead of
 * 1.7 s.
 */
export function programError(message: string): pulumi.RunError {
    const error = new pulumi.RunError(message);
    error.stack = message;
    return error;
}

/**
 * Stops the program of a stack whose models live in stacks of their own (`stackPerModel`, see
 * stacks/operations/model-stacks.ts) before it registers anything: that stack holds no resources, and an
 * update of it would create every model's objects a second time.
 */
export function refuseStackPerModel(config: StackConfig, stack: string): void {
    if (!config.stackPerModel) return;
    throw programError(`stack \`${stack}\` keeps each model in a stack of its own (\`stackPerModel\` is set), so it holds no resources and \`pulumi up\` of it applies nothing. Nothing was applied. Run \`model-canary up --stack ${stack}\` (every model) or \`model-canary up --stack ${stack} --model NAME\`; by hand, \`pulumi up --stack ${stack}.NAME\` once model-canary has written its settings file.`);
}

/**
 * Why `stackPerModel` cannot be used with a program other than a TypeScript one (`why`: what the
 * program is, e.g. "this program's runtime is `yaml`"): a model's stack runs the whole program, so
 * the program's other resources would be created once per model, and a model's `ModelCanary` is
 * a child of `ModelCanaries` there, so `pulumi state move` of a component at the stack's root
 * (stacks/operations/model-stacks.ts) cannot move the models a stack already holds: each would be
 * created a second time in its own stack. Pure.
 */
export function stackPerModelUnsupported(stack: string, why: string): string {
    const short = stack.split("/").pop()!;
    return `\`stackPerModel\` is true in Pulumi.${short}.yaml, which the commands support for a TypeScript program only, and ${why}: each model's stack (\`${short}.<model>\`) would run the whole program, creating its other resources once per model, and each model's \`ModelCanary\` is a child of \`ModelCanaries\`, which the commands cannot move to a model's stack, so a model stack \`${short}\` already holds would be created a second time. Nothing was applied. Remove \`stackPerModel\` to keep every model in stack \`${short}\`, or drive the models from a TypeScript program (docs/many-models.md).`;
}

/**
 * One model's component arguments as the program passes them: every secret environment value
 * wrapped with `pulumi.secret`, so the component delivers it through a Kubernetes Secret and the
 * engine stores it encrypted.
 */
export function componentArgs(config: StackConfig, model: ModelConfig): ModelCanaryArgs {
    const args = structuredClone(model.args) as ModelCanaryArgs;
    for (const role of ["stable", "canary"] as const) {
        const version = args[role];
        const env = version?.env as Record<string, pulumi.Input<string>> | undefined;
        if (!version || !env) continue;
        let secret = false;
        for (const name of Object.keys(env)) {
            if (!isSecretPath([...model.path, role, "env", name], config.secretPaths)) continue;
            env[name] = pulumi.secret(String(env[name]));
            secret = true;
        }
        // A container reads its env when it starts: a new secret value must restart its pods, as a
        // new plain value does by changing the Deployment.
        const revision = model.envSecretRevisions?.[role];
        if (secret && revision) version.podAnnotations = { ...version.podAnnotations, [secretRevisionAnnotation]: revision };
    }
    return args;
}

/** The kubeconfig as the provider takes it: always a secret. */
export function kubeconfigInput(config: StackConfig): pulumi.Input<string> | undefined {
    // `kubeconfig`, else the provider's own `kubernetes:kubeconfig`: either may hold credentials,
    // secret-marked or not, so the provider always gets it as a secret and the state encrypts it.
    const kubeconfig = config.kubeconfig ?? config.kubernetesKubeconfig;
    return kubeconfig === undefined ? undefined : pulumi.secret(kubeconfig);
}

/** Secret paths that the rendered manifests hold (base64, as a cluster receives them), shown as `pulumi config` paths. */
export function renderedSecretPaths(config: StackConfig): string[] {
    return config.secretPaths.filter((p) => {
        const own = p[0] === "models" ? p.slice(2) : p;
        return own[1] === "env" && (own[0] === "stable" || own[0] === "canary");
    }).map(formatPath);
}

/** The model a command acts on: the one `--model` names, or the only one (see `selectModelName`). */
export function selectModel(config: StackConfig, requested: string | undefined, stack: string): ModelConfig {
    return config.models[selectModelName(Object.keys(config.models), requested, stack)];
}

/** The model named `name`; the config must have it. */
export function modelOf(config: StackConfig, name: string): ModelConfig {
    const model = config.models[name];
    if (!model) throw new Error(`stack config has no model \`${name}\` (models: ${Object.keys(config.models).join(", ")})`);
    return model;
}

export { shorthandModel };

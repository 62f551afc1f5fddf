// The Automation API layer: typed operations on a stack of this project, used by pipelines, the
// CLI and the engine tests. Every failure surfaces as a StackOperationError with a clear kind and
// message; nothing here swallows an error.
import { hideUrlPasswords, terminalText } from "../../components/syntax";
import * as auto from "@pulumi/pulumi/automation";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gatewayApiRouteKind } from "../../components/routers/gateway-api-route";
import { ResolvedModelCanaryArgs, ValidationError } from "../../components/validation";
import { describeBackendLock, takeOverDeadBackendLocks } from "./backend-lock";
import { checkProjectConfig, Decrypt, editProjectConfig, modelEntryOf, readProjectConfig, stackSettingsPath, writeRoutingRevision } from "../config/settings";
import { decideRouting, overrideStaleEnvVar, recordOf, RoutingRecord, routingRecordsEnvVar, routingDigest, routingRevisionKey } from "../config/routing-revision";
import { ModelConfig, StackConfig } from "../config/config";
import { removedModelCollisions } from "../config/model-removal";
import { modelOutputsOf, shorthandModel } from "../config/models";
import { routerSwitchCollisions, routerSwitches, routerSwitchesEnvVar } from "../config/router-switch";
import { describeApplyConflict, findApplyConflict } from "./conflicts";
import { planScope, scopeEnvVar, UpdateScope } from "./scope";
import { readSettingsConfig, writeScopeFile } from "./scope-file";
import { isEmptyStack, skipCheckpointsEnvVar } from "./first-up";
import { targetsCluster } from "../cluster-client/live";
import { readClusterIdentity } from "../cluster-client/cluster-api";
import { chooseClusterIdentifier, clusterIdEnvVar, differentClusterMessage, recordedClusterIdentifier } from "../cluster-client/cluster-identity";
import { ownerEnvVar, ownerName } from "../cluster-client/ownership";
import { ForeignObjectsError, objectKey, refuseForeignObjects } from "../cluster-client/ownership-check";
import { toolchainLocator } from "./toolchain-dir";
import { pulumiCommandOf } from "./pulumi-version";
import { localStackFile, localStackOutputs } from "./local-stack-file";
import { engineFailureCause } from "./engine-failure";
import { holdsEnv, ReplicaHolds } from "../config/replica-holds";
import { PulumiCommandFailure, runStackCommand, runWorkspaceCommand } from "./pulumi-command";
import { inlineProgramOf, programFunction, servingProgram, withProgramProcess } from "./inline-program";
import { configStackOf, eachLimited, isStackPerModel, mergeModelStackOutputs, ModelStackNameTaken, modelOfStackName, modelPartOf, modelStackName, modelsWithSettings, stackPerModelRefusal, writeModelSettings } from "./model-stacks";

/** The nearest directory at or above `dir` that holds `file`, or undefined. */
function findUp(dir: string, file: string): string | undefined {
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, file))) return d;
        if (path.dirname(d) === d) return undefined;
    }
}

/**
 * This package's own directory (package.json, toolchain/), whether the code runs from the
 * TypeScript sources or compiled in dist/.
 */
export const packageDir = findUp(__dirname, "package.json") ?? path.resolve(__dirname, "..", "..");

/** This repository's Pulumi project (its stack program is index.ts): the package's own directory. */
export const projectDir = packageDir;

/**
 * The project a command acts on when none is given: the nearest directory holding Pulumi.yaml at
 * or above the current one, as the pulumi CLI finds it.
 */
export function defaultWorkDir(cwd = process.cwd()): string {
    const found = findUp(cwd, "Pulumi.yaml");
    if (found === undefined) throw new StackOperationError("stack-not-found", `no Pulumi.yaml in ${cwd} or any directory above it: run the command in your Pulumi project, or pass \`--cwd DIR\``);
    return found;
}

/** The project directory of a stack reference. */
export function workDirOf(ref: StackRef): string {
    return ref.workDir ?? defaultWorkDir();
}

export interface StackRef {
    /** Stack name, e.g. `dev`. */
    stack: string;
    /** Project directory (holding Pulumi.yaml). Default: the nearest one at or above the current directory. */
    workDir?: string;
    /** State backend. Default `$PULUMI_BACKEND_URL`, else `file://<workDir>/.pulumi-state` (local only). */
    backendUrl?: string;
    /** Directory holding `pulumi`, `pulumi-language-nodejs` and `pulumi-resource-kubernetes`. Default: `npm run toolchain`'s. */
    toolchainDir?: string;
    /** Extra environment for the engine and the program. */
    env?: Record<string, string>;
}

/** The reference an open stack was made from: its name, project directory and backend. */
export function refOf(stack: auto.Stack): StackRef {
    const workspace = stack.workspace as auto.LocalWorkspace;
    return { stack: stack.name, workDir: workspace.workDir, backendUrl: workspace.envVars?.PULUMI_BACKEND_URL };
}

/** `refused`: the stack is not in a state the operation accepts (no canary to promote, say). */
export type StackErrorKind = "validation" | "refused" | "concurrent-update" | "stack-not-found" | "stack-exists" | "toolchain" | "conflict" | "engine";

export class StackOperationError extends Error {
    constructor(public readonly kind: StackErrorKind, message: string, public readonly output?: string, public readonly problems?: string[]) {
        super(message);
        this.name = "StackOperationError";
    }
}

/** A change the engine planned or made for one resource. */
export interface ResourceStep {
    op: auto.OpType;
    urn: string;
    type: string;
    /** The logical name, the last part of the URN. */
    name: string;
    /** Top-level properties that differ. */
    diffs: string[];
}

export interface OperationResult {
    steps: ResourceStep[];
    /** Count of resources per operation, e.g. `{ update: 1, same: 6 }`. */
    changes: Record<string, number>;
    stdout: string;
}

export interface UpResult extends OperationResult {
    outputs: Record<string, unknown>;
    /** With `model`: whether the update was scoped to it, or why it was a whole one. */
    scope?: { model: string } | { whole: string };
}

const locateToolchain = toolchainLocator({
    envVar: "MODEL_CANARY_TOOLCHAIN",
    script: path.join(packageDir, "toolchain", "ensure.sh"),
    what: "the Pulumi toolchain",
    fail: (message) => new StackOperationError("toolchain", message),
    advice: "; set MODEL_CANARY_TOOLCHAIN to a directory holding pulumi, pulumi-language-nodejs and pulumi-resource-kubernetes to use your own",
});

/** The toolchain directory: `$MODEL_CANARY_TOOLCHAIN`, or what `toolchain/ensure.sh` prints last. */
export function toolchainDir(): string {
    return locateToolchain();
}

/** The state backend a stack uses, and a warning when an empty passphrase guards non-local state. */
export function backendFor(ref: StackRef): { url: string; warning?: string } {
    const url = ref.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? `file://${path.join(workDirOf(ref), ".pulumi-state")}`;
    const passphrase = ref.env?.PULUMI_CONFIG_PASSPHRASE ?? process.env.PULUMI_CONFIG_PASSPHRASE ?? "";
    const local = url.startsWith("file://") && !/^file:\/\/\/?[a-z0-9]+:/i.test(url);
    const warning = !local && passphrase === ""
        ? `warning: the empty PULUMI_CONFIG_PASSPHRASE default is for local state only, but the backend is ${hideUrlPasswords(url)}; set PULUMI_CONFIG_PASSPHRASE or use a secrets provider`
        : undefined;
    return { url, warning };
}

function environment(ref: StackRef): Record<string, string> {
    const bin = ref.toolchainDir ?? toolchainDir();
    const backend = backendFor(ref);
    if (backend.warning) process.stderr.write(terminalText(`${backend.warning}\n`));
    return {
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_BACKEND_URL: backend.url,
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        // The program type-checks in `npm test`; the engine only needs it transpiled.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...ref.env,
    };
}

/**
 * Opens the stack for operations, or creates it when `create` is set and it does not exist yet.
 * Never changes which stack the user has selected, and a stack is created only after its config
 * (`Pulumi.<stack>.yaml`) passes validation, so a refusal leaves nothing behind.
 */
export async function openStack(ref: StackRef, options: { create?: boolean } = {}): Promise<auto.Stack> {
    const workDir = workDirOf(ref);
    const bin = ref.toolchainDir ?? toolchainDir();
    const backend = backendFor(ref).url;
    const localFolder = backend.startsWith("file://") ? backend.slice("file://".length).replace(/\?.*$/, "").replace(/^~(?=\/|$)/, os.homedir()) : undefined;
    try {
        const pulumiCommand = await pulumiCommandOf(path.dirname(bin));
        const workspace = withoutSelection(await auto.LocalWorkspace.create({ workDir, envVars: environment({ ...ref, toolchainDir: bin }), pulumiCommand }));
        // A local backend folder that does not exist yet holds no stacks (and `pulumi login` needs it to exist).
        if (localFolder === undefined || fs.existsSync(localFolder)) {
            try {
                return await auto.Stack.select(ref.stack, workspace);
            } catch (e) {
                if (!(options.create && e instanceof StackOperationError && e.kind === "stack-not-found")) throw e;
            }
        } else if (!options.create) {
            throw stackNotFound(ref.stack);
        }
        // Refuse before `pulumi stack init`, which would record the stack and write Pulumi.<stack>.yaml.
        requireSettingsFile(workDir, ref.stack);
        let secretsToCheck = false;
        try {
            checkProjectConfig(workDir, ref.stack);
        } catch (e) {
            // Secrets can only be decrypted through the stack: those are checked once it exists.
            if (e instanceof ValidationError) throw e;
            secretsToCheck = true;
        }
        if (localFolder) fs.mkdirSync(localFolder, { recursive: true });
        const stack = await auto.Stack.create(ref.stack, workspace);
        if (secretsToCheck) {
            try {
                checkConfig(stack);
            } catch (e) {
                // A refusal leaves no stack behind; the settings file (its salt and secrets were there already) stays.
                await runPulumi(workspace, ["stack", "rm", "--yes", "--preserve-config", ref.stack], ref.stack);
                throw e;
            }
        }
        return stack;
    } catch (e) {
        throw classify(e, ref.stack);
    }
}

/**
 * Decrypts the stack's config through its own secrets provider, as the engine does before it runs
 * the program: `pulumi config --show-secrets --json` with the workspace's environment. Synchronous
 * so config reads stay synchronous; it runs only when the settings hold secrets, once per process.
 */
export function decrypter(stack: auto.Stack): Decrypt {
    return () => {
        const workspace = stack.workspace as auto.LocalWorkspace;
        const r = spawnSync(workspace.pulumiCommand.command, ["config", "--show-secrets", "--json", "--stack", stack.name], {
            cwd: workspace.workDir,
            env: { ...process.env, ...workspace.envVars },
            encoding: "utf8",
            maxBuffer: 64 * 1024 * 1024,
        });
        if (r.error || r.status !== 0) {
            // The CLI's error names the cause (a wrong passphrase, a missing secrets provider); it never prints a secret.
            const why = r.error?.message ?? (r.stderr.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("error:")).pop() ?? r.stderr.trim());
            throw new StackOperationError("engine", `reading the secrets in the config of stack \`${stack.name}\` failed: ${why}`);
        }
        return JSON.parse(r.stdout) as Record<string, unknown>;
    };
}

/**
 * `pulumi stack select` and `pulumi stack init` record the stack as the workspace's current one
 * (under PULUMI_HOME), so a command run with `--stack prod` would leave the user's next bare
 * `pulumi up` acting on prod. Every operation of an automation Stack passes `--stack` itself, so
 * selecting is never needed: here "select" only checks that the stack exists (on a local backend
 * by its checkpoint file when there is one, see local-stack-file.ts), and stacks are created
 * without being selected.
 */
function withoutSelection(workspace: auto.LocalWorkspace): auto.LocalWorkspace {
    workspace.selectStack = async (stackName: string) => {
        // A local backend's checkpoint file says the stack exists without the CLI's start.
        if (localStackFile(workspace.envVars.PULUMI_BACKEND_URL, workspace.workDir, stackName) !== undefined) return;
        await runPulumi(workspace, ["stack", "--show-name", "--stack", stackName], stackName);
    };
    workspace.createStack = async (stackName: string) => {
        const provider = workspace.secretsProvider ? ["--secrets-provider", workspace.secretsProvider] : [];
        await runPulumi(workspace, ["stack", "init", stackName, "--no-select", ...provider], stackName);
    };
    return workspace;
}

/** Runs the workspace's `pulumi` with its environment; a failure is a StackOperationError. */
async function runPulumi(workspace: auto.LocalWorkspace, args: string[], stack: string): Promise<string> {
    try {
        return (await runWorkspaceCommand(workspace, args)).stdout;
    } catch (e) {
        if (!(e instanceof PulumiCommandFailure)) throw e;
        const output = `${e.stdout}${e.stderr}`;
        if (/no stack named .* found/.test(output)) throw stackNotFound(stack, output);
        if (/already exists/.test(output)) throw new StackOperationError("stack-exists", `stack \`${stack}\` already exists`, output);
        throw new StackOperationError("engine", `\`pulumi ${args.join(" ")}\` failed: ${output.trim().split("\n").slice(-3).join("\n")}`, output);
    }
}

/** Refuses a stack whose settings file is missing: its config lives there, and none means nothing to act on. */
export function requireSettingsFile(workDir: string, stack: string): void {
    const file = stackSettingsPath(workDir, stack);
    if (!fs.existsSync(file)) {
        throw new StackOperationError("validation", `stack \`${stack}\` has no settings file: ${file} does not exist; write the stack's config there first (see Pulumi.dev.yaml for an example)`);
    }
}

/** Checks the stack's config as the program will, without the engine; throws a validation error. */
export function checkConfig(stack: auto.Stack): StackConfig {
    let config: StackConfig;
    try {
        config = checkProjectConfig(stack.workspace.workDir, stack.name, decrypter(stack));
    } catch (e) {
        throw classify(e, stack.name);
    }
    // Refused, not a validation problem: `rollback` must not fall back on the last applied config for it.
    const refusal = config.stackPerModel ? stackPerModelRefusal(stack.workspace.workDir, stack.name) : undefined;
    if (refusal !== undefined) throw new StackOperationError("refused", refusal);
    return config;
}

/**
 * Edits the project's config keys of the stack; refused (file untouched) when the result is
 * invalid. Secrets stay encrypted in the file (see `editProjectConfig`).
 */
export function setProjectConfig(stack: auto.Stack, edit: (config: Record<string, unknown>) => void): StackConfig {
    try {
        return editProjectConfig(stack.workspace.workDir, stack.name, edit, decrypter(stack));
    } catch (e) {
        throw classify(e, stack.name);
    }
}

/**
 * Edits one model's keys (the shorthand's top-level keys, or its `models.<name>` entry), as
 * `setProjectConfig` does: refused when the result is invalid, secrets kept encrypted.
 */
export function setModelConfig(stack: auto.Stack, model: Pick<ModelConfig, "path">, edit: (entry: Record<string, unknown>) => void): StackConfig {
    return setProjectConfig(stack, (config) => edit(modelEntryOf(config, model.path)));
}

/**
 * The model names of the stack's settings file as written, without validating it (for `status`
 * and `rollback` when the config is invalid): the `models` map's keys, else the shorthand's
 * `model`; undefined when the file cannot be read as YAML.
 */
export function configuredModelNames(workDir: string, stack: string): string[] | undefined {
    try {
        const models = readProjectConfig(workDir, stack).models;
        return typeof models === "object" && models !== null && !Array.isArray(models) && Object.keys(models).length > 0 ? Object.keys(models) : [shorthandModel];
    } catch {
        return undefined;
    }
}

function collector(): { onEvent: (e: auto.EngineEvent) => void; steps: ResourceStep[] } {
    const steps: ResourceStep[] = [];
    return { steps, onEvent: (event) => addStep(steps, event) };
}

function addStep(steps: ResourceStep[], event: auto.EngineEvent): void {
    const m = event.resourcePreEvent?.metadata;
    // An `up --refresh` reads every object first; the reads are not changes.
    if (m && m.op !== "refresh") steps.push({ op: m.op, urn: m.urn, type: m.type, name: m.urn.split("::").pop() ?? m.urn, diffs: m.diffs ?? [] });
}

/**
 * The steps of an engine event log written to a file (`pulumi up --event-log FILE`: one JSON
 * event a line), read once the command has ended. Only the lines that hold a step are parsed: in
 * a stack of many models most of the log is the other events of the steps.
 */
export function stepsFromEventLog(text: string): ResourceStep[] {
    const steps: ResourceStep[] = [];
    for (const line of text.split("\n")) {
        if (line.includes('"resourcePreEvent"')) addStep(steps, JSON.parse(line) as auto.EngineEvent);
    }
    return steps;
}

/**
 * The stack's outputs as an update's event log recorded them (the root Stack's last outputs
 * event): what `pulumi stack output --json --show-secrets` reads afterwards, without the CLI's
 * start. Undefined when the log has none, or when a secret (or any other special value) is among
 * them: the log keeps Pulumi's signature key there (`{"4dabf18193072939515e22adb298388d": ...,
 * "ciphertext": "[secret]"}` for a secret), and those are read from the stack.
 */
export function stackOutputsFromEventLog(text: string): Record<string, unknown> | undefined {
    let outputs: Record<string, unknown> | undefined;
    for (const line of text.split("\n")) {
        if (!line.includes('"resOutputsEvent"') || !line.includes('"pulumi:pulumi:Stack"')) continue;
        const m = (JSON.parse(line) as auto.EngineEvent).resOutputsEvent?.metadata;
        if (m?.type === "pulumi:pulumi:Stack") outputs = m.new?.outputs as Record<string, unknown> | undefined;
    }
    return outputs === undefined || JSON.stringify(outputs).includes('"4dabf18193072939515e22adb298388d"') ? undefined : outputs;
}

function countChanges(steps: ResourceStep[]): Record<string, number> {
    const changes: Record<string, number> = {};
    for (const s of steps) changes[s.op] = (changes[s.op] ?? 0) + 1;
    return changes;
}

/** `planScope` for `model`, from the stack's outputs and its settings file as written now. */
function planStackScope(stack: auto.Stack, previous: Record<string, unknown>, model: string): UpdateScope | { whole: string } {
    return planScope(previous, model, readSettingsConfig(stackSettingsPath(stack.workspace.workDir, stack.name)));
}

/** What a planned scope tells the caller: the model the update is scoped to, or why it is whole. */
function scopeSummary(planned: UpdateScope | { whole: string }): { model: string } | { whole: string } {
    return "target" in planned ? { model: planned.model } : planned;
}

/**
 * What an update or preview of one stack starts with: the config checked (and the layout's
 * refusal), the stack's outputs (`known`, or read) checked against the target, and with `model`
 * the scope planned, `beforeWhole` told when it cannot be scoped.
 */
async function planOneStack(stack: auto.Stack, options: { model?: string; beforeWhole?: (reason: string) => void | Promise<void>; dryRun?: boolean; overrideStale?: boolean }, known?: Record<string, unknown>): Promise<{ config: StackConfig; previous: Record<string, unknown>; planned?: UpdateScope | { whole: string }; scope?: UpdateScope; env: Record<string, string> }> {
    const config = checkConfig(stack);
    refuseWithModelStacks(stack);
    const previous = await checkTarget(stack, config, known);
    const cluster = await checkCluster(stack, config, previous, options.dryRun === true);
    // A model switching routers is updated with the whole stack: the engine deletes the old
    // router's objects, which the program no longer registers, only in an update that is not
    // scoped to targets, and only after every new object exists (router-switch.ts).
    const allSwitches = routerSwitches(Object.values(config.models), previous);
    // A switch that would delete an object this update makes is refused before anything is applied (the program checks it too, for a plain `pulumi up`).
    // So is a removed (or renamed) model whose objects another model makes now, under another resource (model-removal.ts).
    const collisions = [...routerSwitchCollisions(allSwitches, Object.values(config.models)), ...removedModelCollisions(Object.values(config.models), previous)];
    if (collisions.length > 0) throw new StackOperationError("validation", `the config of stack \`${stack.name}\` is invalid:\n${collisions.map((p) => `- ${p}`).join("\n")}`, undefined, collisions);
    let planned = options.model === undefined ? undefined : planStackScope(stack, previous, options.model);
    const switching = allSwitches.find((s) => s.model === options.model);
    if (planned && "target" in planned && switching) planned = { whole: `model \`${switching.model}\` switches router from \`${switching.from}\` to \`${switching.to}\`` };
    const scope = planned && "target" in planned ? planned : undefined;
    if (planned && "whole" in planned) await options.beforeWhole?.(planned.whole);
    const owners = cluster.reachable ? await checkOwners(stack, config, scope?.model) : {};
    const records = await lastRoutingRecords(stack, config, previous);
    const revisions = options.dryRun ? { [routingRecordsEnvVar]: JSON.stringify(records) }
        : writeRoutingRevisions(stack, config, records, scope?.model, options.overrideStale === true);
    const switches = { [routerSwitchesEnvVar]: JSON.stringify(scope ? allSwitches.filter((s) => s.model === scope.model) : allSwitches) };
    return { config, previous, planned, scope, env: { ...cluster.env, ...owners, ...revisions, ...switches } };
}

/**
 * The stack's last routing record of each model, from its outputs; a model's own stack that has
 * none yet (made by a move out of the stack holding its config, not updated since) has the one
 * that stack recorded while it held the model, so the move changes no record.
 */
async function lastRoutingRecords(stack: auto.Stack, config: StackConfig, previous: Record<string, unknown>): Promise<Record<string, RoutingRecord | undefined>> {
    const records = Object.fromEntries(Object.keys(config.models).map((m) => [m, recordOf(modelOutputsOf(previous, m))]));
    const hub = configStackOf(stack.workspace.workDir, stack.name);
    const missing = Object.keys(records).filter((m) => records[m] === undefined);
    if (hub === stack.name || missing.length === 0) return records;
    const held = await readOneStackOutputs({ name: hub, workspace: stack.workspace }).catch(() => ({}));
    for (const m of missing) records[m] = recordOf(modelOutputsOf(modelPartOf(held, m), m));
    return records;
}

/**
 * Before an update (after every other check): refuses one whose settings would change a model's
 * routing while they were written from an older routing revision than the stack's (see
 * stacks/config/routing-revision.ts), naming who made the newer change and the ways out; then
 * writes the next revision into the settings of each model whose routing changes, so the program
 * records it and this checkout stays current. `model`: the scoped update's model, else every
 * model. Returns the environment that tells the program an override was asked for.
 */
function writeRoutingRevisions(stack: auto.Stack, config: StackConfig, records: Record<string, RoutingRecord | undefined>, model: string | undefined, override: boolean): Record<string, string> {
    const workDir = stack.workspace.workDir;
    const settingsFile = stackSettingsPath(workDir, stack.name);
    const bumps: [ModelConfig, number][] = [];
    const stale: string[] = [];
    for (const m of Object.values(config.models)) {
        if (model !== undefined && m.name !== model) continue;
        const last = records[m.name];
        const decision = decideRouting({
            model: m.name, key: [...m.path, routingRevisionKey].join("."), settingsFile: path.basename(settingsFile), stack: configStackOf(workDir, stack.name),
            fileRevision: m.routingRevision, digest: routingDigest(m.resolved), last, override, by: "", at: "",
        });
        if (decision.kind === "stale") stale.push(decision.message);
        else if (decision.kind === "changed" && decision.record.revision !== (m.routingRevision ?? 0)) bumps.push([m, decision.record.revision]);
    }
    if (stale.length > 0) throw new StackOperationError("refused", stale.join("\n"));
    const hub = configStackOf(workDir, stack.name);
    for (const [m, revision] of bumps) {
        writeRoutingRevision(settingsFile, m.path, revision);
        if (hub !== stack.name) writeRoutingRevision(stackSettingsPath(workDir, hub), m.path, revision);
    }
    // The program decides again from the same records, without reading the outputs a second time.
    return { [routingRecordsEnvVar]: JSON.stringify(records), ...(override ? { [overrideStaleEnvVar]: "true" } : {}) };
}

/**
 * Refuses an operation on a (reachable) cluster that would apply over objects another owner
 * manages (another stack, another tool; see ownership.ts), before anything is applied; with
 * `model` (a scoped update), that model's objects only. Returns the environment that hands the
 * program the owner to stamp on every object.
 */
async function checkOwners(stack: auto.Stack, config: StackConfig, model: string | undefined): Promise<Record<string, string>> {
    const project = (await stack.workspace.projectSettings()).name;
    const me = ownerName(project, stack.name, configStackOf(stack.workspace.workDir, stack.name));
    try {
        await refuseForeignObjects({
            stack: stack.name,
            me,
            target: { kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext },
            models: Object.values(config.models).filter((m) => model === undefined || m.name === model).map((m) => m.resolved),
            ownState: async () => {
                const state = await stack.exportStack().catch((e) => { throw classify(e, stack.name); });
                const resources = (state.deployment as { resources?: { type: string; id?: string }[] } | undefined)?.resources ?? [];
                return new Set(resources.filter((r) => r.type.startsWith("kubernetes:") && r.id?.includes("/")).map((r) => {
                    const [namespace, name] = r.id!.split("/");
                    return objectKey(r.type.split(":").pop()!, namespace, name);
                }));
            },
        });
    } catch (e) {
        if (e instanceof ForeignObjectsError) throw new StackOperationError("refused", e.message);
        throw e;
    }
    return { [ownerEnvVar]: me };
}

/**
 * Refuses an operation whose kubeconfig reaches another cluster than the one the stack's objects
 * are in (their `kube-system` UIDs differ; see cluster-identity.ts). Otherwise returns the
 * environment that hands the program the provider's `clusterIdentifier`: the live cluster's, or
 * the one recorded when the cluster cannot be read now, so the provider is never replaced
 * because the kubeconfig names the same cluster differently or the cluster was unreachable.
 */
async function checkCluster(stack: auto.Stack, config: StackConfig, previous: Record<string, unknown>, dryRun: boolean): Promise<{ env: Record<string, string>; reachable: boolean }> {
    if (config.kubeconfig === undefined && !config.kubernetesProviderConfigured) return { env: {}, reachable: false };
    const { live, server, unreachable } = await readClusterIdentity({ kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext });
    // An update with no change to apply would otherwise "succeed" against a cluster it never reached.
    if (unreachable && !dryRun && "unknown" in live) throw new StackOperationError("refused", `the cluster of stack \`${stack.name}\` cannot be reached, so nothing was applied: ${live.unknown}. Check \`kubeconfig\` and that the API server runs; \`model-canary preview\` works without it.`);
    const choice = chooseClusterIdentifier(recordedClusterIdentifier(previous), live);
    if ("different" in choice) throw new StackOperationError("refused", differentClusterMessage(stack.name, server ?? "its server", choice.different));
    return { env: { [clusterIdEnvVar]: choice.identifier ?? "" }, reachable: "uid" in live };
}

/**
 * A real `pulumi preview --diff`; the steps come from the engine's events. With `model`, the
 * preview is of what `upStack` with that model would do: scoped to that model when `planScope`
 * allows (the other models' pending changes are not the next step's), else of the whole stack,
 * told to `beforeWhole` with the reason.
 */
export async function previewStack(stack: auto.Stack, options: { onOutput?: (out: string) => void; model?: string; beforeWhole?: (reason: string) => void | Promise<void> } = {}): Promise<OperationResult & { scope?: { model: string } | { whole: string } }> {
    if (isStackPerModel(stack.workspace.workDir, stack.name)) return previewModelStacks(stack, options);
    return previewOneStack(stack, options);
}

async function previewOneStack(stack: auto.Stack, options: { onOutput?: (out: string) => void; model?: string; beforeWhole?: (reason: string) => void | Promise<void> }, known?: Record<string, unknown>): Promise<OperationResult & { scope?: { model: string } | { whole: string } }> {
    const { config, previous, planned, scope, env } = await planOneStack(stack, { ...options, dryRun: true }, known);
    const events = collector();
    const file = scope ? writeScopeFile(scope) : undefined;
    try {
        if (file) stack.workspace.envVars[scopeEnvVar] = file.file;
        Object.assign(stack.workspace.envVars, env);
        const preview = (program?: auto.PulumiFn) => stack.preview({
            diff: true, color: "never", onEvent: events.onEvent, onOutput: options.onOutput,
            ...(scope ? { target: [scope.target], targetDependents: true } : {}),
            // What `up` would do: it reads the cluster first (see upOneStack).
            ...(targetsCluster(config) && Object.keys(previous).length > 0 ? { refresh: true } : {}),
            ...(program ? { program } : {}),
        });
        const inline = inlineProgramOf(stack.workspace.workDir, toStderr, { ...process.env, ...stack.workspace.envVars });
        const result = inline ? await withProgramProcess(inline, { ...stack.workspace.envVars }, () => preview(programFunction(inline) as auto.PulumiFn)) : await preview();
        return {
            steps: events.steps, changes: countChanges(events.steps), stdout: result.stdout,
            ...(planned === undefined ? {} : { scope: scopeSummary(planned) }),
        };
    } catch (e) {
        throw classify(e, stack.name);
    } finally {
        delete stack.workspace.envVars[scopeEnvVar];
        for (const key of Object.keys(env)) delete stack.workspace.envVars[key];
        file?.remove();
    }
}

/**
 * Runs an engine operation; when the backend refuses it because of Pulumi's lock left by a
 * process on this machine that ended (a `kill -9` mid-`up`), removes that lock, says so through
 * `onMessage`, and runs the operation once more (see backend-lock.ts). The refusal comes before
 * the engine does anything, so the first attempt changed nothing.
 */
async function takingOverDeadBackendLock<T>(stack: auto.Stack, run: () => Promise<T>, onMessage: (message: string) => void): Promise<T> {
    try {
        return await run();
    } catch (e) {
        const locked = e instanceof auto.ConcurrentUpdateError || (e instanceof PulumiCommandFailure && e.reason === "locked");
        if (!locked || !takeOverDeadBackendLocks((e as Error).message, stack.name, onMessage)) throw e;
    }
    return run();
}

/** Where a takeover of a dead process's backend lock is told when the caller gives no `onMessage`. */
const toStderr = (message: string) => process.stderr.write(terminalText(`${message}\n`));

/**
 * A real `pulumi up`; returns the steps taken and the stack outputs. With `model`, in a stack of
 * several models that were all deployed before, the update registers and acts on that model only
 * (see scope.ts): every other model's resources, and their outputs, stay as they are. Otherwise
 * (one model, a model not deployed yet, config outside `models` changed) it is a whole update,
 * and `beforeWhole` is called with the reason before the engine runs (it may throw to refuse).
 * Pulumi's lock of the stack left by a process on this machine that ended is taken over, and
 * `onMessage` (default: standard error) told.
 */
export async function upStack(stack: auto.Stack, options: UpOptions = {}): Promise<UpResult> {
    if (isStackPerModel(stack.workspace.workDir, stack.name)) return upModelStacks(stack, options);
    return upOneStack(stack, options);
}

/** What `applyStack` returns: an update's steps and changes, without the stack's outputs. */
export type ApplyResult = Omit<UpResult, "outputs">;

/**
 * `upStack` for a caller that uses none of the outputs (a rollout step, a rollback, a promotion):
 * the same update, without the `pulumi stack output` that reads them afterwards (about 0.5 s of CPU:
 * the CLI's start-up, reading the state and decrypting it). A stack per model reads them as `upStack` does.
 */
export async function applyStack(stack: auto.Stack, options: UpOptions = {}): Promise<ApplyResult> {
    if (isStackPerModel(stack.workspace.workDir, stack.name)) return upModelStacks(stack, options);
    const { loggedOutputs: _unused, ...result } = await applyOneStack(stack, options);
    return result;
}

interface UpOptions {
    onOutput?: (out: string) => void;
    message?: string;
    /** Pods to hold for this `up` only, by model (stacks/config/replica-holds.ts); never written to the config. */
    holds?: Record<string, ReplicaHolds>;
    model?: string;
    beforeWhole?: (reason: string) => void | Promise<void>;
    onMessage?: (message: string) => void;
    /**
     * On a cluster, what is read live before the update (see `LiveRead`). Default `all`. Nothing
     * is read in render mode, nor on a first `up`.
     */
    refresh?: LiveRead;
    /** Apply only the routing objects (VirtualService, DestinationRule, Service): a rollback that a Deployment's conflict stopped. */
    routingOnly?: boolean;
    /**
     * Apply settings written from an older routing revision than the stack's (`--override-stale`,
     * and every rollback): see stacks/config/routing-revision.ts. Default false: refused.
     */
    overrideStale?: boolean;
}

/**
 * What an update reads from the cluster first. `all`: every object it acts on (`up --refresh`), so
 * a hand edit is taken back and a deleted object created again, and a hand-scaled Deployment
 * stops it with a field conflict. `routing`: the VirtualService, DestinationRule and Service of
 * `model` only (a `pulumi refresh` of them first), which no conflict stops (the VirtualService
 * takes its fields back): what a rollback repairs with. `none`: the state as recorded.
 */
export type LiveRead = "all" | "routing" | "none";

/**
 * URN globs of a model's routing objects (its component is named after it; see components/modelCanary.ts
 * and components/routers/): the VirtualService, DestinationRule and Service, or with `router:
 * gateway-api` the HTTPRoute (GRPCRoute for `protocol: grpc`), the Service and each configured version's Service (and
 * its DestinationRule, with `trafficPolicy`).
 */
export function routingTargets(model: string, r?: Pick<ResolvedModelCanaryArgs, "router" | "protocol" | "stable" | "canary" | "trafficPolicy">): string[] {
    if (r?.router === "gateway-api") {
        const versions = [r.stable.version, ...(r.canary ? [r.canary.version] : [])];
        return [
            `urn:pulumi:**${gatewayApiRouteKind(r)}::${model}-route`, `urn:pulumi:**Service::${model}-svc`, ...versions.map((v) => `urn:pulumi:**Service::${model}-${v}-svc`),
            // With `trafficPolicy`, each version Service's DestinationRule.
            ...(r.trafficPolicy ? versions.map((v) => `urn:pulumi:**DestinationRule::${model}-${v}-dr`) : []),
        ];
    }
    return [`urn:pulumi:**VirtualService::${model}-vs`, `urn:pulumi:**DestinationRule::${model}-dr`, `urn:pulumi:**Service::${model}-svc`];
}

async function upOneStack(stack: auto.Stack, options: UpOptions, known?: Record<string, unknown>): Promise<UpResult> {
    const { loggedOutputs, ...result } = await applyOneStack(stack, options, known);
    return { ...result, outputs: loggedOutputs ?? await readOutputs(stack) };
}

/**
 * `loggedOutputs`: the stack's outputs as the update's event log recorded them, when it was not
 * targeted and they hold no secret (see `stackOutputsFromEventLog`), so `upStack` need not read them.
 */
async function applyOneStack(stack: auto.Stack, options: UpOptions, known?: Record<string, unknown>): Promise<ApplyResult & { loggedOutputs?: Record<string, unknown> }> {
    const { config, previous, planned, scope, env: clusterEnv } = await planOneStack(stack, options, known);
    // A first `up` (outputs are written by every `up`, so none means none yet) checkpoints once: see first-up.ts.
    const first = Object.keys(previous).length === 0 && await isEmptyStack(stack).catch((e) => { throw classify(e, stack.name); });
    const file = scope ? writeScopeFile(scope) : undefined;
    const env: Record<string, string> = { ...clusterEnv, ...(file ? { [scopeEnvVar]: file.file } : {}), ...(first ? { [skipCheckpointsEnvVar]: "true" } : {}), ...holdsEnv(options.holds) };
    // The engine's events go to a file read once the update has ended, not through the Automation
    // API's event stream: a stream hands the calling process every event of every untargeted
    // resource's "same" step as it happens (4.4 MB for 100 models), and `stack.up` then reads the
    // outputs twice and the update's summary, which this needs once and not at all.
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-events-"));
    const eventLog = path.join(logDir, "events.jsonl");
    const live = !targetsCluster(config) || first ? "none" : options.refresh ?? "all";
    try {
        if (live === "routing") {
            await takingOverDeadBackendLock(stack, () => runStackCommand(stack, [
                "refresh", "--yes", "--skip-preview", "--color", "never", "--exec-kind", "auto.local",
                ...(options.model !== undefined ? [options.model] : Object.keys(config.models)).flatMap((m) => routingTargets(m, config.models[m]?.resolved)).flatMap((t) => ["--target", t]),
            ], { onOutput: options.onOutput }), options.onMessage ?? toStderr);
        }
        const result = await takingOverDeadBackendLock(stack, () => withProgram(stack, env, options.onMessage ?? toStderr, (exec) => runStackCommand(stack, [
            "up", "--yes", "--skip-preview", "--color", "never", ...exec, "--event-log", eventLog,
            ...(options.message !== undefined ? ["--message", options.message] : []),
            ...(options.routingOnly
                ? (options.model !== undefined ? [options.model] : Object.keys(config.models)).flatMap((m) => routingTargets(m, config.models[m]?.resolved)).flatMap((t) => ["--target", t])
                : scope ? ["--target", scope.target, "--target-dependents"] : []),
            // On a cluster the objects are read live first (only the targeted ones when scoped), so
            // a hand edit is taken back and a deleted object created again, not reported "unchanged"
            // from the state. Rendered files are the program's own: nothing to read there.
            ...(live === "all" ? ["--refresh"] : []),
        ], { env, onOutput: options.onOutput })), options.onMessage ?? toStderr);
        const log = fs.readFileSync(eventLog, "utf8");
        const steps = stepsFromEventLog(log);
        // A targeted update's log has the program's outputs, not necessarily what the stack recorded.
        const loggedOutputs = options.routingOnly || scope ? undefined : stackOutputsFromEventLog(log);
        return {
            steps,
            changes: countChanges(steps),
            stdout: result.stdout,
            ...(planned === undefined ? {} : { scope: scopeSummary(planned) }),
            ...(loggedOutputs === undefined ? {} : { loggedOutputs }),
        };
    } catch (e) {
        throw classify(e, stack.name);
    } finally {
        fs.rmSync(logDir, { recursive: true, force: true });
        file?.remove();
    }
}

/**
 * Runs `operation` (a `pulumi` command that runs the program, given the arguments that say how)
 * with the program in this process when it can run so (see inline-program.ts), else through the
 * Node.js language host, said once through `onMessage`. `env` is what the program's environment
 * adds to the workspace's.
 */
function withProgram<T>(stack: auto.Stack, env: Record<string, string>, onMessage: (message: string) => void, operation: (exec: string[]) => Promise<T>): Promise<T> {
    const program = inlineProgramOf(stack.workspace.workDir, onMessage, { ...process.env, ...stack.workspace.envVars });
    if (program === undefined) return operation(["--exec-kind", "auto.local"]);
    return withProgramProcess(program, { ...stack.workspace.envVars, ...env }, () => servingProgram(program, operation));
}

/**
 * Whether an update of `model` now would be scoped to it, or why it would be a whole one (see
 * `planScope`): what `upStack(stack, { model })` decides, for a command that must know before it
 * edits the config (the model's entry does not take part in the decision).
 */
export async function planModelUpdate(stack: auto.Stack, model: string): Promise<{ model: string } | { whole: string }> {
    // A model with a stack of its own is always updated alone.
    if (isStackPerModel(stack.workspace.workDir, stack.name)) return { model };
    return scopeSummary(planStackScope(stack, await readOutputs(stack), model));
}

/**
 * Refuses to move a stack between rendering and a cluster: the provider would be replaced, and
 * with it every object (render -> cluster previews as replacing every Deployment; cluster ->
 * render would delete them from the cluster). The message gives the way that works. Returns the
 * stack's outputs (plain values, secrets in plaintext).
 */
export async function checkTarget(stack: auto.Stack, config: StackConfig, known?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const wanted = config.kubeconfig !== undefined || config.kubernetesProviderConfigured ? "cluster" : "render";
    const outputs = known ?? await readOutputs(stack);
    const applied = (outputs.target as { mode?: string } | undefined)?.mode;
    if (applied === undefined || applied === wanted) return outputs;
    throw new StackOperationError("validation", applied === "render"
        ? `stack \`${stack.name}\` renders manifests (its objects were never applied to a cluster), and its config now names a cluster (\`kubeconfig\`): the move would replace every object. Nothing was applied. Either use a new stack for the cluster (\`pulumi stack init <name> --copy-config-from ${stack.name}\`, then \`up\` it), or run \`pulumi destroy\` on this stack first (it deletes only the rendered files), then \`up\` with \`kubeconfig\` set.`
        : `stack \`${stack.name}\` is applied to a cluster, and its config no longer names one (no \`kubeconfig\`): rendering instead would delete every object from the cluster. Nothing was applied. Put \`kubeconfig\` back, or use a new stack to render manifests.`);
}

/**
 * The stack's outputs as plain values, secrets in plaintext: one `pulumi stack output --json
 * --show-secrets` (the Automation API's `stack.outputs()` runs the command twice, the second time
 * only to learn which outputs are secret, and each run reads the whole state), or on a local
 * backend, when they hold no secret, the stack's checkpoint file (see local-stack-file.ts).
 */
export async function readOutputs(stack: auto.Stack, options: { model?: string } = {}): Promise<Record<string, unknown>> {
    if (isStackPerModel(stack.workspace.workDir, stack.name)) return readModelStackOutputs(stack, options.model);
    return readOneStackOutputs(stack);
}

async function readOneStackOutputs(stack: Pick<auto.Stack, "name" | "workspace">): Promise<Record<string, unknown>> {
    // On a local backend, plain outputs come from the checkpoint file without the CLI's start.
    const local = localStackOutputs(stack.workspace.envVars.PULUMI_BACKEND_URL, stack.workspace.workDir, stack.name);
    if (local !== undefined) return local;
    try {
        const result = await runStackCommand(stack, ["stack", "output", "--json", "--show-secrets"]);
        return JSON.parse(result.stdout) as Record<string, unknown>;
    } catch (e) {
        throw classify(e, stack.name);
    }
}

function stackNotFound(stack: string, output?: string): StackOperationError {
    return new StackOperationError("stack-not-found", `stack \`${stack}\` does not exist on this backend; create it with \`model-canary up --stack ${stack}\` or \`pulumi stack init ${stack}\``, output);
}

/** Turns whatever an operation threw into a StackOperationError with the useful part of the output. */
export function classify(e: unknown, stack: string): StackOperationError {
    if (e instanceof StackOperationError) return e;
    if (e instanceof ModelStackNameTaken) return new StackOperationError("refused", e.message);
    if (e instanceof ValidationError) return new StackOperationError("validation", `invalid stack config for stack \`${stack}\`: ${e.message}`, undefined, e.problems);
    // A settings file that is not YAML is invalid config too: `status` and `rollback` handle it as such.
    if (e instanceof Error && / is not valid YAML: /.test(e.message)) return new StackOperationError("validation", `invalid stack config for stack \`${stack}\`: ${e.message}`, undefined, [e.message]);
    if (e instanceof auto.ConcurrentUpdateError || (e instanceof PulumiCommandFailure && e.reason === "locked")) return new StackOperationError("concurrent-update", describeBackendLock(e.message, stack), e.message);
    if (e instanceof auto.StackNotFoundError || (e instanceof PulumiCommandFailure && e.reason === "no-stack")) {
        return stackNotFound(stack, e.message);
    }
    if (e instanceof auto.StackAlreadyExistsError) return new StackOperationError("stack-exists", `stack \`${stack}\` already exists`, e.message);
    const text = e instanceof Error ? e.message : String(e);
    const invalid = text.match(/invalid stack config for `model-canary`:[\s\S]*?(?=\n\s*\n|\n\S*(?:Resources|Duration|error: update failed)|$)/);
    if (invalid) return new StackOperationError("validation", invalid[0].trim(), text);
    const conflict = findApplyConflict(text);
    if (conflict) return new StackOperationError("conflict", describeApplyConflict(conflict, stack), text);
    // The cause, not the engine's closing `error: update failed`, and on one line: what a command prints last.
    const cause = engineFailureCause(text);
    return new StackOperationError("engine", cause ?? text.trim().split("\n").slice(-5).join("\n"), text);
}


// ---- One stack per model (`stackPerModel`, see model-stacks.ts) ----

/** Models' stacks updated, previewed or read at once by a command over every model. */
const modelStackConcurrency = Math.max(1, Math.min(4, os.cpus().length));

/** A model's stack, opened once per process and named stack (opening runs the CLI). */
const openedModelStacks = new WeakMap<auto.Workspace, Map<string, auto.Stack>>();

/**
 * `model`'s own stack (opened once per process: opening runs the CLI), its settings file written
 * from `hub`'s first; undefined when it does not exist, unless `create`.
 */
async function openModelStack(hub: auto.Stack, model: string, create: boolean): Promise<auto.Stack | undefined> {
    const workDir = hub.workspace.workDir;
    const name = modelStackName(hub.name, model);
    const opened = openedModelStacks.get(hub.workspace) ?? new Map<string, auto.Stack>();
    openedModelStacks.set(hub.workspace, opened);
    const write = () => {
        try {
            writeModelSettings(workDir, hub.name, model);
        } catch (e) {
            throw classify(e, name);
        }
    };
    let stack = opened.get(name);
    if (!stack) {
        try {
            stack = await auto.Stack.select(name, hub.workspace);
        } catch (e) {
            if (!(e instanceof StackOperationError && e.kind === "stack-not-found")) throw classify(e, name);
            if (!create) return undefined;
            // Written before the stack is made, so `pulumi stack init` finds the named stack's salt.
            write();
            stack = await auto.Stack.create(name, hub.workspace).catch((err) => { throw classify(err, name); });
            opened.set(name, stack);
            return stack;
        }
        opened.set(name, stack);
    }
    write();
    return stack;
}

/**
 * `model`'s stack for an operation, with its outputs before it. A stack never updated (none yet,
 * or made but never updated) first has the models `hub` may hold itself moved out to their own
 * stacks (`moveModelsOutOf`; a preview refuses instead), so a model is never created a second time.
 */
async function modelStackFor(hub: auto.Stack, model: string, onMessage: (message: string) => void, dryRun: boolean): Promise<{ stack: auto.Stack; previous: Record<string, unknown> }> {
    const existing = await openModelStack(hub, model, false);
    const previous = existing ? await readOneStackOutputs(existing) : {};
    if (Object.keys(previous).length > 0) return { stack: existing!, previous };
    await moveModelsOutOf(hub, configuredModelNames(hub.workspace.workDir, hub.name) ?? [], onMessage, dryRun);
    return { stack: existing ?? (await openModelStack(hub, model, true))!, previous: {} };
}

/** The type of the component `modelCanariesFromConfig` registers for each model, named after it. */
const componentType = "model-canary:index:ModelCanary";

/**
 * The models whose objects `hub`'s own state holds (it was updated before `stackPerModel` was
 * set), by name, with their components' URNs.
 */
async function modelsHeldBy(hub: auto.Stack): Promise<Map<string, string>> {
    const state = await hub.exportStack().catch((e) => { throw classify(e, hub.name); });
    const resources = (state.deployment as { resources?: { urn: string; type: string; parent?: string }[] } | undefined)?.resources ?? [];
    const root = resources.find((r) => r.type === "pulumi:pulumi:Stack")?.urn;
    return new Map(resources.filter((r) => r.type === componentType && r.parent === root).map((r) => [r.urn.split("::").pop()!, r.urn]));
}

/**
 * Moves the models `hub` holds itself into their own stacks (`pulumi state move` of each
 * component, its children with it, the provider copied): their objects stay as they are, nothing
 * is created or deleted, and each is told to `onMessage`. With `dryRun` (a preview), refuses
 * instead, as a preview changes no state. A model `hub` holds that is no longer configured is
 * refused: its stack's settings could not be written, and one stack would delete it.
 */
async function moveModelsOutOf(hub: auto.Stack, configured: string[], onMessage: (message: string) => void, dryRun = false): Promise<void> {
    const held = new Map([...await modelsHeldBy(hub)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (held.size === 0) return;
    const list = (names: string[]) => names.map((m) => `\`${m}\``).join(", ");
    const gone = [...held.keys()].filter((m) => !configured.includes(m));
    if (gone.length > 0) {
        throw new StackOperationError("refused", `stack \`${hub.name}\` holds the objects of ${list(gone)} itself, and ${gone.length === 1 ? "it is" : "they are"} no longer in \`models\`, so ${gone.length === 1 ? "it" : "they"} cannot move to a stack of ${gone.length === 1 ? "its" : "their"} own. Nothing was applied. Remove \`stackPerModel\` and run \`model-canary up --stack ${hub.name}\` to delete ${gone.length === 1 ? "it" : "them"} first, or put ${gone.length === 1 ? "it" : "them"} back in \`models\`.`);
    }
    if (dryRun) {
        throw new StackOperationError("refused", `stack \`${hub.name}\` still holds the objects of ${list([...held.keys()])} itself: the next \`model-canary up --stack ${hub.name}\` moves them to their own stacks (\`pulumi state move\`, nothing is created or deleted); a preview cannot show a model's stack before that.`);
    }
    for (const [model, urn] of held) {
        const stack = (await openModelStack(hub, model, true))!;
        await runPulumi(hub.workspace as auto.LocalWorkspace, ["state", "move", "--source", hub.name, "--dest", stack.name, "--yes", urn], hub.name);
        onMessage(`model-canary: moved model \`${model}\` from stack \`${hub.name}\` to its own stack \`${stack.name}\` (\`pulumi state move\`: its objects stay as they are)`);
    }
}

/**
 * Refuses to update (or preview) a stack as one while its models have stacks of their own
 * (`stackPerModel` was removed; checked once the config is valid, so an invalid
 * `stackPerModel` is named as such): it would create every model's objects a second time.
 */
function refuseWithModelStacks(stack: auto.Stack): void {
    const models = modelsWithSettings(stack.workspace.workDir, stack.name);
    if (models.length === 0) return;
    throw new StackOperationError("refused", `the models of stack \`${stack.name}\` have stacks of their own (${models.map((m) => `\`${modelStackName(stack.name, m)}\``).join(", ")}), and its config no longer sets \`stackPerModel\`: one stack would create their objects a second time. Nothing was applied. Set \`stackPerModel\` to true again; to go back to one stack, move each model's resources back first (\`pulumi state move --source ${modelStackName(stack.name, "<model>")} --dest ${stack.name} <the URN of its component>\`), then remove its stack (\`pulumi stack rm\`, which deletes its settings file).`);
}

/** `hub`'s models' stacks as the backend lists them, by model. */
async function existingModelStacks(hub: auto.Stack): Promise<string[]> {
    const listed = JSON.parse((await runPulumi(hub.workspace as auto.LocalWorkspace, ["stack", "ls", "--json"], hub.name)).replace(/^[^[]*/, "") || "[]") as { name: string }[];
    return listed.map((s) => modelOfStackName(hub.name, s.name)).filter((m): m is string => m !== undefined);
}

/** Output chunks of one model's command, as whole lines prefixed with the model's name. */
function prefixed(model: string, onOutput: ((out: string) => void) | undefined): { onOutput?: (out: string) => void; flush(): void } {
    if (!onOutput) return { flush() {} };
    let partial = "";
    return {
        onOutput: (out: string) => {
            const lines = (partial + out).split("\n");
            partial = lines.pop()!;
            if (lines.length > 0) onOutput(lines.map((l) => `${model}: ${l}\n`).join(""));
        },
        flush: () => {
            if (partial !== "") onOutput(`${model}: ${partial}\n`);
            partial = "";
        },
    };
}

/** One result of several models' operations: steps and changes added up, outputs merged. */
function combined<T extends OperationResult>(results: [string, T][]): OperationResult {
    const steps = results.flatMap(([, r]) => r.steps);
    return { steps, changes: countChanges(steps), stdout: results.map(([model, r]) => r.stdout.split("\n").map((l) => `${model}: ${l}`).join("\n")).join("\n") };
}

/** The error for a command over every model that failed for some: which failed, which were done, which did not start. */
function severalFailed(hub: auto.Stack, what: string, failed: [string, Error][], done: string[], skipped: string[]): StackOperationError {
    const first = classify(failed[0][1], modelStackName(hub.name, failed[0][0]));
    const parts = [
        `${what} of ${failed.map(([m]) => `\`${m}\``).join(", ")} in stack \`${hub.name}\` failed: ${first.message}`,
        ...(done.length > 0 ? [`done: ${done.map((m) => `\`${m}\``).join(", ")}`] : []),
        ...(skipped.length > 0 ? [`not started: ${skipped.map((m) => `\`${m}\``).join(", ")}`] : []),
    ];
    return new StackOperationError(first.kind, parts.join("; "), first.output, first.problems);
}

/** Refuses a `model` that is not one of the stack's `names`, listing them. */
function requireModel(hub: auto.Stack, names: string[], model: string): void {
    if (!names.includes(model)) throw new StackOperationError("validation", `model \`${model}\` is not in the \`models\` of stack \`${hub.name}\`; its models: ${names.map((m) => `\`${m}\``).join(", ")}`);
}

/**
 * `upStack` of a stack whose models have stacks of their own. With `model`, that model's stack
 * is updated (created at its first `up`): a whole update of a one-model stack, so a step costs
 * what it costs in one. Without, every model's stack is updated (a few at once), and the stack of
 * a model no longer in `models` is destroyed and removed, as one stack would delete its objects.
 */
async function upModelStacks(hub: auto.Stack, options: UpOptions): Promise<UpResult> {
    const config = checkConfig(hub);
    const names = Object.keys(config.models);
    const each = { message: options.message, onMessage: options.onMessage, holds: options.holds, refresh: options.refresh, routingOnly: options.routingOnly, overrideStale: options.overrideStale };
    if (options.model !== undefined) {
        requireModel(hub, names, options.model);
        const { stack, previous } = await modelStackFor(hub, options.model, options.onMessage ?? toStderr, false);
        const result = await upOneStack(stack, { ...each, onOutput: options.onOutput, refresh: options.refresh }, previous);
        return { ...result, outputs: mergeModelStackOutputs([[options.model, result.outputs]]), scope: { model: options.model } };
    }
    const existing = await existingModelStacks(hub);
    // Only stacks model-canary made (their settings file says so) are destroyed: `prod.eu` may be
    // a stack of its own that merely shares the name's shape.
    const made = modelsWithSettings(hub.workspace.workDir, hub.name);
    const removed = existing.filter((m) => !names.includes(m) && made.includes(m));
    // Once here (a whole update is rare and costly anyway), not as each new model's stack is opened.
    await moveModelsOutOf(hub, names, options.onMessage ?? toStderr);
    const { results, failed, skipped } = await eachLimited(names, modelStackConcurrency, async (model) => {
        const out = prefixed(model, options.onOutput);
        try {
            return await upOneStack((await openModelStack(hub, model, true))!, { ...each, onOutput: out.onOutput });
        } finally {
            out.flush();
        }
    });
    const done = names.filter((_, i) => results[i] !== undefined);
    if (failed.length > 0) throw severalFailed(hub, "the update", failed, done, skipped);
    const updated = done.map((m) => [m, results[names.indexOf(m)]!] as [string, UpResult]);
    const destroyed: [string, OperationResult][] = [];
    for (const model of removed) destroyed.push([model, await destroyModelStack(hub, model, options)]);
    return { ...combined([...updated, ...destroyed]), outputs: mergeModelStackOutputs(updated.map(([m, r]) => [m, r.outputs])) };
}

/** Deletes the objects of a model no longer in `models` and removes its stack and settings file. */
async function destroyModelStack(hub: auto.Stack, model: string, options: UpOptions): Promise<OperationResult> {
    const name = modelStackName(hub.name, model);
    const stack = { name, workspace: hub.workspace };
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-events-"));
    const eventLog = path.join(logDir, "events.jsonl");
    try {
        const result = await runStackCommand(stack, ["destroy", "--yes", "--skip-preview", "--color", "never", "--exec-kind", "auto.local", "--event-log", eventLog,
            ...(options.message !== undefined ? ["--message", options.message] : [])], { onOutput: prefixed(model, options.onOutput).onOutput });
        await runStackCommand(stack, ["stack", "rm", "--yes"]);
        openedModelStacks.get(hub.workspace)?.delete(name);
        const steps = stepsFromEventLog(fs.readFileSync(eventLog, "utf8"));
        return { steps, changes: countChanges(steps), stdout: result.stdout };
    } catch (e) {
        throw classify(e, name);
    } finally {
        fs.rmSync(logDir, { recursive: true, force: true });
    }
}

/** `previewStack` of a stack whose models have stacks of their own: that model's, or every model's. */
async function previewModelStacks(hub: auto.Stack, options: { onOutput?: (out: string) => void; model?: string }): Promise<OperationResult & { scope?: { model: string } }> {
    const names = Object.keys(checkConfig(hub).models);
    if (options.model !== undefined) {
        requireModel(hub, names, options.model);
        const { stack, previous } = await modelStackFor(hub, options.model, toStderr, true);
        return { ...await previewOneStack(stack, { onOutput: options.onOutput }, previous), scope: { model: options.model } };
    }
    await moveModelsOutOf(hub, names, toStderr, true);
    const { results, failed, skipped } = await eachLimited(names, modelStackConcurrency, async (model) => {
        const out = prefixed(model, options.onOutput);
        try {
            return await previewOneStack((await openModelStack(hub, model, true))!, { onOutput: out.onOutput });
        } finally {
            out.flush();
        }
    });
    if (failed.length > 0) throw severalFailed(hub, "the preview", failed, names.filter((_, i) => results[i] !== undefined), skipped);
    return combined(names.map((m, i) => [m, results[i]!]));
}

/**
 * `readOutputs` of a stack whose models have stacks of their own: `model`'s stack's, or every
 * model's merged (`mergeModelStackOutputs`); a model whose stack does not exist yet has none.
 */
async function readModelStackOutputs(hub: auto.Stack, model: string | undefined): Promise<Record<string, unknown>> {
    // Not validated: `status` and `rollback` read the outputs of a stack whose config is invalid.
    const names = model !== undefined ? [model] : configuredModelNames(hub.workspace.workDir, hub.name) ?? modelsWithSettings(hub.workspace.workDir, hub.name);
    const { results, failed } = await eachLimited(names, modelStackConcurrency, async (m) => {
        try {
            return await readOneStackOutputs({ name: modelStackName(hub.name, m), workspace: hub.workspace });
        } catch (e) {
            if (e instanceof StackOperationError && e.kind === "stack-not-found") return {};
            throw e;
        }
    });
    if (failed.length > 0) throw failed[0][1];
    // A model with no outputs of its own (its stack not made yet, or made by a move and not
    // updated since) is as the named stack's outputs last recorded it, while it held the model.
    const own = names.map((m, i) => [m, results[i] ?? {}] as [string, Record<string, unknown>]);
    const missing = own.filter(([, outputs]) => Object.keys(outputs).length === 0);
    if (missing.length > 0) {
        const held = await readOneStackOutputs(hub).catch((e) => { if (e instanceof StackOperationError && e.kind === "stack-not-found") return {}; throw e; });
        for (const entry of missing) entry[1] = modelPartOf(held, entry[0]);
    }
    return mergeModelStackOutputs(own);
}

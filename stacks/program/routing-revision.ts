// The program's side of routing revisions (see stacks/config/routing-revision.ts): before anything
// is registered, it reads the stack's last routing record of each model (handed over by a command,
// else from the backend: the stack's checkpoint file on a local backend, `pulumi stack output` on
// any other; every backend, both modes), refuses an update whose settings are stale, and works out
// the record this update leaves: a stack output per model and annotations on its VirtualService.
// Under a plain `pulumi up` that changes routing, it writes the new revision into the settings
// file, as a command does before its update.
import { spawnSync } from "child_process";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { removedModelCollisions } from "../config/model-removal";
import { modelOutputsOf } from "../config/models";
import { programError, StackConfig, stackSettingsPath } from "../config/config";
import { decideRouting, overrideStaleEnvVar, recordOf, RoutingRecord, routingAnnotations, routingDigest, routingRecordsEnvVar, routingRevisionKey } from "../config/routing-revision";
import { describeRouterSwitch, RouterSwitch, routerSwitchCollisions, routerSwitches, routerSwitchesEnvVar } from "../config/router-switch";
import { writeRoutingRevision } from "../config/settings";
import { currentBackendUrl, isAbsoluteLocalBackend, localStackOutputs } from "../operations/local-stack-file";
import { configStackOf } from "../operations/model-stacks";
import { readScope } from "../operations/scope-file";

/** The records worked out for a config, by model: what `modelCanariesFromConfig` stamps and exports. */
const decided = new WeakMap<StackConfig, Record<string, RoutingRecord | undefined>>();

/** Who applies: `user@host`. */
export function runnerName(): string {
    let user = process.env.USER ?? "unknown";
    try {
        user = os.userInfo().username;
    } catch {
        // no passwd entry: keep $USER
    }
    return `${user}@${os.hostname()}`;
}

/** What the program reads from the stack's last outputs: each model's routing record, the models whose router this update switches, and what removing a model would delete that another makes. */
interface LastApplied {
    records: Record<string, RoutingRecord | undefined>;
    switches: RouterSwitch[];
    /** Under a command, none: it refused them before the update. */
    removals: string[];
}

/**
 * The stack's last routing records by model, and the router switches. Under a model-canary
 * command, the ones it read from the stack's outputs and handed over (`routingRecordsEnvVar`,
 * `routerSwitchesEnvVar`). Under a plain `pulumi up`, the stack's outputs as the backend holds
 * them from its last update: on a local backend named by an absolute path (the one the CLI picks,
 * `currentBackendUrl`), read from the stack's checkpoint file when they hold no secret, as
 * `pulumi stack output` would read them there, without its start (most of what a plain step cost
 * over the floor, bench:step); otherwise with `pulumi stack output` (the same backend and login as
 * the update; an engine invoke would add a provider resource to every stack's state). When that
 * cannot run, a warning says the check was skipped.
 */
function lastApplied(config: StackConfig): LastApplied {
    const handed = process.env[routingRecordsEnvVar];
    if (handed !== undefined) {
        const switches = process.env[routerSwitchesEnvVar];
        return { records: JSON.parse(handed) as Record<string, RoutingRecord>, switches: switches ? JSON.parse(switches) as RouterSwitch[] : [], removals: [] };
    }
    const outputs = lastOutputs();
    if (outputs === undefined) return { records: {}, switches: [], removals: [] };
    return {
        records: Object.fromEntries(Object.keys(config.models).map((m) => [m, recordOf(modelOutputsOf(outputs, m))])),
        switches: routerSwitches(Object.values(config.models), outputs),
        removals: removedModelCollisions(Object.values(config.models), outputs),
    };
}

/** The stack's outputs from its last update, as `lastApplied` says; undefined, with a warning, when they cannot be read. */
function lastOutputs(): Record<string, unknown> | undefined {
    const backend = currentBackendUrl(process.cwd());
    const fromFile = backend !== undefined && isAbsoluteLocalBackend(backend) ? localStackOutputs(backend, process.cwd(), pulumi.getStack()) : undefined;
    if (fromFile !== undefined) return fromFile;
    try {
        const stack = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
        const r = spawnSync("pulumi", ["stack", "output", "--json", "--stack", stack], { cwd: process.cwd(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        if (r.error || r.status !== 0) throw new Error(`\`pulumi stack output\`: ${r.error?.message ?? r.stderr.trim().split("\n").pop()}`);
        return JSON.parse(r.stdout.trim() || "{}") as Record<string, unknown>;
    } catch (e) {
        pulumi.log.warn(`the stack's last routing revisions could not be read (${(e as Error).message}), so settings older than the stack's routing are not caught in this update`);
        return undefined;
    }
}

/**
 * Decides each model's routing record for this update (the scoped model only, during a scoped
 * update) and refuses a stale one before anything is registered; a preview warns instead. Called
 * by `stackProvider`, so every program built on it is checked.
 */
export async function checkRoutingRevisions(config: StackConfig): Promise<void> {
    const { records: lastOf, switches, removals } = lastApplied(config);
    // A switch, or a removed model, that would delete an object this update makes: refused before anything is registered.
    const collisions = [...routerSwitchCollisions(switches, Object.values(config.models)), ...removals];
    if (collisions.length > 0) throw programError(collisions.join("\n"));
    const scoped = readScope()?.model;
    // The switch is the engine's diff too (creates, then deletes); this says why, and in what order.
    for (const s of switches) pulumi.log.info(describeRouterSwitch(s));
    const stack = pulumi.getStack();
    const settingsFile = stackSettingsPath(process.cwd(), stack);
    const override = process.env[overrideStaleEnvVar] === "true";
    const records: Record<string, RoutingRecord | undefined> = {};
    const stale: string[] = [];
    const at = new Date().toISOString();
    for (const model of Object.values(config.models)) {
        const last = lastOf[model.name];
        if (scoped !== undefined && model.name !== scoped) {
            records[model.name] = last;
            continue;
        }
        const decision = decideRouting({
            model: model.name, key: [...model.path, routingRevisionKey].join("."), settingsFile: path.basename(settingsFile), stack,
            fileRevision: model.routingRevision, digest: routingDigest(model.resolved), last, override, by: runnerName(), at,
        });
        if (decision.kind === "stale") {
            stale.push(decision.message);
            records[model.name] = last;
            continue;
        }
        records[model.name] = decision.record;
        if (decision.kind === "changed" && decision.overridden) pulumi.log.warn(`model \`${model.name}\`: applying routing written from an older revision on purpose (${overrideStaleEnvVar}); it is revision ${decision.record.revision} now`);
        // A plain `pulumi up` changed the routing: the settings carry its revision from now on, so
        // the next edit from this checkout is not taken for a stale one. (A command wrote it first.)
        if (decision.kind === "changed" && decision.record.revision !== (model.routingRevision ?? 0) && !pulumi.runtime.isDryRun()) {
            writeRoutingRevision(settingsFile, model.path, decision.record.revision);
            const hub = configStackOf(process.cwd(), stack);
            if (hub !== stack) writeRoutingRevision(stackSettingsPath(process.cwd(), hub), model.path, decision.record.revision);
        }
    }
    if (stale.length > 0) {
        if (!pulumi.runtime.isDryRun()) throw programError(stale.join("\n"));
        for (const message of stale) pulumi.log.warn(message);
    }
    decided.set(config, records);
}

/** The record of `model` this update leaves, once `checkRoutingRevisions` ran for `config`. */
export function routingRecordFor(config: StackConfig, model: string): RoutingRecord | undefined {
    return decided.get(config)?.[model];
}

/** A transformation that puts the routing record on the model's route object (its VirtualService, or its HTTPRoute or GRPCRoute with `router: gateway-api`) as annotations. */
export function routingStamp(record: RoutingRecord): pulumi.ResourceTransformation {
    return ({ type, props, opts }) => {
        if (!/^kubernetes:(networking\.istio\.io\/[^:]+:VirtualService|gateway\.networking\.k8s\.io\/[^:]+:(HTTPRoute|GRPCRoute))$/.test(type)) return undefined;
        const metadata = (props.metadata ?? {}) as { annotations?: pulumi.Input<Record<string, string>> };
        const stamped = (a: Record<string, string> | undefined) => ({
            ...a,
            [routingAnnotations.revision]: String(record.revision),
            [routingAnnotations.appliedBy]: record.appliedBy,
            [routingAnnotations.appliedAt]: record.appliedAt,
        });
        const given = metadata.annotations;
        const annotations = given === undefined || (typeof given === "object" && !pulumi.Output.isInstance(given) && !(given instanceof Promise))
            ? stamped(given as Record<string, string> | undefined)
            : pulumi.output(given).apply(stamped);
        return { props: { ...props, metadata: { ...metadata, annotations } }, opts };
    };
}

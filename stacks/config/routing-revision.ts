// A stale checkout cannot silently undo another runner's step. Every `up` that changes a model's
// routing (its split, mirror or header routes) records a new routing revision in the stack (a
// stack output per model, and annotations on its VirtualService), and the settings file carries
// the revision its routing was written from (`routingRevision`). An update whose settings would
// change the routing while they carry a revision older than the stack's is refused, unless
// overridden on purpose. Pure: the program and the commands both decide with `decideRouting`.
import * as crypto from "crypto";
import { defaultRouteMirror, trafficSplit } from "../../components/routing";
import { show } from "../../components/secrets";
import type { ResolvedModelCanaryArgs } from "../../components/validation";

/** The model key that carries the revision a settings file's routing was written from. */
export const routingRevisionKey = "routingRevision";

/** The environment variable that overrides the refusal on purpose, for a plain `pulumi up` too. */
export const overrideStaleEnvVar = "MODEL_CANARY_OVERRIDE_STALE";

/** The environment variable in which a command hands the program the stack's last records (JSON, by model). */
export const routingRecordsEnvVar = "MODEL_CANARY_ROUTING_RECORDS";

/** The VirtualService annotations that carry the stack's last routing record. */
export const routingAnnotations = {
    revision: "model-canary/routing-revision",
    appliedBy: "model-canary/routing-applied-by",
    appliedAt: "model-canary/routing-applied-at",
} as const;

/** What the stack records about the last routing change it applied to a model. */
export interface RoutingRecord {
    revision: number;
    /** A digest of the routing that revision applied (see `routingDigest`). */
    digest: string;
    /** Who applied it: `user@host`. */
    appliedBy: string;
    /** When, as an ISO 8601 time. */
    appliedAt: string;
}

/**
 * The routing of a model as config resolves it: the default route's split, its mirror, the
 * header routes and the router that applies them, as a short digest. Versions are part of it (a
 * promotion changes the split's versions); replicas, images and names are not. The router counts
 * only when it is not `istio`, so the digests stacks recorded before routers existed still hold;
 * a switch of routers is a routing change, which a stale checkout must not undo either.
 */
export function routingDigest(args: Pick<ResolvedModelCanaryArgs, "stable" | "canary" | "canaryWeight" | "mirrorPercent" | "headerRoutes"> & { router?: ResolvedModelCanaryArgs["router"] }): string {
    const mirror = defaultRouteMirror(args);
    const routing = {
        split: Object.entries(trafficSplit(args)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        mirror: mirror ? [mirror.version, mirror.percent] : null,
        headerRoutes: args.headerRoutes.map((r) => Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
        ...(args.router !== undefined && args.router !== "istio" ? { router: args.router } : {}),
    };
    return crypto.createHash("sha256").update(JSON.stringify(routing)).digest("hex").slice(0, 16);
}

/**
 * `routingRevision` as written (the engine hands it as text): a whole number from 0, or a problem
 * naming the key and the value. Absent is 0, a settings file from before revisions.
 */
export function readRoutingRevision(value: unknown, problems: string[]): number | undefined {
    if (value === undefined) return undefined;
    const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) {
        problems.push(`\`${routingRevisionKey}\` must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (the commands write it; \`model-canary adopt\` sets it to the stack's), got ${show(value)}`);
        return undefined;
    }
    return n;
}

/** The routing record in one model's stack outputs, or undefined when none was recorded (a stack from before, or never updated). */
export function recordOf(modelOutputs: Record<string, unknown>): RoutingRecord | undefined {
    const r = modelOutputs.routingRecord as Partial<RoutingRecord> | undefined;
    if (typeof r !== "object" || r === null || typeof r.revision !== "number" || typeof r.digest !== "string") return undefined;
    return { revision: r.revision, digest: r.digest, appliedBy: String(r.appliedBy ?? "unknown"), appliedAt: String(r.appliedAt ?? "unknown") };
}

export interface RoutingInput {
    /** The model's name and where its keys live (for the message). */
    model: string;
    /** The key as a user writes it: `routingRevision` or `models.fraud.routingRevision`. */
    key: string;
    /** The settings file's name, e.g. `Pulumi.dev.yaml`. */
    settingsFile: string;
    stack: string;
    /** The revision the settings carry (undefined: none written). */
    fileRevision: number | undefined;
    /** `routingDigest` of the settings' routing. */
    digest: string;
    /** The stack's last record for the model, if any. */
    last: RoutingRecord | undefined;
    /** Apply even from an older revision (`--override-stale`, a rollback). */
    override: boolean;
    /** Who applies and when, for a new record. */
    by: string;
    at: string;
}

export type RoutingDecision =
    /** The routing is the stack's: the record stays as it is. */
    | { kind: "unchanged"; record: RoutingRecord | undefined }
    /** The routing changes: `record` is what the stack records now (its revision is what the settings should carry). */
    | { kind: "changed"; record: RoutingRecord; overridden: boolean }
    /** The settings were written from an older revision than the stack's and would change its routing. */
    | { kind: "stale"; message: string };

/**
 * What an update of one model's routing may do. Unchanged routing always goes on. A change goes
 * on when the settings carry the stack's revision or a newer one (a deliberate edit on an
 * up-to-date checkout; a command that wrote the next revision first), or when nothing was ever
 * recorded (stacks from before revisions), or when overridden; its revision is the settings' when
 * that is newer than the stack's (or the stack has none), else the stack's plus one. A command
 * writes that revision into the settings before its update, so the program, deciding again,
 * records the same one.
 */
export function decideRouting(input: RoutingInput): RoutingDecision {
    const { last } = input;
    if (last !== undefined && last.digest === input.digest) return { kind: "unchanged", record: last };
    const have = input.fileRevision ?? 0;
    const stale = last !== undefined && have < last.revision;
    if (stale && !input.override) return { kind: "stale", message: staleMessage(input, last!) };
    // The first record of a stack from before revisions takes the settings' own (0 when none is
    // written), so existing settings files stay as they are until routing changes again.
    const revision = last === undefined ? have : have > last.revision ? have : last.revision + 1;
    return { kind: "changed", record: { revision, digest: input.digest, appliedBy: input.by, appliedAt: input.at }, overridden: stale };
}

function staleMessage(input: RoutingInput, last: RoutingRecord): string {
    const who = input.model === "model" && input.key === routingRevisionKey ? `stack \`${input.stack}\`` : `model \`${input.model}\` of stack \`${input.stack}\``;
    const has = input.fileRevision === undefined ? `no \`${input.key}\` (revision 0)` : `\`${input.key}\` ${input.fileRevision}`;
    const modelFlag = input.key === routingRevisionKey ? "" : ` --model ${input.model}`;
    return `the routing of ${who} is at revision ${last.revision}, applied by ${last.appliedBy} at ${last.appliedAt}, but ${input.settingsFile} has ${has}`
        + `: it was written before that change, and this update would change the routing (weights, mirror, header routes or router) back from what is applied. Nothing was applied. `
        + `Run \`model-canary adopt --stack ${input.stack}${modelFlag}\` to write the stack's applied routing and revision into ${input.settingsFile} (the cluster is not touched), then edit and \`up\` again; `
        + `or apply these settings on purpose with \`model-canary up --stack ${input.stack}${modelFlag} --override-stale\` (a plain \`pulumi up\`: ${overrideStaleEnvVar}=true); \`rollback\` always works`;
}

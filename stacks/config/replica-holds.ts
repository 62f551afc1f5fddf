// Replica holds (`canary.replicas: auto`): for the `up` that moves traffic off a version whose pod
// count goes down, the command holds that version at the pods it runs, so no pod goes before its
// traffic (components/replicas.ts, scaleDownHolds). The holds reach the program through the
// environment of that one `up`, never through the stack's config: a command interrupted between
// its two `up`s (kill -9, a lost runner) leaves the config as the user wrote it, and the next `up`
// sizes the canary from it.
import type { ModelCanaryArgs } from "../../components/types";
import type { ResolvedModelCanaryArgs } from "../../components/validation";
import type { AutoReplicas } from "../../components/replicas";

/** The variable holding `{ "<model>": { hold?, holdStable? } }` for one `up`. */
export const holdsEnvVar = "MODEL_CANARY_REPLICA_HOLDS";

export type ReplicaHolds = Pick<AutoReplicas, "hold" | "holdStable">;

/** The environment entry for holding models' versions (by model name); none when there is nothing to hold. */
export function holdsEnv(holds: Record<string, ReplicaHolds> | undefined): Record<string, string> {
    const held = Object.entries(holds ?? {}).filter(([, h]) => Object.keys(h).length > 0);
    return held.length > 0 ? { [holdsEnvVar]: JSON.stringify(Object.fromEntries(held)) } : {};
}

/** The holds a command set for this program run, by model; an unreadable value is an error, never ignored. */
export function readHolds(env: NodeJS.ProcessEnv = process.env): Record<string, ReplicaHolds> {
    const value = env[holdsEnvVar];
    if (value === undefined || value === "") return {};
    try {
        const parsed = JSON.parse(value) as Record<string, ReplicaHolds>;
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a map of model names");
        return parsed;
    } catch (e) {
        throw new Error(`${holdsEnvVar} is not a map of models to { hold, holdStable }: ${(e as Error).message}`);
    }
}

/**
 * Applies a model's holds, as `canary.autoReplicas.hold`/`holdStable` would: to its arguments
 * and to the pod counts already resolved from them (a ModelConfig's `args` and `resolved`; the
 * type is not imported from config.ts, which imports this module). Only an automatically sized
 * canary is held.
 */
export function applyHolds(model: { args: ModelCanaryArgs; resolved: ResolvedModelCanaryArgs }, holds: ReplicaHolds | undefined): void {
    const auto = model.resolved.canary?.autoReplicas;
    if (!holds || !auto || !model.args.canary) return;
    const wanted: ReplicaHolds = {
        ...(typeof holds.hold === "number" ? { hold: holds.hold } : {}),
        ...(typeof holds.holdStable === "number" ? { holdStable: holds.holdStable } : {}),
    };
    model.args.canary.autoReplicas = { ...model.args.canary.autoReplicas, ...wanted };
    model.resolved.canary!.autoReplicas = { ...auto, ...wanted };
    if (wanted.hold !== undefined) model.resolved.canary!.replicas = wanted.hold;
    if (wanted.holdStable !== undefined) model.resolved.stable.replicas = wanted.holdStable;
}

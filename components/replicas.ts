// GPU-aware canary scaling (`canary.replicas: auto`): the canary's pod count follows the traffic
// it gets, so a canary at 1% does not hold a full copy of the stable version's GPUs. Pure.

/** The canary's automatic sizing, from `canary.autoReplicas`. */
export interface AutoReplicas {
    /** Fewest canary pods, at least 1 (a canary at weight 0 still needs a ready pod to be judged). Default 1. */
    min: number;
    /** Most canary pods. Default none (the stable count is the most any weight asks for). */
    max?: number;
    /** Shrink the stable version as the canary grows, so the total stays near the stable count. Default false. */
    shrinkStable: boolean;
    /**
     * Keep the canary at this many pods whatever its traffic. Set by a rollout or rollback for one
     * `up` when the canary's count goes down: that `up` moves the traffic, a second one (without
     * the hold) removes the pods, so pods never go before their traffic has.
     */
    hold?: number;
    /** The same for the stable version (with `shrinkStable`, a weight step up shrinks it). */
    holdStable?: number;
}

/** `ceil(count × percent / 100)` exactly, for a percent with at most 4 decimal places. */
export function shareOf(count: number, percent: number): number {
    // In millionths: 0.1% of 1000 is exactly 1, which floating point would round up to 2.
    const numerator = count * Math.round(percent * 1e4);
    let q = Math.floor(numerator / 1e6);
    if (q * 1e6 < numerator) q++;
    return q;
}

/**
 * Pod counts of both versions for a traffic state. `stableReplicas` is the stable version's
 * configured count, the full count. The canary's load is its weight, or in the shadow stage
 * (weight 0 with a mirror) the mirrored share: `ceil(stable × load / 100)` within min..max. With
 * `shrinkStable`, the stable keeps `ceil(stable × (100 − weight) / 100)` pods, at least one (a
 * warm stable to roll back to); the mirror does not shrink it, as it still serves everyone.
 */
export function autoReplicaCounts(stableReplicas: number, canaryWeight: number, mirrorPercent: number, auto: AutoReplicas): { stable: number; canary: number } {
    const load = canaryWeight > 0 ? canaryWeight : mirrorPercent;
    const canary = Math.min(Math.max(shareOf(stableReplicas, load), auto.min), auto.max ?? Number.MAX_SAFE_INTEGER);
    const stable = auto.shrinkStable && canaryWeight > 0 ? Math.max(1, shareOf(stableReplicas, 100 - canaryWeight)) : stableReplicas;
    return { stable: auto.holdStable ?? Math.min(stable, stableReplicas), canary: auto.hold ?? canary };
}

/**
 * The holds a traffic change needs so that no pod goes before its traffic: every version whose
 * count goes down keeps its current count for the `up` that moves the traffic (counts that go up
 * need none: the Deployments are updated, and awaited, before the VirtualService). Pure.
 */
export function scaleDownHolds(running: { stable: number; canary: number }, target: { stable: number; canary: number }): Pick<AutoReplicas, "hold" | "holdStable"> {
    return {
        ...(target.canary < running.canary ? { hold: running.canary } : {}),
        ...(target.stable < running.stable ? { holdStable: running.stable } : {}),
    };
}

// Where the runners that share a stack meet: one place per stack and model that holds the run's
// lease (who runs it, renewed while it runs, taken over only once it has expired) and the rollout's
// record, so that every checkout, laptop and CI runner sees the same run.
//
// A store is one of:
// - on a cluster, a `coordination.k8s.io/v1` Lease per stack and model (`kubernetes-lease.ts`),
//   whatever the state backend;
// - without a cluster, the state backend itself: its directory for `file://`
//   (`backend-directory.ts`), a table beside Pulumi's for `postgres://` (`postgres.ts`).
//
// Expiry is judged by the store's own clock, never by comparing two runners' clocks: a store writes
// `acquiredAt` and `renewedAt` itself, by its clock (the API server's, from its responses' `Date`
// header; PostgreSQL's `now()`; the backend directory's file times), and judges a lease expired
// when its clock is past `renewedAt` plus the lease's duration. A runner whose clock is skewed
// therefore neither steals a live lease nor keeps a dead one.

/** Who holds a run: the process, and the lease's times as the holder wrote them. */
export interface LeaseHolder {
    host: string;
    pid: number;
    user: string;
    /** Kernel start time of the holder's process, where it has one (tells a reused pid apart). */
    startTicks?: string;
    /** What it runs, e.g. `rollout`. */
    command: string;
    /** ISO time the lease was taken, by the store's clock (the store sets it; a caller's value is ignored). */
    acquiredAt: string;
    /** ISO time of the last renewal, by the store's clock (the store sets it). */
    renewedAt: string;
    /** How long after a renewal the lease holds without another, in seconds. */
    leaseSeconds: number;
}

/** One run's place in a store: a stack of a project, and a model of that stack. */
export interface RunKey {
    project: string;
    stack: string;
    /** The model (`model` for the shorthand's). */
    model: string;
}

export type AcquireResult =
    | { acquired: true; /** The expired holder this acquisition replaced, if any. */ tookOverFrom?: LeaseHolder }
    | { acquired: false; holder: LeaseHolder };

export interface CoordinationStore {
    /** Where the store is, for messages: e.g. "Lease `model-canary-prod-fraud` in namespace `ml`". Never holds a secret. */
    describe(key: RunKey): string;
    /**
     * Takes the lease for `me`, atomically: when it is free, when it is expired, or when
     * `replacing` names its current holder exactly (a pre-emption the holder acknowledged or a dead
     * holder proven so on its own host). Otherwise returns the holder.
     */
    acquire(key: RunKey, me: LeaseHolder, options?: { replacing?: LeaseHolder }): Promise<AcquireResult>;
    /** Renews `me`'s lease; false when it is no longer `me`'s (expired and taken over). */
    renew(key: RunKey, me: LeaseHolder): Promise<boolean>;
    /** Gives the lease up if it is still `me`'s. Idempotent. */
    release(key: RunKey, me: LeaseHolder): Promise<void>;
    /** The current holder, expired or not, or undefined when nobody holds it. */
    holder(key: RunKey): Promise<LeaseHolder | undefined>;
    /** Asks the holder to stop (a `rollback`): the holder polls `preemption` while it renews. */
    requestPreemption(key: RunKey, by: LeaseHolder): Promise<void>;
    preemption(key: RunKey): Promise<LeaseHolder | undefined>;
    clearPreemption(key: RunKey, by: LeaseHolder): Promise<void>;
    /** The rollout record (JSON text, see rollout/record.ts), or undefined when none was written. */
    readRecord(key: RunKey): Promise<string | undefined>;
    writeRecord(key: RunKey, json: string): Promise<void>;
}

/** A store that cannot be reached or written: the message names the store and the cause, never a secret. */
export class CoordinationStoreError extends Error {
    constructor(message: string, public readonly reason: "unreachable" | "forbidden" | "damaged" | "conflict") {
        super(message);
        this.name = "CoordinationStoreError";
    }
}

/** Whether a holder's lease has expired at `storeNowMs` (the store's clock). Pure. */
export function leaseExpired(holder: Pick<LeaseHolder, "renewedAt" | "leaseSeconds">, storeNowMs: number): boolean {
    const renewed = Date.parse(holder.renewedAt);
    if (Number.isNaN(renewed)) return true;
    return storeNowMs >= renewed + holder.leaseSeconds * 1000;
}

// The cluster's coordination store: one `coordination.k8s.io/v1` Lease per stack and model, in the
// model's namespace, and the rollout record in a ConfigMap beside it (`<lease>-record`, key
// `rollout.json`). Whatever the state backend, every runner that reaches the cluster meets here.
//
// Atomic by resourceVersion: a runner reads the Lease, judges it, and writes it back at the version
// it read (or creates it, when there was none). The API server refuses the write with 409 when
// another runner wrote in between; the runner then reads again and judges anew. So two runners
// never both hold one Lease, and no runner needs the other's clock.
//
// Times are the API server's: every write stamps `renewTime` (and `acquireTime`) with the `Date` of
// the API server's answer to the read that preceded it, and expiry is judged against the `Date` of
// the answer to the latest read, so a runner with a skewed clock neither steals a live Lease nor
// keeps a dead one. The `Date` header has whole seconds: a lease holds between its duration and
// one second less.
//
// What is written: `spec.holderIdentity` `<host>:<pid>`, `leaseDurationSeconds`, `acquireTime`,
// `renewTime`, `leaseTransitions` (each change of holder), the label
// `app.kubernetes.io/managed-by: model-canary`, and annotations naming the project, stack and model
// (`model-canary/project`, `/stack`, `/model`, also labels where they are valid label values), the
// whole holder (`model-canary/holder`, JSON), and a `rollback`'s request to stop
// (`model-canary/preemption-requested-by`, JSON). A Lease or ConfigMap at our name without them was
// not written by model-canary: it is refused, never guessed at.
import * as crypto from "crypto";
import { ClusterApiError, ClusterConnection, ClusterTarget, connect, createObject, readObject, replaceObject } from "../cluster-client/cluster-api";
import { quotedText } from "../../components/syntax";
import { AcquireResult, CoordinationStore, CoordinationStoreError, LeaseHolder, leaseExpired, RunKey } from "./store";

export const managedByLabel = "app.kubernetes.io/managed-by";
const annotation = {
    project: "model-canary/project",
    stack: "model-canary/stack",
    model: "model-canary/model",
    holder: "model-canary/holder",
    preemption: "model-canary/preemption-requested-by",
} as const;
/** The ConfigMap key holding the rollout record. */
export const recordKey = "rollout.json";
/**
 * The most record text a ConfigMap takes here: the API server refuses a ConfigMap whose data
 * passes 1 MiB (1,048,576 bytes); the rest is left for the key and the object's metadata.
 */
export const maxRecordBytes = 1_000_000;
/** A Lease's name leaves room for `-record` within 63 characters. */
const maxLeaseName = 63 - "-record".length;

/** The RBAC rules a runner's user needs in a model's namespace, as a Role's `rules`. */
export const requiredRules = [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
    { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "create", "update"] },
];

/**
 * The Lease of a stack and model: `model-canary-<stack>-<model>`. When a character had to be
 * replaced (only `a-z`, `0-9` and `-` are allowed, so upper case is lowered) or the name would
 * pass 56 characters, it is shortened and ends in `-` and 8 hex characters of a hash of the stack
 * and model, so that names stay apart. Pure.
 */
export function leaseName(key: Pick<RunKey, "stack" | "model">): string {
    const plain = `model-canary-${key.stack}-${key.model}`;
    if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plain) && plain.length <= maxLeaseName) return plain;
    const hash = crypto.createHash("sha256").update(`${key.stack}\n${key.model}`).digest("hex").slice(0, 8);
    const readable = plain.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").slice(0, maxLeaseName - hash.length - 1).replace(/-+$/, "");
    return `${readable}-${hash}`;
}

/** The ConfigMap holding a stack and model's rollout record. Pure. */
export function recordName(key: Pick<RunKey, "stack" | "model">): string {
    return `${leaseName(key)}-record`;
}

/** The same process: one holder's identity, whatever its times. */
function sameHolder(a: LeaseHolder, b: LeaseHolder): boolean {
    return a.host === b.host && a.pid === b.pid && a.user === b.user && (a.startTicks ?? "") === (b.startTicks ?? "") && a.command === b.command;
}

/** A MicroTime as the API server writes it (six fraction digits). */
function microTime(ms: number): string {
    return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

const labelValue = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export interface KubernetesLeaseStoreOptions {
    /** The cluster: how the stack reaches it (a kubeconfig), or a connection already made. */
    cluster: ClusterTarget | ClusterConnection;
    /** Each model's namespace (its `namespace` setting): one for all, a map by model, or a function. */
    namespace: string | Readonly<Record<string, string>> | ((model: string) => string);
}

function isConnection(c: ClusterTarget | ClusterConnection): c is ClusterConnection {
    return typeof (c as ClusterConnection).request === "function";
}

/** What the store does to a Lease it read: write `write` back at the version read (nothing when undefined), and answer `result`. */
interface Decision<T> {
    write?: any;
    result: T;
}

/** The cluster's store (see the module comment). Connects at the first call. */
export function kubernetesLeaseStore(options: KubernetesLeaseStoreOptions): CoordinationStore {
    let connection: ClusterConnection | undefined = isConnection(options.cluster) ? options.cluster : undefined;
    const conn = (): ClusterConnection => {
        if (connection) return connection;
        try {
            connection = connect(options.cluster as ClusterTarget);
        } catch (e) {
            throw new CoordinationStoreError(`cannot reach the cluster to coordinate runs: ${(e as Error).message}`, "unreachable");
        }
        return connection;
    };
    const namespaceOf = (model: string): string => {
        const ns = typeof options.namespace === "string" ? options.namespace
            : typeof options.namespace === "function" ? options.namespace(model)
            : Object.prototype.hasOwnProperty.call(options.namespace, model) ? options.namespace[model] : undefined;
        if (typeof ns !== "string" || ns === "") throw new Error(`no namespace is known for model \`${model}\`: the cluster's Lease of a model lives in the model's \`namespace\``);
        return ns;
    };
    const where = (key: RunKey) => {
        const ns = namespaceOf(key.model);
        const lease = leaseName(key);
        return { ns, lease, record: recordName(key), what: `Lease \`${lease}\` in namespace \`${ns}\`` };
    };
    const removeHint = (kind: string, name: string, ns: string) =>
        `if no model-canary run uses it, remove it (\`kubectl delete ${kind.toLowerCase()} ${name} -n ${ns}\`), or rename the stack or model`;

    /** Runs one API call, turning the cluster client's failures into the store's. */
    const guarded = async <T>(verb: "get" | "create" | "update", resource: "leases" | "configmaps", ns: string, name: string, action: () => Promise<T>): Promise<T> => {
        try {
            return await action();
        } catch (e) {
            if (!(e instanceof ClusterApiError)) throw e;
            const kind = resource === "leases" ? "Lease" : "ConfigMap";
            if (e.unreachable) throw new CoordinationStoreError(`cannot ${verb} ${kind} \`${name}\` in namespace \`${ns}\` to coordinate runs: ${e.message}`, "unreachable");
            if (e.status === 403) {
                throw new CoordinationStoreError(`the API server ${conn().server} refused to ${verb} ${resource} in namespace \`${ns}\` (${kind} \`${name}\`): ${e.message}. `
                    + `Runners coordinate through a Lease and a ConfigMap per model: give their user a Role in namespace \`${ns}\` with the rules `
                    + `{apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"]} and {apiGroups: [""], resources: ["configmaps"], verbs: ["get", "create", "update"]}, `
                    + "bound to it by a RoleBinding (docs/pipelines.md#on-a-cluster-a-lease-per-model)", "forbidden");
            }
            if (e.status === 404 && verb === "create") {
                throw new CoordinationStoreError(`cannot create ${kind} \`${name}\`: namespace \`${ns}\` does not exist on ${conn().server} (${e.message}); create it, or set the model's \`namespace\``, "damaged");
            }
            if (e.status === 409) throw new CoordinationStoreError(`${kind} \`${name}\` in namespace \`${ns}\` changed while it was written: ${e.message}`, "conflict");
            throw new CoordinationStoreError(`cannot ${verb} ${kind} \`${name}\` in namespace \`${ns}\`: ${e.message}`, "damaged");
        }
    };

    /**
     * Refuses a Lease or ConfigMap at our name that model-canary did not write (`damaged`) or that
     * another stack or model wrote (`conflict`, names clash), naming it; never changes it.
     */
    const checkOwned = (key: RunKey, object: any, kind: string, name: string, ns: string): void => {
        const labels = object?.metadata?.labels ?? {};
        const notes = object?.metadata?.annotations ?? {};
        if (labels[managedByLabel] !== "model-canary" || typeof notes[annotation.stack] !== "string" || typeof notes[annotation.model] !== "string") {
            throw new CoordinationStoreError(`${kind} \`${name}\` in namespace \`${ns}\` was not written by model-canary (it lacks the label \`${managedByLabel}: model-canary\` or the annotations \`${annotation.stack}\` and \`${annotation.model}\`); nothing was changed: ${removeHint(kind, name, ns)}`, "damaged");
        }
        const theirs = { project: notes[annotation.project], stack: notes[annotation.stack], model: notes[annotation.model] };
        if (theirs.project !== key.project || theirs.stack !== key.stack || theirs.model !== key.model) {
            throw new CoordinationStoreError(`${kind} \`${name}\` in namespace \`${ns}\` belongs to model \`${theirs.model}\` of stack \`${theirs.stack}\` of project \`${theirs.project}\`, not to model \`${key.model}\` of stack \`${key.stack}\` of project \`${key.project}\`, whose name it shares; nothing was changed: rename one of the stacks or models, or run them in different namespaces`, "conflict");
        }
    };

    const parseHolderNote = (text: unknown, what: string, name: string, ns: string): LeaseHolder => {
        let h: any;
        try {
            h = JSON.parse(String(text));
        } catch {
            h = undefined;
        }
        if (typeof h?.host !== "string" || typeof h?.pid !== "number" || typeof h?.command !== "string") {
            throw new CoordinationStoreError(`Lease \`${name}\` in namespace \`${ns}\` has ${what} that model-canary cannot read (${quotedText(String(text), 200)}); nothing was changed: ${removeHint("Lease", name, ns)}`, "damaged");
        }
        return h as LeaseHolder;
    };

    /** The Lease's holder, with the times the store wrote in its spec; undefined when nobody holds it. */
    const holderOf = (lease: any, name: string, ns: string): LeaseHolder | undefined => {
        const spec = lease.spec ?? {};
        if (!spec.holderIdentity) return undefined;
        const h = parseHolderNote(lease.metadata?.annotations?.[annotation.holder], `a holder (\`${annotation.holder}\`)`, name, ns);
        if (spec.holderIdentity !== `${h.host}:${h.pid}`) {
            throw new CoordinationStoreError(`Lease \`${name}\` in namespace \`${ns}\` names holder \`${spec.holderIdentity}\` in its spec but ${h.host}:${h.pid} in \`${annotation.holder}\` (edited by hand?); nothing was changed: ${removeHint("Lease", name, ns)}`, "damaged");
        }
        return { ...h, acquiredAt: String(spec.acquireTime ?? h.acquiredAt), renewedAt: String(spec.renewTime ?? h.renewedAt), leaseSeconds: Number(spec.leaseDurationSeconds ?? h.leaseSeconds) };
    };

    const preemptionOf = (lease: any, name: string, ns: string): LeaseHolder | undefined => {
        const text = lease?.metadata?.annotations?.[annotation.preemption];
        return text === undefined ? undefined : parseHolderNote(text, `a pre-emption request (\`${annotation.preemption}\`)`, name, ns);
    };

    /** The Lease, checked to be ours (undefined when there is none), and the API server's clock. */
    const readLease = async (key: RunKey) => {
        const { ns, lease } = where(key);
        const at = await guarded("get", "leases", ns, lease, () => readObject(conn(), "coordination.k8s.io/v1", "leases", ns, lease));
        if (at.object) checkOwned(key, at.object, "Lease", lease, ns);
        return at;
    };

    /** The metadata of every object the store writes for a key. */
    const ownMetadata = (key: RunKey, name: string) => {
        const labels: Record<string, string> = { [managedByLabel]: "model-canary" };
        // Labels for selecting (`kubectl get leases -l model-canary/stack=prod`) where the value is a valid label value; the annotations always hold it.
        for (const [k, v] of [["project", key.project], ["stack", key.stack], ["model", key.model]] as const) {
            if (v.length <= 63 && labelValue.test(v)) labels[`model-canary/${k}`] = v;
        }
        return { name, namespace: namespaceOf(key.model), labels, annotations: { [annotation.project]: key.project, [annotation.stack]: key.stack, [annotation.model]: key.model } };
    };

    /**
     * Reads the Lease and writes what `decide` returns back at the version read (creating the Lease
     * when there was none); on a 409 (another runner wrote in between) reads again and decides anew.
     */
    const update = async <T>(key: RunKey, decide: (lease: any, serverNow: number, existed: boolean) => Decision<T>): Promise<T> => {
        const { ns, lease: name, what } = where(key);
        for (let attempt = 0; attempt < 8; attempt++) {
            const at = await readLease(key);
            const existed = at.object !== undefined;
            const lease = existed ? structuredClone(at.object) : { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: ownMetadata(key, name), spec: {} };
            lease.metadata.annotations ??= {};
            const decided = decide(lease, at.serverTime, existed);
            if (decided.write === undefined) return decided.result;
            try {
                if (existed) await guarded("update", "leases", ns, name, () => replaceObject(conn(), "coordination.k8s.io/v1", "leases", ns, decided.write));
                else await guarded("create", "leases", ns, name, () => createObject(conn(), "coordination.k8s.io/v1", "leases", ns, decided.write));
                return decided.result;
            } catch (e) {
                if (e instanceof CoordinationStoreError && e.reason === "conflict") continue;
                throw e;
            }
        }
        throw new CoordinationStoreError(`${what} kept changing under this runner (8 writes in a row answered 409); try again`, "conflict");
    };

    /** `lease` held by `me` from the API server's `serverNow`: newly taken, or renewed. */
    const hold = (lease: any, me: LeaseHolder, serverNow: number, taking: boolean): any => {
        const now = microTime(serverNow);
        const seconds = Math.max(1, Math.ceil(me.leaseSeconds));
        const spec = lease.spec ?? {};
        const acquired = taking ? now : String(spec.acquireTime ?? now);
        const holder: LeaseHolder = { ...me, acquiredAt: acquired, renewedAt: now, leaseSeconds: seconds };
        lease.metadata.annotations[annotation.holder] = JSON.stringify(holder);
        lease.spec = {
            ...spec,
            holderIdentity: `${me.host}:${me.pid}`,
            leaseDurationSeconds: seconds,
            acquireTime: acquired,
            renewTime: now,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && spec.acquireTime ? 1 : 0),
        };
        return lease;
    };

    return {
        describe(key) {
            return where(key).what;
        },

        acquire(key, me, options = {}) {
            const { ns, lease: name } = where(key);
            return update<AcquireResult>(key, (lease, now, existed) => {
                const current = existed ? holderOf(lease, name, ns) : undefined;
                if (current === undefined) return { write: takeWith(lease, now), result: { acquired: true } };
                if (leaseExpired(current, now) || (options.replacing !== undefined && sameHolder(options.replacing, current))) {
                    return { write: takeWith(lease, now), result: { acquired: true, tookOverFrom: current } };
                }
                return { result: { acquired: false, holder: current } };
            });
            function takeWith(lease: any, now: number): any {
                // A pre-emption request is used up when its own requester takes the Lease; another's stays for the new holder.
                const request = preemptionOf(lease, name, ns);
                if (request && sameHolder(request, me)) delete lease.metadata.annotations[annotation.preemption];
                return hold(lease, me, now, true);
            }
        },

        renew(key, me) {
            const { ns, lease: name } = where(key);
            return update<boolean>(key, (lease, now, existed) => {
                const current = existed ? holderOf(lease, name, ns) : undefined;
                if (!current || !sameHolder(current, me)) return { result: false };
                return { write: hold(lease, me, now, false), result: true };
            });
        },

        async release(key, me) {
            const { ns, lease: name } = where(key);
            await update<void>(key, (lease, _now, existed) => {
                const current = existed ? holderOf(lease, name, ns) : undefined;
                if (!current || !sameHolder(current, me)) return { result: undefined };
                // The Lease stays (its transitions count on); without a holder it is free.
                delete lease.spec.holderIdentity;
                delete lease.metadata.annotations[annotation.holder];
                return { write: lease, result: undefined };
            });
        },

        async holder(key) {
            const { ns, lease } = where(key);
            const at = await readLease(key);
            return at.object ? holderOf(at.object, lease, ns) : undefined;
        },

        async requestPreemption(key, by) {
            await update<void>(key, (lease, now) => {
                const stamp = microTime(now);
                lease.metadata.annotations[annotation.preemption] = JSON.stringify({ ...by, acquiredAt: stamp, renewedAt: stamp });
                return { write: lease, result: undefined };
            });
        },

        async preemption(key) {
            const { ns, lease } = where(key);
            const at = await readLease(key);
            return at.object ? preemptionOf(at.object, lease, ns) : undefined;
        },

        async clearPreemption(key, by) {
            const { ns, lease: name } = where(key);
            await update<void>(key, (lease, _now, existed) => {
                const request = existed ? preemptionOf(lease, name, ns) : undefined;
                if (!request || !sameHolder(request, by)) return { result: undefined };
                delete lease.metadata.annotations[annotation.preemption];
                return { write: lease, result: undefined };
            });
        },

        async readRecord(key) {
            const { ns, record } = where(key);
            const at = await guarded("get", "configmaps", ns, record, () => readObject(conn(), "v1", "configmaps", ns, record));
            if (!at.object) return undefined;
            checkOwned(key, at.object, "ConfigMap", record, ns);
            const text = at.object.data?.[recordKey];
            if (typeof text !== "string") {
                throw new CoordinationStoreError(`ConfigMap \`${record}\` in namespace \`${ns}\` has no \`${recordKey}\` (its keys: ${Object.keys(at.object.data ?? {}).join(", ") || "none"}); ${removeHint("ConfigMap", record, ns)}`, "damaged");
            }
            return text;
        },

        async writeRecord(key, json) {
            const { ns, record } = where(key);
            const bytes = Buffer.byteLength(json, "utf8");
            if (bytes > maxRecordBytes) {
                throw new CoordinationStoreError(`the rollout record is ${bytes} bytes, more than ConfigMap \`${record}\` in namespace \`${ns}\` holds (${maxRecordBytes} bytes: the API server refuses a ConfigMap over 1 MiB); it was not written, the record there is unchanged`, "damaged");
            }
            for (let attempt = 0; attempt < 8; attempt++) {
                const at = await guarded("get", "configmaps", ns, record, () => readObject(conn(), "v1", "configmaps", ns, record));
                if (at.object) checkOwned(key, at.object, "ConfigMap", record, ns);
                try {
                    if (at.object) await guarded("update", "configmaps", ns, record, () => replaceObject(conn(), "v1", "configmaps", ns, { ...at.object, data: { [recordKey]: json } }));
                    else await guarded("create", "configmaps", ns, record, () => createObject(conn(), "v1", "configmaps", ns, { apiVersion: "v1", kind: "ConfigMap", metadata: ownMetadata(key, record), data: { [recordKey]: json } }));
                    return;
                } catch (e) {
                    // Another runner wrote in between: the last writer's record stands, written whole.
                    if (e instanceof CoordinationStoreError && e.reason === "conflict") continue;
                    throw e;
                }
            }
            throw new CoordinationStoreError(`ConfigMap \`${record}\` in namespace \`${ns}\` kept changing under this runner (8 writes in a row answered 409); try again`, "conflict");
        },
    };
}

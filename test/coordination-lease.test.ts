// The cluster's coordination store against one real local control plane (kube-apiserver, etcd):
// the cluster client's writes (create, replace at a resourceVersion, delete, Events), then a run's
// Lease per stack and model and its rollout record.
import * as assert from "assert";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import { serviceAccountKubeconfig } from "./support/cluster";
import { ClusterApiError, ClusterConnection, connect, createEvent, createObject, deleteObject, readObject, replaceObject, serverClock } from "../stacks/cluster-client/cluster-api";
import { kubernetesLeaseStore, leaseName, maxRecordBytes, recordName } from "../stacks/coordination/kubernetes-lease";
import { CoordinationStore, CoordinationStoreError, LeaseHolder, RunKey } from "../stacks/coordination/store";

/** A runner's identity as the lock passes it; the times are the caller's and the store ignores them. */
function runner(host: string, pid: number, leaseSeconds = 30, command = "rollout"): LeaseHolder {
    return { host, pid, user: "ci", startTicks: String(pid * 7), command, acquiredAt: "2000-01-01T00:00:00Z", renewedAt: "2000-01-01T00:00:00Z", leaseSeconds };
}

/** Runs `action` in a process whose clock is `skewMs` off (Date.now() and new Date()), as on a runner whose clock drifted. */
async function withSkewedClock<T>(skewMs: number, action: () => Promise<T>): Promise<T> {
    const Real = Date;
    class Skewed extends Real {
        constructor(...args: any[]) {
            if (args.length === 0) super(Real.now() + skewMs);
            else super(...(args as [any]));
        }
        static now(): number {
            return Real.now() + skewMs;
        }
    }
    globalThis.Date = Skewed as DateConstructor;
    try {
        return await action();
    } finally {
        globalThis.Date = Real;
    }
}

describe("coordination on a local control plane", function () {
    this.timeout(120_000);
    let cp: cluster.ControlPlane;
    let admin: ClusterConnection;
    /** Two runners' stores: separate connections to one API server. */
    let store: CoordinationStore;
    let other: CoordinationStore;
    const key = (model: string): RunKey => ({ project: "shop", stack: "prod", model });
    /** Waits (polling, no assertion on time) until the API server's clock passes a holder's lease. */
    const untilExpired = async (h: LeaseHolder): Promise<void> => {
        while ((await serverClock(admin)) < Date.parse(h.renewedAt) + h.leaseSeconds * 1000) await cluster.sleep(250);
    };
    const lease = (model: string) => JSON.parse(cluster.kubectl(cp, ["get", "lease", leaseName(key(model)), "-n", "ml", "-o", "json"]));

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        admin = connect({ kubeconfig: cp.kubeconfig });
        cluster.kubectl(cp, ["create", "namespace", "ml"]);
        store = kubernetesLeaseStore({ cluster: { kubeconfig: cp.kubeconfig }, namespace: { fraud: "ml", churn: "ml", spam: "ml", ranker: "ml", skew: "ml", pre: "ml", rec: "ml", race: "ml", garbled: "ml", clash: "ml" } });
        other = kubernetesLeaseStore({ cluster: { kubeconfig: cp.kubeconfig }, namespace: () => "ml" });
    });
    after(async () => {
        if (cp) await cluster.stop(cp);
    });

    describe("the cluster client's writes", () => {
        it("creates, replaces at the read resourceVersion (409 at a stale one), and deletes, each answer carrying the API server's clock", async () => {
            const before = await serverClock(admin);
            const created = await createObject(admin, "v1", "configmaps", "ml", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "writes" }, data: { a: "1" } });
            assert.strictEqual(created.object.data.a, "1");
            assert.ok(created.serverTime >= before && created.serverTime % 1000 === 0, `a Date header's time, to the second: ${created.serverTime}`);
            const again = await createObject(admin, "v1", "configmaps", "ml", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "writes" } }).catch((e) => e);
            assert.ok(again instanceof ClusterApiError && again.status === 409, String(again));
            assert.match(again.message, /^POST configmaps ml\/writes answered 409: configmaps "writes" already exists$/);

            const rv = created.object.metadata.resourceVersion;
            const replaced = await replaceObject(admin, "v1", "configmaps", "ml", { ...created.object, data: { a: "2" } });
            assert.notStrictEqual(replaced.object.metadata.resourceVersion, rv);
            const stale = await replaceObject(admin, "v1", "configmaps", "ml", { ...created.object, data: { a: "3" } }).catch((e) => e);
            assert.ok(stale instanceof ClusterApiError && stale.status === 409, String(stale));
            assert.match(stale.message, /the object has been modified/);
            assert.strictEqual((await readObject(admin, "v1", "configmaps", "ml", "writes")).object.data.a, "2");

            const staleDelete = await deleteObject(admin, "v1", "configmaps", "ml", "writes", rv).catch((e) => e);
            assert.ok(staleDelete instanceof ClusterApiError && staleDelete.status === 409, String(staleDelete));
            assert.strictEqual(await deleteObject(admin, "v1", "configmaps", "ml", "writes", replaced.object.metadata.resourceVersion), true);
            assert.strictEqual(await deleteObject(admin, "v1", "configmaps", "ml", "writes"), false);
            const gone = await readObject(admin, "v1", "configmaps", "ml", "writes");
            assert.strictEqual(gone.object, undefined);
            assert.ok(gone.serverTime >= created.serverTime);
        });

        it("creates an Event about an object that `kubectl describe` lists, with the API server's time", async () => {
            const cm = (await createObject(admin, "v1", "configmaps", "ml", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "described" } })).object;
            const event = await createEvent(admin, {
                involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: "described", namespace: "ml", uid: cm.metadata.uid },
                reason: "StepApplied", message: "canary at 10%", type: "Normal",
            });
            assert.match(event.object.metadata.name, /^described\./);
            assert.strictEqual(event.object.source.component, "model-canary");
            const at = Date.parse(event.object.firstTimestamp);
            assert.ok(at >= Date.parse(cm.metadata.creationTimestamp) && at <= event.serverTime, `${event.object.firstTimestamp} between the ConfigMap's creation and the Event's answer`);
            const describe = cluster.kubectl(cp, ["describe", "configmap", "described", "-n", "ml"]);
            assert.match(describe, /Normal\s+StepApplied\s+\S+\s+model-canary\s+canary at 10%/);
        });
    });

    describe("the cluster's store: a Lease per stack and model", () => {
        it("names the Lease model-canary-<stack>-<model>, with a hash when characters are replaced or it is too long", () => {
            assert.strictEqual(leaseName({ stack: "prod", model: "fraud" }), "model-canary-prod-fraud");
            assert.strictEqual(recordName({ stack: "prod", model: "fraud" }), "model-canary-prod-fraud-record");
            assert.match(leaseName({ stack: "Prod_EU", model: "fraud" }), /^model-canary-prod-eu-fraud-[0-9a-f]{8}$/);
            assert.notStrictEqual(leaseName({ stack: "prod_eu", model: "fraud" }), leaseName({ stack: "prod-eu", model: "fraud" }));
            const long = leaseName({ stack: "a-very-long-stack-name-for-the-europe-region", model: "fraud-detector-large" });
            assert.ok(long.length <= 56 && /^model-canary-a-very-long-stack-name-[-a-z0-9]*[a-z0-9]-[0-9a-f]{8}$/.test(long), long);
        });

        it("acquires a free Lease, writes it by the API server's clock, and refuses a second runner naming the holder", async () => {
            const a = runner("runner-a", 4101);
            assert.deepStrictEqual(await store.acquire(key("fraud"), a), { acquired: true });
            const live = lease("fraud");
            assert.strictEqual(live.spec.holderIdentity, "runner-a:4101");
            assert.strictEqual(live.spec.leaseDurationSeconds, 30);
            assert.strictEqual(live.spec.leaseTransitions, 0);
            assert.match(live.spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/);
            assert.strictEqual(live.spec.acquireTime, live.spec.renewTime);
            assert.ok(Math.abs(Date.parse(live.spec.renewTime) - Date.parse(live.metadata.creationTimestamp)) <= 1000, `${live.spec.renewTime} is the server's time of creation ${live.metadata.creationTimestamp}`);
            assert.deepStrictEqual(live.metadata.labels, { "app.kubernetes.io/managed-by": "model-canary", "model-canary/project": "shop", "model-canary/stack": "prod", "model-canary/model": "fraud" });
            assert.deepStrictEqual(JSON.parse(live.metadata.annotations["model-canary/holder"]), { ...a, acquiredAt: live.spec.acquireTime, renewedAt: live.spec.renewTime });

            const refused = await other.acquire(key("fraud"), runner("runner-b", 4202));
            assert.strictEqual(refused.acquired, false);
            assert.deepStrictEqual(refused.acquired === false && refused.holder, { ...a, acquiredAt: live.spec.acquireTime, renewedAt: live.spec.renewTime });
            assert.strictEqual(store.describe(key("fraud")), "Lease `model-canary-prod-fraud` in namespace `ml`");
        });

        it("renews the holder's Lease at a later server time, and only the holder's", async () => {
            const a = runner("runner-a", 4111);
            assert.strictEqual((await store.acquire(key("churn"), a)).acquired, true);
            const first = lease("churn").spec;
            while ((await serverClock(admin)) <= Date.parse(first.renewTime)) await cluster.sleep(250);
            assert.strictEqual(await store.renew(key("churn"), a), true);
            const renewed = lease("churn").spec;
            assert.ok(Date.parse(renewed.renewTime) > Date.parse(first.renewTime), `${renewed.renewTime} after ${first.renewTime}`);
            assert.strictEqual(renewed.acquireTime, first.acquireTime);
            assert.strictEqual(await other.renew(key("churn"), runner("runner-b", 4111)), false, "same pid on another host is not the holder");
            assert.strictEqual(lease("churn").spec.renewTime, renewed.renewTime);
        });

        it("releases only the holder's Lease, idempotently, after which another runner takes it (a transition)", async () => {
            const a = runner("runner-a", 4121);
            const b = runner("runner-b", 4222);
            await store.acquire(key("spam"), a);
            await other.release(key("spam"), b);
            assert.strictEqual((await store.holder(key("spam")))?.host, "runner-a");
            await store.release(key("spam"), a);
            await store.release(key("spam"), a);
            assert.strictEqual(await other.holder(key("spam")), undefined);
            assert.strictEqual(lease("spam").spec.holderIdentity, undefined);
            assert.deepStrictEqual(await other.acquire(key("spam"), b), { acquired: true });
            assert.strictEqual(lease("spam").spec.holderIdentity, "runner-b:4222");
            assert.strictEqual(lease("spam").spec.leaseTransitions, 1);
        });

        it("takes over a Lease only once the API server's clock is past its renewal plus its duration, and the old holder can no longer renew", async () => {
            const a = runner("runner-a", 4131, 1);
            await store.acquire(key("ranker"), a);
            const again = (await store.holder(key("ranker")))!;
            await untilExpired(again);
            const taken = await other.acquire(key("ranker"), runner("runner-b", 4232, 1));
            assert.strictEqual(taken.acquired, true);
            assert.deepStrictEqual(taken.acquired && taken.tookOverFrom, again);
            assert.strictEqual(await store.renew(key("ranker"), a), false);
            assert.strictEqual(lease("ranker").spec.holderIdentity, "runner-b:4232");
        });

        it("lets exactly one of two runners acquiring at once win; the other is told who", async () => {
            for (let round = 0; round < 5; round++) {
                const k = { ...key("race"), stack: `race${round}` };
                const stores = [kubernetesLeaseStore({ cluster: { kubeconfig: cp.kubeconfig }, namespace: "ml" }), kubernetesLeaseStore({ cluster: { kubeconfig: cp.kubeconfig }, namespace: "ml" })];
                const [ra, rb] = await Promise.all([stores[0].acquire(k, runner("runner-a", 5000 + round)), stores[1].acquire(k, runner("runner-b", 6000 + round))]);
                assert.strictEqual([ra, rb].filter((r) => r.acquired).length, 1, JSON.stringify([ra, rb]));
                const winner = ra.acquired ? "runner-a" : "runner-b";
                const loser = ra.acquired ? rb : ra;
                assert.strictEqual(loser.acquired === false && loser.holder.host, winner);
                assert.strictEqual((await store.holder(k))?.host, winner);
            }
        });

        it("carries a rollback's pre-emption request to the holder, lets the requester take the Lease replacing that holder, and clears only its own request", async () => {
            const holder = runner("runner-a", 4141);
            const rollback = runner("runner-b", 4242, 30, "rollback");
            await store.acquire(key("pre"), holder);
            assert.strictEqual(await store.preemption(key("pre")), undefined);
            await other.requestPreemption(key("pre"), rollback);
            const asked = (await store.preemption(key("pre")))!;
            assert.deepStrictEqual({ host: asked.host, pid: asked.pid, command: asked.command }, { host: "runner-b", pid: 4242, command: "rollback" });
            assert.strictEqual(JSON.parse(lease("pre").metadata.annotations["model-canary/preemption-requested-by"]).pid, 4242);
            await store.clearPreemption(key("pre"), runner("runner-c", 1, 30, "rollback"));
            assert.strictEqual((await store.preemption(key("pre")))?.host, "runner-b", "another requester's request stays");

            const live = (await store.holder(key("pre")))!;
            assert.strictEqual((await other.acquire(key("pre"), rollback, { replacing: { ...live, command: "up" } })).acquired, false, "replacing must name the holder exactly");
            const taken = await other.acquire(key("pre"), rollback, { replacing: live });
            assert.strictEqual(taken.acquired && taken.tookOverFrom?.host, "runner-a");
            assert.strictEqual(await other.preemption(key("pre")), undefined, "the requester's acquisition uses up its request");
            await other.requestPreemption(key("pre"), runner("runner-c", 4343, 30, "rollback"));
            await other.clearPreemption(key("pre"), runner("runner-c", 4343, 30, "rollback"));
            assert.strictEqual(await store.preemption(key("pre")), undefined);
            assert.strictEqual(lease("pre").metadata.annotations["model-canary/preemption-requested-by"], undefined);
        });

        it("keeps the rollout record in a ConfigMap beside the Lease, read from any runner; refuses one over the ConfigMap limit and leaves the old", async () => {
            assert.strictEqual(await other.readRecord(key("rec")), undefined);
            const record = JSON.stringify({ model: "rec", status: "running", steps: [{ weight: 1, verdict: "pass" }] });
            await store.writeRecord(key("rec"), record);
            assert.strictEqual(await other.readRecord(key("rec")), record);
            const next = JSON.stringify({ model: "rec", status: "completed" });
            await other.writeRecord(key("rec"), next);
            assert.strictEqual(await store.readRecord(key("rec")), next);
            const cm = JSON.parse(cluster.kubectl(cp, ["get", "configmap", "model-canary-prod-rec-record", "-n", "ml", "-o", "json"]));
            assert.deepStrictEqual(Object.keys(cm.data), ["rollout.json"]);
            assert.strictEqual(cm.metadata.labels["app.kubernetes.io/managed-by"], "model-canary");

            // The most the store takes fits the API server's limit; one byte more is refused before it is sent.
            const largest = JSON.stringify({ model: "rec", report: "x".repeat(maxRecordBytes - 27) });
            assert.strictEqual(Buffer.byteLength(largest), maxRecordBytes);
            await store.writeRecord(key("rec"), largest);
            assert.strictEqual(await other.readRecord(key("rec")), largest);
            await store.writeRecord(key("rec"), next);
            const big = JSON.stringify({ model: "rec", report: "x".repeat(maxRecordBytes - 26) });
            const error = await store.writeRecord(key("rec"), big).catch((e) => e);
            assert.ok(error instanceof CoordinationStoreError, String(error));
            assert.strictEqual(error.message, `the rollout record is ${maxRecordBytes + 1} bytes, more than ConfigMap \`model-canary-prod-rec-record\` in namespace \`ml\` holds (1000000 bytes: the API server refuses a ConfigMap over 1 MiB); it was not written, the record there is unchanged`);
            assert.strictEqual(await other.readRecord(key("rec")), next);
        });

        it("judges expiry by the API server's clock alone: a holder whose clock is an hour behind keeps its Lease against a runner whose clock is an hour ahead", async () => {
            const behind = runner("runner-slow", 4151, 30);
            const local = await withSkewedClock(-3600_000, async () => {
                assert.deepStrictEqual(await store.acquire(key("skew"), behind), { acquired: true });
                return new Date().getTime();
            });
            const written = lease("skew").spec;
            const server = await serverClock(admin);
            assert.ok(server - local > 3500_000, "the holder's clock was an hour behind the server's");
            assert.ok(Math.abs(Date.parse(written.renewTime) - server) <= 5000, `renewTime ${written.renewTime} is the server's time (${new Date(server).toISOString()}), not the holder's clock an hour behind`);
            const ahead = await withSkewedClock(3600_000, () => other.acquire(key("skew"), runner("runner-fast", 4252, 30)));
            assert.strictEqual(ahead.acquired, false, "by its own clock the lease ended an hour ago, by the server's it has 30 s left");
            assert.strictEqual(ahead.acquired === false && ahead.holder.host, "runner-slow");
            assert.strictEqual(await withSkewedClock(-3600_000, () => store.renew(key("skew"), behind)), true);
        });

        it("refuses a Lease at its name that model-canary did not write, naming it and how to remove it", async () => {
            const name = leaseName(key("foreign"));
            cluster.kubectl(cp, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: "ml" }, spec: { holderIdentity: "someone-else" } }));
            const foreign = kubernetesLeaseStore({ cluster: { kubeconfig: cp.kubeconfig }, namespace: "ml" });
            const error = await foreign.acquire(key("foreign"), runner("runner-a", 1)).catch((e) => e);
            assert.ok(error instanceof CoordinationStoreError && error.reason === "damaged", String(error));
            assert.strictEqual(error.message, "Lease `model-canary-prod-foreign` in namespace `ml` was not written by model-canary (it lacks the label `app.kubernetes.io/managed-by: model-canary` or the annotations `model-canary/stack` and `model-canary/model`); nothing was changed: if no model-canary run uses it, remove it (`kubectl delete lease model-canary-prod-foreign -n ml`), or rename the stack or model");
            assert.strictEqual(lease("foreign").spec.holderIdentity, "someone-else");
        });

        it("refuses another project's Lease that shares the name, a holder annotation it cannot read, and a namespace that does not exist, changing nothing", async () => {
            await store.acquire(key("clash"), runner("runner-a", 10));
            const before = lease("clash").metadata.resourceVersion;
            const clash = await store.acquire({ project: "shop2", stack: "prod", model: "clash" }, runner("runner-z", 9)).catch((e) => e);
            assert.ok(clash instanceof CoordinationStoreError && clash.reason === "conflict", String(clash));
            assert.strictEqual(clash.message, "Lease `model-canary-prod-clash` in namespace `ml` belongs to model `clash` of stack `prod` of project `shop`, not to model `clash` of stack `prod` of project `shop2`, whose name it shares; nothing was changed: rename one of the stacks or models, or run them in different namespaces");
            assert.strictEqual(lease("clash").metadata.resourceVersion, before);

            const name = leaseName(key("garbled"));
            await store.acquire(key("garbled"), runner("runner-a", 11));
            cluster.kubectl(cp, ["annotate", "--overwrite", "lease", name, "-n", "ml", "model-canary/holder=not json"]);
            const garbled = await other.holder(key("garbled")).catch((e) => e);
            assert.ok(garbled instanceof CoordinationStoreError && garbled.reason === "damaged", String(garbled));
            assert.strictEqual(garbled.message, "Lease `model-canary-prod-garbled` in namespace `ml` has a holder (`model-canary/holder`) that model-canary cannot read (not json); nothing was changed: if no model-canary run uses it, remove it (`kubectl delete lease model-canary-prod-garbled -n ml`), or rename the stack or model");

            const nowhere = kubernetesLeaseStore({ cluster: { kubeconfig: cp.kubeconfig }, namespace: "absent" });
            const missing = await nowhere.acquire(key("fraud"), runner("runner-a", 1)).catch((e) => e);
            assert.ok(missing instanceof CoordinationStoreError, String(missing));
            assert.strictEqual(missing.message, `cannot create Lease \`model-canary-prod-fraud\`: namespace \`absent\` does not exist on ${cp.server} (POST leases absent/model-canary-prod-fraud answered 404: namespaces "absent" not found); create it, or set the model's \`namespace\``);
        });

        it("maps a user without RBAC rights to a forbidden error naming the verb, resource, namespace and the Role rule; with that rule the same user acquires", async () => {
            const { kubeconfig, token } = serviceAccountKubeconfig(cp, "runner", "ml");
            const limited = kubernetesLeaseStore({ cluster: { kubeconfig }, namespace: "ml" });
            const error = await limited.acquire(key("rbac"), runner("runner-a", 1)).catch((e) => e);
            assert.ok(error instanceof CoordinationStoreError && error.reason === "forbidden", String(error));
            assert.strictEqual(error.message, `the API server ${cp.server} refused to get leases in namespace \`ml\` (Lease \`model-canary-prod-rbac\`): GET leases ml/model-canary-prod-rbac answered 403: leases.coordination.k8s.io "model-canary-prod-rbac" is forbidden: User "system:serviceaccount:ml:runner" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "ml". `
                + "Runners coordinate through a Lease and a ConfigMap per model: give their user a Role in namespace `ml` with the rules {apiGroups: [\"coordination.k8s.io\"], resources: [\"leases\"], verbs: [\"get\", \"create\", \"update\"]} and {apiGroups: [\"\"], resources: [\"configmaps\"], verbs: [\"get\", \"create\", \"update\"]}, bound to it by a RoleBinding (docs/pipelines.md#on-a-cluster-a-lease-per-model)");
            assert.ok(!error.message.includes(token));

            // The rule the message and docs/pipelines.md give is enough for everything the store does.
            cluster.kubectl(cp, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [
                { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "model-canary-runner", namespace: "ml" }, rules: [
                    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
                    { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "create", "update"] },
                ] },
                { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "model-canary-runner", namespace: "ml" },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "model-canary-runner" },
                    subjects: [{ kind: "ServiceAccount", name: "runner", namespace: "ml" }] },
            ] }));
            const me = runner("runner-a", 1);
            // RBAC takes effect when the API server's informer sees the binding: poll for it.
            let acquired = await limited.acquire(key("rbac"), me).catch((e) => e);
            while (acquired instanceof CoordinationStoreError && acquired.reason === "forbidden") {
                await cluster.sleep(200);
                acquired = await limited.acquire(key("rbac"), me).catch((e) => e);
            }
            assert.deepStrictEqual(acquired, { acquired: true });
            assert.strictEqual(await limited.renew(key("rbac"), me), true);
            await limited.requestPreemption(key("rbac"), runner("runner-b", 2, 30, "rollback"));
            await limited.clearPreemption(key("rbac"), runner("runner-b", 2, 30, "rollback"));
            await limited.writeRecord(key("rbac"), "{}");
            await limited.writeRecord(key("rbac"), "{\"a\":1}");
            assert.strictEqual(await limited.readRecord(key("rbac")), "{\"a\":1}");
            await limited.release(key("rbac"), me);
        });

        it("says which API server it cannot reach, never the token", async () => {
            const port = await cluster.freePort();
            const token = "s3cr3t-runner-token";
            const unreachable = kubernetesLeaseStore({
                cluster: { kubeconfig: YAML.stringify({ apiVersion: "v1", kind: "Config", "current-context": "gone", clusters: [{ name: "gone", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }], users: [{ name: "u", user: { token } }], contexts: [{ name: "gone", context: { cluster: "gone", user: "u" } }] }) },
                namespace: "ml",
            });
            const error = await unreachable.acquire(key("fraud"), runner("runner-a", 1)).catch((e) => e);
            assert.ok(error instanceof CoordinationStoreError && error.reason === "unreachable", String(error));
            assert.strictEqual(error.message, `cannot get Lease \`model-canary-prod-fraud\` in namespace \`ml\` to coordinate runs: cannot reach the API server https://127.0.0.1:${port} (context gone): connect ECONNREFUSED 127.0.0.1:${port}`);
            assert.ok(!error.message.includes(token));
        });
    });
});

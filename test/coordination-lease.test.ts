// The cluster's coordination store against one real local control plane (kube-apiserver, etcd):
// the cluster client's writes (create, replace at a resourceVersion, delete, Events), then a run's
// Lease per stack and model and its rollout record.
import * as assert from "assert";
import * as cluster from "../cluster/controlplane";
import { ClusterApiError, ClusterConnection, connect, createEvent, createObject, deleteObject, readObject, replaceObject, serverClock } from "../stacks/cluster-client/cluster-api";

describe("coordination on a local control plane", function () {
    this.timeout(120_000);
    let cp: cluster.ControlPlane;
    let admin: ClusterConnection;

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        admin = connect({ kubeconfig: cp.kubeconfig });
        cluster.kubectl(cp, ["create", "namespace", "ml"]);
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
});

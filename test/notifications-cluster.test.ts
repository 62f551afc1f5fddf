// Rollout events as Kubernetes Events on a real local control plane (kube-apiserver, etcd, the
// Istio CRDs): `kubectl describe virtualservice` lists them, and a runner whose user may not
// create Events has the refusal reported, never thrown.
import * as assert from "assert";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import { serviceAccountKubeconfig } from "./support/cluster";
import { modelNotifier, notificationEvent, notifyContext } from "../rollout/notify";
import { parseStackConfig, StackConfig } from "../stacks/config/config";

describe("notifications as Kubernetes Events (local control plane)", function () {
    this.timeout(120_000);
    let cp: cluster.ControlPlane;

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        cluster.kubectl(cp, ["create", "namespace", "ml"]);
        cluster.kubectl(cp, ["apply", "-f", "-"], YAML.stringify({
            apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "fraud-route", namespace: "ml" },
            spec: { hosts: ["fraud"], http: [{ route: [{ destination: { host: "fraud", subset: "v1" }, weight: 100 }] }] },
        }));
    });
    after(async () => {
        if (cp) await cluster.stop(cp);
    });

    /** A stack config of one model whose route is VirtualService ml/fraud-route, applied with `kubeconfig`. */
    function config(kubeconfig: string): StackConfig {
        return parseStackConfig({
            "model-canary:kubeconfig": kubeconfig, "model-canary:namespace": "ml", "model-canary:app": "fraud", "model-canary:virtualServiceName": "fraud-route",
            "model-canary:stable": JSON.stringify({ version: "v1", image: "ghcr.io/acme/fraud:1.0" }),
            "model-canary:canary": JSON.stringify({ version: "v2", image: "ghcr.io/acme/fraud:2.0" }),
        }, "prod");
    }

    it("each event is an Event on the model's VirtualService, reported by model-canary, that `kubectl describe virtualservice` lists", async () => {
        const stack = config(cp.kubeconfig);
        const model = stack.models.model;
        const notifier = modelNotifier(stack, model, []);
        const context = notifyContext({ stack: "prod" }, stack, model, []);
        notifier.send(notificationEvent(context, "started", { step: { index: 1, total: 2 }, reason: "rolling v2 out against v1, from step 1 of 2 (1%)" }));
        notifier.send(notificationEvent(context, "step-applied", { weight: 1, step: { index: 1, total: 2 }, reason: "1% applied in 2.0 s" }));
        notifier.send(notificationEvent(context, "rolled-back", { weight: 0, outcome: "rolled-back", reason: "rolled back from 1% to 0%: success-rate 50 < 99" }));
        const summary = await notifier.settle();
        assert.deepStrictEqual(summary, { delivered: 3, failed: [] });

        const uid = JSON.parse(cluster.kubectl(cp, ["get", "virtualservice", "fraud-route", "-n", "ml", "-o", "json"])).metadata.uid;
        const events = JSON.parse(cluster.kubectl(cp, ["get", "events", "-n", "ml", "-o", "json"])).items
            .sort((a: any, b: any) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
        assert.deepStrictEqual(events.map((e: any) => [e.reason, e.type, e.involvedObject.kind, e.involvedObject.name, e.involvedObject.uid, e.reportingComponent]), [
            ["RolloutStarted", "Normal", "VirtualService", "fraud-route", uid, "model-canary"],
            ["RolloutStepApplied", "Normal", "VirtualService", "fraud-route", uid, "model-canary"],
            ["RolloutRolledBack", "Warning", "VirtualService", "fraud-route", uid, "model-canary"],
        ]);
        assert.match(events[2].message, /^v2 on stack prod: rolled back \(0%\): rolled back from 1% to 0%: success-rate 50 < 99 \(runner .+ pid \d+\)$/);
        const described = cluster.kubectl(cp, ["describe", "virtualservice", "fraud-route", "-n", "ml"]);
        for (const reason of ["RolloutStarted", "RolloutStepApplied", "RolloutRolledBack"]) assert.ok(described.includes(reason), `${reason} in:\n${described}`);
    });

    it("a user who may not create Events: the refusal is reported as a failed delivery, with no token in it, and nothing is thrown", async () => {
        const { kubeconfig, token } = serviceAccountKubeconfig(cp, "runner", "ml");
        const stack = config(kubeconfig);
        const model = stack.models.model;
        const notifier = modelNotifier(stack, model, []);
        notifier.send(notificationEvent(notifyContext({ stack: "prod" }, stack, model, []), "analysis-failed", { weight: 10, reason: "success-rate 50 < 99" }));
        const summary = await notifier.settle();
        assert.strictEqual(summary.delivered, 0);
        assert.deepStrictEqual(summary.failed.map(({ gaveUpAt: _t, lastError: _e, ...f }) => f), [{ event: "analysis-failed", sink: "Kubernetes Event on VirtualService ml/fraud-route", attempts: 1 }]);
        assert.match(summary.failed[0].lastError, /answered 403: .*User "system:serviceaccount:ml:runner" cannot create resource "events" in API group "" in the namespace "ml"/);
        assert.ok(!summary.failed[0].lastError.includes(token));
    });
});

// One owner per object (stacks/cluster-client/ownership.ts): who holds a live object, and the refusal. Pure, no cluster.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { validateModelCanaryArgs } from "../components/validation";
import { configStackOf, modelSettingsText } from "../stacks/operations/model-stacks";
import { foreignObjectsMessage, foreignOwner, objectsOfModel, ownerName } from "../stacks/cluster-client/ownership";

describe("the owner of a live object", () => {
    const me = "model-canary/prod";
    const never = () => false;

    it("is nobody else when the object does not exist or carries this stack's annotation", () => {
        assert.strictEqual(foreignOwner(undefined, me, never), undefined);
        assert.strictEqual(foreignOwner({ annotations: { "model-canary/owner": me } }, me, never), undefined);
    });

    it("is the stack another annotation names", () => {
        assert.deepStrictEqual(foreignOwner({ annotations: { "model-canary/owner": "model-canary/dup" } }, me, () => true), { stack: "model-canary/dup" });
    });

    it("without an annotation: this stack's own when its state holds the object (made before owner annotations)", () => {
        let asked = 0;
        assert.strictEqual(foreignOwner({ managedFields: [{ manager: "pulumi-kubernetes-3f2a1b" }] }, me, () => (asked++, true)), undefined);
        assert.strictEqual(asked, 1);
    });

    it("without an annotation and not in this stack's state: another Pulumi stack, or another tool named by its field managers", () => {
        assert.deepStrictEqual(foreignOwner({ managedFields: [{ manager: "pulumi-kubernetes-3f2a1b" }, { manager: "kube-controller-manager" }] }, me, never), { pulumi: true });
        assert.deepStrictEqual(foreignOwner({ labels: { "app.kubernetes.io/managed-by": "pulumi" } }, me, never), { pulumi: true });
        assert.deepStrictEqual(foreignOwner({ managedFields: [{ manager: "kubectl-client-side-apply" }, { manager: "kubectl-client-side-apply" }, { manager: "helm" }] }, me, never), { tool: ["kubectl-client-side-apply", "helm"] });
        assert.deepStrictEqual(foreignOwner({}, me, never), { tool: [] });
    });

    it("of a model's own stack is the stack holding its config, so it is the same before and after `stackPerModel` moves it", () => {
        assert.strictEqual(ownerName("shop", "prod"), "shop/prod");
        assert.strictEqual(ownerName("shop", "prod.fraud", "prod"), "shop/prod");
        assert.strictEqual(ownerName("shop", "acme/shop/prod"), "shop/prod");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-owner-"));
        try {
            const hub = "config:\n  model-canary:stackPerModel: true\n  model-canary:models:\n    fraud:\n      stable: { version: v1, image: r/m:v1 }\n";
            fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), hub);
            fs.writeFileSync(path.join(dir, "Pulumi.prod.fraud.yaml"), modelSettingsText(hub, "prod", "fraud"));
            fs.writeFileSync(path.join(dir, "Pulumi.prod.eu.yaml"), "config: {}\n");
            assert.strictEqual(configStackOf(dir, "prod.fraud"), "prod");
            assert.strictEqual(configStackOf(dir, "prod.eu"), "prod.eu");
            assert.strictEqual(configStackOf(dir, "prod"), "prod");
            assert.strictEqual(configStackOf(dir, "missing"), "missing");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("is checked for every object a model creates", () => {
        const r = validateModelCanaryArgs({ app: "fraud", namespace: "ml", stable: { version: "v1", image: "r/m:v1" }, canary: { version: "v2", image: "r/m:v2" }, canaryWeight: 10 });
        assert.deepStrictEqual(objectsOfModel(r).map((o) => `${o.apiVersion} ${o.plural} ${o.namespace}/${o.name}`), [
            "apps/v1 deployments ml/fraud-v1", "apps/v1 deployments ml/fraud-v2", `v1 services ml/${r.serviceName}`,
            `networking.istio.io/v1 destinationrules ml/${r.destinationRuleName}`, `networking.istio.io/v1 virtualservices ml/${r.virtualServiceName}`,
        ]);
    });

    it("is named in the refusal, with the kubectl command that adopts each object", () => {
        const vs = { kind: "VirtualService", apiVersion: "networking.istio.io/v1", plural: "virtualservices", namespace: "default", name: "model-virtual-service" };
        const d = { kind: "Deployment", apiVersion: "apps/v1", plural: "deployments", namespace: "default", name: "model-v1" };
        const message = foreignObjectsMessage("dup", "model-canary/dup", [{ object: vs, owner: { stack: "model-canary/test" } }, { object: d, owner: { tool: ["kubectl-client-side-apply"] } }]);
        assert.strictEqual(message, "stack `dup` would take over objects that another owner manages: VirtualService default/model-virtual-service is managed by stack `model-canary/test` (its `model-canary/owner` annotation); "
            + "Deployment default/model-v1 is managed by another tool (field managers `kubectl-client-side-apply`). Nothing was applied. Give this stack's model other names (`app`, `serviceName`, `virtualServiceName`, `destinationRuleName`) or another `namespace`; "
            + "or, to adopt them on purpose once their owner no longer manages them, annotate each with this stack as owner and run the command again: "
            + "`kubectl annotate --overwrite -n default virtualservices.networking.istio.io/model-virtual-service model-canary/owner=model-canary/dup`, `kubectl annotate --overwrite -n default deployments/model-v1 model-canary/owner=model-canary/dup`");
    });
});

// The rollback's route write, as data (stacks/config/rollback-route.ts): which field manager it
// applies as, what it carries, and when none is made. Pure: no cluster.
import * as assert from "assert";
import { validateModelCanaryArgs } from "../components";
import { providerFieldManager, rollbackRouteApply, rollbackWriteAnnotation } from "../stacks/config/rollback-route";

const stable = { version: "v1", image: "registry/model:v1" };
const canary = { version: "v2", image: "registry/model:v2" };
/** The rolled-back config: weight 0, the header route to the canary removed. */
const rolledBack = (extra: Record<string, unknown> = {}) => validateModelCanaryArgs({ stable, canary, canaryWeight: 0, ...extra });

/** A live VirtualService's metadata as the provider left it, plus a label and an annotation of kubectl's. */
const liveMetadata = {
    labels: { app: "model", team: "ml" },
    annotations: { "model-canary/owner": "model-canary/dev", "model-canary/routing-revision": "3", "pulumi.com/patchForce": "true", "kubectl.kubernetes.io/note": "hand" },
    managedFields: [
        { manager: "pulumi-kubernetes-0aa11bb2", operation: "Apply", time: "2026-12-06T06:00:00Z", fieldsV1: { "f:metadata": { "f:labels": { "f:app": {} }, "f:annotations": { "f:model-canary/owner": {}, "f:model-canary/routing-revision": {}, "f:pulumi.com/patchForce": {} } }, "f:spec": { "f:hosts": {}, "f:http": {} } } },
        { manager: "kubectl-annotate", operation: "Update", time: "2026-12-06T06:05:00Z", fieldsV1: { "f:metadata": { "f:labels": { "f:team": {} }, "f:annotations": { "f:kubectl.kubernetes.io/note": {} } } } },
    ],
};

describe("the rollback's route write (pure)", () => {
    it("applies as the provider's latest Apply field manager, never another tool's", () => {
        assert.strictEqual(providerFieldManager(liveMetadata)?.manager, "pulumi-kubernetes-0aa11bb2");
        const two = { managedFields: [...liveMetadata.managedFields, { manager: "pulumi-kubernetes-ffee0011", operation: "Apply", time: "2026-12-06T06:10:00Z" }] };
        assert.strictEqual(providerFieldManager(two)?.manager, "pulumi-kubernetes-ffee0011");
        assert.strictEqual(providerFieldManager({ managedFields: [{ manager: "pulumi-kubernetes-0aa11bb2", operation: "Update" }, { manager: "kubectl", operation: "Apply" }] }), undefined);
    });

    it("carries the stable-only spec and exactly the labels and annotations the provider's manager set, plus the write's annotation", () => {
        const apply = rollbackRouteApply(rolledBack(), { metadata: liveMetadata }, "2026-12-06T06:20:00.000Z");
        assert.ok(!("skip" in apply));
        assert.strictEqual(apply.fieldManager, "pulumi-kubernetes-0aa11bb2");
        assert.deepStrictEqual(apply.body, {
            apiVersion: "networking.istio.io/v1",
            kind: "VirtualService",
            metadata: {
                name: "model-virtual-service",
                namespace: "default",
                labels: { app: "model" },
                annotations: { "model-canary/owner": "model-canary/dev", "model-canary/routing-revision": "3", "pulumi.com/patchForce": "true", [rollbackWriteAnnotation]: "2026-12-06T06:20:00.000Z" },
            },
            spec: { hosts: ["model-service"], http: [{ name: "default", route: [{ destination: { host: "model-service", subset: "v1" }, weight: 100 }] }] },
        });
    });

    it("once recorded, the same apply leaves the write's annotation out", () => {
        const apply = rollbackRouteApply(rolledBack(), { metadata: { ...liveMetadata, annotations: { ...liveMetadata.annotations, [rollbackWriteAnnotation]: "t" } } }, undefined);
        assert.ok(!("skip" in apply));
        assert.deepStrictEqual(Object.keys((apply.body.metadata as { annotations?: object }).annotations ?? {}), ["model-canary/owner", "model-canary/routing-revision", "pulumi.com/patchForce"]);
    });

    it("with router: gateway-api, applies the HTTPRoute with the stable version's Service as the only backend", () => {
        const apply = rollbackRouteApply(rolledBack({ router: "gateway-api" }), { metadata: liveMetadata }, "t");
        assert.ok(!("skip" in apply));
        assert.deepStrictEqual([apply.body.apiVersion, apply.body.kind, apply.body.metadata.name], ["gateway.networking.k8s.io/v1", "HTTPRoute", "model-service"]);
        assert.deepStrictEqual((apply.body.spec as { rules: unknown[] }).rules, [{ name: "default", backendRefs: [{ name: "model-service-v1", port: 80, weight: 100 }] }]);
    });

    it("makes no write for a route that does not exist or that the provider never applied, saying why", () => {
        const missing = rollbackRouteApply(rolledBack(), undefined, "t");
        assert.deepStrictEqual(missing, { object: { kind: "VirtualService", apiVersion: "networking.istio.io/v1", plural: "virtualservices", namespace: "default", name: "model-virtual-service" }, skip: "the VirtualService default/model-virtual-service does not exist in the cluster; the `up` creates it" });
        const foreign = rollbackRouteApply(rolledBack(), { metadata: { managedFields: [{ manager: "kubectl-client-side-apply", operation: "Update" }] } }, "t");
        assert.ok("skip" in foreign && /no pulumi-kubernetes field manager/.test(foreign.skip));
    });
});

// Stack-wide `defaults` through the real engine (render mode, temp file backend): every model's
// objects take them unless the entry sets its own, and a change to `defaults` makes one model's
// update a whole one, which applies it to every model.
import * as assert from "assert";
import { openStack, readOutputs, upStack } from "../stacks/operations/automation";
import { readProjectConfig } from "../stacks/config/settings";
import { makeProject, TestProject } from "./support/engine";

const entry = (name: string, extra: Record<string, unknown> = {}) => ({
    stable: { version: "v1", image: `registry.example.com/ml/${name}:v1` },
    canary: { version: "v2", image: `registry.example.com/ml/${name}:v2` },
    canaryWeight: 0,
    ...extra,
});

describe("stack-wide `defaults` (real engine, render mode)", function () {
    this.timeout(600_000);
    let project: TestProject;
    before(() => { project = makeProject("defaults"); });
    after(() => project?.remove());

    /** Namespace and port of each model's Service, and each model's split. */
    const services = () => Object.fromEntries(["fraud", "churn"].map((m) => {
        const svc = project.rendered().get(`Service/${m}-service`);
        const vs = project.rendered().get(`VirtualService/${m}-virtual-service`);
        return [m, [svc.metadata.namespace, svc.spec.ports[0].port, Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]))]];
    }));

    it("every model takes the defaults unless its entry sets its own; a change to them is applied to every model, even by `up` of one", async () => {
        project.writeConfig({
            defaults: { namespace: "ml", servicePort: 8080, rollout: { steps: [5, 100] } },
            models: { fraud: entry("fraud"), churn: entry("churn", { namespace: "retention" }) },
        });
        const stack = await openStack(project.ref, { create: true });
        await upStack(stack);
        assert.deepStrictEqual(services(), { fraud: ["ml", 8080, { v1: 100 }], churn: ["retention", 8080, { v1: 100 }] });
        assert.strictEqual(project.rendered().get("Deployment/fraud-v1").metadata.namespace, "ml");

        const edit = (change: (config: Record<string, any>) => void) => {
            const config = readProjectConfig(project.dir, project.ref.stack) as Record<string, any>;
            change(config);
            project.writeConfig({ defaults: config.defaults, models: config.models });
        };
        edit((c) => { c.defaults.servicePort = 9090; c.models.fraud.canaryWeight = 10; });
        const whole = await upStack(stack, { model: "fraud" });
        assert.deepStrictEqual(whole.scope, { whole: "config outside `models` changed since the last update" });
        assert.deepStrictEqual(services(), { fraud: ["ml", 9090, { v1: 90, v2: 10 }], churn: ["retention", 9090, { v1: 100 }] });
        assert.deepStrictEqual((await readOutputs(stack)).appliedConfig, {
            "model-canary:defaults": { namespace: "ml", servicePort: 9090, rollout: { steps: [5, 100] } },
            // The weight step took the next routing revision, which the update wrote into the settings (see stacks/config/routing-revision.ts).
            "model-canary:models": { fraud: entry("fraud", { canaryWeight: 10, routingRevision: 1 }), churn: entry("churn", { namespace: "retention" }) },
            "model-canary:renderDir": "rendered",
        });

        // With `defaults` as the last update applied them, one model's step is scoped again.
        edit((c) => { c.models.fraud.canaryWeight = 20; });
        const scoped = await upStack(stack, { model: "fraud" });
        assert.deepStrictEqual(scoped.scope, { model: "fraud" });
        assert.deepStrictEqual(scoped.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update fraud-vs"]);
        assert.deepStrictEqual(services().fraud, ["ml", 9090, { v1: 80, v2: 20 }]);
    });
});

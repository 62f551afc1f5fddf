// `router: gateway-api` beside the rest of the stack layer, through the real engine in render mode:
// one stack per model (`stackPerModel`) with one model on each router, the Gateway API model's
// canary at `replicas: auto`, and the commands' steps, rollback and promotion acting on the
// HTTPRoute and the per-version Services exactly as they act on a VirtualService.
import * as assert from "assert";
import type * as auto from "@pulumi/pulumi/automation";
import { promoteStack, rollbackStack } from "../rollout/runner";
import { openStack, readOutputs, setProjectConfig, upStack } from "../stacks/operations/automation";
import { makeProject, TestProject } from "./support/engine";
import { modelEntry, Models, modelSplit, renderedModel, stateResources } from "./support/models";

/** The default rule's weights of a model's rendered HTTPRoute, by version Service. */
function routeSplit(project: TestProject, service: string): Record<string, number> {
    const route = project.rendered().get(`HTTPRoute/${service}`);
    const rule = route.spec.rules.find((r: { name?: string }) => r.name === "default");
    return Object.fromEntries(rule.backendRefs.map((b: { name: string; weight: number }) => [b.name, b.weight]));
}

/** The rendered replicas of a model's Deployments, by name. */
function replicasOf(project: TestProject, model: string): Record<string, number> {
    return Object.fromEntries([...project.rendered()].filter(([k]) => k.startsWith(`Deployment/${model}-`)).map(([k, v]) => [k.split("/")[1], v.spec.replicas]));
}

describe("`router: gateway-api` with one stack per model, a second router and replicas auto (real engine, render mode)", function () {
    this.timeout(600_000);
    let project: TestProject;
    let hub: auto.Stack;

    before(async () => {
        project = makeProject("dev");
        const fraud = modelEntry("fraud");
        project.writeConfig({
            stackPerModel: true,
            models: {
                fraud: { ...fraud, router: "gateway-api", serviceName: "fraud", stable: { ...fraud.stable, replicas: 4 }, canary: { ...fraud.canary, replicas: "auto" } },
                churn: modelEntry("churn"),
            },
        });
        hub = await openStack(project.ref, { create: true });
    });
    after(() => project?.remove());

    it("the first `up` gives each model its own router's objects in its own stack", async () => {
        await upStack(hub);
        const fraudKinds = Object.keys(renderedModel(project, "fraud")).concat([...project.rendered().keys()].filter((k) => k.endsWith("/fraud"))).sort();
        assert.deepStrictEqual(fraudKinds, ["Deployment/fraud-v1", "Deployment/fraud-v2", "HTTPRoute/fraud", "Service/fraud", "Service/fraud-v1", "Service/fraud-v2"]);
        assert.strictEqual([...project.rendered().keys()].some((k) => k.startsWith("VirtualService/fraud") || k.startsWith("DestinationRule/fraud")), false);
        assert.deepStrictEqual(routeSplit(project, "fraud"), { "fraud-v1": 99, "fraud-v2": 1 });
        assert.deepStrictEqual(modelSplit(project, "churn"), { v1: 99, v2: 1 });
        // replicas auto: 1% of 4 pods is one canary pod.
        assert.deepStrictEqual(replicasOf(project, "fraud"), { "fraud-v1": 4, "fraud-v2": 1 });
        const models = (await readOutputs(hub)).models as Record<string, { split: unknown }>;
        assert.deepStrictEqual([models.fraud.split, models.churn.split], [{ v1: 99, v2: 1 }, { v1: 99, v2: 1 }]);
    });

    it("a weight step of the Gateway API model updates its HTTPRoute and the canary's replicas in its own stack; the other model's state is unchanged", async () => {
        const churnBefore = await stateResources(await openStack({ ...project.ref, stack: "dev.churn" }));
        setProjectConfig(hub, (c) => { (c.models as Models).fraud.canaryWeight = 50; });
        const step = await upStack(hub, { model: "fraud" });
        assert.deepStrictEqual(step.steps.filter((s) => s.op !== "same").map((s) => [s.op, s.name]).sort(), [["update", "fraud-route"], ["update", "fraud-v2"]]);
        assert.deepStrictEqual(routeSplit(project, "fraud"), { "fraud-v1": 50, "fraud-v2": 50 });
        assert.deepStrictEqual(replicasOf(project, "fraud"), { "fraud-v1": 4, "fraud-v2": 2 });
        assert.deepStrictEqual(await stateResources(await openStack({ ...project.ref, stack: "dev.churn" })), churnBefore);
    });

    it("rollback sends every request to stable's Service and keeps the canary's for a retry; promotion keeps the canary's Deployment and Service, and the other model is untouched", async () => {
        await rollbackStack(hub, "test", "fraud");
        assert.deepStrictEqual(routeSplit(project, "fraud"), { "fraud-v1": 100 });
        assert.ok(project.rendered().has("Service/fraud-v2"), "the canary's Service stays for a retry");
        setProjectConfig(hub, (c) => { (c.models as Models).fraud.canaryWeight = 100; });
        await upStack(hub, { model: "fraud" });
        assert.deepStrictEqual(routeSplit(project, "fraud"), { "fraud-v2": 100 });
        const canaryBefore = project.rendered().get("Deployment/fraud-v2");
        await promoteStack(hub, { model: "fraud" });
        assert.deepStrictEqual(routeSplit(project, "fraud"), { "fraud-v2": 100 });
        assert.deepStrictEqual([...project.rendered().keys()].filter((k) => /\/fraud(-|$)/.test(k)).sort(), ["Deployment/fraud-v2", "HTTPRoute/fraud", "Service/fraud", "Service/fraud-v2"]);
        assert.deepStrictEqual(project.rendered().get("Deployment/fraud-v2").spec.template, canaryBefore.spec.template);
        assert.deepStrictEqual(modelSplit(project, "churn"), { v1: 99, v2: 1 });
    });
});

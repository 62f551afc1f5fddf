// `router: gateway-api` through the real engine (render mode, local backend): the objects it
// creates, the rendered HTTPRoute checked against the Gateway API standard CRD schemas, a
// weight step that changes the route only, `trafficPolicy`'s DestinationRules, and a switch to
// `router: istio` with them.
import * as assert from "assert";
import { openStack, previewStack, StackOperationError, upStack } from "../stacks/operations/automation";
import { makeProject, runPulumi, TestProject } from "./support/engine";
import { gatewayApiValidator, kubernetesValidator, Validate } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", prefix: "v2", version: "v2" };
const seed = { router: "gateway-api", serviceName: "model-service", stable, canary, headerRoutes: [testers] };
const trafficPolicy = { connectionPool: { http: { http2MaxRequests: 1000 } }, outlierDetection: { consecutive5xxErrors: 5, baseEjectionTime: "30s" } };

/** The rendered HTTPRoute's default-rule weights by backend Service. */
function routeSplit(project: TestProject): Record<string, number> {
    const route = project.rendered().get("HTTPRoute/model-service");
    return Object.fromEntries(route.spec.rules.at(-1).backendRefs.map((b: { name: string; weight: number }) => [b.name, b.weight]));
}

describe("`router: gateway-api` through the real engine (render mode, local backend)", function () {
    this.timeout(300_000);
    let project: TestProject;
    let gatewayApi: Validate;
    let kubernetes: Validate;

    before(async () => {
        project = makeProject();
        gatewayApi = gatewayApiValidator();
        kubernetes = await kubernetesValidator();
    });
    after(() => project?.remove());

    it("`up` at canaryWeight 1 creates a Service per version and an HTTPRoute, and no VirtualService or DestinationRule", async () => {
        project.writeConfig({ ...seed, canaryWeight: 1 });
        const result = await upStack(await openStack(project.ref, { create: true }));
        assert.deepStrictEqual(result.steps.filter((s) => s.op === "create").map((s) => `${s.type} ${s.name}`).sort(), [
            "kubernetes:apps/v1:Deployment model-v1",
            "kubernetes:apps/v1:Deployment model-v2",
            "kubernetes:core/v1:Service model-svc",
            "kubernetes:core/v1:Service model-v1-svc",
            "kubernetes:core/v1:Service model-v2-svc",
            "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute model-route",
            "model-canary:index:ModelCanary model",
            "pulumi:providers:kubernetes kubernetes",
            "pulumi:pulumi:Stack model-canary-test",
        ]);
        assert.deepStrictEqual(result.outputs.split, { v1: 99, v2: 1 });
        assert.strictEqual(result.outputs.router, "gateway-api");
        assert.strictEqual(result.outputs.virtualServiceName, undefined);
        assert.deepStrictEqual((result.outputs.routingObjects as { kind: string; name: string }[]).map((o) => `${o.kind}/${o.name}`),
            ["Service/model-service-v1", "Service/model-service-v2", "HTTPRoute/model-service"]);

        const rendered = project.rendered();
        assert.deepStrictEqual([...rendered.keys()].sort(), [
            "Deployment/model-v1", "Deployment/model-v2", "HTTPRoute/model-service", "Service/model-service", "Service/model-service-v1", "Service/model-service-v2",
        ]);
        const v2 = rendered.get("Service/model-service-v2");
        assert.deepStrictEqual(v2.spec.selector, { app: "model", version: "v2" });
        assert.deepStrictEqual(v2.spec.ports, [{ name: "http", protocol: "TCP", appProtocol: "http", port: 80, targetPort: 8080 }]);
        const route = rendered.get("HTTPRoute/model-service");
        assert.strictEqual(route.apiVersion, "gateway.networking.k8s.io/v1");
        // The stack's routing record is on the route object whatever the router (routing-revision.ts).
        assert.strictEqual(route.metadata.annotations["model-canary/routing-revision"], "0");
        assert.deepStrictEqual(route.spec.parentRefs, [{ group: "", kind: "Service", name: "model-service", port: 80 }]);
        assert.deepStrictEqual(route.spec.rules[0], {
            name: "header-0-v2",
            matches: [{ headers: [{ type: "RegularExpression", name: "x-canary-version", value: "^v2.*" }] }],
            backendRefs: [{ name: "model-service-v2", port: 80 }],
        });
        assert.deepStrictEqual(routeSplit(project), { "model-service-v1": 99, "model-service-v2": 1 });
    });

    it("the rendered HTTPRoute validates against Gateway API's standard CRD schema, the Services against Kubernetes'", () => {
        for (const [key, object] of project.rendered()) {
            const problems = object.apiVersion.startsWith("gateway.networking.k8s.io/") ? gatewayApi(object) : kubernetes(object);
            assert.deepStrictEqual(problems, [], `${key}: ${problems.join("; ")}`);
        }
        const bad = structuredClone(project.rendered().get("HTTPRoute/model-service"));
        bad.spec.rules[1].backendRefs[0].wieght = 90;
        bad.spec.rules[0].matches[0].headers[0].type = "Prefix";
        assert.strictEqual(gatewayApi(bad).length, 2, "the validator refuses a misspelt field and a match type the API lacks");
    });

    it("a weight step previews as exactly one in-place update of the HTTPRoute, then renders 90/10", async () => {
        project.writeConfig({ ...seed, canaryWeight: 10 });
        const stack = await openStack(project.ref);
        const preview = await previewStack(stack);
        assert.deepStrictEqual(preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update model-route"]);
        assert.deepStrictEqual(preview.changes, { same: 8, update: 1 });
        const up = await upStack(stack);
        assert.deepStrictEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update model-route"]);
        assert.deepStrictEqual(routeSplit(project), { "model-service-v1": 90, "model-service-v2": 10 });
    });

    it("the shadow stage renders a RequestMirror filter that the CRD schema accepts", async () => {
        project.writeConfig({ ...seed, canaryWeight: 0, mirrorPercent: 12.5 });
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update model-route"]);
        const route = project.rendered().get("HTTPRoute/model-service");
        assert.deepStrictEqual(route.spec.rules.at(-1), {
            name: "default",
            backendRefs: [{ name: "model-service-v1", port: 80, weight: 100 }],
            filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "model-service-v2", port: 80 }, fraction: { numerator: 125000, denominator: 1000000 } } }],
        });
        assert.deepStrictEqual(gatewayApi(route), []);
    });

    it("`trafficPolicy` adds a DestinationRule per version Service (host that Service, no subsets: the spec traffic-policy.test checks against Istio's CRD schema) and changes nothing else", async () => {
        project.writeConfig({ ...seed, canaryWeight: 0, mirrorPercent: 12.5, trafficPolicy });
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort(), ["create model-v1-dr", "create model-v2-dr"]);
        const rule = project.rendered().get("DestinationRule/model-service-v2");
        assert.deepStrictEqual([rule.apiVersion, rule.metadata.labels, rule.spec], ["networking.istio.io/v1", { app: "model", version: "v2" }, { host: "model-service-v2", trafficPolicy }]);
    });

    it("promotion keeps the promoted Deployment, its Service and DestinationRule, and deletes the old stable's", async () => {
        project.writeConfig({ ...seed, stable: canary, canary: undefined, headerRoutes: [], canaryWeight: 0, trafficPolicy });
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort(), ["delete model-v1", "delete model-v1-dr", "delete model-v1-svc", "update model-route"]);
        assert.deepStrictEqual(routeSplit(project), { "model-service-v2": 100 });
        assert.deepStrictEqual([...project.rendered().keys()].sort(), [
            "Deployment/model-v2", "DestinationRule/model-service-v2", "HTTPRoute/model-service", "Service/model-service", "Service/model-service-v2",
        ]);
    });

    it("switching to `router: istio` with `destinationRuleName` the old version DestinationRule's name is refused before anything is applied, by `up` and by a plain `pulumi up`", async () => {
        const { router: _, ...istio } = { ...seed, stable: canary, canary: undefined, headerRoutes: [], canaryWeight: 0, trafficPolicy, destinationRuleName: "model-service-v2" };
        project.writeConfig(istio);
        const before = JSON.stringify([...project.rendered()]);
        const refusal = "model `model` switches router from `gateway-api` to `istio`, which deletes the old router's DestinationRule `default/model-service-v2`, but model `model`'s new router makes it too (`destinationRuleName`): "
            + "the update would apply it over the old one and then delete it. Nothing was applied: set `destinationRuleName` to another name";
        await assert.rejects(upStack(await openStack(project.ref)), (e: StackOperationError) => {
            assert.deepStrictEqual([e.kind, e.problems], ["validation", [refusal]]);
            return true;
        });
        const plain = runPulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(plain.status, 0, plain.output);
        assert.ok(plain.output.includes(refusal), plain.output);
        assert.strictEqual(JSON.stringify([...project.rendered()]), before);
    });

    it("switching to `router: istio` with `trafficPolicy` creates the DestinationRule (policy beside its subset) and the VirtualService, and deletes the route, the version Service and its DestinationRule, in one `up`", async () => {
        const { router: _, ...istio } = { ...seed, stable: canary, canary: undefined, headerRoutes: [], canaryWeight: 0, trafficPolicy };
        project.writeConfig(istio);
        let output = "";
        const up = await upStack(await openStack(project.ref), { onOutput: (o) => (output += o) });
        assert.ok(output.includes("this update creates the DestinationRule `default/model-destination` and the VirtualService `default/model-virtual-service` first, "
            + "and deletes the Service `default/model-service-v2`, the DestinationRule `default/model-service-v2` and the HTTPRoute `default/model-service` only after they exist"), output);
        assert.deepStrictEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort(), [
            "create model-dr", "create model-vs", "delete model-route", "delete model-v2-dr", "delete model-v2-svc",
        ]);
        assert.deepStrictEqual(project.rendered().get("DestinationRule/model-destination").spec, { host: "model-service", trafficPolicy, subsets: [{ name: "v2", labels: { version: "v2" } }] });
        assert.deepStrictEqual([...project.rendered().keys()].sort(), ["Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service"]);
    });
});

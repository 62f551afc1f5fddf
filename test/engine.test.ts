// Through the real engine: the Pulumi CLI and language host built by `npm run toolchain`, the
// Kubernetes provider rendering manifests, and a local file backend in a temp dir.
import * as assert from "assert";
import { renderPreviewMarkdown } from "../preview/markdown";
import { previewReport } from "../preview/command";
import { openStack, previewStack, readOutputs, StackOperationError, upStack } from "../stacks/operations/automation";
import { makeProject, TestProject, runPulumi as pulumi } from "./support/engine";
import { istioValidator, kubernetesValidator, Validate } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable, canary, headerRoutes: [testers] };

describe("through the real engine (render mode, local backend)", function () {
    this.timeout(300_000);
    let project: TestProject;
    let istio: Validate;
    let kubernetes: Validate;

    before(async () => {
        project = makeProject();
        istio = istioValidator();
        kubernetes = await kubernetesValidator();
    });
    after(() => project?.remove());

    it("`up` at canaryWeight 1 creates the component and its five objects, rendering 99/1 and the header route", async () => {
        project.writeConfig({ ...seed, canaryWeight: 1 });
        const stack = await openStack(project.ref, { create: true });
        const result = await upStack(stack);
        const created = result.steps.filter((s) => s.op === "create").map((s) => `${s.type} ${s.name}`).sort();
        assert.deepStrictEqual(created, [
            "kubernetes:apps/v1:Deployment model-v1",
            "kubernetes:apps/v1:Deployment model-v2",
            "kubernetes:core/v1:Service model-svc",
            "kubernetes:networking.istio.io/v1:DestinationRule model-dr",
            "kubernetes:networking.istio.io/v1:VirtualService model-vs",
            "model-canary:index:ModelCanary model",
            "pulumi:providers:kubernetes kubernetes",
            "pulumi:pulumi:Stack model-canary-test",
        ]);
        assert.deepStrictEqual(result.outputs.split, { v1: 99, v2: 1 });
        const rendered = project.rendered();
        assert.deepStrictEqual([...rendered.keys()].sort(), [
            "Deployment/model-v1", "Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service",
        ]);
        const vs = rendered.get("VirtualService/model-virtual-service");
        assert.deepStrictEqual(project.renderedSplit(), { v1: 99, v2: 1 });
        assert.deepStrictEqual(vs.spec.http[0].match, [{ headers: { "x-canary-version": { exact: "v2" } } }]);
        assert.deepStrictEqual(vs.spec.http[0].route, [{ destination: { host: "model-service", subset: "v2" }, weight: 100 }]);
    });

    it("rendered Istio objects validate against Istio's CRD schemas, the rest against Kubernetes' schemas", () => {
        const rendered = project.rendered();
        for (const [key, object] of rendered) {
            const problems = object.apiVersion.startsWith("networking.istio.io/") ? istio(object) : kubernetes(object);
            assert.deepStrictEqual(problems, [], `${key}: ${problems.join("; ")}`);
        }
    });

    it("the schema validators refuse what a cluster would refuse", () => {
        const vs = structuredClone(project.rendered().get("VirtualService/model-virtual-service"));
        vs.spec.http[1].route[0].wieght = 99;
        vs.spec.http[1].route[1].weight = "one";
        assert.deepStrictEqual(istio(vs).length, 2);
        const deployment = structuredClone(project.rendered().get("Deployment/model-v1"));
        deployment.spec.replicas = "five";
        assert.match(kubernetes(deployment)[0], /replicas must be integer/);
    });

    it("a weight step previews as exactly one in-place update of the VirtualService, then renders 90/10", async () => {
        project.writeConfig({ ...seed, canaryWeight: 10 });
        const stack = await openStack(project.ref);
        const preview = await previewStack(stack);
        const changed = preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`);
        assert.deepStrictEqual(changed, ["update model-vs"]);
        assert.deepStrictEqual(preview.changes, { same: 7, update: 1 });
        assert.match(preview.stdout, /weight\s*:\s*99 => 90/);
        const up = await upStack(stack);
        assert.deepStrictEqual(up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update model-vs"]);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
        // Taken from the update's event log: what `pulumi stack output` reads.
        assert.deepStrictEqual(up.outputs, await readOutputs(stack));
        assert.deepStrictEqual(up.outputs.split, { v1: 90, v2: 10 });
    });

    it("the pull-request comment for a 1 -> 10 style step shows the split table and no warning", async () => {
        project.writeConfig({ ...seed, canaryWeight: 50 });
        const markdown = renderPreviewMarkdown(await previewReport(project.ref));
        assert.match(markdown, /\| `v1` \| stable \| 90% \| 50% \| 90% → 50% \|/);
        assert.match(markdown, /\| `v2` \| canary \| 10% \| 50% \| 10% → 50% \|/);
        assert.match(markdown, /\*\*Resources:\*\* 1 to update, 7 unchanged/);
        assert.match(markdown, /<details><summary>pulumi preview --diff<\/summary>/);
        assert.doesNotMatch(markdown, /CAUTION/);
    });

    it("a bad value fails `pulumi up` with the validation message and leaves state and rendered files as they were", async () => {
        // Without each resource's `stackTrace`, which lists the frames of what ran the program: the
        // commands run it in their own process, `pulumi up` by hand through the language host.
        const resources = () => JSON.stringify(JSON.parse(pulumi(project, ["stack", "export"]).output).deployment.resources.map(({ stackTrace, ...r }: Record<string, unknown>) => r));
        const stateBefore = resources();
        const renderedBefore = project.renderedDigest();
        project.writeConfig({ ...seed, canaryWeight: 150 });
        const bad = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(bad.status, 0);
        assert.match(bad.output, /`canaryWeight` must be an integer from 0 to 100, got "150"/);
        project.writeConfig({ ...seed, canaryWeight: 10, headerRoutes: [{ header: "x-canary-version", exact: "v3", version: "v3" }] });
        const unknown = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(unknown.status, 0);
        assert.match(unknown.output, /`headerRoutes\[0\]\.version` must be the stable or the canary version \("v1" or "v2"\), got "v3"/);
        await assert.rejects(upStack(await openStack(project.ref)), (e: StackOperationError) =>
            e.kind === "validation" && /`headerRoutes\[0\]\.version` must be the stable or the canary version/.test(e.message));
        assert.strictEqual(resources(), stateBefore);
        assert.strictEqual(project.renderedDigest(), renderedBefore);
    });

    it("promotion keeps the promoted Deployment and deletes the old stable one", async () => {
        project.writeConfig({ ...seed, stable: canary, canary: undefined, headerRoutes: [], canaryWeight: 0 });
        const stack = await openStack(project.ref);
        const up = await upStack(stack);
        const changed = up.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort();
        assert.deepStrictEqual(changed, ["delete model-v1", "update model-dr", "update model-vs"]);
        assert.deepStrictEqual(up.outputs.split, { v2: 100 });
        assert.deepStrictEqual((await readOutputs(stack)).deploymentNames, { v2: "model-v2" });
        assert.deepStrictEqual([...project.rendered().keys()].sort(), [
            "Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service",
        ]);
    });

    it("the pull-request comment warns loudly when a Deployment would be replaced", async () => {
        project.writeConfig({ ...seed, stable: canary, canary: undefined, headerRoutes: [], canaryWeight: 0, app: "ranker" });
        const report = await previewReport(project.ref);
        const markdown = renderPreviewMarkdown(report);
        assert.match(markdown, /> \[!CAUTION\]\n> \*\*This change replaces a Deployment: model pods will be restarted or removed\.\*\*/);
        assert.match(markdown, /> - `model-v2`: replace/);
    });

    it("an unknown stack is a clear `stack-not-found` error", async () => {
        await assert.rejects(openStack({ ...project.ref, stack: "nope" }), (e: StackOperationError) =>
            e.kind === "stack-not-found" && e.message === "stack `nope` does not exist on this backend; create it with `model-canary up --stack nope` or `pulumi stack init nope`");
    });
});

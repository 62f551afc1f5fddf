// Arguments given as Outputs, through the real engine (the toolchain's pulumi CLI, render mode, a
// temp file backend): a program of its own, beside the repository's, that takes the canary's
// image from another resource's output.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { makeProject, runPulumi as pulumi, TestProject } from "./support/engine";

// The image comes from a ConfigMap's output, as it would from a build or a registry resource.
const program = `
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ModelCanary } from "./api";

const config = new pulumi.Config();
const provider = new k8s.Provider("kubernetes", { renderYamlToDirectory: config.require("renderDir"), kubeconfig: "" });
const build = new k8s.core.v1.ConfigMap("build", { metadata: { name: "build" }, data: { image: config.require("canaryImage") } }, { provider });
const model = new ModelCanary("model", {
    stable: { version: "v1", image: "your-docker-repo/model-runner:v1" },
    canary: { version: "v2", image: build.data.apply((d) => d.image), podLabels: { team: build.metadata.name } },
    canaryWeight: 10,
}, { provider });
export const split = model.split;
`;

describe("Output arguments through the real engine (render mode, local backend)", function () {
    this.timeout(300_000);
    let project: TestProject;

    before(() => {
        project = makeProject("inputs");
        fs.rmSync(path.join(project.dir, "index.ts"));
        fs.writeFileSync(path.join(project.dir, "index.ts"), program);
    });
    after(() => project?.remove());

    it("`up` renders the canary's Deployment with the image another resource's output resolved to", () => {
        project.writeConfig({ canaryImage: "registry.example.com/team/model-runner:v2-4f2a9c1" });
        assert.strictEqual(pulumi(project, ["stack", "init"]).status, 0);
        const up = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        const rendered = project.rendered();
        assert.deepStrictEqual([...rendered.keys()].sort(), [
            "ConfigMap/build", "Deployment/model-v1", "Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service",
        ]);
        const v2 = rendered.get("Deployment/model-v2");
        assert.strictEqual(v2.spec.template.spec.containers[0].image, "registry.example.com/team/model-runner:v2-4f2a9c1");
        assert.deepStrictEqual(v2.spec.template.metadata.labels, { app: "model", team: "build", version: "v2" });
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
    });

    it("an Output image that resolves to a bad value fails `up` with the up-front message, and no object of the component changes", () => {
        const resources = () => JSON.stringify(JSON.parse(pulumi(project, ["stack", "export"]).output).deployment.resources.filter((r: { type: string }) => !r.type.includes("ConfigMap")));
        const stateBefore = resources();
        const deploymentBefore = fs.readFileSync(path.join(project.renderDir, "1-manifest", "apps_v1-deployment-default-model-v2.yaml"), "utf8");
        project.writeConfig({ canaryImage: "Registry/Model Runner:v3" });
        const bad = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(bad.status, 0);
        assert.match(bad.output, /invalid ModelCanary argument: `canary\.image` must be a container image reference such as registry\.example\.com\/team\/model-runner:v2 \(lowercase path, optional :tag and @sha256:digest\), got "Registry\/Model Runner:v3"/);
        // The message alone, not a stack trace of the SDK's internals.
        assert.doesNotMatch(bad.output, /at .*node_modules\/@pulumi/);
        assert.strictEqual(resources(), stateBefore);
        assert.strictEqual(fs.readFileSync(path.join(project.renderDir, "1-manifest", "apps_v1-deployment-default-model-v2.yaml"), "utf8"), deploymentBefore);
    });

    it("a first `up` with a bad Output image creates none of the component's objects: each waits for the checks", () => {
        const fresh = makeProject("inputs-first");
        try {
            fs.rmSync(path.join(fresh.dir, "index.ts"));
            fs.writeFileSync(path.join(fresh.dir, "index.ts"), program);
            fresh.writeConfig({ canaryImage: "registry.example.com/Team/model:v2" });
            assert.strictEqual(pulumi(fresh, ["stack", "init"]).status, 0);
            const bad = pulumi(fresh, ["up", "--yes", "--skip-preview"]);
            assert.notStrictEqual(bad.status, 0);
            assert.match(bad.output, /`canary\.image` must be a container image reference .*, got "registry\.example\.com\/Team\/model:v2"/);
            const types = (JSON.parse(pulumi(fresh, ["stack", "export"]).output).deployment.resources ?? []).map((r: { type: string }) => r.type).sort();
            assert.deepStrictEqual(types.filter((t: string) => t.startsWith("kubernetes:") && !t.endsWith("ConfigMap")), []);
            assert.deepStrictEqual([...fresh.rendered().keys()], ["ConfigMap/build"]);
        } finally {
            fresh.remove();
        }
    });
});

import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { projectDir } from "../stacks/operations/automation";
import { parseStackConfig, programError } from "../stacks/config/config";
import { engineConfigView, readProjectConfig } from "../stacks/config/settings";
import { drain, installMocks, settle } from "./support/mocks";
import { refusalProblems } from "./support/refusal";

const stableJson = JSON.stringify({ version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 });
const canaryJson = JSON.stringify({ version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 });

function problemsOf(all: Record<string, string>): string[] {
    return refusalProblems(() => parseStackConfig(all, "dev"), "expected the config to be refused");
}

/** Pulumi.dev.yaml's config the way the engine hands it to a program. */
function devStackConfig(): Record<string, string> {
    return engineConfigView(readProjectConfig(projectDir, "dev"));
}

describe("stack config", () => {
    it("reads the config users type, as the engine hands it over (strings and JSON)", () => {
        const c = parseStackConfig({
            "model-canary:canaryWeight": "10",
            "model-canary:stable": stableJson,
            "model-canary:canary": canaryJson,
            "model-canary:headerRoutes": JSON.stringify([{ header: "x-canary-version", exact: "v2", version: "v2" }]),
            "kubernetes:namespace": "elsewhere",
        }, "dev");
        assert.strictEqual(c.models.model.resolved.canaryWeight, 10);
        assert.strictEqual(c.models.model.resolved.canary?.image, "your-docker-repo/model-runner:v2");
        assert.strictEqual(c.renderDir, "rendered/dev");
        assert.strictEqual(c.kubeconfig, undefined);
        assert.strictEqual(c.kubernetesProviderConfigured, false);
    });

    it("refuses a `rollout.analysis.reporter` it cannot read, at the model's own key, when the config is read (before anything is applied)", () => {
        const both = 'got "both": summing both reporters would count a request twice where a waypoint and the pod\'s sidecar both report it; list them instead';
        const [top] = problemsOf({ "model-canary:stable": stableJson, "model-canary:rollout": JSON.stringify({ analysis: { reporter: "both" } }) });
        assert.ok(top.startsWith("`rollout.analysis.reporter` must be `destination` (sidecars), `waypoint` (ambient mode with a waypoint), or both as a list") && top.endsWith(both), top);
        const models = JSON.stringify({ fraud: { stable: JSON.parse(stableJson), rollout: { analysis: { reporter: "ambient" } } } });
        const [inModel] = problemsOf({ "model-canary:models": models });
        assert.ok(inModel.startsWith("`models.fraud.rollout.analysis.reporter` must be ") && inModel.endsWith(', got "ambient"'), inModel);
        const ok = parseStackConfig({ "model-canary:stable": stableJson, "model-canary:rollout": JSON.stringify({ analysis: { reporter: ["waypoint", "destination"] } }) }, "dev");
        assert.deepStrictEqual(ok.models.model.rollout, { analysis: { reporter: ["waypoint", "destination"] } });
    });

    it("takes the seed's 1% start from Pulumi.dev.yaml", () => {
        const c = parseStackConfig(devStackConfig(), "dev");
        assert.strictEqual(c.models.model.resolved.canaryWeight, 1);
        assert.strictEqual(c.models.model.resolved.serviceName, "model-service");
        assert.deepStrictEqual([c.models.model.resolved.stable.version, c.models.model.resolved.canary?.version], ["v1", "v2"]);
        assert.deepStrictEqual(c.models.model.resolved.headerRoutes, [{ header: "x-canary-version", exact: "v2", version: "v2" }]);
    });

    it("knows a cluster is configured through kubeconfig or the kubernetes provider's own keys", () => {
        assert.strictEqual(parseStackConfig({ "model-canary:stable": stableJson, "model-canary:kubeconfig": "/k/config" }, "prod").kubeconfig, "/k/config");
        assert.strictEqual(parseStackConfig({ "model-canary:stable": stableJson, "kubernetes:context": "prod" }, "prod").kubernetesProviderConfigured, true);
        assert.strictEqual(parseStackConfig({ "model-canary:stable": stableJson, "model-canary:renderDir": "out/x" }, "prod").renderDir, "out/x");
    });

    it("refuses a misspelt key instead of ignoring it", () => {
        assert.deepStrictEqual(problemsOf({ "model-canary:stable": stableJson, "model-canary:canary": canaryJson, "model-canary:canaryWieght": "10" }), [
            "unknown key `canaryWieght` (did you mean `canaryWeight`?); accepted keys are `app`, `namespace`, `serviceName`, `servicePort`, `containerPort`, `containerName`, `stable`, `canary`, `canaryWeight`, `mirrorPercent`, `headerRoutes`, `hosts`, `gateways`, `hostnames`, `virtualServiceName`, `destinationRuleName`, `istioApiVersion`, `router`, `protocol`, `sticky`, `trafficPolicy`, `podSecurityContext`, `containerSecurityContext`, `rollout`, `routingRevision`, `kubeconfig`, `renderDir`, `models`, `defaults`, `stackPerModel`",
        ]);
    });

    it("keeps renderDir relative to the project and normalized", () => {
        const renderDirOf = (renderDir: string) => parseStackConfig({ "model-canary:stable": stableJson, "model-canary:renderDir": renderDir }, "prod").renderDir;
        assert.deepStrictEqual(["out/x", "./out//x", "out/../rendered/prod"].map(renderDirOf), ["out/x", "out/x", "rendered/prod"]);
    });

    it("refuses an absolute renderDir or one outside the project, which would pin the state to one checkout", () => {
        const refused = (renderDir: string) => problemsOf({ "model-canary:stable": stableJson, "model-canary:renderDir": renderDir });
        assert.deepStrictEqual(refused("/tmp/rendered"), [
            "`renderDir` must be a directory inside the project, relative to the directory holding Pulumi.yaml, e.g. rendered/dev, not an absolute path (the state records it, and other checkouts would write and delete files there), got \"/tmp/rendered\"",
        ]);
        assert.deepStrictEqual(refused("../elsewhere"), [
            "`renderDir` must be a directory inside the project, relative to the directory holding Pulumi.yaml, e.g. rendered/dev, got \"../elsewhere\", which is outside the project",
        ]);
        assert.deepStrictEqual(refused("out/../.."), [
            "`renderDir` must be a directory inside the project, relative to the directory holding Pulumi.yaml, e.g. rendered/dev, got \"out/../..\", which is outside the project",
        ]);
        assert.deepStrictEqual(refused("."), [
            "`renderDir` must be a directory inside the project, relative to the directory holding Pulumi.yaml, e.g. rendered/dev, got \".\", which is the project directory itself",
        ]);
    });

    it("refuses broken structured values and bad stack keys, with every problem listed", () => {
        const problems = problemsOf({
            "model-canary:stable": "{version: v1",
            "model-canary:rollout": "[1]",
            "model-canary:canaryWeight": "150",
        });
        assert.strictEqual(problems.length, 3);
        assert.ok(problems[0].startsWith("`stable` must be valid structured config, got \"{version: v1\" (Expected property name"), problems[0]);
        assert.deepStrictEqual(problems.slice(1), [
            "`rollout` must be an object, got [1]",
            "`canaryWeight` must be an integer from 0 to 100, got \"150\"",
        ]);
    });
});

describe("stack program (mocked engine)", () => {
    it("builds the component from config and exports the split, routes and names", async () => {
        await installMocks();
        pulumi.runtime.setAllConfig(devStackConfig());
        drain();
        const program = await (await import("../index")).default() as Record<string, any>;
        assert.deepStrictEqual(program.split, { v1: 99, v2: 1 });
        assert.deepStrictEqual(program.target, { mode: "render", renderDir: "rendered/test" });
        assert.strictEqual(program.canaryWeight, 1);
        assert.strictEqual(program.canaryVersion, "v2");
        assert.deepStrictEqual(await settle(program.deploymentNames), { v1: "model-v1", v2: "model-v2" });
        assert.strictEqual(await settle(program.virtualServiceName), "model-virtual-service");
        const provider = drain().find((r) => r.type === "pulumi:providers:kubernetes");
        assert.strictEqual(provider?.name, "kubernetes");
        // Relative, so the state does not depend on where the project is checked out.
        assert.strictEqual(provider?.inputs.renderYamlToDirectory, "rendered/test");
        // Never taken from KUBECONFIG in render mode.
        assert.strictEqual(provider?.inputs.kubeconfig, "");
    });
});

describe("programError (how the program stops on a config it refuses)", () => {
    it("is a RunError, which the engine shows as its message alone, whose stack is that message: no frames for the SDK to format", () => {
        const error = programError("invalid stack config for `model-canary`: `canaryWeight` must be an integer from 0 to 100, got \"500\"");
        assert.strictEqual(pulumi.RunError.isInstance(error), true);
        assert.strictEqual(error.stack, error.message);
        assert.strictEqual(error.message, "invalid stack config for `model-canary`: `canaryWeight` must be an integer from 0 to 100, got \"500\"");
    });
});

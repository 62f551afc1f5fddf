// The pure parts of rolling back from the last applied config: what the program records, and the
// config the rollback writes from it.
import * as assert from "assert";
import { splitAppliedConfig } from "../stacks/config/applied";
import { appliedFromOutputs, appliedStackConfig, configPathKey, rollbackConfig } from "../stacks/operations/recovery";
import { hasCluster, runKey, runStoreFor } from "../stacks/operations/run-store";

const canary = { version: "v2", image: "registry/model-runner:v2", env: { API_KEY: "s3cr3t", MODE: "fast" } };
const routes = [
    { header: "x-canary-version", exact: "v2", version: "v2" },
    { header: "x-stable", exact: "yes", version: "v1" },
    { header: "x-token", exact: "t0ken", version: "v1" },
];

describe("rollback from the last applied config", () => {
    const all = {
        "model-canary:stable": JSON.stringify({ version: "v1", image: "registry/model-runner:v1" }),
        "model-canary:canary": JSON.stringify(canary),
        "model-canary:canaryWeight": "30",
        "model-canary:headerRoutes": JSON.stringify(routes),
        "kubernetes:kubeconfig": "{\"apiVersion\":\"v1\"}",
    };
    const settings = {
        "model-canary:canary": { ...canary, env: { API_KEY: { secure: "v1:abc" }, MODE: "fast" } },
        "model-canary:headerRoutes": routes.map((r, i) => (i === 2 ? { ...r, exact: { secure: "v1:def" } } : r)),
        "kubernetes:kubeconfig": { secure: "v1:ghi" },
    };
    const applied = splitAppliedConfig(all, ["model-canary:canary", "model-canary:headerRoutes", "kubernetes:kubeconfig"], settings, "model-canary");

    it("records secrets apart from the plain config, at the leaf they were set at", () => {
        assert.deepStrictEqual(applied.plain["model-canary:canary"], { ...canary, env: { API_KEY: null, MODE: "fast" } });
        assert.strictEqual(applied.plain["model-canary:canaryWeight"], "30");
        assert.strictEqual("kubernetes:kubeconfig" in applied.plain, false);
        assert.deepStrictEqual(applied.secrets, [
            { key: "model-canary:canary", path: ["env", "API_KEY"], value: "s3cr3t" },
            { key: "model-canary:headerRoutes", path: [2, "exact"], value: "t0ken" },
            { key: "kubernetes:kubeconfig", path: [], value: "{\"apiVersion\":\"v1\"}" },
        ]);
        assert.doesNotMatch(JSON.stringify(applied.plain), /s3cr3t|t0ken|apiVersion/);
    });

    it("reads the last applied config back as the stack config, secrets at their leaves, so a rollback of invalid settings looks for the run lock in the cluster's Leases", () => {
        const kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n";
        const recorded = splitAppliedConfig(
            { ...all, "model-canary:headerRoutes": JSON.stringify(routes.slice(0, 2)), "model-canary:namespace": "ml", "kubernetes:kubeconfig": kubeconfig },
            ["model-canary:canary", "kubernetes:kubeconfig"],
            { "model-canary:canary": settings["model-canary:canary"], "kubernetes:kubeconfig": { secure: "v1:ghi" } },
            "model-canary",
        );
        const config = appliedStackConfig(recorded, "prod");
        assert.ok(config, "the recorded config parses");
        assert.strictEqual(hasCluster(config), true);
        const model = config.models.model.resolved;
        assert.strictEqual(model.canary?.version, "v2");
        assert.strictEqual(model.canaryWeight, 30);
        assert.match(JSON.stringify(model.canary), /"API_KEY":"s3cr3t"/);
        assert.strictEqual(config.kubernetesKubeconfig, kubeconfig);
        const ref = { stack: "prod", workDir: "/nonexistent", backendUrl: "file:///nonexistent/state" };
        const { store, shared } = runStoreFor(ref, "model", config);
        assert.strictEqual(shared, true);
        assert.strictEqual(store.describe(runKey(ref, "model")), "Lease `model-canary-prod-model` in namespace `ml`");
        // Without it, the same rollback would look in the backend's directory, where no cluster run is held.
        assert.match(runStoreFor(ref, "model", undefined).store.describe(runKey(ref, "model")), /backend directory/);
        // A recorded config that no longer parses gives none (the rollback then looks in the backend, and says so).
        assert.strictEqual(appliedStackConfig({ plain: { ...recorded.plain, "model-canary:canaryWeight": "300" }, secrets: recorded.secrets }, "prod"), undefined);
    });

    it("sets weight 0 and drops the canary's header routes, renumbering the secrets that move", () => {
        const target = rollbackConfig(applied);
        assert.strictEqual(target.plain["model-canary:canaryWeight"], "0");
        assert.deepStrictEqual(target.plain["model-canary:headerRoutes"], [routes[1], { ...routes[2], exact: null }]);
        assert.deepStrictEqual(target.secrets.map((s) => [s.key, s.path]), [["model-canary:canary", ["env", "API_KEY"]], ["model-canary:headerRoutes", [1, "exact"]], ["kubernetes:kubeconfig", []]]);
        // The recorded config itself is left as it was.
        assert.strictEqual(applied.plain["model-canary:canaryWeight"], "30");
    });

    it("removes the shadow stage's mirror: a recorded `mirrorPercent` is not applied again", () => {
        const recorded = { plain: { "model-canary:canary": canary, "model-canary:canaryWeight": "0", "model-canary:mirrorPercent": "100" }, secrets: [] };
        const target = rollbackConfig(recorded);
        assert.deepStrictEqual(target.plain, { "model-canary:canary": canary, "model-canary:canaryWeight": "0" });
        assert.strictEqual(recorded.plain["model-canary:mirrorPercent"], "100");
    });

    it("holds an automatically sized canary at the pods it runs, so the rollback moves traffic before any scale-down", () => {
        const auto = { ...canary, replicas: "auto", autoReplicas: { max: 4 } };
        const recorded = { plain: { "model-canary:canary": auto, "model-canary:canaryWeight": "50" }, secrets: [] };
        assert.deepStrictEqual(rollbackConfig(recorded, undefined, { v1: 5, v2: 3 }).plain["model-canary:canary"], { ...auto, autoReplicas: { max: 4, hold: 3 } });
        // Fixed replicas, or nothing known about what runs: nothing to hold.
        assert.deepStrictEqual(rollbackConfig(recorded).plain["model-canary:canary"], auto);
        assert.deepStrictEqual(rollbackConfig({ plain: { "model-canary:canary": canary }, secrets: [] }, undefined, { v2: 3 }).plain["model-canary:canary"], canary);
        assert.deepStrictEqual(recorded.plain["model-canary:canary"], auto);
    });

    it("removes `headerRoutes` when only canary routes were there", () => {
        const target = rollbackConfig({ plain: { "model-canary:canary": canary, "model-canary:headerRoutes": [routes[0]] }, secrets: [] });
        assert.strictEqual("model-canary:headerRoutes" in target.plain, false);
    });

    it("writes leaf paths in `pulumi config set --path` syntax", () => {
        assert.strictEqual(configPathKey("model-canary:canary", ["env", "API_KEY"]), "model-canary:canary.env.API_KEY");
        assert.strictEqual(configPathKey("model-canary:headerRoutes", [1, "exact"]), "model-canary:headerRoutes[1].exact");
        assert.strictEqual(configPathKey("model-canary:canary", ["podAnnotations", "example.com/team"]), "model-canary:canary.podAnnotations[\"example.com/team\"]");
        assert.strictEqual(configPathKey("kubernetes:kubeconfig", []), "kubernetes:kubeconfig");
    });

    it("knows a stack deployed before the config was recorded", () => {
        assert.strictEqual(appliedFromOutputs({ split: { v1: 100 } }), undefined);
        assert.deepStrictEqual(appliedFromOutputs({ appliedConfig: { "model-canary:canaryWeight": "0" } }), { plain: { "model-canary:canaryWeight": "0" }, secrets: [] });
    });
});

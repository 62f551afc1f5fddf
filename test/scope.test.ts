// The pure part of a scoped update (stacks/operations/scope.ts): when one is allowed, and how the outputs
// keep every other model as the previous update left it.
import * as assert from "assert";
import * as fs from "fs";
import { mergeAppliedConfig, mergeModelOutputs, modelsKey, planScope, scopeEnvVar, sharedConfigDigest } from "../stacks/operations/scope";
import { readScope, writeScopeFile } from "../stacks/operations/scope-file";

const settings = {
    "model-canary:renderDir": "rendered/dev",
    [modelsKey]: { fraud: { canaryWeight: 10 }, ranker: { canaryWeight: 1 } },
    "kubernetes:namespace": "ml",
};
const urn = "urn:pulumi:dev::model-canary::model-canary:index:ModelCanary::fraud";
const previous = {
    models: { fraud: { urn, split: { v1: 99, v2: 1 } }, ranker: { urn: urn.replace("fraud", "ranker"), split: { v1: 90, v2: 10 } } },
    sharedConfigDigest: sharedConfigDigest(settings),
};

describe("scoped updates: planning", () => {
    it("scopes an update to a deployed model of several, targeting its component", () => {
        assert.deepStrictEqual(planScope(previous, "fraud", settings), { model: "fraud", target: urn, previous });
    });

    it("ignores the `models` map and key order in the shared-config digest, and sees any other change", () => {
        const reordered = { "kubernetes:namespace": "ml", [modelsKey]: { fraud: { canaryWeight: 50 } }, "model-canary:renderDir": "rendered/dev" };
        assert.strictEqual(sharedConfigDigest(reordered), sharedConfigDigest(settings));
        assert.notStrictEqual(sharedConfigDigest({ ...settings, "kubernetes:namespace": "prod" }), sharedConfigDigest(settings));
        assert.notStrictEqual(sharedConfigDigest({ ...settings, "model-canary:kubeconfig": { secure: "v1:abc" } }), sharedConfigDigest(settings));
    });

    it("makes the update whole when scoping would not be exact", () => {
        assert.deepStrictEqual(planScope({}, "fraud", settings), { whole: "the stack's outputs have no `models` (a one-model stack, or never updated)" });
        assert.deepStrictEqual(planScope({ ...previous, models: { fraud: previous.models.fraud } }, "fraud", settings), { whole: "the stack holds one model" });
        assert.deepStrictEqual(planScope(previous, "search", settings), { whole: "model `search` is not deployed yet" });
        assert.deepStrictEqual(planScope(previous, "fraud", { ...settings, "model-canary:renderDir": "rendered/other" }), { whole: "config outside `models` changed since the last update" });
        assert.deepStrictEqual(planScope({ models: previous.models }, "fraud", settings), { whole: "config outside `models` changed since the last update" });
    });
});

describe("scoped updates: outputs", () => {
    it("takes the stepped model's outputs from this run and every other model's from the previous outputs", () => {
        const merged = mergeModelOutputs(previous, "fraud", { urn, split: { v1: 90, v2: 10 } });
        assert.deepStrictEqual(merged, { fraud: { urn, split: { v1: 90, v2: 10 } }, ranker: previous.models.ranker });
    });

    it("records the stepped model's config and secrets as applied now and the others' as applied before", () => {
        const before = {
            plain: { "model-canary:renderDir": "rendered/dev", [modelsKey]: { fraud: { canaryWeight: 1, stable: { env: { KEY: null } } }, ranker: { canaryWeight: 10 } } },
            secrets: [{ key: modelsKey, path: ["fraud", "stable", "env", "KEY"], value: "old-fraud" }, { key: modelsKey, path: ["ranker", "canary", "env", "KEY"], value: "ranker-applied" }],
        };
        // The settings file now: fraud stepped to 10, ranker edited but not applied, a new secret on ranker.
        const now = {
            plain: { "model-canary:renderDir": "rendered/dev", [modelsKey]: { fraud: { canaryWeight: 10, stable: { env: { KEY: null } } }, ranker: { canaryWeight: 50 } } },
            secrets: [{ key: modelsKey, path: ["fraud", "stable", "env", "KEY"], value: "new-fraud" }, { key: modelsKey, path: ["ranker", "canary", "env", "KEY"], value: "ranker-unapplied" }],
        };
        assert.deepStrictEqual(mergeAppliedConfig(before, now, "fraud"), {
            plain: { "model-canary:renderDir": "rendered/dev", [modelsKey]: { fraud: { canaryWeight: 10, stable: { env: { KEY: null } } }, ranker: { canaryWeight: 10 } } },
            secrets: [{ key: modelsKey, path: ["fraud", "stable", "env", "KEY"], value: "new-fraud" }, { key: modelsKey, path: ["ranker", "canary", "env", "KEY"], value: "ranker-applied" }],
        });
    });
});

describe("scoped updates: the scope file", () => {
    it("carries the scope to the program in a private file that is removed after", () => {
        const scope = { model: "fraud", target: urn, previous };
        const written = writeScopeFile(scope);
        try {
            assert.strictEqual(fs.statSync(written.file).mode & 0o777, 0o600);
            assert.deepStrictEqual(readScope({ [scopeEnvVar]: written.file }), scope);
            assert.strictEqual(readScope({}), undefined);
        } finally {
            written.remove();
        }
        assert.strictEqual(fs.existsSync(written.file), false);
        assert.throws(() => readScope({ [scopeEnvVar]: written.file }), new RegExp(`^Error: ${scopeEnvVar} names ${written.file}, which could not be read as an update scope`));
    });
});

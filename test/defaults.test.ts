// Stack-wide `defaults` for the entries of `models`: merged under every entry (the entry's own
// value wins; maps merge at every depth, lists and scalars replace), refused where a default
// cannot work, and every problem named at the key that holds the value. Pure, through the parser
// the program and every command use.
import * as assert from "assert";
import { parseStackConfig } from "../stacks/config/config";
import { mergeDefaults } from "../stacks/config/models";
import { planScope, sharedConfigDigest } from "../stacks/operations/scope";
import { refusalProblems } from "./support/refusal";

const v = (version: string) => ({ version, image: `registry.example.com/ml/runner:${version}` });
const fraud = { stable: v("v1"), canary: v("v2"), canaryWeight: 10 };
const churn = { stable: v("v7") };
const defaults = {
    namespace: "ml",
    servicePort: 8080,
    gateways: ["ml/public"],
    rollout: { prometheus: "http://prometheus:9090", steps: [1, 50, 100], analysis: { maxP99Ms: 300, minRequests: 50 } },
};

function engine(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, value]) => [`model-canary:${k}`, typeof value === "string" ? value : JSON.stringify(value)]));
}

function problemsOf(config: Record<string, unknown>, secretPaths: (string | number)[][] = []): string[] {
    return refusalProblems(() => parseStackConfig(engine(config), "prod", secretPaths), "expected the config to be refused");
}

describe("stack-wide `defaults` for many models", () => {
    it("merges under every entry: the entry's own value wins, maps merge at every depth, lists replace", () => {
        const c = parseStackConfig(engine({
            defaults,
            models: { fraud: { ...fraud, gateways: ["mesh"], rollout: { steps: [5, 100], analysis: { maxP99Ms: 800 } } }, churn: { ...churn, namespace: "retention" } },
        }), "prod");
        const f = c.models.fraud;
        const ch = c.models.churn;
        assert.deepStrictEqual([f.resolved.namespace, f.resolved.servicePort, f.resolved.gateways], ["ml", 8080, ["mesh"]]);
        assert.deepStrictEqual(f.rollout, { prometheus: "http://prometheus:9090", steps: [5, 100], analysis: { maxP99Ms: 800, minRequests: 50 } });
        assert.deepStrictEqual([ch.resolved.namespace, ch.resolved.servicePort, ch.resolved.gateways], ["retention", 8080, ["ml/public"]]);
        assert.deepStrictEqual(ch.rollout, defaults.rollout);
        // The entry's path is still its own: commands edit `models.<name>`, never `defaults`.
        assert.deepStrictEqual([f.path, f.resolved.app, ch.resolved.app], [["models", "fraud"], "fraud", "churn"]);
    });

    it("mergeDefaults: `null` and lists in the entry replace the default, an absent key keeps it, and neither input changes", () => {
        const d = { rollout: { analysis: { maxP99Ratio: 1.5, maxP99Ms: 300 }, checks: [{ name: "a", command: "true" }] }, namespace: "ml" };
        const own = { rollout: { analysis: { maxP99Ratio: null }, checks: [] as unknown[] } };
        assert.deepStrictEqual(mergeDefaults(d, own), { rollout: { analysis: { maxP99Ratio: null, maxP99Ms: 300 }, checks: [] }, namespace: "ml" });
        assert.deepStrictEqual(d.rollout.analysis, { maxP99Ratio: 1.5, maxP99Ms: 300 });
        assert.deepStrictEqual(own, { rollout: { analysis: { maxP99Ratio: null }, checks: [] } });
    });

    it("names a bad value at `defaults.` when it came from there, once, and at `models.<name>.` when the entry set it", () => {
        const problems = problemsOf({
            defaults: { namespace: "Not_A_Label", rollout: { interval: "soon", maxErrorRate: 1, analysis: { maxP99Ms: -5 } } },
            models: { fraud: { ...fraud, rollout: { maxErrorRate: 2, analysis: { maxP99Ms: 800 } } }, churn, search: { stable: v("s1"), namespace: "Also_Bad" } },
        });
        assert.deepStrictEqual(problems.filter((p) => p.startsWith("unknown key")).map((p) => p.split(";")[0]), [
            "unknown key `models.fraud.rollout.maxErrorRate`",
            "unknown key `defaults.rollout.maxErrorRate`",
        ]);
        const at = (key: string) => problems.filter((p) => p.startsWith(`\`${key}\``));
        assert.strictEqual(at("defaults.namespace").length, 1, problems.join("\n"));
        assert.match(at("defaults.namespace")[0], /^`defaults\.namespace` must be a DNS label.*, got "Not_A_Label"$/);
        assert.strictEqual(at("models.search.namespace").length, 1, problems.join("\n"));
        assert.match(at("defaults.rollout.interval")[0], /^`defaults\.rollout\.interval` must be a duration .*got "soon"$/);
        assert.strictEqual(at("defaults.rollout.interval").length, 1);
        // fraud sets its own maxP99Ms (valid); churn and search take the default's.
        assert.strictEqual(at("defaults.rollout.analysis.maxP99Ms").length + at("defaults.rollout.analysis").length, 1, problems.join("\n"));
        assert.deepStrictEqual(problems.filter((p) => /models\.(fraud|churn)\.(namespace|rollout\.(interval|analysis))/.test(p)), []);
        assert.strictEqual(new Set(problems).size, problems.length);
    });

    it("names a prediction gate's `appLabel: null` from `defaults` at `defaults.`, once, when two models it reaches collide", () => {
        const problems = problemsOf({
            defaults: { rollout: { predictions: { appLabel: null } } },
            models: { fraud, churn: { stable: v("v2"), canary: v("v3") } },
        });
        assert.deepStrictEqual(problems, [
            "models `fraud` and `churn` collide: both have the prediction gate on for `model_prediction_score_bucket` in namespace \"default\" with version \"v2\", "
            + "and `defaults.rollout.predictions.appLabel` is null, so a gate would count the other model's predictions as its own; set `appLabel` (default `app`, the label each model's pods carry) or give the versions different names",
        ]);
    });

    it("refuses keys that belong to one model, unknown keys with a hint, and `defaults` that is not a map", () => {
        const problems = problemsOf({ defaults: { canaryWeight: 10, serviceName: "shared", stable: v("v1"), headerRoutes: [], namespase: "ml" }, models: { fraud } });
        assert.deepStrictEqual(problems, [
            "`defaults.canaryWeight` cannot be a default: it is one model's traffic, which `rollout`, `rollback` and `promote` edit in the model's own entry; set it in each model's entry (`models.<name>.canaryWeight`)",
            "`defaults.serviceName` cannot be a default: it names one model's objects, and two models with the same value would collide; set it in each model's entry (`models.<name>.serviceName`)",
            "`defaults.stable` cannot be a default: a model version belongs to one model; set it in each model's entry (`models.<name>.stable`)",
            "`defaults.headerRoutes` cannot be a default: they are one model's traffic, which `rollback` and `promote` edit in the model's own entry; set it in each model's entry (`models.<name>.headerRoutes`)",
            "unknown key `defaults.namespase` (did you mean `namespace`?); accepted keys are `namespace`, `servicePort`, `containerPort`, `containerName`, `gateways`, `istioApiVersion`, `router`, `protocol`, `sticky`, `trafficPolicy`, `podSecurityContext`, `containerSecurityContext`, `rollout`",
        ]);
        assert.deepStrictEqual(problemsOf({ defaults: [1], models: { fraud } }), [
            "`defaults` must map model keys to the value every entry of `models` gets unless it sets its own, e.g. { namespace: ml, rollout: { prometheus: \"http://prometheus:9090\" } }, got [1]",
        ]);
        // Inside an entry, `defaults` is a stack-wide key.
        assert.deepStrictEqual(problemsOf({ models: { fraud: { ...fraud, defaults: {} } } }), ["`models.fraud.defaults` is a key of the whole stack, not of one model: set `defaults` at the top level"]);
    });

    it("refuses the shorthand next to `defaults`, as next to `models`, and `defaults` without `models`", () => {
        assert.deepStrictEqual(problemsOf({ ...fraud, defaults: { namespace: "ml" } }), [
            "`stable`, `canary`, `canaryWeight` are keys of the one-model shorthand and cannot be used with `defaults`, which applies under the entries of `models`: move them into a model's entry, e.g. `models.model.stable` (the shorthand's model is `model`: its resources keep their names), or remove `defaults`",
        ]);
        assert.deepStrictEqual(problemsOf({ defaults: { namespace: "ml" } }), [
            "`defaults` applies under the entries of `models`, and there is no `models`: list the stack's models under `models`, or remove `defaults`",
        ]);
    });

    it("accepts a rollout check's secret below `defaults`, and refuses one where it would leak", () => {
        const checks = [{ name: "smoke", webhook: { url: "https://hooks.example/s3cr3t" } }];
        const c = parseStackConfig(engine({ defaults: { rollout: { checks } }, models: { fraud, churn } }), "prod", [["defaults", "rollout", "checks", 0, "webhook", "url"]]);
        assert.deepStrictEqual(c.secrets, ["https://hooks.example/s3cr3t"]);
        assert.deepStrictEqual(c.models.churn.rollout, { checks });
        const problems = problemsOf({ defaults: { namespace: "ml" }, models: { fraud } }, [["defaults", "namespace"]]);
        assert.strictEqual(problems.length, 1);
        assert.match(problems[0], /^`defaults\.namespace` cannot be a secret: /);
    });

    it("a change to `defaults` makes a one-model update whole: it is config outside `models`", () => {
        const settings = { "model-canary:defaults": { namespace: "ml" }, "model-canary:models": { fraud, churn } };
        const previous = { models: { fraud: { urn: "urn:fraud" }, churn: { urn: "urn:churn" } }, sharedConfigDigest: sharedConfigDigest(settings) };
        assert.deepStrictEqual(planScope(previous, "fraud", settings), { model: "fraud", target: "urn:fraud", previous });
        const changed = { ...settings, "model-canary:defaults": { namespace: "ml", servicePort: 8080 } };
        assert.deepStrictEqual(planScope(previous, "fraud", changed), { whole: "config outside `models` changed since the last update" });
    });
});

// Many models in one stack: the `models` map, the one-model shorthand, `--model` selection and
// collisions across models, through the same parser the program and every command use.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../components";
import { virtualServiceSpec } from "../components/routing";
import { componentArgs, envSecretRevisions, parseStackConfig, renderedSecretPaths, secretRevisionAnnotation, selectModel } from "../stacks/config/config";
import { ModelSelectionError, modelOutputsOf, selectModelName } from "../stacks/config/models";
import { commentMarker, renderPreviewMarkdown } from "../preview/markdown";
import { StackOperationError } from "../stacks/operations/automation";
import { rollbackConfig } from "../stacks/operations/recovery";
import { drain, installMocks, settle } from "./support/mocks";
import { refusalProblems } from "./support/refusal";

const v = (version: string, image = `registry.example.com/ml/runner:${version}`) => ({ version, image });
const fraud = { stable: v("v1"), canary: v("v2"), canaryWeight: 10, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };
const churn = { stable: v("v7"), canary: v("v8"), rollout: { steps: [5, 100] } };

/** The config as the engine hands it: `model-canary:<key>` to text, structured values as JSON. */
function engine(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, value]) => [`model-canary:${k}`, typeof value === "string" ? value : JSON.stringify(value)]));
}

function problemsOf(config: Record<string, unknown>): string[] {
    return refusalProblems(() => parseStackConfig(engine(config), "prod"), "expected the config to be refused");
}

describe("the `models` map and the one-model shorthand", () => {
    it("reads the shorthand as one model named `model`, with the names it always had", () => {
        const c = parseStackConfig(engine({ ...fraud, rollout: { steps: [1, 100] } }), "prod");
        assert.strictEqual(c.shorthand, true);
        assert.deepStrictEqual(Object.keys(c.models), ["model"]);
        const m = c.models.model;
        assert.deepStrictEqual(m.path, []);
        assert.deepStrictEqual([m.resolved.app, m.resolved.serviceName, m.resolved.virtualServiceName, m.resolved.canaryWeight], ["model", "model-service", "model-virtual-service", 10]);
        assert.deepStrictEqual(m.rollout, { steps: [1, 100] });
    });

    it("reads each entry of `models` as a model whose `app` defaults to its name, in config order", () => {
        const c = parseStackConfig(engine({ models: { fraud, churn }, renderDir: "out/prod" }), "prod");
        assert.strictEqual(c.shorthand, false);
        assert.deepStrictEqual(Object.keys(c.models), ["fraud", "churn"]);
        assert.deepStrictEqual(c.models.fraud.path, ["models", "fraud"]);
        assert.deepStrictEqual(
            [c.models.fraud.resolved.app, c.models.fraud.resolved.serviceName, c.models.fraud.resolved.virtualServiceName, c.models.fraud.resolved.destinationRuleName, c.models.fraud.resolved.canaryWeight],
            ["fraud", "fraud-service", "fraud-virtual-service", "fraud-destination", 10]);
        assert.deepStrictEqual([c.models.churn.resolved.app, c.models.churn.resolved.canaryWeight, c.models.churn.rollout], ["churn", 0, { steps: [5, 100] }]);
        assert.strictEqual(c.renderDir, "out/prod");
    });

    it("keeps an explicit `app` in a model's entry", () => {
        const c = parseStackConfig(engine({ models: { fraud: { ...fraud, app: "fraud-scorer" } } }), "prod");
        assert.deepStrictEqual([c.models.fraud.resolved.app, c.models.fraud.resolved.serviceName], ["fraud-scorer", "fraud-scorer-service"]);
    });

    it("refuses the shorthand's keys next to `models`, naming each key and where it goes", () => {
        assert.deepStrictEqual(problemsOf({ canaryWeight: 10, rollout: { steps: [1, 100] }, models: { fraud, churn } }), [
            "`canaryWeight`, `rollout` are keys of the one-model shorthand and cannot be used with `models` (`fraud`, `churn`): move them into a model's entry, e.g. `models.fraud.canaryWeight`",
        ]);
        assert.deepStrictEqual(problemsOf({ stable: v("v1"), models: { fraud } }), [
            "`stable` is a key of the one-model shorthand and cannot be used with `models` (`fraud`): move it into a model's entry, e.g. `models.fraud.stable`",
        ]);
    });

    it("refuses a `models` value that is not a map of names to entries", () => {
        assert.deepStrictEqual(problemsOf({ models: {} }), [
            "`models` must map each model's name to its keys, e.g. { fraud: { stable: { version: v1, image: registry/fraud:v1 } } }, got {}",
        ]);
        assert.deepStrictEqual(problemsOf({ models: [fraud] }).length, 1);
        assert.match(problemsOf({ models: [fraud] })[0], /^`models` must map each model's name to its keys, .*got \[\{"stable"/);
        assert.deepStrictEqual(problemsOf({ models: { Fraud_Model: fraud, churn: "v2" } }), [
            "`models` key \"Fraud_Model\" must be a model name: a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)",
            "`models.churn` must be an object with the model's keys (`stable`, `canary`, `canaryWeight`, ...), got \"v2\"",
        ]);
    });

    it("names a bad value inside an entry at its full key, with the value and what is accepted", () => {
        assert.deepStrictEqual(problemsOf({ models: { fraud: { ...fraud, canaryWeight: 150 }, churn: { ...churn, rollout: { steps: [50, 10] } } } }), [
            "`models.fraud.canaryWeight` must be an integer from 0 to 100, got 150",
            "`models.churn.rollout.steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100, got [50,10]",
        ]);
        assert.deepStrictEqual(problemsOf({ models: { fraud: { canary: v("v2") } } }), [
            "`models.fraud.stable` is required: the version serving production, e.g. { version: v1, image: registry/model-runner:v1 }",
        ]);
    });

    it("refuses unknown keys in an entry with a hint, and stack-wide keys with where they belong", () => {
        assert.deepStrictEqual(problemsOf({ models: { fraud: { ...fraud, canaryWieght: 5, kubeconfig: "/k" } } }), [
            "unknown key `models.fraud.canaryWieght` (did you mean `canaryWeight`?); accepted keys are `app`, `namespace`, `serviceName`, `servicePort`, `containerPort`, `containerName`, `stable`, `canary`, `canaryWeight`, `mirrorPercent`, `headerRoutes`, `hosts`, `gateways`, `hostnames`, `virtualServiceName`, `destinationRuleName`, `istioApiVersion`, `router`, `protocol`, `sticky`, `trafficPolicy`, `podSecurityContext`, `containerSecurityContext`, `rollout`, `routingRevision`",
            "`models.fraud.kubeconfig` is a key of the whole stack, not of one model: set `kubeconfig` at the top level",
        ]);
    });

    it("checks a model's derived names with its name as the default `app`", () => {
        const long = "m".repeat(50);
        assert.deepStrictEqual(problemsOf({ models: { [long]: { stable: v("v1") } } }).map((p) => p.replace(long, "<50 m>")), [
            "`models.<50 m>.virtualServiceName` defaults to `<app>-virtual-service` = \"" + long + "-virtual-service\" (66 characters), which is not a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters; set `virtualServiceName` or use a shorter `app`",
        ]);
    });
});

describe("collisions across models", () => {
    const collide = (models: Record<string, unknown>) => problemsOf({ models });

    it("refuses two models that share an `app` label in one namespace, naming both, the value and both keys", () => {
        assert.deepStrictEqual(collide({ fraud: { ...fraud, app: "scorer", serviceName: "fraud-svc", virtualServiceName: "fraud-vs", destinationRuleName: "fraud-dr" }, churn: { ...churn, app: "scorer" } }), [
            "models `fraud` and `churn` collide: both would use the `app` label \"scorer\" in namespace \"default\" (each Service would select the other model's pods) (`models.fraud.app` and `models.churn.app`); give one of them another value",
        ]);
    });

    it("refuses two models whose prediction gates select by namespace and version alone (`appLabel: null`) and share a version name in one namespace", () => {
        const gate = (predictions: Record<string, unknown>) => ({ rollout: { predictions } });
        // fraud walks v1 -> v2, churn v2 -> v3: they share v2.
        const churnV2 = { ...churn, stable: v("v2"), canary: v("v3") };
        assert.deepStrictEqual(collide({ fraud: { ...fraud, ...gate({ appLabel: null }) }, churn: { ...churnV2, ...gate({}) } }), [
            "models `fraud` and `churn` collide: both have the prediction gate on for `model_prediction_score_bucket` in namespace \"default\" with version \"v2\", "
            + "and `models.fraud.rollout.predictions.appLabel` is null, so a gate would count the other model's predictions as its own; set `appLabel` (default `app`, the label each model's pods carry) or give the versions different names",
        ]);
        assert.deepStrictEqual(collide({ fraud: { ...fraud, ...gate({ appLabel: null }) }, churn: { ...churn, stable: v("v1"), canary: v("v2"), ...gate({ appLabel: null, maxKs: 0.1 }) } }), [
            "models `fraud` and `churn` collide: both have the prediction gate on for `model_prediction_score_bucket` in namespace \"default\" with version \"v1\" and \"v2\", "
            + "and `models.fraud.rollout.predictions.appLabel` and `models.churn.rollout.predictions.appLabel` are null, so a gate would count the other model's predictions as its own; set `appLabel` (default `app`, the label each model's pods carry) or give the versions different names",
        ]);
        // Kept apart: both select by app (the default), the gate off on one side, other namespaces, other metrics, no shared version.
        const accepted: Record<string, unknown>[] = [
            { fraud: { ...fraud, ...gate({}) }, churn: { ...churnV2, ...gate({}) } },
            { fraud: { ...fraud, ...gate({ appLabel: null }) }, churn: churnV2 },
            { fraud: { ...fraud, ...gate({ appLabel: null }) }, churn: { ...churnV2, namespace: "team-b", ...gate({ appLabel: null }) } },
            { fraud: { ...fraud, ...gate({ appLabel: null }) }, churn: { ...churnV2, ...gate({ appLabel: null, metric: "churn_score_bucket" }) } },
            { fraud: { ...fraud, ...gate({ appLabel: null }) }, churn: { ...churn, ...gate({ appLabel: null }) } },
        ];
        for (const models of accepted) assert.deepStrictEqual(Object.keys(parseStackConfig(engine({ models }), "prod").models), ["fraud", "churn"], JSON.stringify(models));
    });

    it("allows the same names in different namespaces", () => {
        const c = parseStackConfig(engine({ models: { a: { ...fraud, app: "scorer", namespace: "team-a" }, b: { ...churn, app: "scorer", namespace: "team-b" } } }), "prod");
        assert.deepStrictEqual(Object.keys(c.models), ["a", "b"]);
    });

    it("refuses equal Service, VirtualService and DestinationRule names and VirtualService hosts", () => {
        assert.deepStrictEqual(collide({ fraud, churn: { ...churn, serviceName: "fraud-service", virtualServiceName: "fraud-virtual-service", destinationRuleName: "fraud-destination" } }), [
            "models `fraud` and `churn` collide: both would use the Service \"default/fraud-service\" (`models.fraud.serviceName` and `models.churn.serviceName`); give one of them another value",
            "models `fraud` and `churn` collide: both would use the VirtualService \"default/fraud-virtual-service\" (`models.fraud.virtualServiceName` and `models.churn.virtualServiceName`); give one of them another value",
            "models `fraud` and `churn` collide: both would use the DestinationRule \"default/fraud-destination\" (`models.fraud.destinationRuleName` and `models.churn.destinationRuleName`); give one of them another value",
            "models `fraud` and `churn` collide: both would use the VirtualService host \"fraud-service.default.svc.cluster.local\" (`models.fraud.hosts` and `models.churn.hosts`); give one of them another value",
        ]);
        // A short host is read in the VirtualService's namespace, as Istio does: its qualified name collides too.
        assert.deepStrictEqual(collide({ fraud: { ...fraud, hosts: ["scoring.example.com"] }, churn: { ...churn, hosts: ["api.example.com", "scoring.example.com"] } }), [
            "models `fraud` and `churn` collide: both would use the VirtualService host \"scoring.example.com\" (`models.fraud.hosts` and `models.churn.hosts`); give one of them another value",
        ]);
        assert.strictEqual(collide({ fraud, churn: { ...churn, hosts: ["fraud-service.default.svc.cluster.local"] } }).length, 1);
        // The same host bound to different gateways is two routes, not one.
        assert.ok(parseStackConfig(engine({ models: { fraud: { ...fraud, hosts: ["scoring.example.com"], gateways: ["edge/public"] }, churn: { ...churn, hosts: ["scoring.example.com"] } } }), "prod"));
    });

    it("reads a bare gateway name in the model's namespace, as Istio does: `public` in `edge` is `edge/public`", () => {
        const scoring = { hosts: ["scoring.example.com"] };
        assert.deepStrictEqual(collide({ fraud: { ...fraud, ...scoring, namespace: "edge", gateways: ["public"] }, churn: { ...churn, ...scoring, gateways: ["edge/public", "mesh"] } }), [
            "models `fraud` and `churn` collide: both would use the VirtualService host \"scoring.example.com\" on gateway \"edge/public\" (`models.fraud.hosts` and `models.churn.hosts`); give one of them another value",
        ]);
        // The same bare name in two namespaces is two gateways.
        assert.ok(parseStackConfig(engine({ models: { fraud: { ...fraud, ...scoring, namespace: "edge", gateways: ["public"] }, churn: { ...churn, ...scoring, gateways: ["public"] } } }), "prod"));
    });

    it("reads a gateway written as a host name the way Istio does: `public.edge.svc.cluster.local` and `public.edge` are `edge/public`; the VirtualService keeps what was written", () => {
        const scoring = { hosts: ["scoring.example.com"] };
        assert.deepStrictEqual(collide({ fraud: { ...fraud, ...scoring, gateways: ["public.edge.svc.cluster.local"] }, churn: { ...churn, ...scoring, gateways: ["edge/public"] } }), [
            "models `fraud` and `churn` collide: both would use the VirtualService host \"scoring.example.com\" on gateway \"edge/public\" (`models.fraud.hosts` and `models.churn.hosts`); give one of them another value",
        ]);
        // The namespace is the name's second label, whatever the model's namespace, and the short `<name>.<namespace>` form reads the same.
        assert.deepStrictEqual(collide({ fraud: { ...fraud, hosts: ["*.example.com"], namespace: "team-a", gateways: ["public.edge"] }, churn: { ...churn, hosts: ["api.example.com"], gateways: ["public.edge.svc.cluster.local"] } }), [
            "models `fraud` and `churn` collide: `models.fraud.hosts` has \"*.example.com\" and `models.churn.hosts` has \"api.example.com\", which overlap on gateway \"edge/public\": both VirtualServices claim requests for \"api.example.com\"; narrow the wildcard, or bind them to different gateways",
        ]);
        // Another namespace or another name in that form is another gateway.
        for (const gateway of ["public.team-b.svc.cluster.local", "internal.edge.svc.cluster.local"]) {
            assert.ok(parseStackConfig(engine({ models: { fraud: { ...fraud, ...scoring, gateways: [gateway] }, churn: { ...churn, ...scoring, gateways: ["edge/public"] } } }), "prod"), gateway);
        }
        // Only the collision check qualifies it: the rendered VirtualService binds to the name as written.
        const c = parseStackConfig(engine({ models: { fraud: { ...fraud, ...scoring, gateways: ["public.edge.svc.cluster.local", "mesh"] } } }), "prod");
        assert.deepStrictEqual(virtualServiceSpec(c.models.fraud.resolved).gateways, ["public.edge.svc.cluster.local", "mesh"]);
    });

    it("refuses a wildcard host that covers another model's host on a gateway both bind to, naming both models, keys and hosts", () => {
        const on = (hosts: string[], gateways = ["edge/public"]) => ({ hosts, gateways });
        assert.deepStrictEqual(collide({ fraud: { ...fraud, ...on(["*.example.com"]) }, churn: { ...churn, ...on(["api.example.com", "churn.example.org"], ["mesh", "edge/public"]) } }), [
            "models `fraud` and `churn` collide: `models.fraud.hosts` has \"*.example.com\" and `models.churn.hosts` has \"api.example.com\", which overlap on gateway \"edge/public\": both VirtualServices claim requests for \"api.example.com\"; narrow the wildcard, or bind them to different gateways",
        ]);
        assert.deepStrictEqual(collide({ fraud: { ...fraud, ...on(["*.example.com"]) }, churn: { ...churn, ...on(["*.api.example.com"]) } }), [
            "models `fraud` and `churn` collide: `models.fraud.hosts` has \"*.example.com\" and `models.churn.hosts` has \"*.api.example.com\", which overlap on gateway \"edge/public\": both VirtualServices claim requests for \"x.api.example.com\"; narrow the wildcard, or bind them to different gateways",
        ]);
        // `*` on the mesh covers the other model's own Service host, read in its namespace.
        assert.deepStrictEqual(collide({ fraud: { ...fraud, hosts: ["*"] }, churn }), [
            "models `fraud` and `churn` collide: `models.fraud.hosts` has \"*\" and `models.churn.hosts` has \"churn-service.default.svc.cluster.local\", which overlap: both VirtualServices claim requests for \"churn-service.default.svc.cluster.local\"; narrow the wildcard, or bind them to different gateways",
        ]);
        // Kept apart: the bare domain is not a subdomain, another domain, other gateways.
        const accepted: Record<string, unknown>[] = [
            { fraud: { ...fraud, ...on(["*.example.com"]) }, churn: { ...churn, ...on(["example.com"]) } },
            { fraud: { ...fraud, ...on(["*.example.com"]) }, churn: { ...churn, ...on(["api.example.org", "api.example.com.evil.org"]) } },
            { fraud: { ...fraud, ...on(["*.example.com"]) }, churn: { ...churn, ...on(["api.example.com"], ["edge/internal"]) } },
        ];
        for (const models of accepted) assert.deepStrictEqual(Object.keys(parseStackConfig(engine({ models }), "prod").models), ["fraud", "churn"], JSON.stringify(models));
    });

    it("refuses a Deployment (and env Secret) name two models would both use, from different `app`s and versions", () => {
        // `a-b` + `c` and `a` + `b-c` are both Deployment a-b-c.
        assert.deepStrictEqual(collide({ x: { app: "a-b", stable: v("c") }, y: { app: "a", stable: v("b-c") } }), [
            "models `x` and `y` collide: both would use the Deployment (and env Secret) name \"default/a-b-c\" (`models.x.stable.version` and `models.y.stable.version`); give one of them another value",
        ]);
    });

    it("refuses two models whose components would name a resource alike (`<model>-<version>`), even with different `app`s", () => {
        assert.deepStrictEqual(collide({ "a-b": { app: "first", stable: v("c") }, a: { app: "second", canary: v("b-c"), stable: v("v1") } }), [
            "models `a-b` and `a` collide: both would use the Pulumi resource name \"a-b-c\" (a Deployment) (`models.a-b.stable.version` and `models.a.canary.version`); give one of them another value",
        ]);
    });
});

describe("which model a command acts on", () => {
    it("takes the only model without `--model`, and the named one with it", () => {
        assert.strictEqual(selectModelName(["model"], undefined, "prod"), "model");
        assert.strictEqual(selectModelName(["fraud", "churn"], "churn", "prod"), "churn");
        const c = parseStackConfig(engine({ models: { fraud, churn } }), "prod");
        assert.strictEqual(selectModel(c, "fraud", "prod").resolved.canaryWeight, 10);
    });

    it("requires `--model` with several models, listing them, and refuses an unknown name", () => {
        assert.throws(() => selectModelName(["fraud", "churn"], undefined, "prod"), (e: Error) => e instanceof ModelSelectionError
            && e.message === "stack `prod` has 2 models (`fraud`, `churn`): name the one to act on with `--model NAME`");
        assert.throws(() => selectModelName(["fraud", "churn"], "frod", "prod"), (e: Error) => e instanceof ModelSelectionError
            && e.message === "`--model` must name a model of stack `prod`, got \"frod\"; its models are `fraud`, `churn`");
        assert.throws(() => selectModelName(["model"], "fraud", "prod"), /`--model` must name a model of stack `prod`, got "fraud"; its models are `model`/);
    });

    it("reads a model's outputs from `models.<name>`, or the shorthand's from the top level", () => {
        assert.deepStrictEqual(modelOutputsOf({ split: { v1: 100 } }, "model"), { split: { v1: 100 } });
        assert.deepStrictEqual(modelOutputsOf({ split: { v1: 100 } }, "fraud"), {});
        assert.deepStrictEqual(modelOutputsOf({ models: { fraud: { canaryWeight: 10 } } }, "fraud"), { canaryWeight: 10 });
        assert.deepStrictEqual(modelOutputsOf({ models: { fraud: { canaryWeight: 10 } } }, "churn"), {});
    });
});

describe("secrets in a model's entry", () => {
    it("accepts secret env values and check settings below `models.<name>`, and refuses them where they would leak", () => {
        const c = parseStackConfig(engine({ models: { fraud: { ...fraud, canary: { ...fraud.canary, env: { API_KEY: "s3cr3t" } } }, churn } }), "prod", [["models", "fraud", "canary", "env", "API_KEY"]]);
        assert.deepStrictEqual(c.secrets, ["s3cr3t"]);
        assert.deepStrictEqual(renderedSecretPaths(c), ["models.fraud.canary.env.API_KEY"]);
        const args = componentArgs(c, c.models.fraud);
        assert.ok(pulumi.Output.isInstance(args.canary?.env?.API_KEY), "the secret reaches the component as an Output");
        assert.strictEqual(componentArgs(c, c.models.churn).canary?.env, undefined);

        let problems: string[] = [];
        try {
            parseStackConfig(engine({ models: { fraud } }), "prod", [["models", "fraud", "canary", "image"]]);
        } catch (e) {
            problems = (e as ValidationError).problems;
        }
        assert.strictEqual(problems.length, 1);
        assert.match(problems[0], /^`models\.fraud\.canary\.image` cannot be a secret: .* and for a model of the `models` map at the same places below `models\.<name>` \(but `kubeconfig`\), and the rollout's below `defaults`$/);
    });

    it("digests a model's secret env ciphertexts from its own entry", () => {
        const settings = { "model-canary:models": { fraud: { canary: { env: { API_KEY: { secure: "v1:abc" } } } }, churn: { canary: { env: { API_KEY: { secure: "v1:def" } } } } } };
        const fraudRevision = envSecretRevisions(settings, ["models", "fraud"]);
        const churnRevision = envSecretRevisions(settings, ["models", "churn"]);
        assert.match(fraudRevision.canary ?? "", /^[0-9a-f]{16}$/);
        assert.notStrictEqual(fraudRevision.canary, churnRevision.canary);
        assert.deepStrictEqual(envSecretRevisions(settings, []), {});
        const c = parseStackConfig(engine({ models: { fraud: { ...fraud, canary: { ...fraud.canary, env: { API_KEY: "k" } } } } }), "prod", [["models", "fraud", "canary", "env", "API_KEY"]]);
        assert.deepStrictEqual(componentArgs(c, { ...c.models.fraud, envSecretRevisions: fraudRevision }).canary?.podAnnotations, { [secretRevisionAnnotation]: fraudRevision.canary });
    });
});

describe("the stack program with `models` (mocked engine)", () => {
    it("builds one component per model, named after it, and exports each model's routing under `models`", async () => {
        await installMocks();
        pulumi.runtime.setAllConfig(engine({ models: { fraud, churn } }));
        drain();
        const program = await (await import("../index")).default() as Record<string, any>;
        assert.deepStrictEqual(Object.keys(program.models), ["fraud", "churn"]);
        assert.deepStrictEqual(program.models.fraud.split, { v1: 90, v2: 10 });
        assert.deepStrictEqual(program.models.churn.split, { v7: 100 });
        assert.strictEqual(await settle(program.models.churn.virtualServiceName), "churn-virtual-service");
        assert.strictEqual(program.split, undefined, "no top-level routing outputs with `models`");
        const registered = drain();
        const components = registered.filter((r) => r.type === "model-canary:index:ModelCanary").map((r) => r.name).sort();
        assert.deepStrictEqual(components, ["churn", "fraud"]);
        const deployments = registered.filter((r) => r.type === "kubernetes:apps/v1:Deployment").map((r) => `${r.name} ${r.inputs.metadata.name}`).sort();
        assert.deepStrictEqual(deployments, ["churn-v7 churn-v7", "churn-v8 churn-v8", "fraud-v1 fraud-v1", "fraud-v2 fraud-v2"]);
    });
});

describe("the preview comment of a stack of several models", () => {
    const routing = (stableVersion: string, canaryVersion: string | null, split: Record<string, number>) => ({ stableVersion, canaryVersion, split, headerRoutes: [] });
    const base = { stack: "prod", steps: [], changes: { update: 1, same: 12 }, diff: "~ fraud-vs" };

    it("shows each model's split in turn without `--model`", () => {
        const md = renderPreviewMarkdown({
            ...base, before: routing("v1", "v2", { v1: 100 }), after: routing("v1", "v2", { v1: 90, v2: 10 }),
            models: [{ name: "fraud", before: routing("v1", "v2", { v1: 100 }), after: routing("v1", "v2", { v1: 90, v2: 10 }) }, { name: "churn", before: routing("v7", null, { v7: 100 }), after: routing("v7", null, { v7: 100 }) }],
        });
        assert.ok(md.startsWith("<!-- model-canary-preview:prod -->\n### model-canary preview for stack `prod`\n"));
        const fraudAt = md.indexOf("#### Model `fraud`");
        const churnAt = md.indexOf("#### Model `churn`");
        assert.ok(fraudAt > 0 && churnAt > fraudAt, md);
        assert.ok(md.slice(fraudAt, churnAt).includes("| `v2` | canary | 0% | 10% | 0% → 10% |"), md);
        assert.ok(md.slice(churnAt).includes("| `v7` | stable | 100% | 100% | unchanged |"), md);
    });

    it("names the model with `--model`, in the title and in the marker the workflow updates", () => {
        const md = renderPreviewMarkdown({ ...base, model: "fraud", before: routing("v1", "v2", { v1: 100 }), after: routing("v1", "v2", { v1: 90, v2: 10 }) });
        assert.ok(md.startsWith("<!-- model-canary-preview:prod model=fraud -->\n### model-canary preview for model `fraud` of stack `prod`\n"), md);
        assert.ok(!md.includes("#### Model"));
        assert.strictEqual(commentMarker("prod"), "<!-- model-canary-preview:prod -->");
    });
});

describe("rollback from the last applied config, for one model of several", () => {
    const applied = () => ({
        plain: {
            "model-canary:renderDir": "rendered/prod",
            "model-canary:models": {
                fraud: { ...fraud, canaryWeight: 50, mirrorPercent: 10, headerRoutes: [fraud.headerRoutes[0], { header: "x-group", exact: "a", version: "v1" }], canary: { ...fraud.canary, env: { API_KEY: null } } },
                churn: { ...churn, canaryWeight: 20 },
            },
        },
        secrets: [{ key: "model-canary:models", path: ["fraud", "canary", "env", "API_KEY"], value: "s3cr3t" }],
    });

    it("takes only that model off its canary: weight 0, mirror and canary header routes removed; the others and the secrets as they were", () => {
        const out = rollbackConfig(applied(), "fraud");
        const models = out.plain["model-canary:models"] as Record<string, any>;
        assert.deepStrictEqual([models.fraud.canaryWeight, models.fraud.mirrorPercent, models.fraud.headerRoutes], [0, undefined, [{ header: "x-group", exact: "a", version: "v1" }]]);
        assert.deepStrictEqual(models.churn, { ...churn, canaryWeight: 20 });
        assert.deepStrictEqual(out.secrets, applied().secrets);
        assert.strictEqual(out.plain["model-canary:renderDir"], "rendered/prod");
    });

    it("refuses a model the recorded config does not have, naming the models it has", () => {
        assert.throws(() => rollbackConfig(applied(), "ranker"), (e: unknown) => e instanceof StackOperationError && e.kind === "refused"
            && e.message.startsWith("the config the last `up` applied has no model `ranker` (its models are `fraud`, `churn`)"));
        assert.throws(() => rollbackConfig({ plain: { "model-canary:canaryWeight": "10" }, secrets: [] }, "fraud"), /has one model \(`model`, the top-level keys\), not `fraud`/);
    });
});

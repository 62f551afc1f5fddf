// Names two models, or two routers of one model, would share, refused while the config is read or
// before a router switch's update applies anything (issue 20): the component's Pulumi resource names
// (`<model>-svc` against a Gateway API model's `<model>-<version>-svc`, `<model>-dr` against
// `<model>-<version>-dr`), and an object a switch deletes that this update makes again. Pure.
import * as assert from "assert";
import { parseStackConfig } from "../stacks/config/config";
import { removedModelCollisions } from "../stacks/config/model-removal";
import { routerSwitchCollisions, routerSwitches } from "../stacks/config/router-switch";
import { refusalProblems } from "./support/refusal";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1" };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2" };
const trafficPolicy = { outlierDetection: { consecutive5xxErrors: 5 } };
const problemsOf = (all: Record<string, string>) => refusalProblems(() => parseStackConfig(all, "dev"), "expected the config to be refused");
const modelsOf = (all: Record<string, string>) => Object.values(parseStackConfig(all, "dev").models);

describe("names two models would share", () => {
    it("refuses model `fraud-v2` beside model `fraud` at version v2 with `router: gateway-api`: the same Service resource (and DestinationRule resource with `trafficPolicy`), in `models` and through `defaults`", () => {
        const models = { fraud: { router: "gateway-api", stable, canary }, "fraud-v2": { app: "other", stable } };
        assert.deepStrictEqual(problemsOf({ "model-canary:models": JSON.stringify(models) }), [
            "models `fraud` and `fraud-v2` collide: both would use the Pulumi resource name \"fraud-v2-svc\" (a Service) (`models.fraud.canary.version` and the model's name `models.fraud-v2`); give one of them another value",
        ]);
        // With `trafficPolicy` from `defaults`: the version DestinationRule meets the Istio router's `<model>-dr`.
        assert.deepStrictEqual(problemsOf({ "model-canary:models": JSON.stringify(models), "model-canary:defaults": JSON.stringify({ trafficPolicy }) }), [
            "models `fraud` and `fraud-v2` collide: both would use the Pulumi resource name \"fraud-v2-svc\" (a Service) (`models.fraud.canary.version` and the model's name `models.fraud-v2`); give one of them another value",
            "models `fraud` and `fraud-v2` collide: both would use the Pulumi resource name \"fraud-v2-dr\" (a DestinationRule, networking.istio.io/v1) (`models.fraud.canary.version` and the model's name `models.fraud-v2`); give one of them another value",
        ]);
        // Both on the Gateway API router (`defaults.router`): `fraud`'s v2 Service meets `fraud-v2`'s own.
        assert.deepStrictEqual(problemsOf({ "model-canary:models": JSON.stringify({ fraud: { stable, canary }, "fraud-v2": { app: "other", stable } }), "model-canary:defaults": JSON.stringify({ router: "gateway-api" }) })[0],
            "models `fraud` and `fraud-v2` collide: both would use the Pulumi resource name \"fraud-v2-svc\" (a Service) (`models.fraud.canary.version` and the model's name `models.fraud-v2`); give one of them another value");
        // The Istio router names no child by version but the Deployments: the same two models are fine there.
        assert.deepStrictEqual(modelsOf({ "model-canary:models": JSON.stringify({ fraud: { stable, canary }, "fraud-v2": { app: "other", stable } }) }).map((m) => m.name), ["fraud", "fraud-v2"]);
    });

    it("refuses a model whose Service is `fraud-v2` beside model `fraud`'s version v2 Service (the Kubernetes object), and an Istio DestinationRule named like a version's", () => {
        const models = { fraud: { router: "gateway-api", serviceName: "fraud", stable, canary, trafficPolicy }, scorer: { app: "scorer", serviceName: "fraud-v2", destinationRuleName: "fraud-v1", stable } };
        assert.deepStrictEqual(problemsOf({ "model-canary:models": JSON.stringify(models) }), [
            "models `fraud` and `scorer` collide: both would use the Service \"default/fraud-v2\" (`models.fraud.canary.version` and `models.scorer.serviceName`); give one of them another value",
            "models `fraud` and `scorer` collide: both would use the DestinationRule \"default/fraud-v1\" (`models.fraud.stable.version` and `models.scorer.destinationRuleName`); give one of them another value",
        ]);
    });
});

describe("a router switch that would delete what the update makes", () => {
    const istioApplied = (destinationRuleName: string) => ({ split: { v1: 100 }, virtualServiceName: "model-virtual-service", destinationRuleName });
    const gatewayApplied = (objects: [string, string][]) => ({
        split: { v1: 100 }, router: "gateway-api",
        routingObjects: objects.map(([kind, name]) => ({ apiVersion: kind === "Service" ? "v1" : kind === "HTTPRoute" ? "gateway.networking.k8s.io/v1" : "networking.istio.io/v1", kind, namespace: "default", name })),
    });

    it("istio -> gateway-api (the shorthand) with `trafficPolicy`: the old `destinationRuleName` is the new version DestinationRule's name", () => {
        const models = modelsOf({ "model-canary:stable": JSON.stringify(stable), "model-canary:router": "gateway-api", "model-canary:trafficPolicy": JSON.stringify(trafficPolicy) });
        const switches = routerSwitches(models, istioApplied("model-service-v1"));
        assert.deepStrictEqual(routerSwitchCollisions(switches, models), [
            "model `model` switches router from `istio` to `gateway-api`, which deletes the old router's DestinationRule `default/model-service-v1`, but model `model`'s new router makes it too (`stable.version`): "
            + "the update would apply it over the old one and then delete it. Nothing was applied: switch in two updates: first without `trafficPolicy` (no version DestinationRules), then set it again",
        ]);
        // The usual names: nothing in common.
        assert.deepStrictEqual(routerSwitchCollisions(routerSwitches(models, istioApplied("model-destination")), models), []);
    });

    it("gateway-api -> istio (`models`): the new `destinationRuleName` is an old version DestinationRule's name; another model's new Service is an old version Service's", () => {
        const models = modelsOf({ "model-canary:models": JSON.stringify({ fraud: { stable, destinationRuleName: "fraud-service-v1" }, churn: { app: "churn", serviceName: "fraud-service-v2", stable } }) });
        const applied = { models: { fraud: gatewayApplied([["Service", "fraud-service-v1"], ["Service", "fraud-service-v2"], ["DestinationRule", "fraud-service-v1"], ["HTTPRoute", "fraud-service"]]) } };
        assert.deepStrictEqual(routerSwitchCollisions(routerSwitches(models, applied), models), [
            "model `fraud` switches router from `gateway-api` to `istio`, which deletes the old router's Service `default/fraud-service-v2`, but model `churn` makes it too (`models.churn.serviceName`): "
            + "the update would apply it over the old one and then delete it. Nothing was applied: change `models.churn.serviceName`, or make that object in an update after the switch",
            "model `fraud` switches router from `gateway-api` to `istio`, which deletes the old router's DestinationRule `default/fraud-service-v1`, but model `fraud`'s new router makes it too (`models.fraud.destinationRuleName`): "
            + "the update would apply it over the old one and then delete it. Nothing was applied: set `models.fraud.destinationRuleName` to another name",
        ]);
        // No switch, no such problem: the same config applied with the Istio router already.
        assert.deepStrictEqual(routerSwitchCollisions(routerSwitches(models, { models: { fraud: istioApplied("fraud-service-v1") } }), models), []);
    });
});

describe("a removed model whose objects another model makes in the same update", () => {
    const applied = (name: string, extra: Record<string, unknown> = {}) => ({
        namespace: "default", serviceName: `${name}-service`, virtualServiceName: `${name}-virtual-service`, destinationRuleName: `${name}-destination`,
        deploymentNames: { v1: `${name}-v1` }, split: { v1: 100 }, ...extra,
    });
    const ask = (models: Record<string, unknown>, outputs: Record<string, unknown>) => removedModelCollisions(modelsOf({ "model-canary:models": JSON.stringify(models) }), outputs);
    const refusal = (removed: string, object: string, maker: string, key: string, then: string) => `model \`${removed}\` is removed from the config, which deletes its ${object}, but model \`${maker}\` makes it too (\`${key}\`): `
        + `the update would apply it over the old one and then delete it. Nothing was applied: do it in two updates, first without model \`${removed}\`, ${then}`;

    it("refuses model `fraud` renamed `fraud-new` that keeps its `app`: its Deployment, Service, DestinationRule and VirtualService would be deleted after the new model applied them", () => {
        assert.deepStrictEqual(ask({ "fraud-new": { app: "fraud", stable } }, { models: { fraud: applied("fraud") } }), [
            refusal("fraud", "Deployment `default/fraud-v1`", "fraud-new", "models.fraud-new.stable.version", "then with model `fraud-new`"),
            refusal("fraud", "Service `default/fraud-service`", "fraud-new", "models.fraud-new.serviceName", "then with model `fraud-new`"),
            // The Istio router's names follow `app` unless set.
            refusal("fraud", "DestinationRule `default/fraud-destination`", "fraud-new", "models.fraud-new.destinationRuleName", "then with model `fraud-new`"),
            refusal("fraud", "VirtualService `default/fraud-virtual-service`", "fraud-new", "models.fraud-new.virtualServiceName", "then with model `fraud-new`"),
        ]);
        // Renamed with names of its own: nothing in common with what the removal deletes.
        assert.deepStrictEqual(ask({ "fraud-new": { stable } }, { models: { fraud: applied("fraud") } }), []);
        // In another namespace, the same names are other objects.
        assert.deepStrictEqual(ask({ "fraud-new": { namespace: "risk", app: "fraud", stable } }, { models: { fraud: applied("fraud") } }), []);
    });

    it("refuses model `a` removed while model `b`, applied before, takes `a`'s `virtualServiceName`; the shorthand stack's model and a Gateway API model's version Service too", () => {
        assert.deepStrictEqual(ask({ b: { stable, virtualServiceName: "a-virtual-service" } }, { models: { a: applied("a"), b: applied("b") } }), [
            refusal("a", "VirtualService `default/a-virtual-service`", "b", "models.b.virtualServiceName", "then set `models.b.virtualServiceName`"),
        ]);
        // Model `b` kept, nothing removed: no such problem (a model's own objects keep their resources).
        assert.deepStrictEqual(ask({ a: { stable }, b: { stable } }, { models: { a: applied("a"), b: applied("b") } }), []);
        // The shorthand stack's outputs name its one model, `model`, at the top.
        assert.deepStrictEqual(ask({ fraud: { stable, destinationRuleName: "model-destination" } }, applied("model")), [
            refusal("model", "DestinationRule `default/model-destination`", "fraud", "models.fraud.destinationRuleName", "then with model `fraud`"),
        ]);
        // A removed Gateway API model's version Service, named by its `routingObjects`.
        const gateway = { ...applied("g"), virtualServiceName: undefined, destinationRuleName: undefined, router: "gateway-api",
            routingObjects: [{ apiVersion: "v1", kind: "Service", namespace: "default", name: "g-service-v1" }, { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "g-service" }] };
        assert.deepStrictEqual(ask({ h: { stable, serviceName: "g-service-v1" } }, { models: { g: gateway } }), [
            refusal("g", "Service `default/g-service-v1`", "h", "models.h.serviceName", "then with model `h`"),
        ]);
    });
});

describe("a version a kept model drops, whose objects another model makes in the same update", () => {
    it("refuses model `a` (Gateway API) dropping canary v2 while model `b` takes the name of its version Service; a promotion that keeps the names is fine", () => {
        const appliedA = {
            namespace: "default", serviceName: "a-service", router: "gateway-api", deploymentNames: { v1: "a-v1", v2: "a-v2" }, split: { v1: 100, v2: 0 },
            routingObjects: [["Service", "a-service-v1"], ["Service", "a-service-v2"], ["HTTPRoute", "a-service"]].map(([kind, name]) => ({ apiVersion: kind === "Service" ? "v1" : "gateway.networking.k8s.io/v1", kind, namespace: "default", name })),
        };
        const appliedB = { namespace: "default", serviceName: "b-service", virtualServiceName: "b-virtual-service", destinationRuleName: "b-destination", deploymentNames: { v1: "b-v1" }, split: { v1: 100 } };
        const models = modelsOf({ "model-canary:models": JSON.stringify({ a: { router: "gateway-api", stable }, b: { app: "b", serviceName: "a-service-v2", stable } }) });
        assert.deepStrictEqual(removedModelCollisions(models, { models: { a: appliedA, b: appliedB } }), [
            "model `a` drops version `v2`, which deletes its Service `default/a-service-v2`, but model `b` makes it too (`models.b.serviceName`): "
            + "the update would apply it over the old one and then delete it. Nothing was applied: do it in two updates, first without version `v2` of model `a`, then set `models.b.serviceName`",
        ]);
        // Promoting v2 (v1 dropped) with `b`'s own names: nothing in common.
        const promoted = modelsOf({ "model-canary:models": JSON.stringify({ a: { router: "gateway-api", stable: canary }, b: { app: "b", stable } }) });
        assert.deepStrictEqual(removedModelCollisions(promoted, { models: { a: appliedA, b: appliedB } }), []);
    });
});

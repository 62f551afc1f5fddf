// `trafficPolicy` (connection-pool limits and outlier detection) with both routers: the argument
// checks in every form the config takes, the Istio router's DestinationRule (unchanged without
// the key), the Gateway API router's DestinationRule per version Service (none without the key),
// both against Istio's CRD schemas, names that a weight step or a promotion keeps, and router
// switches that name the DestinationRules they create and delete. The API server's own check of
// these objects is in gateway-api-cluster.test.ts.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import {
    destinationRuleSpec, ModelCanary, ModelCanaryArgs, routers, validateModelCanaryArgs, versionDestinationRules,
} from "../components";
import { istioDurationMs } from "../components/traffic-policy";
import { parseStackConfig } from "../stacks/config/config";
import { modelCollisions } from "../stacks/config/models";
import { describeRouterSwitch, routerSwitches } from "../stacks/config/router-switch";
import { destinationRuleMissingMessage } from "../stacks/cluster-client/preflight";
import { routingTargets } from "../stacks/operations/automation";
import { drain, installMocks, Registered, settle } from "./support/mocks";
import { refusalProblems } from "./support/refusal";
import { istioValidator, Validate } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };

/** Every field, as a platform engineer writes it. */
const policy = {
    connectionPool: {
        tcp: { maxConnections: 100, connectTimeout: "500ms" },
        http: { http1MaxPendingRequests: 64, http2MaxRequests: 1000, maxRequestsPerConnection: 10, maxRetries: 3, idleTimeout: "1m30s" },
    },
    outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 3, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50, minHealthPercent: 0 },
};

/** Istio's DestinationRule CRD schemas, compiled once for the file. */
let compiled: Validate | undefined;
const validate: Validate = (object) => (compiled ??= istioValidator(["DestinationRule"]))(object);

const problems = (trafficPolicy: unknown, extra: Record<string, unknown> = {}) =>
    refusalProblems(() => validateModelCanaryArgs({ stable, canary, trafficPolicy, ...extra }), "expected a refusal");
const config = (all: Record<string, unknown>) => parseStackConfig(Object.fromEntries(Object.entries(all).map(([k, v]) => [`model-canary:${k}`, typeof v === "string" ? v : JSON.stringify(v)])), "dev");
const configProblems = (all: Record<string, unknown>) => refusalProblems(() => config(all), "expected the config to be refused");

describe("trafficPolicy: the arguments", () => {
    it("takes every field in each form the config comes in: code, a stack config value (JSON), text numbers as `config set --path` writes them, a `models` entry, `defaults`", () => {
        const expected = policy;
        assert.deepStrictEqual(validateModelCanaryArgs({ stable, trafficPolicy: policy }).trafficPolicy, expected);
        assert.deepStrictEqual(config({ stable, trafficPolicy: JSON.stringify(policy) }).models.model.resolved.trafficPolicy, expected);
        const asText = JSON.parse(JSON.stringify(policy, (_, v) => (typeof v === "number" ? String(v) : v)));
        assert.strictEqual(asText.connectionPool.tcp.maxConnections, "100");
        assert.deepStrictEqual(config({ stable, trafficPolicy: asText }).models.model.resolved.trafficPolicy, expected);
        assert.deepStrictEqual(config({ models: { fraud: { stable, trafficPolicy: policy } } }).models.fraud.resolved.trafficPolicy, expected);
        // `defaults` merge key by key: the model's own field beside the shared ones.
        const merged = config({ models: { fraud: { stable, trafficPolicy: { outlierDetection: { maxEjectionPercent: 100 } } }, ranker: { stable } }, defaults: { trafficPolicy: policy } });
        assert.deepStrictEqual(merged.models.fraud.resolved.trafficPolicy?.outlierDetection, { ...policy.outlierDetection, maxEjectionPercent: 100 });
        assert.deepStrictEqual(merged.models.ranker.resolved.trafficPolicy, expected);
        // Only what is given; none at all without the key.
        assert.deepStrictEqual(validateModelCanaryArgs({ stable, trafficPolicy: { outlierDetection: { consecutive5xxErrors: "0" } } }).trafficPolicy, { outlierDetection: { consecutive5xxErrors: 0 } });
        assert.strictEqual("trafficPolicy" in validateModelCanaryArgs({ stable }), false);
    });

    it("refuses unknown keys, empty objects, wrong types and values out of Istio's range, each naming the key, the value as written and what is accepted", () => {
        const duration = "an Istio duration from 1ms to 2562047h: numbers with units h, m, s or ms such as 10s, 500ms or 1m30s, in whole milliseconds";
        assert.deepStrictEqual(problems("100"), ["`trafficPolicy` must be an object with any of `connectionPool`, `outlierDetection`, got \"100\""]);
        assert.deepStrictEqual(problems({}), ["`trafficPolicy` must set at least one of `connectionPool`, `outlierDetection`, got {}"]);
        assert.deepStrictEqual(problems({ connectionPool: {} }), ["`trafficPolicy.connectionPool` must set at least one of `tcp`, `http` (Istio refuses an empty connection pool), got {}"]);
        assert.deepStrictEqual(problems({ connectionPool: { tcp: {} } }), ["`trafficPolicy.connectionPool.tcp` must set at least one of `maxConnections`, `connectTimeout`, got {}"]);
        assert.deepStrictEqual(problems({ loadBalancer: { simple: "ROUND_ROBIN" } }), [
            "unknown key `trafficPolicy.loadBalancer`; accepted keys are `connectionPool`, `outlierDetection`",
        ]);
        assert.deepStrictEqual(problems({ connectionPool: { tcp: { connectTimout: "1s" } } }), [
            "unknown key `trafficPolicy.connectionPool.tcp.connectTimout` (did you mean `connectTimeout`?); accepted keys are `maxConnections`, `connectTimeout`",
        ]);
        assert.deepStrictEqual(problems({ outlierDetection: { consecutiveErrors: 5 } }), [
            "unknown key `trafficPolicy.outlierDetection.consecutiveErrors` (did you mean `consecutive5xxErrors`?); accepted keys are `consecutive5xxErrors`, `consecutiveGatewayErrors`, `interval`, `baseEjectionTime`, `maxEjectionPercent`, `minHealthPercent`",
        ]);
        assert.deepStrictEqual(problems({ connectionPool: { tcp: { maxConnections: 0 }, http: { http2MaxRequests: 2147483648, maxRetries: -1, maxRequestsPerConnection: 1.5, idleTimeout: 30 } } }), [
            "`trafficPolicy.connectionPool.tcp.maxConnections` must be an integer from 1 to 2147483647, got 0: Istio reads 0 as unset, which is no limit; remove the key for Istio's default",
            "`trafficPolicy.connectionPool.http.http2MaxRequests` must be an integer from 1 to 2147483647, got 2147483648",
            "`trafficPolicy.connectionPool.http.maxRequestsPerConnection` must be an integer from 1 to 2147483647, got 1.5",
            "`trafficPolicy.connectionPool.http.maxRetries` must be an integer from 1 to 2147483647, got -1",
            `\`trafficPolicy.connectionPool.http.idleTimeout\` must be ${duration}, got 30`,
        ]);
        assert.deepStrictEqual(problems({ outlierDetection: { consecutive5xxErrors: 4294967296, consecutiveGatewayErrors: "five", interval: "0.5ms", baseEjectionTime: "30", maxEjectionPercent: 101, minHealthPercent: "-1" } }), [
            "`trafficPolicy.outlierDetection.consecutive5xxErrors` must be an integer from 0 to 4294967295, got 4294967296",
            "`trafficPolicy.outlierDetection.consecutiveGatewayErrors` must be an integer from 0 to 4294967295, got \"five\"",
            `\`trafficPolicy.outlierDetection.interval\` must be ${duration}, got "0.5ms"`,
            `\`trafficPolicy.outlierDetection.baseEjectionTime\` must be ${duration}, got "30"`,
            "`trafficPolicy.outlierDetection.maxEjectionPercent` must be an integer from 0 to 100, got 101",
            "`trafficPolicy.outlierDetection.minHealthPercent` must be an integer from 0 to 100, got \"-1\"",
        ]);
    });

    it("is refused when the stack config is read, before anything is applied, at the model's own key or at `defaults`", () => {
        assert.deepStrictEqual(configProblems({ stable, trafficPolicy: JSON.stringify({ outlierDetection: { maxEjectionPercent: 150 } }) }), [
            "`trafficPolicy.outlierDetection.maxEjectionPercent` must be an integer from 0 to 100, got 150",
        ]);
        assert.deepStrictEqual(configProblems({ models: { fraud: { stable, trafficPolicy: { connectionPool: { http: { idleTimeout: "5 minutes" } } } } } }), [
            "`models.fraud.trafficPolicy.connectionPool.http.idleTimeout` must be an Istio duration from 1ms to 2562047h: numbers with units h, m, s or ms such as 10s, 500ms or 1m30s, in whole milliseconds, got \"5 minutes\"",
        ]);
        assert.deepStrictEqual(configProblems({ models: { fraud: { stable } }, defaults: { trafficPolicy: { outlierDetection: { interval: "1d" } } } }), [
            "`defaults.trafficPolicy.outlierDetection.interval` must be an Istio duration from 1ms to 2562047h: numbers with units h, m, s or ms such as 10s, 500ms or 1m30s, in whole milliseconds, got \"1d\"",
        ]);
        assert.match(configProblems({ stable, trafficPolicy: "{connectionPool: " })[0], /^`trafficPolicy` must be valid structured config, got "\{connectionPool: "/);
        // JSON.parse reads 1e400 as Infinity: the message shows the number as written, once, and not "got Infinity".
        assert.deepStrictEqual(configProblems({ stable, trafficPolicy: '{"outlierDetection": {"maxEjectionPercent": 1e400, "interval": "1e999s", "consecutive5xxErrors": -2E+308}}' }), [
            "`trafficPolicy` holds 1e400, -2E+308, beyond the largest number config can carry (about 1.8e308): write a number within the range the key accepts",
        ]);
    });

    it("reads durations as Istio does (Go durations, whole milliseconds, at least 1ms)", () => {
        const ms = (text: string) => istioDurationMs(text);
        assert.deepStrictEqual(["1ms", "500ms", "10s", "1.5s", "0.001s", "1m30s", "1h0m0s", "2562047h"].map(ms), [1, 500, 10_000, 1500, 1, 90_000, 3_600_000, 2562047 * 3_600_000]);
        for (const refused of ["0.5ms", "1us", "1µs", "1ns", "10", "-1s", "+1s", "1d", " 1s", "1S", "1.0001s", "s", ""]) assert.strictEqual(ms(refused), undefined, refused);
        assert.strictEqual(ms("0s"), 0, "zero is read, and refused by the range check");
        assert.match(problems({ outlierDetection: { interval: "0s" } })[0], /got "0s"$/);
        assert.match(problems({ outlierDetection: { interval: "2562047h1ms" } })[0], /got "2562047h1ms"$/);
    });
});

describe("trafficPolicy: the Istio router's DestinationRule", () => {
    it("carries the policy beside its subsets, which inherit it, and validates against Istio's CRD schema at v1, v1beta1 and v1alpha3", () => {
        for (const istioApiVersion of ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]) {
            const spec = destinationRuleSpec(validateModelCanaryArgs({ stable, canary, istioApiVersion, trafficPolicy: policy }));
            assert.deepStrictEqual(spec, { host: "model-service", trafficPolicy: policy, subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] });
            assert.deepStrictEqual(validate({ apiVersion: istioApiVersion, kind: "DestinationRule", spec }), [], istioApiVersion);
        }
    });
});

describe("trafficPolicy: the Gateway API router's DestinationRules", () => {
    const gatewayApi = (extra: Record<string, unknown> = {}) => validateModelCanaryArgs({ router: "gateway-api", stable, canary, canaryWeight: 10, ...extra });

    it("none without it; with it, one per version Service, named and hosted like it, no subsets, valid against Istio's CRD schema", () => {
        assert.deepStrictEqual(versionDestinationRules(gatewayApi()), []);
        assert.deepStrictEqual(routers["gateway-api"].objectNames(gatewayApi()).map((o) => `${o.kind} ${o.name}`), ["Service model-service-v1", "Service model-service-v2", "HTTPRoute model-service"]);
        const rules = versionDestinationRules(gatewayApi({ trafficPolicy: policy }));
        assert.deepStrictEqual(rules, [
            { version: "v1", name: "model-service-v1", spec: { host: "model-service-v1", trafficPolicy: policy } },
            { version: "v2", name: "model-service-v2", spec: { host: "model-service-v2", trafficPolicy: policy } },
        ]);
        assert.deepStrictEqual(routers["gateway-api"].objectNames(gatewayApi({ trafficPolicy: policy })).map((o) => `${o.apiVersion} ${o.kind} ${o.name}`), [
            "v1 Service model-service-v1", "v1 Service model-service-v2",
            "networking.istio.io/v1 DestinationRule model-service-v1", "networking.istio.io/v1 DestinationRule model-service-v2",
            "gateway.networking.k8s.io/v1 HTTPRoute model-service",
        ]);
        for (const rule of rules) assert.deepStrictEqual(validate({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", spec: rule.spec }), []);
    });

    it("a rollback that a conflict stopped reapplies them with the route (`routingTargets`)", () => {
        assert.deepStrictEqual(routingTargets("fraud", gatewayApi({ trafficPolicy: policy })).slice(-2), ["urn:pulumi:**DestinationRule::fraud-v1-dr", "urn:pulumi:**DestinationRule::fraud-v2-dr"]);
        assert.strictEqual(routingTargets("fraud", gatewayApi()).some((t) => t.includes("DestinationRule")), false);
    });

    it("on a cluster that does not serve DestinationRule at networking.istio.io/v1, `up` is refused before anything is applied, naming the keys asking for it", () => {
        assert.strictEqual(destinationRuleMissingMessage("https://127.0.0.1:6443 (context local)", ["models.fraud.trafficPolicy", "models.ranker.trafficPolicy"]),
            "the cluster https://127.0.0.1:6443 (context local) does not serve DestinationRule at networking.istio.io/v1, which `models.fraud.trafficPolicy`, `models.ranker.trafficPolicy` with `router: gateway-api` need "
            + "(a DestinationRule per version Service); nothing was applied. Install Istio 1.22 or later (its CRDs: `istioctl install`, or the `base` Helm chart), or remove `trafficPolicy`.");
    });

    it("a model whose version DestinationRule has another Istio-routed model's DestinationRule name collides, naming both keys", () => {
        const a = { name: "fraud", path: ["models", "fraud"], resolved: gatewayApi({ app: "fraud", serviceName: "fraud-service", trafficPolicy: policy }) };
        const b = { name: "ranker", path: ["models", "ranker"], resolved: validateModelCanaryArgs({ app: "ranker", stable, destinationRuleName: "fraud-service-v2" }) };
        assert.deepStrictEqual(modelCollisions([a, b]), [
            "models `fraud` and `ranker` collide: both would use the DestinationRule \"default/fraud-service-v2\" (`models.fraud.canary.version` and `models.ranker.destinationRuleName`); give one of them another value",
        ]);
    });
});

describe("trafficPolicy: switching routers", () => {
    const outputsOf = (r: ReturnType<typeof validateModelCanaryArgs>) => ({
        models: { fraud: { split: { v1: 90, v2: 10 }, ...(r.router === "istio" ? { destinationRuleName: r.destinationRuleName, virtualServiceName: r.virtualServiceName } : { router: r.router, routingObjects: routers[r.router].objectNames(r) }) } },
    });
    const model = (router: string) => ({ name: "fraud", resolved: validateModelCanaryArgs({ router, stable, canary, canaryWeight: 10, trafficPolicy: policy }) });

    it("`istio` -> `gateway-api` creates the version Services, their DestinationRules and the route before it deletes the DestinationRule and VirtualService, and back", () => {
        const [there] = routerSwitches([model("gateway-api")], outputsOf(model("istio").resolved));
        assert.strictEqual(describeRouterSwitch(there), "model `fraud` switches router from `istio` to `gateway-api`: this update creates the Service `default/model-service-v1`, the Service `default/model-service-v2`, "
            + "the DestinationRule `default/model-service-v1`, the DestinationRule `default/model-service-v2` and the HTTPRoute `default/model-service` first, "
            + "and deletes the DestinationRule `default/model-destination` and the VirtualService `default/model-virtual-service` only after they exist, so the host always has a route (while both exist, Istio follows the HTTPRoute)");
        const [back] = routerSwitches([model("istio")], outputsOf(model("gateway-api").resolved));
        assert.deepStrictEqual(back.created.map((o) => `${o.kind} ${o.name}`), ["DestinationRule model-destination", "VirtualService model-virtual-service"]);
        assert.deepStrictEqual(back.removed.map((o) => `${o.kind} ${o.name}`), [
            "Service model-service-v1", "Service model-service-v2", "DestinationRule model-service-v1", "DestinationRule model-service-v2", "HTTPRoute model-service",
        ]);
    });
});

describe("trafficPolicy: the component (mocked engine)", () => {
    before(installMocks);

    /** The children one component registers, by logical name. */
    async function build(name: string, args: ModelCanaryArgs): Promise<Map<string, Registered>> {
        drain();
        const model = new ModelCanary(name, args);
        await settle(pulumi.all([model.urn, ...Object.values(model.routingObjects).map((r) => r.urn), model.service.urn, ...Object.values(model.deployments).map((d) => d.urn)]));
        return new Map(drain().filter((r) => r.name.startsWith(name)).map((r) => [r.name, r]));
    }

    it("without it, the Istio router's DestinationRule is the one it always was (taking a hand edit back since issue 20: patchForce), and the Gateway API router makes none", async () => {
        const istio = await build("plain", { stable, canary, canaryWeight: 10 });
        const { type, inputs } = istio.get("plain-dr")!;
        assert.strictEqual(`${type} ${JSON.stringify(inputs)}`, "kubernetes:networking.istio.io/v1:DestinationRule "
            + '{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"annotations":{"pulumi.com/patchForce":"true"},"labels":{"app":"model"},"name":"model-destination","namespace":"default"},'
            + '"spec":{"host":"model-service","subsets":[{"labels":{"version":"v1"},"name":"v1"},{"labels":{"version":"v2"},"name":"v2"}]}}');
        const gatewayApi = await build("plain-gw", { router: "gateway-api", stable, canary, canaryWeight: 10 });
        assert.deepStrictEqual([...gatewayApi.values()].map((r) => `${r.type.split(":").at(-1)} ${r.name}`).sort(), [
            "Deployment plain-gw-v1", "Deployment plain-gw-v2", "HTTPRoute plain-gw-route", "ModelCanary plain-gw", "Service plain-gw-svc", "Service plain-gw-v1-svc", "Service plain-gw-v2-svc",
        ]);
    });

    for (const router of ["istio", "gateway-api"] as const) {
        it(`with \`router: ${router}\`, weights 0, 1, 10, 50 and 100 change only the route; the DestinationRules keep their names and inputs`, async () => {
            const builds: Map<string, Registered>[] = [];
            for (const canaryWeight of [0, 1, 10, 50, 100]) builds.push(await build("tp", { router, stable, canary, canaryWeight, trafficPolicy: policy }));
            const names = [...builds[0].keys()].sort();
            const route = router === "istio" ? "tp-vs" : "tp-route";
            assert.deepStrictEqual(names.filter((n) => n.endsWith("-dr")), router === "istio" ? ["tp-dr"] : ["tp-v1-dr", "tp-v2-dr"]);
            for (const children of builds) assert.deepStrictEqual([...children.keys()].sort(), names);
            for (const name of names.filter((n) => n !== route)) {
                for (const children of builds) assert.deepStrictEqual(children.get(name)!.inputs, builds[0].get(name)!.inputs, `${name} changed`);
            }
            assert.notDeepStrictEqual(builds[1].get(route)!.inputs, builds[2].get(route)!.inputs);
            if (router === "gateway-api") {
                assert.deepStrictEqual(builds[0].get("tp-v2-dr")!.inputs, {
                    apiVersion: "networking.istio.io/v1", kind: "DestinationRule",
                    metadata: { name: "model-service-v2", namespace: "default", labels: { app: "model", version: "v2" }, annotations: { "pulumi.com/patchForce": "true" } },
                    spec: { host: "model-service-v2", trafficPolicy: policy },
                });
                // Promotion keeps the promoted version's DestinationRule as it was, and drops the old stable's.
                const promoted = await build("tp", { router, stable: canary, trafficPolicy: policy });
                assert.deepStrictEqual([...promoted.keys()].filter((n) => n.endsWith("-dr")), ["tp-v2-dr"]);
                assert.deepStrictEqual(promoted.get("tp-v2-dr")!.inputs, builds[4].get("tp-v2-dr")!.inputs);
            }
        });
    }
});

// The Gateway API router's pure parts: the HTTPRoute spec built from validated arguments, the
// version Services' names, and the arguments refused with `router: gateway-api`.
import * as assert from "assert";
import { RE2JS } from "re2js";
import { headerMatch, httpRouteSpec, mirrorShare, routers, show, validateModelCanaryArgs, versionServiceName } from "../components";
import { parseStackConfig } from "../stacks/config/config";
import { describeRouterSwitch, routerSwitches } from "../stacks/config/router-switch";
import { httpRouteDifferences } from "../stacks/cluster-client/live-httproute";
import { refusalProblems } from "./support/refusal";
import { gatewayApiValidator } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };

function at(canaryWeight: number, extra: Record<string, unknown> = {}) {
    return validateModelCanaryArgs({ router: "gateway-api", stable, canary, canaryWeight, ...extra });
}

const backend = (version: string, weight?: number) => ({ name: `model-service-${version}`, port: 80, ...(weight === undefined ? {} : { weight }) });

describe("the Gateway API router's HTTPRoute", () => {
    it("is attached to the model's Service at its port (mesh routing: group \"\", kind Service)", () => {
        assert.deepStrictEqual(httpRouteSpec(at(10, { servicePort: 8000 })).parentRefs, [{ group: "", kind: "Service", name: "model-service", port: 8000 }]);
    });

    it("with `gateways` and `hostnames`, is also attached to each Gateway (north-south), in the route's namespace unless one is named, with those hostnames", () => {
        const spec = httpRouteSpec(at(10, { namespace: "ml", gateways: ["public", "infra/edge"], hostnames: ["fraud.example.com", "*.fraud.example.com"] }));
        assert.deepStrictEqual(spec.parentRefs, [
            { group: "", kind: "Service", name: "model-service", port: 80 },
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: "public" },
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: "edge", namespace: "infra" },
        ]);
        assert.deepStrictEqual(spec.hostnames, ["fraud.example.com", "*.fraud.example.com"]);
        // The same rules serve the mesh and the Gateways.
        assert.deepStrictEqual(spec.rules, httpRouteSpec(at(10, { namespace: "ml" })).rules);
        assert.deepStrictEqual(gatewayApiValidator()({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "model-service", namespace: "ml" }, spec }), []);
        assert.strictEqual("hostnames" in httpRouteSpec(at(10, { gateways: ["public"] })), false, "no hostnames: every one the Gateway accepts");
    });

    it("`status` sees a Gateway parent or hostname removed from the live route as drift, and the API server's defaults as none", () => {
        const expected = httpRouteSpec(at(10, { gateways: ["infra/edge"], hostnames: ["fraud.example.com"] }));
        const live = structuredClone(expected) as any;
        live.rules.at(-1).matches = [{ path: { type: "PathPrefix", value: "/" } }];
        assert.deepStrictEqual(httpRouteDifferences(live, expected, "model-service"), []);
        assert.deepStrictEqual(httpRouteDifferences({ ...live, parentRefs: live.parentRefs.slice(0, 1) }, expected, "model-service"), ["parentRefs or hostnames differ"]);
        assert.deepStrictEqual(httpRouteDifferences({ ...live, hostnames: ["other.example.com"] }, expected, "model-service"), ["parentRefs or hostnames differ"]);
    });

    describe("default rule at each step of the seed rollout", () => {
        const expected: [number, ReturnType<typeof backend>[]][] = [
            [0, [backend("v1", 100)]],
            [1, [backend("v1", 99), backend("v2", 1)]],
            [10, [backend("v1", 90), backend("v2", 10)]],
            [50, [backend("v1", 50), backend("v2", 50)]],
            [100, [backend("v2", 100)]],
        ];
        for (const [weight, backendRefs] of expected) {
            it(`at canaryWeight ${weight} sends ${backendRefs.map((b) => `${b.name}=${b.weight}`).join(", ")}`, () => {
                assert.deepStrictEqual(httpRouteSpec(at(weight)).rules, [{ name: "default", backendRefs }]);
            });
        }
    });

    it("never has a rule whose weights are all 0, and the default rule's weights total 100 at every weight", () => {
        for (let w = 0; w <= 100; w++) {
            const rules = httpRouteSpec(at(w, { headerRoutes: [testers] })).rules;
            for (const rule of rules) assert.ok(rule.backendRefs.some((b) => (b.weight ?? 1) > 0), `rule ${rule.name} at ${w}`);
            const defaultRule = rules.at(-1)!;
            assert.strictEqual(defaultRule.backendRefs.reduce((sum, b) => sum + b.weight!, 0), 100, `weight ${w}`);
            assert.ok(defaultRule.backendRefs.every((b) => b.weight! > 0), `no zero-weight backend at ${w}`);
        }
    });

    it("puts header routes first, in the order given, each to its version's Service, then the default rule", () => {
        const spec = httpRouteSpec(at(10, {
            headerRoutes: [testers, { header: "x-group", prefix: "beta.", version: "v1" }, { header: "x-user", regex: "^(qa|dev)-[0-9]+$", version: "v2" }],
        }));
        assert.deepStrictEqual(spec.rules, [
            { name: "header-0-v2", matches: [{ headers: [{ type: "Exact", name: "x-canary-version", value: "v2" }] }], backendRefs: [backend("v2")] },
            { name: "header-1-v1", matches: [{ headers: [{ type: "RegularExpression", name: "x-group", value: "^beta\\..*" }] }], backendRefs: [backend("v1")] },
            { name: "header-2-v2", matches: [{ headers: [{ type: "RegularExpression", name: "x-user", value: "^(qa|dev)-[0-9]+$" }] }], backendRefs: [backend("v2")] },
            { name: "default", backendRefs: [backend("v1", 90), backend("v2", 10)] },
        ]);
    });

    it("turns a prefix into an anchored RE2 expression that matches the prefix literally and nothing else", () => {
        const prefix = "a.b+c*(d)[e]{f}|g?^$\\";
        const { type, value } = headerMatch({ header: "x-h", prefix, version: "v2" });
        assert.strictEqual(type, "RegularExpression");
        const re = RE2JS.compile(value);
        // Gateway API's RegularExpression is a full match in Istio (Envoy's safe_regex): the `.*` takes the rest.
        assert.ok(re.matches(prefix), "the prefix itself");
        assert.ok(re.matches(`${prefix}-anything`), "the prefix and more");
        assert.ok(!re.matches(`x${prefix}`), "not the prefix later in the value");
        assert.ok(!re.matches("aXb+c"), "a dot in the prefix is a dot");
    });

    it("mirrors the shadow stage on the default rule: a whole percent as `percent`, a fraction as parts per million", () => {
        assert.deepStrictEqual(httpRouteSpec(at(0, { mirrorPercent: 100 })).rules, [{
            name: "default",
            backendRefs: [backend("v1", 100)],
            filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "model-service-v2", port: 80 }, percent: 100 } }],
        }]);
        assert.deepStrictEqual(mirrorShare(12.5), { fraction: { numerator: 125_000, denominator: 1_000_000 } });
        assert.deepStrictEqual(mirrorShare(0.0001), { fraction: { numerator: 1, denominator: 1_000_000 } });
        assert.deepStrictEqual(httpRouteSpec(at(0, { mirrorPercent: 12.5, headerRoutes: [testers] })).rules[0].filters, undefined, "header routes are not mirrored");
    });

    it("names version Services `<serviceName>-<version>`, from nothing that a step changes", () => {
        assert.strictEqual(versionServiceName("fraud-api", "v2"), "fraud-api-v2");
        const names = (w: number) => routers["gateway-api"].objectNames(at(w, { serviceName: "fraud-api", namespace: "ml" }));
        assert.deepStrictEqual(names(10), [
            { apiVersion: "v1", kind: "Service", namespace: "ml", name: "fraud-api-v1" },
            { apiVersion: "v1", kind: "Service", namespace: "ml", name: "fraud-api-v2" },
            { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "ml", name: "fraud-api" },
        ]);
        assert.deepStrictEqual(names(50), names(10));
        assert.deepStrictEqual(routers.istio.objectNames(validateModelCanaryArgs({ stable })), [
            { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", namespace: "default", name: "model-destination" },
            { apiVersion: "networking.istio.io/v1", kind: "VirtualService", namespace: "default", name: "model-virtual-service" },
        ]);
    });
});

describe("`router` in the arguments", () => {
    const problemsOf = (input: unknown) => refusalProblems(() => validateModelCanaryArgs(input), "expected the arguments to be refused");

    it("defaults to `istio`, so existing stacks keep their VirtualService", () => {
        assert.strictEqual(validateModelCanaryArgs({ stable }).router, "istio");
        assert.strictEqual(validateModelCanaryArgs({ stable, router: "gateway-api" }).router, "gateway-api");
    });

    it("refuses an unknown router, naming the value and the accepted ones", () => {
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway" }), ["`router` must be one of `istio`, `gateway-api`, got \"gateway\""]);
    });

    it("refuses the Istio router's keys with `gateway-api` instead of ignoring them, saying what to use instead", () => {
        const problems = problemsOf({ stable, router: "gateway-api", hosts: ["fraud.example.com"], virtualServiceName: "vs" });
        assert.deepStrictEqual(problems, [
            "`hosts` is for `router: istio` (it configures the VirtualService and DestinationRule), got [\"fraud.example.com\"] with `router: gateway-api`, which routes with an HTTPRoute attached to the model's Service "
            + "(for north-south traffic use `gateways` and `hostnames`; mesh clients call the model's Service by its name): remove it, or use `router: istio`",
            "`virtualServiceName` is for `router: istio` (it configures the VirtualService and DestinationRule), got \"vs\" with `router: gateway-api`, which routes with an HTTPRoute attached to the model's Service: remove it, or use `router: istio`",
        ]);
    });

    it("refuses `hostnames` with `router: istio`, naming `hosts` instead", () => {
        const expected = ["`hostnames` is for `router: gateway-api` (the HTTPRoute's hostnames on its Gateways), got [\"fraud.example.com\"] with `router: istio`: use `hosts` (the VirtualService's hosts) with `gateways`, or set `router: gateway-api`"];
        assert.deepStrictEqual(problemsOf({ stable, hostnames: ["fraud.example.com"] }), expected);
        assert.deepStrictEqual(problemsOf({ stable, router: "istio", hostnames: ["fraud.example.com"] }), expected);
    });

    it("refuses `gateways` entries that are not `name` or `namespace/name` DNS labels, the same Gateway twice, and too many", () => {
        const what = "a Gateway: `<name>` (in the model's namespace) or `<namespace>/<name>`, each a DNS label (lowercase letters, digits and '-', at most 63 characters)";
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", namespace: "ml", gateways: ["mesh/", "a/b/c", "Public", "gw.example.com", "public", "ml/public"] }), [
            `\`gateways[0]\` must be ${what}, got "mesh/"`,
            `\`gateways[1]\` must be ${what}, got "a/b/c"`,
            `\`gateways[2]\` must be ${what}, got "Public"`,
            `\`gateways[3]\` must be ${what}, got "gw.example.com"`,
        ]);
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", namespace: "ml", gateways: ["public", "ml/public"] }), [
            "`gateways[1]` \"ml/public\" names the same Gateway as \"public\" (\"ml/public\"); list each Gateway once",
        ]);
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", gateways: Array.from({ length: 32 }, (_, i) => `gw-${i}`) }), [
            "`gateways` must have at most 31 entries with `router: gateway-api` (an HTTPRoute has at most 32 parents, one of them the model's Service), got 32",
        ]);
        assert.deepStrictEqual(validateModelCanaryArgs({ stable, router: "gateway-api", gateways: ["public", "infra/edge"] }).gateways, ["public", "infra/edge"]);
    });

    it("refuses hostnames the Gateway API does not take (wildcard only as a leading `*.`), duplicates, and hostnames without Gateways", () => {
        const what = "a Gateway API hostname: a lowercase DNS name of at most 253 characters, with a wildcard only as a leading `*.` (such as *.example.com); no IP address, port or trailing dot";
        const bad = ["*", "fraud.*.example.com", "*fraud.example.com", "Fraud.example.com", "fraud.example.com:443", "10.0.0.1", "fraud.example.com."];
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", gateways: ["public"], hostnames: bad }), bad.map((h, i) => `\`hostnames[${i}]\` must be ${what}, got ${show(h)}`));
        const long = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}`;
        assert.match(problemsOf({ stable, router: "gateway-api", gateways: ["public"], hostnames: [long] })[0], /^`hostnames\[0\]` must be a Gateway API hostname: .* got "a{63}\.b+\.\.\. \(255 characters\)$/);
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", gateways: ["public"], hostnames: ["fraud.example.com", "fraud.example.com"] }), [
            "`hostnames` must list each hostname once, got [\"fraud.example.com\",\"fraud.example.com\"]",
        ]);
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", hostnames: ["fraud.example.com"] }), [
            "`hostnames` [\"fraud.example.com\"] applies to the Gateways in `gateways`, and there are none: a route attached to the model's Service answers mesh clients whatever their Host header. Add `gateways`, or remove `hostnames`",
        ]);
        assert.deepStrictEqual(validateModelCanaryArgs({ stable, router: "gateway-api", gateways: ["public"], hostnames: ["*.example.com", "fraud.example.com"] }).hostnames, ["*.example.com", "fraud.example.com"]);
        const many = (n: number) => Array.from({ length: n }, (_, i) => `h${i}.example.com`);
        assert.strictEqual(validateModelCanaryArgs({ stable, router: "gateway-api", gateways: ["public"], hostnames: many(16) }).hostnames!.length, 16);
        assert.deepStrictEqual(problemsOf({ stable, router: "gateway-api", gateways: ["public"], hostnames: many(17) }), ["`hostnames` must have at most 16 entries, got 17"]);
    });

    it("refuses more header routes than an HTTPRoute has rules for", () => {
        const headerRoutes = Array.from({ length: 16 }, (_, i) => ({ header: "x-user", exact: `u${i}`, version: "v2" }));
        assert.deepStrictEqual(problemsOf({ stable, canary, router: "gateway-api", headerRoutes }), [
            "`headerRoutes` must have at most 15 routes with `router: gateway-api` (an HTTPRoute holds at most 16 rules, one of them the default), got 16",
        ]);
        assert.strictEqual(validateModelCanaryArgs({ stable, canary, router: "gateway-api", headerRoutes: headerRoutes.slice(0, 15) }).headerRoutes.length, 15);
    });

    it("refuses a version Service name that is not a DNS label, naming it", () => {
        const serviceName = `s${"e".repeat(59)}`;
        assert.deepStrictEqual(problemsOf({ stable, canary: { ...canary, version: "v2-long" }, router: "gateway-api", serviceName }), [
            `\`router: gateway-api\` names each version's Service \`<serviceName>-<version>\` = "${serviceName}-v2-long" (68 characters), which is not a DNS-1035 label: lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters; use a shorter \`serviceName\` or version`,
        ]);
    });
});

describe("`router: gateway-api` in the stack config", () => {
    const config = (extra: Record<string, string>) => ({
        "model-canary:stable": JSON.stringify(stable), "model-canary:router": "gateway-api", ...extra,
    });

    it("is accepted with and without a cluster", () => {
        assert.strictEqual(parseStackConfig(config({}), "dev").models.model.resolved.router, "gateway-api");
        assert.strictEqual(parseStackConfig(config({ "model-canary:kubeconfig": "/home/me/.kube/config" }), "dev").models.model.resolved.router, "gateway-api");
    });

    it("a deployed model whose `router` changes is a switch: the new router's objects are named as created first, the old ones as deleted after", () => {
        const models = parseStackConfig({ "model-canary:models": JSON.stringify({ fraud: { stable, canary: { ...stable, version: "v2" }, router: "gateway-api" }, churn: { stable } }) }, "dev").models;
        // The outputs of an `up` that applied both with the Istio router: no `router` key.
        const applied = { models: { fraud: { split: { v1: 100 }, virtualServiceName: "fraud-virtual-service", destinationRuleName: "fraud-destination" }, churn: { split: { v1: 100 } } } };
        const switches = routerSwitches(Object.values(models), applied);
        assert.deepStrictEqual(switches.map((s) => [s.model, s.from, s.to]), [["fraud", "istio", "gateway-api"]]);
        assert.strictEqual(describeRouterSwitch(switches[0]),
            "model `fraud` switches router from `istio` to `gateway-api`: this update creates the Service `default/fraud-service-v1`, the Service `default/fraud-service-v2` and the HTTPRoute `default/fraud-service` first, "
            + "and deletes the DestinationRule `default/fraud-destination` and the VirtualService `default/fraud-virtual-service` only after they exist, so the host always has a route (while both exist, Istio follows the HTTPRoute)");
        // Back again: the outputs of a gateway-api `up` name its objects.
        const back = parseStackConfig({ "model-canary:models": JSON.stringify({ fraud: { stable, virtualServiceName: "fraud-vs", destinationRuleName: "fraud-dr" } }) }, "dev").models;
        const routed = { models: { fraud: { split: { v1: 100 }, router: "gateway-api", routingObjects: [
            { apiVersion: "v1", kind: "Service", namespace: "default", name: "fraud-service-v1" },
            { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "fraud-service" },
        ] } } };
        assert.strictEqual(describeRouterSwitch(routerSwitches(Object.values(back), routed)[0]),
            "model `fraud` switches router from `gateway-api` to `istio`: this update creates the DestinationRule `default/fraud-dr` and the VirtualService `default/fraud-vs` first, "
            + "and deletes the Service `default/fraud-service-v1` and the HTTPRoute `default/fraud-service` only after they exist, so the host always has a route (while both exist, Istio follows the HTTPRoute)");
        assert.deepStrictEqual(routerSwitches(Object.values(models), { models: { fraud: { split: { v1: 100 }, router: "gateway-api" } } }), [], "same router, and a model not deployed yet");
    });

    it("finds a version Service colliding with another model's Service", () => {
        const models = {
            fraud: { stable, router: "gateway-api" },
            churn: { stable, serviceName: "fraud-service-v1" },
        };
        const problems = refusalProblems(() => parseStackConfig({ "model-canary:models": JSON.stringify(models) }, "dev"), "expected the collision to be refused");
        assert.deepStrictEqual(problems, [
            "models `fraud` and `churn` collide: both would use the Service \"default/fraud-service-v1\" (`models.fraud.stable.version` and `models.churn.serviceName`); give one of them another value",
        ]);
    });
});

describe("bad input with `router: gateway-api`, refused while the config is read (before anything is applied)", () => {
    const problemsOf = (input: unknown) => refusalProblems(() => validateModelCanaryArgs(input), "expected the arguments to be refused");
    const configProblems = (all: Record<string, string>) => refusalProblems(() => parseStackConfig(all, "dev"), "expected the config to be refused");

    it("refuses `router` written in other YAML forms (a list, a map, a number, another case), naming each as written", () => {
        const seed = { "model-canary:stable": JSON.stringify(stable) };
        for (const [raw, shown] of [['["gateway-api"]', '["gateway-api"]'], ['{"gateway-api": true}', '{"gateway-api":true}'], ["Gateway-API", '"Gateway-API"'], ["gateway_api", '"gateway_api"']] as const) {
            assert.deepStrictEqual(configProblems({ ...seed, "model-canary:router": raw }), [`\`router\` must be one of \`istio\`, \`gateway-api\`, got ${shown}`], raw);
        }
        assert.deepStrictEqual(problemsOf({ stable, router: 1 }), ["`router` must be one of `istio`, `gateway-api`, got 1"]);
    });

    it("refuses a header route regex that is not RE2, for the HTTPRoute and the GRPCRoute alike", () => {
        for (const protocol of ["http", "grpc"]) {
            assert.deepStrictEqual(problemsOf({ router: "gateway-api", protocol, stable, canary, headerRoutes: [{ header: "x-user", regex: "^(?=qa)", version: "v2" }] }), [
                "`headerRoutes[0].regex` must be an RE2 regular expression (the syntax Istio uses: no lookaround, no backreferences, no \\Z), got \"^(?=qa)\" (error parsing regexp: invalid or unsupported Perl syntax: `(?=`)",
            ], protocol);
        }
    });

    it("refuses two models whose routes would attach to the same Service, whichever router the other one uses", () => {
        for (const other of ["gateway-api", "istio"]) {
            const models = { fraud: { stable, router: "gateway-api", serviceName: "scoring" }, churn: { stable, router: other, serviceName: "scoring" } };
            assert.deepStrictEqual(configProblems({ "model-canary:models": JSON.stringify(models) })[0],
                "models `fraud` and `churn` collide: both would use the Service \"default/scoring\" (`models.fraud.serviceName` and `models.churn.serviceName`); give one of them another value", other);
        }
        // In different namespaces they are different Services.
        const apart = { fraud: { stable, router: "gateway-api", serviceName: "scoring", namespace: "a" }, churn: { stable, router: "gateway-api", serviceName: "scoring", namespace: "b" } };
        assert.deepStrictEqual(Object.keys(parseStackConfig({ "model-canary:models": JSON.stringify(apart) }, "dev").models), ["fraud", "churn"]);
    });
});

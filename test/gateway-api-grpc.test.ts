// `protocol: grpc`, pure: the Gateway API router's GRPCRoute (same rules as the HTTPRoute, checked
// against the GRPCRoute schema of Gateway API v1.6.3's standard CRD), the Services' appProtocol
// with either router, the argument checks, and the live side's read-back of a GRPCRoute.
import * as assert from "assert";
import { gatewayApiRouteKind, httpRouteSpec, routers, validateModelCanaryArgs } from "../components";
import { parseStackConfig } from "../stacks/config/config";
import { httpRouteDifferences, httpRouteTrafficOffStable } from "../stacks/cluster-client/live-httproute";
import { liveRouteObject } from "../stacks/cluster-client/live";
import { objectsOfModel } from "../stacks/cluster-client/ownership";
import { gatewayApiMissingMessage } from "../stacks/cluster-client/preflight";
import { routingTargets } from "../stacks/operations/automation";
import { refusalProblems } from "./support/refusal";
import { gatewayApiValidator, Validate } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1" };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2" };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const grpc = (extra: Record<string, unknown> = {}) => validateModelCanaryArgs({ router: "gateway-api", protocol: "grpc", stable, canary, ...extra });
const backend = (version: string, weight?: number) => ({ name: `model-service-${version}`, port: 80, ...(weight === undefined ? {} : { weight }) });
const grpcRoute = (spec: unknown) => ({ apiVersion: "gateway.networking.k8s.io/v1", kind: "GRPCRoute", spec });

describe("`protocol: grpc` with `router: gateway-api`: the GRPCRoute", () => {
    let validate: Validate;
    before(() => {
        validate = gatewayApiValidator();
    });

    it("is the route's kind, named like the model's Service; the default `http` keeps the HTTPRoute", () => {
        assert.strictEqual(gatewayApiRouteKind(grpc()), "GRPCRoute");
        assert.strictEqual(gatewayApiRouteKind(validateModelCanaryArgs({ router: "gateway-api", stable })), "HTTPRoute");
        assert.strictEqual(validateModelCanaryArgs({ stable }).protocol, "http");
        assert.deepStrictEqual(routers["gateway-api"].objectNames(grpc({ namespace: "ml" })).at(-1), { apiVersion: "gateway.networking.k8s.io/v1", kind: "GRPCRoute", namespace: "ml", name: "model-service" });
    });

    it("has the header routes first (Exact; a prefix as an anchored RE2 regex), then the weighted default rule, and validates against the GRPCRoute CRD schema", () => {
        const spec = httpRouteSpec(grpc({ canaryWeight: 10, headerRoutes: [testers, { header: "x-group", prefix: "beta.", version: "v1" }, { header: "x-user", regex: "(qa|dev)-[0-9]+", version: "v2" }] }));
        assert.deepStrictEqual(spec, {
            parentRefs: [{ group: "", kind: "Service", name: "model-service", port: 80 }],
            rules: [
                { name: "header-0-v2", matches: [{ headers: [{ type: "Exact", name: "x-canary-version", value: "v2" }] }], backendRefs: [backend("v2")] },
                { name: "header-1-v1", matches: [{ headers: [{ type: "RegularExpression", name: "x-group", value: "^beta\\..*" }] }], backendRefs: [backend("v1")] },
                { name: "header-2-v2", matches: [{ headers: [{ type: "RegularExpression", name: "x-user", value: "(qa|dev)-[0-9]+" }] }], backendRefs: [backend("v2")] },
                { name: "default", backendRefs: [backend("v1", 90), backend("v2", 10)] },
            ],
        });
        assert.deepStrictEqual(validate(grpcRoute(spec)), []);
        // The validator knows the GRPCRoute from the HTTPRoute: a path match is an HTTPRoute's only.
        const withPath = structuredClone(spec) as any;
        withPath.rules[0].matches[0].path = { type: "PathPrefix", value: "/" };
        assert.strictEqual(validate(grpcRoute(withPath)).length, 1);
        assert.deepStrictEqual(validate({ ...grpcRoute(withPath), kind: "HTTPRoute" }), []);
    });

    it("never has a rule whose weights are all 0: at 0 and 100 the default rule names one Service", () => {
        assert.deepStrictEqual(httpRouteSpec(grpc({ canaryWeight: 0 })).rules, [{ name: "default", backendRefs: [backend("v1", 100)] }]);
        assert.deepStrictEqual(httpRouteSpec(grpc({ canaryWeight: 100 })).rules, [{ name: "default", backendRefs: [backend("v2", 100)] }]);
        for (const w of [1, 10, 50, 100]) assert.deepStrictEqual(validate(grpcRoute(httpRouteSpec(grpc({ canaryWeight: w, headerRoutes: [testers] })))), [], `weight ${w}`);
    });

    it("mirrors the shadow stage with a RequestMirror filter, which GRPCRoute's standard schema has (percent or fraction)", () => {
        for (const [mirrorPercent, share] of [[100, { percent: 100 }], [12.5, { fraction: { numerator: 125_000, denominator: 1_000_000 } }]] as const) {
            const spec = httpRouteSpec(grpc({ canaryWeight: 0, mirrorPercent }));
            assert.deepStrictEqual(spec.rules.at(-1)!.filters, [{ type: "RequestMirror", requestMirror: { backendRef: { name: "model-service-v2", port: 80 }, ...share } }]);
            assert.deepStrictEqual(validate(grpcRoute(spec)), [], `mirrorPercent ${mirrorPercent}`);
        }
    });

    it("status, rollback read-back, the owner check, the preflight and a rollback's targets name the GRPCRoute", () => {
        const r = grpc({ canaryWeight: 10 });
        assert.deepStrictEqual(liveRouteObject(r), { kind: "GRPCRoute", apiVersion: "gateway.networking.k8s.io/v1", plural: "grpcroutes", name: "model-service" });
        assert.deepStrictEqual(objectsOfModel(r).at(-1), { kind: "GRPCRoute", apiVersion: "gateway.networking.k8s.io/v1", plural: "grpcroutes", namespace: "default", name: "model-service" });
        assert.deepStrictEqual(routingTargets("fraud", r)[0], "urn:pulumi:**GRPCRoute::fraud-route");
        assert.deepStrictEqual(httpRouteDifferences(undefined, httpRouteSpec(r), "model-service", "GRPCRoute"), ["the GRPCRoute does not exist in the cluster"]);
        assert.deepStrictEqual(httpRouteTrafficOffStable(undefined, "model-service", "v1", "GRPCRoute"), ["the GRPCRoute does not exist in the cluster"]);
        // A GRPCRoute as the API server returns it: the backends' group, kind and weight filled in, no path.
        const served = structuredClone(httpRouteSpec(r)) as any;
        for (const rule of served.rules) rule.backendRefs = rule.backendRefs.map((b: object) => ({ group: "", kind: "Service", weight: 1, ...b }));
        assert.deepStrictEqual(httpRouteDifferences(served, httpRouteSpec(r), "model-service", "GRPCRoute"), []);
        assert.deepStrictEqual(httpRouteTrafficOffStable(served, "model-service", "v1", "GRPCRoute"), ["the default rule sends v1 90, v2 10"]);
        assert.strictEqual(gatewayApiMissingMessage(["GRPCRoute"], "https://127.0.0.1:6443 (context local)", [["models.fraud.router", "gateway-api"], ["models.fraud.protocol", "grpc"]]).split("; nothing")[0],
            "the cluster https://127.0.0.1:6443 (context local) does not serve GRPCRoute at gateway.networking.k8s.io/v1, which `models.fraud.router` `gateway-api` and `models.fraud.protocol` `grpc` need");
    });
});

describe("`protocol` in the arguments", () => {
    const problemsOf = (input: unknown) => refusalProblems(() => validateModelCanaryArgs(input), "expected the arguments to be refused");

    it("is `http` or `grpc`, with either router; an unknown value is refused naming it and the accepted ones", () => {
        assert.strictEqual(validateModelCanaryArgs({ stable, protocol: "grpc" }).protocol, "grpc");
        assert.strictEqual(validateModelCanaryArgs({ stable, router: "gateway-api", protocol: "http" }).protocol, "http");
        assert.deepStrictEqual(problemsOf({ stable, protocol: "GRPC" }), ["`protocol` must be one of `http`, `grpc`, got \"GRPC\""]);
        assert.deepStrictEqual(problemsOf({ stable, protocol: "http2" }), ["`protocol` must be one of `http`, `grpc`, got \"http2\""]);
    });

    it("refuses header routes no gRPC request can match, naming the key, the header and what to use instead, with either router", () => {
        const headerRoutes = [
            testers,
            { header: "x-user!group", exact: "a", version: "v2" },
            { header: "grpc-timeout", prefix: "1", version: "v2" },
            { header: "x-trace-bin", exact: "AAE=", version: "v2" },
        ];
        for (const router of ["gateway-api", "istio"]) {
            assert.deepStrictEqual(problemsOf({ stable, canary, router, protocol: "grpc", headerRoutes }), [
                "`headerRoutes[1].header` \"x-user!group\" is not a gRPC metadata key (gRPC sends only lowercase letters, digits, '_', '-' and '.'), so no gRPC request would match it with `protocol: grpc`; use a text metadata key such as \"x-canary-version\", or `protocol: http`",
                "`headerRoutes[2].header` \"grpc-timeout\" is reserved for gRPC itself (names starting `grpc-`), so no gRPC request would match it with `protocol: grpc`; use a text metadata key such as \"x-canary-version\", or `protocol: http`",
                "`headerRoutes[3].header` \"x-trace-bin\" is binary metadata (`-bin`): proxyless gRPC clients drop it before matching routes, and past a proxy its value is base64, so no gRPC request would match it with `protocol: grpc`; use a text metadata key such as \"x-canary-version\", or `protocol: http`",
            ], router);
        }
        // The same routes are HTTP headers like any other with the default protocol.
        assert.strictEqual(validateModelCanaryArgs({ stable, canary, headerRoutes }).headerRoutes.length, 4);
    });

    it("is a per-model key and a default for every model in the stack config", () => {
        const models = parseStackConfig({
            "model-canary:models": JSON.stringify({ fraud: { stable }, churn: { stable, protocol: "http" } }),
            "model-canary:defaults": JSON.stringify({ router: "gateway-api", protocol: "grpc" }),
        }, "dev").models;
        assert.deepStrictEqual(Object.fromEntries(Object.entries(models).map(([n, m]) => [n, m.resolved.protocol])), { fraud: "grpc", churn: "http" });
    });
});

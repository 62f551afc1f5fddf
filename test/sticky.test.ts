// Sticky assignment (`sticky: { cookie }`) with both routers: the rules and Set-Cookie headers
// each one emits at each step, the cookie expression against real Cookie headers (RE2, as the
// proxies run it), the argument checks, both routes against their real CRD schemas, and the
// drift `status` names when someone edits the live cookie rules or the split's Set-Cookie.
import * as assert from "assert";
import { RE2JS } from "re2js";
import { httpRouteSpec, validateModelCanaryArgs, virtualServiceSpec } from "../components";
import { stickyCookieRegex } from "../components/sticky";
import { virtualServiceDifferences } from "../stacks/cluster-client/live";
import { httpRouteDifferences } from "../stacks/cluster-client/live-httproute";
import { refusalProblems } from "./support/refusal";
import { gatewayApiValidator, istioValidator } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const sticky = { cookie: "model-version" };

const args = (router: string, canaryWeight: number, extra: Record<string, unknown> = {}) =>
    validateModelCanaryArgs({ router, stable, canary, canaryWeight, sticky, headerRoutes: [testers], ...extra });
const setCookie = (version: string) => `model-version=${version}; Path=/`;

describe("sticky assignment: the Istio router's VirtualService", () => {
    it("at 10%: testers' header route, then a cookie route per version, then the split, each destination setting its cookie", () => {
        const spec = virtualServiceSpec(args("istio", 10));
        const subset = (version: string, weight: number) => ({ destination: { host: "model-service", subset: version }, weight });
        assert.deepStrictEqual(spec.http, [
            { name: "header-0-v2", match: [{ headers: { "x-canary-version": { exact: "v2" } } }], route: [subset("v2", 100)] },
            { name: "sticky-v1", match: [{ headers: { cookie: { regex: "^(.*;\\s*)?model-version=v1(;.*)?$" } } }], route: [subset("v1", 100)] },
            { name: "sticky-v2", match: [{ headers: { cookie: { regex: "^(.*;\\s*)?model-version=v2(;.*)?$" } } }], route: [subset("v2", 100)] },
            {
                name: "default", route: [
                    { ...subset("v1", 90), headers: { response: { add: { "Set-Cookie": setCookie("v1") } } } },
                    { ...subset("v2", 10), headers: { response: { add: { "Set-Cookie": setCookie("v2") } } } },
                ],
            },
        ]);
    });

    it("at 0% and 100% pins nobody and sets no cookie, so a rollback or promotion moves every client", () => {
        assert.deepStrictEqual(virtualServiceSpec(args("istio", 0)).http.map((r) => r.name), ["header-0-v2", "default"]);
        assert.deepStrictEqual(virtualServiceSpec(args("istio", 0)).http.at(-1)!.route, [{ destination: { host: "model-service", subset: "v1" }, weight: 100 }]);
        assert.deepStrictEqual(virtualServiceSpec(args("istio", 100)).http.at(-1)!.route, [{ destination: { host: "model-service", subset: "v2" }, weight: 100 }]);
        assert.deepStrictEqual(virtualServiceSpec(args("istio", 100)).http.map((r) => r.name), ["header-0-v2", "default"]);
    });

    it("validates against Istio's CRD schema at v1, v1beta1 and v1alpha3 (each has route headers and regex header matches)", () => {
        const validate = istioValidator();
        for (const istioApiVersion of ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]) {
            const spec = virtualServiceSpec(args("istio", 50, { istioApiVersion }));
            assert.deepStrictEqual(validate({ apiVersion: istioApiVersion, kind: "VirtualService", spec }), [], istioApiVersion);
        }
    });
});

describe("sticky assignment: the Gateway API router's HTTPRoute", () => {
    it("at 10%: testers' rule, then a Cookie rule per version (RegularExpression), then the split with a Set-Cookie ResponseHeaderModifier per backend", () => {
        const spec = httpRouteSpec(args("gateway-api", 10));
        const backend = (version: string) => ({ name: `model-service-${version}`, port: 80 });
        const setting = (version: string) => [{ type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "Set-Cookie", value: setCookie(version) }] } }];
        assert.deepStrictEqual(spec.rules, [
            { name: "header-0-v2", matches: [{ headers: [{ type: "Exact", name: "x-canary-version", value: "v2" }] }], backendRefs: [backend("v2")] },
            { name: "sticky-v1", matches: [{ headers: [{ type: "RegularExpression", name: "Cookie", value: "^(.*;\\s*)?model-version=v1(;.*)?$" }] }], backendRefs: [backend("v1")] },
            { name: "sticky-v2", matches: [{ headers: [{ type: "RegularExpression", name: "Cookie", value: "^(.*;\\s*)?model-version=v2(;.*)?$" }] }], backendRefs: [backend("v2")] },
            { name: "default", backendRefs: [{ ...backend("v1"), weight: 90, filters: setting("v1") }, { ...backend("v2"), weight: 10, filters: setting("v2") }] },
        ]);
        assert.deepStrictEqual(gatewayApiValidator()({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", spec }), []);
    });

    it("at 0% and 100% pins nobody and sets no cookie", () => {
        assert.deepStrictEqual(httpRouteSpec(args("gateway-api", 0)).rules.at(-1), { name: "default", backendRefs: [{ name: "model-service-v1", port: 80, weight: 100 }] });
        assert.deepStrictEqual(httpRouteSpec(args("gateway-api", 100)).rules.map((r) => r.name), ["header-0-v2", "default"]);
    });

    it("leaves two rules of the HTTPRoute's 16 to the cookie: at most 13 header routes", () => {
        const headerRoutes = (n: number) => Array.from({ length: n }, (_, i) => ({ header: "x-user", exact: `u${i}`, version: "v2" }));
        assert.strictEqual(httpRouteSpec(args("gateway-api", 50, { headerRoutes: headerRoutes(13) })).rules.length, 16);
        assert.deepStrictEqual(refusalProblems(() => args("gateway-api", 50, { headerRoutes: headerRoutes(14) }), "expected a refusal"), [
            "`headerRoutes` must have at most 13 routes with `router: gateway-api` (an HTTPRoute holds at most 16 rules, one of them the default and two the `sticky` cookie's), got 14",
        ]);
    });
});

describe("sticky assignment: the cookie", () => {
    it("matches a Cookie header carrying the version among other cookies, and nothing else", () => {
        const v2 = RE2JS.compile(stickyCookieRegex("model-version", "v2"));
        for (const header of ["model-version=v2", "a=1; model-version=v2", "model-version=v2; b=2", "a=1;model-version=v2;b=2"]) assert.ok(v2.matcher(header).matches(), header);
        for (const header of ["model-version=v1", "model-version=v22", "xmodel-version=v2", "a=model-version=v2", "model-version=v2x; b=2", ""]) assert.ok(!v2.matcher(header).matches(), header);
        // A name's RE2 metacharacters match literally.
        const dotted = RE2JS.compile(stickyCookieRegex("m.v", "v2"));
        assert.ok(dotted.matcher("m.v=v2").matches());
        assert.ok(!dotted.matcher("mxv=v2").matches());
    });

    it("is refused unless an RFC 6265 name, with `sticky` not an object, without `cookie`, or with another key", () => {
        const problems = (value: unknown) => refusalProblems(() => validateModelCanaryArgs({ stable, canary, sticky: value }), "expected a refusal");
        const what = "an RFC 6265 cookie name: letters, digits and ! # $ % & ' * + - . ^ _ ` | ~, at most 256 characters";
        assert.deepStrictEqual(problems({ cookie: "model version" }), [`\`sticky.cookie\` must be ${what}, got "model version"`]);
        assert.deepStrictEqual(problems({ cookie: "a=b" }), [`\`sticky.cookie\` must be ${what}, got "a=b"`]);
        assert.deepStrictEqual(problems({ cookie: "" }), [`\`sticky.cookie\` must be a non-empty string (${what}), got ""`]);
        assert.deepStrictEqual(problems("model-version"), ["`sticky` must be an object { cookie: <name> }, got \"model-version\""]);
        assert.deepStrictEqual(problems({}), ["`sticky.cookie` is required: the name of the cookie that keeps a client on its version, such as `model-version`"]);
        assert.match(problems({ cookie: "m", maxAge: 60 })[0], /^unknown key `sticky\.maxAge`/);
        assert.deepStrictEqual(validateModelCanaryArgs({ stable, sticky: { cookie: "__Host-model_v.1" } }).sticky, { cookie: "__Host-model_v.1" });
        assert.strictEqual("sticky" in validateModelCanaryArgs({ stable }), false);
    });

    it("is refused with `protocol: grpc`, with either router: gRPC clients keep no cookies", () => {
        for (const router of ["istio", "gateway-api"]) {
            assert.deepStrictEqual(refusalProblems(() => validateModelCanaryArgs({ router, protocol: "grpc", stable, canary, sticky }), "expected a refusal"), [
                "`sticky` pins clients with an HTTP cookie, got {\"cookie\":\"model-version\"} with `protocol: grpc`: gRPC clients keep no cookies (proxyless gRPC sends no `cookie` metadata and drops `set-cookie`), so every call would be split by weight anyway. Remove `sticky`, or use `headerRoutes` on a metadata key the clients send",
            ], router);
        }
    });
});

describe("sticky assignment: `status` drift from the live route", () => {
    const v1Regex = "^(.*;\\s*)?model-version=v1(;.*)?$";
    const v2Regex = "^(.*;\\s*)?model-version=v2(;.*)?$";

    it("VirtualService: names a cookie route edited or removed and a destination that no longer sets the cookie, apart from the header routes", () => {
        const want = virtualServiceSpec(args("istio", 10));
        assert.deepStrictEqual(virtualServiceDifferences(structuredClone(want), want), []);
        const edited = structuredClone(want);
        edited.http[1].match = [{ headers: { cookie: { regex: "^model-version=v1$" } } }];
        edited.http.splice(2, 1);
        delete edited.http.at(-1)!.route[1].headers;
        assert.deepStrictEqual(virtualServiceDifferences(edited, want), [
            `sticky cookie rule \`sticky-v1\`: live matches \`^model-version=v1$\` to v1, config matches \`${v1Regex}\` to v1`,
            `sticky cookie rule \`sticky-v2\`: missing live, config matches \`${v2Regex}\` to v2`,
            "sticky cookie setting of the split: live v1 sets `model-version=v1; Path=/`, v2 none; config v1 sets `model-version=v1; Path=/`, v2 sets `model-version=v2; Path=/`",
        ]);
        // Sticky rules and Set-Cookie someone added to a route without `sticky`.
        const plain = virtualServiceSpec(args("istio", 10, { sticky: undefined }));
        assert.deepStrictEqual(virtualServiceDifferences(want, plain), [
            `sticky cookie rule \`sticky-v1\`: live matches \`${v1Regex}\` to v1, not in the config`,
            `sticky cookie rule \`sticky-v2\`: live matches \`${v2Regex}\` to v2, not in the config`,
            "sticky cookie setting of the split: live v1 sets `model-version=v1; Path=/`, v2 sets `model-version=v2; Path=/`; config v1 none, v2 none",
        ]);
    });

    it("HTTPRoute: names a cookie rule edited or removed and a backend that no longer sets the cookie, apart from the header routes", () => {
        const want = httpRouteSpec(args("gateway-api", 50));
        assert.deepStrictEqual(httpRouteDifferences(structuredClone(want), want, "model-service"), []);
        const edited = structuredClone(want);
        edited.rules[2].matches![0].headers![0].value = "^model-version=v2$";
        edited.rules.splice(1, 1);
        edited.rules.at(-1)!.backendRefs[0].filters = [{ type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "Set-Cookie", value: "model-version=v2; Path=/" }] } }];
        assert.deepStrictEqual(httpRouteDifferences(edited, want, "model-service"), [
            `sticky cookie rule \`sticky-v1\`: missing live, config matches \`${v1Regex}\` to v1`,
            `sticky cookie rule \`sticky-v2\`: live matches \`^model-version=v2$\` to v2, config matches \`${v2Regex}\` to v2`,
            "sticky cookie setting of the split: live v1 sets `model-version=v2; Path=/`, v2 sets `model-version=v2; Path=/`; config v1 sets `model-version=v1; Path=/`, v2 sets `model-version=v2; Path=/`",
        ]);
        // The testers' header route edited: only the header routes differ.
        const header = structuredClone(want);
        header.rules[0].matches![0].headers![0].value = "V2";
        assert.deepStrictEqual(httpRouteDifferences(header, want, "model-service"), ["header routes: live 1, config 1, or their matches differ"]);
    });
});

import * as assert from "assert";
import { defaultRouteMirror, describeMirror, destinationRuleSpec, sameMirror, trafficSplit, validateModelCanaryArgs, virtualServiceSpec } from "../components";
import { trafficOffStable, virtualServiceDifferences } from "../stacks/cluster-client/live";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };

function at(canaryWeight: number, extra: Record<string, unknown> = {}) {
    return validateModelCanaryArgs({ serviceName: "model-service", stable, canary, canaryWeight, ...extra });
}

const destination = (subset: string, weight: number) => ({ destination: { host: "model-service", subset }, weight });

describe("routing", () => {
    describe("default route at each step of the seed rollout", () => {
        const expected: [number, ReturnType<typeof destination>[]][] = [
            [0, [destination("v1", 100)]],
            [1, [destination("v1", 99), destination("v2", 1)]],
            [10, [destination("v1", 90), destination("v2", 10)]],
            [50, [destination("v1", 50), destination("v2", 50)]],
            [100, [destination("v2", 100)]],
        ];
        for (const [weight, route] of expected) {
            it(`at canaryWeight ${weight} routes ${route.map((r) => `${r.destination.subset}=${r.weight}`).join(", ")}`, () => {
                const spec = virtualServiceSpec(at(weight));
                assert.deepStrictEqual(spec.http, [{ name: "default", route }]);
                assert.strictEqual(spec.http[0].route.reduce((sum, r) => sum + (r.weight ?? 0), 0), 100);
            });
        }
    });

    it("weights total exactly 100 at every integer weight", () => {
        for (let w = 0; w <= 100; w++) {
            const route = virtualServiceSpec(at(w)).http[0].route;
            assert.strictEqual(route.reduce((sum, r) => sum + (r.weight ?? 0), 0), 100, `weight ${w}`);
            assert.ok(route.every((r) => (r.weight ?? 0) > 0), `no zero-weight destination at ${w}`);
        }
    });

    it("sends everything to stable when there is no canary", () => {
        const args = validateModelCanaryArgs({ stable });
        assert.deepStrictEqual(trafficSplit(args), { v1: 100 });
        assert.deepStrictEqual(virtualServiceSpec(args).http, [{ name: "default", route: [{ destination: { host: "model-service", subset: "v1" }, weight: 100 }] }]);
    });

    it("puts header routes first, in the order given, each with all its traffic on one subset", () => {
        const spec = virtualServiceSpec(at(10, {
            headerRoutes: [
                testers,
                { header: "x-user-group", prefix: "beta-", version: "v2" },
                { header: "x-pin", regex: "^stable-.*$", version: "v1" },
            ],
        }));
        assert.deepStrictEqual(spec.http, [
            { name: "header-0-v2", match: [{ headers: { "x-canary-version": { exact: "v2" } } }], route: [destination("v2", 100)] },
            { name: "header-1-v2", match: [{ headers: { "x-user-group": { prefix: "beta-" } } }], route: [destination("v2", 100)] },
            { name: "header-2-v1", match: [{ headers: { "x-pin": { regex: "^stable-.*$" } } }], route: [destination("v1", 100)] },
            { name: "default", route: [destination("v1", 90), destination("v2", 10)] },
        ]);
    });

    it("reproduces the seed's tester routing: header to v2, everyone else to v1", () => {
        assert.deepStrictEqual(virtualServiceSpec(at(0, { headerRoutes: [testers] })), {
            hosts: ["model-service"],
            http: [
                { name: "header-0-v2", match: [{ headers: { "x-canary-version": { exact: "v2" } } }], route: [destination("v2", 100)] },
                { name: "default", route: [destination("v1", 100)] },
            ],
        });
    });

    it("binds to gateways and extra hosts only when asked", () => {
        const spec = virtualServiceSpec(at(1, { hosts: ["models.example.com"], gateways: ["istio-system/public"] }));
        assert.deepStrictEqual(spec.hosts, ["models.example.com"]);
        assert.deepStrictEqual(spec.gateways, ["istio-system/public"]);
        assert.strictEqual("gateways" in virtualServiceSpec(at(1)), false);
    });

    it("defines one subset per running version, selected by the version label", () => {
        assert.deepStrictEqual(destinationRuleSpec(at(10)), {
            host: "model-service",
            subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }],
        });
        assert.deepStrictEqual(destinationRuleSpec(validateModelCanaryArgs({ stable: canary })).subsets, [{ name: "v2", labels: { version: "v2" } }]);
    });
});

describe("routing: the shadow stage (mirrorPercent)", () => {
    const v1 = "networking.istio.io/v1";
    const target = { host: "model-service", subset: "v2" };
    // [istioApiVersion, mirrorPercent, the default route's mirror fields]
    const table: [string, number | string, Record<string, unknown>][] = [
        [v1, 100, { mirrors: [{ destination: target, percentage: { value: 100 } }] }],
        [v1, "12.5", { mirrors: [{ destination: target, percentage: { value: 12.5 } }] }],
        [v1, 0.25, { mirrors: [{ destination: target, percentage: { value: 0.25 } }] }],
        ["networking.istio.io/v1beta1", 100, { mirror: target, mirrorPercentage: { value: 100 } }],
        ["networking.istio.io/v1beta1", "0.5", { mirror: target, mirrorPercentage: { value: 0.5 } }],
        ["networking.istio.io/v1alpha3", 30, { mirror: target, mirrorPercentage: { value: 30 } }],
    ];
    for (const [istioApiVersion, mirrorPercent, fields] of table) {
        it(`${istioApiVersion} at mirrorPercent ${JSON.stringify(mirrorPercent)}: stable serves 100%, ${Object.keys(fields).join(" + ")} copies to v2`, () => {
            const spec = virtualServiceSpec(at(0, { istioApiVersion, mirrorPercent, headerRoutes: [testers] }));
            assert.deepStrictEqual(spec.http, [
                // Header routes are unchanged: testers still reach v2 directly, nothing mirrored.
                { name: "header-0-v2", match: [{ headers: { "x-canary-version": { exact: "v2" } } }], route: [destination("v2", 100)] },
                { name: "default", route: [destination("v1", 100)], ...fields },
            ]);
        });
    }

    it("mirrorPercent 0 (the default) emits no mirror field at any API version", () => {
        for (const istioApiVersion of ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]) {
            for (const extra of [{}, { mirrorPercent: 0 }, { mirrorPercent: "0" }]) {
                assert.deepStrictEqual(virtualServiceSpec(at(0, { istioApiVersion, ...extra })).http, [{ name: "default", route: [destination("v1", 100)] }], istioApiVersion);
            }
        }
    });

    it("the mirror appears in the component's output shape through defaultRouteMirror", () => {
        assert.deepStrictEqual(defaultRouteMirror(at(0, { mirrorPercent: "12.5" })), { version: "v2", percent: 12.5 });
        assert.strictEqual(defaultRouteMirror(at(0)), undefined);
        assert.strictEqual(defaultRouteMirror(validateModelCanaryArgs({ stable })), undefined);
    });
});

describe("live drift: the default route's mirror", () => {
    it("a mirror removed or added by hand in the cluster shows as drift, naming both sides", () => {
        const shadowing = virtualServiceSpec(at(0, { mirrorPercent: 100 }));
        const plain = virtualServiceSpec(at(0));
        assert.deepStrictEqual(virtualServiceDifferences(plain, shadowing), ["mirror: live none, config v2 100%"]);
        assert.deepStrictEqual(virtualServiceDifferences(shadowing, plain), ["mirror: live v2 100%, config none"]);
        const older = virtualServiceSpec(at(0, { mirrorPercent: 100, istioApiVersion: "networking.istio.io/v1beta1" }));
        assert.deepStrictEqual(virtualServiceDifferences({ ...older, http: [{ ...older.http[0], mirrorPercentage: { value: 5 } }] }, older), ["mirror: live v2 5%, config v2 100%"]);
        assert.deepStrictEqual(virtualServiceDifferences(shadowing, shadowing), []);
    });

    it("trafficOffStable: a rolled-back route passes; a split, a mirror, a header route to the canary or no route at all is named", () => {
        assert.deepStrictEqual(trafficOffStable(virtualServiceSpec(at(0)), "model-service", "v1"), []);
        // Header routes to stable are what a rollback keeps.
        assert.deepStrictEqual(trafficOffStable(virtualServiceSpec(at(0, { headerRoutes: [{ header: "x-canary-version", exact: "v1", version: "v1" }] })), "model-service", "v1"), []);
        // A zero-weight canary destination sends nothing.
        assert.deepStrictEqual(trafficOffStable({ hosts: ["model-service"], http: [{ name: "default", route: [destination("v1", 100), destination("v2", 0)] }] }, "model-service", "v1"), []);
        assert.deepStrictEqual(trafficOffStable(virtualServiceSpec(at(50)), "model-service", "v1"), ["the default route sends v1 50, v2 50"]);
        assert.deepStrictEqual(trafficOffStable(virtualServiceSpec(at(0, { mirrorPercent: 100 })), "model-service", "v1"), ["the default route mirrors to v2"]);
        assert.deepStrictEqual(trafficOffStable(virtualServiceSpec(at(0, { headerRoutes: [testers] })), "model-service", "v1"), ["route 1 (header-0-v2) sends v2 100"]);
        assert.deepStrictEqual(trafficOffStable({ hosts: ["model-service"], http: [{ name: "default", route: [{ destination: { host: "elsewhere", subset: "v1" }, weight: 100 }] }] }, "model-service", "v1"), ["the default route sends elsewhere/v1 100"]);
        assert.deepStrictEqual(trafficOffStable(undefined, "model-service", "v1"), ["the VirtualService does not exist in the cluster"]);
        assert.deepStrictEqual(trafficOffStable({ hosts: ["model-service"], http: [] }, "model-service", "v1"), ["it has no HTTP routes"]);
    });

    it("describeMirror says what users get", () => {
        assert.strictEqual(describeMirror({ version: "v2", percent: 12.5 }), "mirrors 12.5% of default traffic to v2; v2 serves no users (its answers are discarded)");
    });
});

describe("the shadow stage's VirtualService against Istio's own CRD schemas (istio.io/api v1.31.4)", function () {
    this.timeout(120_000);
    it("validates at v1 (mirrors), v1beta1 and v1alpha3 (mirror + mirrorPercentage), with a fractional percentage; a misspelt field would not", async () => {
        const { istioValidator } = await import("./support/schemas");
        const validate = istioValidator();
        for (const istioApiVersion of ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"]) {
            const spec = virtualServiceSpec(at(0, { istioApiVersion, mirrorPercent: "12.5", headerRoutes: [testers] }));
            assert.deepStrictEqual(validate({ apiVersion: istioApiVersion, kind: "VirtualService", spec }), [], istioApiVersion);
        }
        const spec = virtualServiceSpec(at(0, { mirrorPercent: 100 }));
        const misspelt = { ...spec, http: [{ ...spec.http[0], mirrorPercentages: { value: 100 } }] };
        assert.notDeepStrictEqual(validate({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", spec: misspelt }), []);
    });
});

describe("routing: sameMirror", () => {
    it("compares mirrors by value, whatever the order of their keys", () => {
        const built = { version: "v2", percent: 50 };
        const readBack = JSON.parse('{"percent":50,"version":"v2"}');
        assert.strictEqual(sameMirror(built, readBack), true);
        assert.strictEqual(sameMirror(built, { version: "v2", percent: 25 }), false);
        assert.strictEqual(sameMirror(built, { version: "v3", percent: 50 }), false);
        assert.strictEqual(sameMirror(built, null), false);
        assert.strictEqual(sameMirror(undefined, null), true);
    });
});

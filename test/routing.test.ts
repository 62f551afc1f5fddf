import * as assert from "assert";
import { destinationRuleSpec, trafficSplit, validateModelCanaryArgs, virtualServiceSpec } from "../components";

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

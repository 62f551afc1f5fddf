// The Gateway API router's HTTPRoutes against a real API server: the local control plane with
// Gateway API v1.6.3's standard CRDs (from the sigs.k8s.io/gateway-api Go module, applied by this
// test; `cluster:up` installs Istio's only), whose schemas and CEL rules the API server enforces.
// One control plane for the file.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { ControlPlane, kubectl, start, stop } from "../cluster/controlplane";
import { httpRouteSpec, validateModelCanaryArgs } from "../components";
import { gatewayApiCrdDir } from "./support/schemas";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };

describe("the Gateway API router's HTTPRoute on an API server with the standard CRDs", function () {
    this.timeout(300_000);
    let cp: ControlPlane;

    before(async () => {
        cp = await start({ stopOnExit: true });
        const dir = gatewayApiCrdDir();
        for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml") && !f.includes("_vap_"))) {
            kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-test", "-f", path.join(dir, file)]);
        }
        kubectl(cp, ["wait", "--for", "condition=Established", "crd/httproutes.gateway.networking.k8s.io", "--timeout", "60s"]);
    });
    after(async () => {
        if (cp) await stop(cp);
    });

    /** Applies the route the arguments give, strictly (an unknown field is an error), and reads its spec back. */
    function applyRoute(args: Record<string, unknown>): any {
        const resolved = validateModelCanaryArgs({ router: "gateway-api", stable, canary, ...args });
        const route = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: resolved.serviceName, namespace: "default" }, spec: httpRouteSpec(resolved) };
        kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-test", "--validate=strict", "-f", "-"], JSON.stringify(route));
        return JSON.parse(kubectl(cp, ["get", "httproute", resolved.serviceName, "-n", "default", "-o", "json"])).spec;
    }

    it("accepts the route at every step of the seed rollout and keeps the weights as sent", () => {
        for (const [weight, expected] of [[1, [99, 1]], [10, [90, 10]], [50, [50, 50]], [100, [100]]] as const) {
            const spec = applyRoute({ canaryWeight: weight });
            assert.deepStrictEqual(spec.rules.at(-1).backendRefs.map((b: { weight: number }) => b.weight), expected, `canaryWeight ${weight}`);
            assert.deepStrictEqual(spec.parentRefs, [{ group: "", kind: "Service", name: "model-service", port: 80 }]);
        }
    });

    it("accepts header routes (Exact, a prefix as RegularExpression, a regex) and the shadow stage's mirror, percent or fraction", () => {
        const headerRoutes = [
            { header: "x-canary-version", exact: "v2", version: "v2" },
            { header: "x-group", prefix: "beta.", version: "v1" },
            { header: "x-user", regex: "^(qa|dev)-[0-9]+$", version: "v2" },
        ];
        const spec = applyRoute({ canaryWeight: 0, mirrorPercent: 12.5, headerRoutes });
        assert.deepStrictEqual(spec.rules.map((r: { name: string }) => r.name), ["header-0-v2", "header-1-v1", "header-2-v2", "default"]);
        assert.deepStrictEqual(spec.rules[1].matches[0].headers, [{ type: "RegularExpression", name: "x-group", value: "^beta\\..*" }]);
        assert.deepStrictEqual(spec.rules[3].filters[0].requestMirror.fraction, { numerator: 125000, denominator: 1000000 });
        assert.strictEqual(applyRoute({ canaryWeight: 0, mirrorPercent: 100 }).rules.at(-1).filters[0].requestMirror.percent, 100);
    });

    it("accepts 15 header routes, the most the arguments allow, and refuses a 17th rule as the argument check says", () => {
        const headerRoutes = Array.from({ length: 15 }, (_, i) => ({ header: "x-user", exact: `u${i}`, version: "v2" }));
        assert.strictEqual(applyRoute({ canaryWeight: 10, headerRoutes }).rules.length, 16);
        const resolved = validateModelCanaryArgs({ router: "gateway-api", stable, canary, canaryWeight: 10, headerRoutes });
        const spec = httpRouteSpec(resolved);
        spec.rules.unshift({ ...spec.rules[0], name: "one-too-many" });
        const route = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "too-many", namespace: "default" }, spec };
        assert.throws(() => kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-test", "-f", "-"], JSON.stringify(route)), /Too many: 17: must have at most 16 items/);
    });
});

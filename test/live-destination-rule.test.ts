// The live DestinationRules against the rendered ones, pure: what `status` names when someone
// edits the Istio router's DestinationRule (a subset's labels, its trafficPolicy) or a Gateway API
// version Service's (deleted, its outlier detection removed), and what it says when the cluster does
// not serve the kind. The live side (reading them) is in live-convergence and gateway-api-cluster.
import * as assert from "assert";
import { validateModelCanaryArgs } from "../components";
import { destinationRuleDifferences, isDestinationRuleDifference, renderedDestinationRules } from "../stacks/cluster-client/live-destination-rule";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1" };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2" };
const trafficPolicy = {
    connectionPool: { tcp: { maxConnections: 100 }, http: { http2MaxRequests: 1000 } },
    outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50 },
};

describe("the live DestinationRule against the rendered one", () => {
    const istio = renderedDestinationRules(validateModelCanaryArgs({ stable, canary, destinationRuleName: "model-destination", trafficPolicy }));
    const [rule] = istio;
    const served = (spec: unknown) => ({ spec: structuredClone(spec) as Record<string, unknown> });

    it("the Istio router renders one (subsets v1 and v2, the policy); the Gateway API router one per version Service with `trafficPolicy`, none without", () => {
        assert.deepStrictEqual(istio.map((r) => [r.apiVersion, r.namespace, r.name, r.spec.subsets]), [
            ["networking.istio.io/v1", "default", "model-destination", [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }]],
        ]);
        const perVersion = renderedDestinationRules(validateModelCanaryArgs({ router: "gateway-api", serviceName: "fraud", stable, canary, namespace: "ml", trafficPolicy }));
        assert.deepStrictEqual(perVersion.map((r) => [r.apiVersion, `${r.namespace}/${r.name}`, r.spec]), [
            ["networking.istio.io/v1", "ml/fraud-v1", { host: "fraud-v1", trafficPolicy }],
            ["networking.istio.io/v1", "ml/fraud-v2", { host: "fraud-v2", trafficPolicy }],
        ]);
        assert.deepStrictEqual(renderedDestinationRules(validateModelCanaryArgs({ router: "gateway-api", stable, canary })), []);
    });

    it("as rendered (keys in another order) has no differences", () => {
        const reordered = { subsets: rule.spec.subsets!.map((s) => ({ labels: s.labels, name: s.name })), trafficPolicy: { outlierDetection: trafficPolicy.outlierDetection, connectionPool: trafficPolicy.connectionPool }, host: rule.spec.host };
        assert.deepStrictEqual(destinationRuleDifferences(served(reordered), rule, rule.apiVersion), []);
    });

    it("names a removed outlierDetection, a changed field, an added one, a subset's labels, a missing and an extra subset", () => {
        const live = served(rule.spec) as any;
        delete live.spec.trafficPolicy.outlierDetection;
        live.spec.trafficPolicy.connectionPool.tcp.maxConnections = 1;
        live.spec.trafficPolicy.connectionPool.tcp.connectTimeout = "1s";
        live.spec.subsets = [{ name: "v1", labels: { version: "v1" } }, { name: "v3", labels: { version: "v3" } }];
        live.spec.subsets[0].labels = { version: "v2", track: "x" };
        assert.deepStrictEqual(destinationRuleDifferences(live, rule, rule.apiVersion), [
            "DestinationRule `default/model-destination` trafficPolicy.connectionPool.tcp.connectTimeout: live \"1s\", config none",
            "DestinationRule `default/model-destination` trafficPolicy.connectionPool.tcp.maxConnections: live 1, config 100",
            "DestinationRule `default/model-destination` trafficPolicy.outlierDetection: live none, config {\"baseEjectionTime\":\"30s\",\"consecutive5xxErrors\":5,\"interval\":\"10s\",\"maxEjectionPercent\":50}",
            "DestinationRule `default/model-destination` subset `v1` labels: live track=x, version=v2, config version=v1",
            "DestinationRule `default/model-destination` subset `v2`: missing live, config labels version=v2",
            "DestinationRule `default/model-destination` subset `v3`: live labels version=v3, not in the config",
        ]);
    });

    it("names a policy added by hand where none is configured, another host, and fields this tool does not write", () => {
        const [plain] = renderedDestinationRules(validateModelCanaryArgs({ stable, canary }));
        const live = served({ ...plain.spec, host: "other", trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } }, exportTo: ["."] });
        (live.spec.subsets as any)[1].trafficPolicy = { tls: { mode: "DISABLE" } };
        assert.deepStrictEqual(destinationRuleDifferences(live, plain, plain.apiVersion).map((d) => d.replace("DestinationRule `default/model-destination` ", "")), [
            "host: live \"other\", config \"model-service\"",
            "trafficPolicy: live {\"loadBalancer\":{\"simple\":\"ROUND_ROBIN\"}}, config none",
            "subset `v2`.trafficPolicy: live {\"tls\":{\"mode\":\"DISABLE\"}}, config none",
            "exportTo: live [\".\"], config none",
        ]);
    });

    it("names a deleted one, and says when the cluster does not serve the kind; every such line is told from the route's", () => {
        const [v1] = renderedDestinationRules(validateModelCanaryArgs({ router: "gateway-api", stable, canary, trafficPolicy }));
        const absent = destinationRuleDifferences("absent", v1, v1.apiVersion);
        const unserved = destinationRuleDifferences("unserved", v1, v1.apiVersion);
        assert.deepStrictEqual([...absent, ...unserved], [
            "DestinationRule `default/model-service-v1` does not exist in the cluster",
            "DestinationRule `default/model-service-v1`: the cluster does not serve DestinationRule at networking.istio.io/v1, so it could not be compared",
        ]);
        assert.deepStrictEqual([...absent, ...unserved, "split: live v1 100, config v1 90, v2 10"].map(isDestinationRuleDifference), [true, true, false]);
        // The Gateway API router's have no subsets: one added by hand is named.
        assert.deepStrictEqual(destinationRuleDifferences(served({ ...v1.spec, subsets: [{ name: "v1", labels: { version: "v1" } }] }), v1, v1.apiVersion), [
            "DestinationRule `default/model-service-v1` subset `v1`: live labels version=v1, not in the config",
        ]);
    });
});

// The Gateway API router's live side, pure: the live HTTPRoute (as the API server returns it,
// with its defaults filled in) against the configured one, what a rollback reads back, the
// objects the owner check reads, the preflight's refusal and the rollback's routing targets.
import * as assert from "assert";
import { httpRouteSpec, validateModelCanaryArgs } from "../components";
import { httpRouteDifferences, httpRouteSplit, httpRouteTrafficOffStable } from "../stacks/cluster-client/live-httproute";
import { otherRouterObjects } from "../stacks/cluster-client/live";
import { objectsOfModel } from "../stacks/cluster-client/ownership";
import { gatewayApiMissingMessage } from "../stacks/cluster-client/preflight";
import { routingTargets } from "../stacks/operations/automation";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1" };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2" };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const args = (extra: Record<string, unknown>) => validateModelCanaryArgs({ router: "gateway-api", stable, canary, ...extra });

/** The route as the API server returns it: a `/` path prefix in every match, the backends' group, kind and weight filled in. */
function asServed(given: any): any {
    const spec = structuredClone(given);
    const backend = (b: any) => ({ group: "", kind: "Service", weight: 1, ...b });
    return {
        ...spec,
        rules: spec.rules.map((r: any) => ({
            ...r,
            matches: (r.matches ?? [{}]).map((m: any) => ({ path: { type: "PathPrefix", value: "/" }, ...m })),
            backendRefs: r.backendRefs.map(backend),
            ...(r.filters ? { filters: r.filters.map((f: any) => ({ ...f, requestMirror: { ...f.requestMirror, backendRef: { group: "", kind: "Service", ...f.requestMirror.backendRef } } })) } : {}),
        })),
    };
}

describe("the live HTTPRoute", () => {
    it("as the API server returns it, with its defaults, has no differences from the configured one", () => {
        for (const extra of [{ canaryWeight: 10, headerRoutes: [testers] }, { canaryWeight: 0, mirrorPercent: 12.5 }, { canaryWeight: 100 }]) {
            const spec = httpRouteSpec(args(extra));
            assert.deepStrictEqual(httpRouteDifferences(asServed(spec), spec, "model-service"), [], JSON.stringify(extra));
        }
    });

    it("names a changed split, a removed mirror, a changed header route and a missing route", () => {
        const want = httpRouteSpec(args({ canaryWeight: 10, headerRoutes: [testers] }));
        const edited = asServed(want);
        edited.rules[1].backendRefs[0].weight = 100;
        edited.rules[1].backendRefs[1].weight = 0;
        edited.rules[0].matches[0].headers[0].value = "V2";
        assert.deepStrictEqual(httpRouteDifferences(edited, want, "model-service"), [
            "split: live v1 100, v2 0, config v1 90, v2 10",
            "header routes: live 1, config 1, or their matches differ",
        ]);
        const shadow = httpRouteSpec(args({ canaryWeight: 0, mirrorPercent: 100 }));
        assert.deepStrictEqual(httpRouteDifferences(asServed(httpRouteSpec(args({ canaryWeight: 0 }))), shadow, "model-service"), ["mirror: live none, config v2 100%"]);
        assert.deepStrictEqual(httpRouteDifferences(undefined, want, "model-service"), ["the HTTPRoute does not exist in the cluster"]);
        assert.deepStrictEqual(httpRouteSplit(asServed(want), "model-service"), { v1: 90, v2: 10 });
    });

    it("after a rollback, finds whatever still sends or mirrors traffic off stable, and nothing when all goes to stable", () => {
        assert.deepStrictEqual(httpRouteTrafficOffStable(asServed(httpRouteSpec(args({ canaryWeight: 0 }))), "model-service", "v1"), []);
        assert.deepStrictEqual(httpRouteTrafficOffStable(asServed(httpRouteSpec(args({ canaryWeight: 10, headerRoutes: [testers] }))), "model-service", "v1"), [
            "rule 1 (header-0-v2) sends v2 1",
            "the default rule sends v1 90, v2 10",
        ]);
        assert.deepStrictEqual(httpRouteTrafficOffStable(asServed(httpRouteSpec(args({ canaryWeight: 0, mirrorPercent: 5 }))), "model-service", "v1"), ["the default rule mirrors to v2"]);
        assert.deepStrictEqual(httpRouteTrafficOffStable(undefined, "model-service", "v1"), ["the HTTPRoute does not exist in the cluster"]);
    });
});

describe("`router: gateway-api` on a cluster", () => {
    it("the owner check reads the Deployments, the model's Service, each version's Service and the HTTPRoute", () => {
        assert.deepStrictEqual(objectsOfModel(args({ namespace: "ml" })).map((o) => `${o.apiVersion} ${o.plural} ${o.namespace}/${o.name}`), [
            "apps/v1 deployments ml/model-v1", "apps/v1 deployments ml/model-v2", "v1 services ml/model-service",
            "v1 services ml/model-service-v1", "v1 services ml/model-service-v2", "gateway.networking.k8s.io/v1 httproutes ml/model-service",
        ]);
    });

    it("the preflight's refusal names the missing kind, the keys asking for it and how to install the standard channel", () => {
        assert.strictEqual(gatewayApiMissingMessage(["HTTPRoute"], "https://127.0.0.1:6443 (context local)", [["models.fraud.router", "gateway-api"]]),
            "the cluster https://127.0.0.1:6443 (context local) does not serve HTTPRoute at gateway.networking.k8s.io/v1, which `models.fraud.router` `gateway-api` needs; nothing was applied. "
            + "Install the Gateway API's standard channel CRDs (v1.3 or later, for the mirror's `percent`): `kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml`, or `config/crd/standard/*.yaml` of the `sigs.k8s.io/gateway-api` Go module; "
            + "with Istio, keep istiod's `PILOT_ENABLE_GATEWAY_API` on (its default). Or use `router: istio`.");
    });

    it("a rollback's routing-only update targets the HTTPRoute and the Services, and the Istio router's objects as before", () => {
        assert.deepStrictEqual(routingTargets("fraud", args({})), [
            "urn:pulumi:**HTTPRoute::fraud-route", "urn:pulumi:**Service::fraud-svc", "urn:pulumi:**Service::fraud-v1-svc", "urn:pulumi:**Service::fraud-v2-svc",
        ]);
        assert.deepStrictEqual(routingTargets("fraud", validateModelCanaryArgs({ stable })), [
            "urn:pulumi:**VirtualService::fraud-vs", "urn:pulumi:**DestinationRule::fraud-dr", "urn:pulumi:**Service::fraud-svc",
        ]);
    });
});

describe("the other router's route object for the model's host, as status reads it", () => {
    const vs = (name: string, hosts: string[], gateways?: string[]) => ({ metadata: { name }, spec: { hosts, ...(gateways ? { gateways } : {}), http: [] } });
    const route = (name: string, parentRefs: unknown[]) => ({ metadata: { name }, spec: { parentRefs, rules: [] } });

    it("beside the HTTPRoute: a mesh VirtualService for the Service's host in any of its forms, named with what to do; a gateway-only one or another host is not", () => {
        const r = args({ serviceName: "fraud-service" });
        assert.deepStrictEqual(otherRouterObjects(r, [
            vs("old", ["fraud-service"]), vs("fqdn", ["fraud-service.default.svc.cluster.local"], ["mesh", "edge/public"]),
            vs("edge-only", ["fraud-service"], ["edge/public"]), vs("other", ["churn-service"]),
        ]), ["old", "fqdn"].map((name) => "both the HTTPRoute `default/fraud-service` (this stack's, `router: gateway-api`) and the VirtualService "
            + `\`default/${name}\` route host \`fraud-service.default.svc.cluster.local\`: Istio follows the HTTPRoute and ignores the VirtualService, so editing it changes nothing. `
            + `Delete the VirtualService (\`kubectl delete virtualservice ${name} -n default\`) unless it is meant for another router`));
    });

    it("beside the VirtualService: only an HTTPRoute whose parent is the model's Service (group \"\"), not one attached to a Gateway or another Service", () => {
        const r = validateModelCanaryArgs({ stable, canary, serviceName: "fraud-service" });
        const found = otherRouterObjects(r, [
            route("mesh", [{ group: "", kind: "Service", name: "fraud-service", port: 80 }]),
            route("gateway", [{ name: "fraud-service" }]), route("elsewhere", [{ group: "", kind: "Service", name: "churn-service" }]),
            route("other-namespace", [{ group: "", kind: "Service", name: "fraud-service", namespace: "ml" }]),
        ]);
        assert.strictEqual(found.length, 1);
        assert.match(found[0], /^both the VirtualService `default\/[a-z-]+` \(this stack's, `router: istio`\) and the HTTPRoute `default\/mesh` route host `fraud-service\.default\.svc\.cluster\.local`/);
    });
});

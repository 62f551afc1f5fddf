// The policy pack's checks (policy/rules.ts) on the objects a ModelCanary creates, without an engine.
import * as assert from "assert";
import {
    ComponentObjects, createdByModelCanary, gpuProblems, headerRouteProblems, idleTargetProblems, mirrorProblems, mutableImage,
    replicaProblems, sameImageProblems, weightProblems,
} from "../policy/rules";

const deployment = (version: string, image: string, replicas = 1, limits?: Record<string, string>) => ({
    type: "kubernetes:apps/v1:Deployment", name: `model-${version}`, urn: `urn:x::model-${version}`,
    props: { metadata: { name: `model-${version}`, labels: { app: "model", version } }, spec: { replicas, template: { spec: { containers: [{ name: "model-server", image, ...(limits ? { resources: { limits } } : {}) }] } } } },
});
const vs = (http: any[]) => ({ type: "kubernetes:networking.istio.io/v1:VirtualService", name: "model-vs", urn: "urn:x::model-vs", props: { metadata: { name: "vs" }, spec: { http } } });
const dest = (subset: string, weight: number) => ({ destination: { host: "model-service", subset }, weight });
const component = (...children: any[]): ComponentObjects => ({ urn: "urn:x::model", name: "model", children });
const versionService = (name: string, version: string) => ({ type: "kubernetes:core/v1:Service", name, urn: `urn:x::${name}`, props: { metadata: { name }, spec: { selector: { app: "model", version } } } });
const httpRoute = (rules: any[]) => ({ type: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", name: "model-route", urn: "urn:x::route", props: { metadata: { name: "route" }, spec: { rules } } });

describe("policy pack rules", () => {
    it("an image is mutable with no tag or `latest`, pinned by another tag or a digest", () => {
        assert.deepStrictEqual(
            ["r.io/m", "r.io:5000/team/m", "r.io/m:latest", "r.io:5000/m:v2", "r.io/m@sha256:abc", "m:latest@sha256:abc"].map(mutableImage),
            ["has no tag (it means `latest`)", "has no tag (it means `latest`)", "uses the tag `latest`", undefined, undefined, undefined]);
    });

    it("only what a ModelCanary created is checked, by its URN's type chain", () => {
        assert.strictEqual(createdByModelCanary("urn:pulumi:s::p::model-canary:index:ModelCanary$kubernetes:apps/v1:Deployment::model-v1"), true);
        assert.strictEqual(createdByModelCanary("urn:pulumi:s::p::kubernetes:apps/v1:Deployment::other"), false);
    });

    it("replicas and GPUs over their bounds are named with the bound", () => {
        assert.deepStrictEqual(replicaProblems(deployment("v1", "m:v1", 51).props, { maxReplicas: 50 }), ["`replicas` is 51, more than the 50 this policy allows (its `maxReplicas`)"]);
        assert.deepStrictEqual(replicaProblems(deployment("v1", "m:v1", 50).props, { maxReplicas: 50 }), []);
        const bounds = { maxGpusPerPod: 2, gpuResources: ["nvidia.com/gpu"] };
        assert.deepStrictEqual(gpuProblems(deployment("v1", "m:v1", 1, { "nvidia.com/gpu": "4" }).props, bounds), ["each pod asks for 4 GPUs (nvidia.com/gpu), more than the 2 this policy allows (its `maxGpusPerPod`)"]);
        assert.deepStrictEqual(gpuProblems(deployment("v1", "m:v1", 1, { "nvidia.com/gpu": "2" }).props, bounds), []);
    });

    it("a canary with the stable's image is refused; different images pass", () => {
        assert.deepStrictEqual(sameImageProblems(component(deployment("v1", "m:v1"), deployment("v2", "m:v1"))),
            ["versions `v1` and `v2` run the same image `m:v1`: a canary must run a different image than the stable version, or the rollout compares a version with itself"]);
        assert.deepStrictEqual(sameImageProblems(component(deployment("v1", "m:v1"), deployment("v2", "m:v2"))), []);
    });

    it("VirtualService: header routes to undeclared versions, a mirror with weight, weights not totalling 100, traffic to a version without pods", () => {
        const ok = component(deployment("v1", "m:v1"), deployment("v2", "m:v2"),
            vs([{ match: [{ headers: { "x-canary-version": { exact: "v2" } } }], route: [dest("v2", 100)] }, { route: [dest("v1", 90), dest("v2", 10)] }]));
        assert.deepStrictEqual([headerRouteProblems, mirrorProblems, weightProblems, idleTargetProblems].flatMap((f) => f(ok)), []);
        const bad = component(deployment("v1", "m:v1"), deployment("v2", "m:v2", 0),
            vs([{ match: [{ headers: { "x-canary-version": { exact: "v3" } } }], route: [dest("v3", 100)] }, { route: [dest("v1", 80), dest("v2", 10)], mirror: { host: "model-service", subset: "v2" } }]));
        assert.deepStrictEqual(headerRouteProblems(bad), ["VirtualService `vs` sends a header route to `v3`, which is not a version of this model (declared: `v1`, `v2`)"]);
        assert.deepStrictEqual(mirrorProblems(bad), ["VirtualService `vs` mirrors traffic to `v2` while it also gets weight 10: mirror (shadow) a canary only at canary weight 0"]);
        assert.deepStrictEqual(weightProblems(bad), ["VirtualService `vs`'s default route weights {\"v1\":80,\"v2\":10} total 90, not 100"]);
        assert.deepStrictEqual(idleTargetProblems(bad), ["version `v2` gets traffic but its Deployment runs 0 replicas: its requests would fail"]);
        const shadow = component(deployment("v1", "m:v1"), deployment("v2", "m:v2"), vs([{ route: [dest("v1", 100)], mirrors: [{ destination: { host: "model-service", subset: "v2" } }] }]));
        assert.deepStrictEqual(mirrorProblems(shadow), []);
    });

    it("HTTPRoute: versions by their Services; header rules, mirrors and all-zero weights", () => {
        const services = [versionService("model-service-v1", "v1"), versionService("model-service-v2", "v2")];
        const ok = component(deployment("v1", "m:v1"), deployment("v2", "m:v2"), ...services, httpRoute([
            { matches: [{ headers: [{ name: "x-canary-version", value: "v2" }] }], backendRefs: [{ name: "model-service-v2", port: 80 }] },
            { backendRefs: [{ name: "model-service-v1", port: 80, weight: 100 }], filters: [{ type: "RequestMirror", requestMirror: { backendRef: { name: "model-service-v2", port: 80 } } }] },
        ]));
        assert.deepStrictEqual([headerRouteProblems, mirrorProblems, weightProblems, idleTargetProblems].flatMap((f) => f(ok)), []);
        const bad = component(deployment("v1", "m:v1"), deployment("v2", "m:v2"), ...services, httpRoute([
            { matches: [{ headers: [{ name: "x-canary-version", value: "v9" }] }], backendRefs: [{ name: "elsewhere", port: 80 }] },
            { backendRefs: [{ name: "model-service-v1", port: 80, weight: 0 }, { name: "model-service-v2", port: 80, weight: 0 }] },
        ]));
        assert.deepStrictEqual(headerRouteProblems(bad), ["HTTPRoute `route` sends a header route to `Service elsewhere`, which is not a version of this model (declared: `v1`, `v2`)"]);
        assert.deepStrictEqual(weightProblems(bad), ["HTTPRoute `route`'s default rule has only zero weights: every request without a header would fail"]);
    });
});

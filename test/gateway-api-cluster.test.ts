// The Gateway API router against a real API server: the local control plane with Gateway API
// v1.6.3's standard CRDs (from the sigs.k8s.io/gateway-api Go module; started without them, which
// the preflight refuses, then with them as `cluster:up` installs them), whose schemas and CEL rules the API server enforces; then
// a stack with `router: gateway-api` through the real engine: preflight, weight steps that change
// only the HTTPRoute, `status`'s drift from the live route (sticky assignment's too), rollback, Events on the route; then switching the live stack
// to `router: istio` and back (issue 20 item 2), each update watched by Kubernetes watches on the
// namespace's VirtualServices and HTTPRoutes started before it: the host has a route object at every
// moment and exactly one after. One control plane for the file.
import * as assert from "assert";
import { spawnSync } from "child_process";
import { ControlPlane, installGatewayApiCrds, kubectl, start, stop } from "../cluster/controlplane";
import { destinationRuleSpec, gatewayApiRouteKind, httpRouteSpec, validateModelCanaryArgs, versionDestinationRules } from "../components";
import { modelNotifier, notificationEvent, notifyContext } from "../rollout/notify";
import { rollbackStack } from "../rollout/runner";
import { stackStatus } from "../rollout/stack-status";
import { connect } from "../stacks/cluster-client/cluster-api";
import { checkDestinationRuleApi } from "../stacks/cluster-client/preflight";
import { parseStackConfig } from "../stacks/config/config";
import { openStack, StackOperationError, upStack } from "../stacks/operations/automation";
import { clusterReader, ClusterReader, presentAfterEach, watchCollections, WatchEvent } from "./support/cluster";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const sticky = { cookie: "model-version" };

describe("the Gateway API router's HTTPRoute on an API server with the standard CRDs", function () {
    this.timeout(300_000);
    let cp: ControlPlane;

    let project: TestProject;
    let live: ClusterReader;
    const seed = { router: "gateway-api", serviceName: "model-service", stable: { ...stable, replicas: 2 }, canary: { ...canary, replicas: 2 }, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };
    const changed = (steps: { op: string; name: string }[]) => steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort();
    /** The live HTTPRoute's default-rule weights by backend Service. */
    const liveSplit = () => Object.fromEntries(live.get("httproutes.gateway.networking.k8s.io", "model-service").spec.rules.at(-1).backendRefs.map((b: any) => [b.name, b.weight]));
    /** What a weight step must leave as it was: the Deployments, their pods and the Services, read live. */
    const workloads = () => ({
        ...Object.fromEntries(["v1", "v2"].map((v) => [v, { generation: live.get("deployment", `model-${v}`)?.metadata.generation, pods: live.podUids(v) }])),
        ...Object.fromEntries(["model-service", "model-service-v1", "model-service-v2"].map((n) => { const o = live.get("service", n); return [n, `${o?.metadata.uid}@${o?.metadata.resourceVersion}`]; })),
    });
    const status = () => {
        const r = spawnSync(process.execPath, [sourceCli, "status", "--stack", "test", "--json", "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
            encoding: "utf8", env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
        });
        assert.strictEqual(r.status, 0, r.stderr);
        return JSON.parse(r.stdout);
    };

    before(async () => {
        cp = await start({ stopOnExit: true });
        live = clusterReader(cp);
        project = makeProject("test", { kubeconfig: cp.kubeconfig });
    });
    after(async () => {
        project?.remove();
        if (cp) await stop(cp);
    });

    it("`up` with `router: gateway-api` is refused before anything is applied when the cluster does not serve HTTPRoute v1, nor GRPCRoute v1 for `protocol: grpc`", async () => {
        // Two models, one of them gRPC: one refused `up` names both kinds and the keys asking for each.
        project.writeConfig({ models: { web: { app: "web", router: "gateway-api", stable }, scorer: { app: "scorer", router: "gateway-api", protocol: "grpc", stable } } });
        await assert.rejects(upStack(await openStack(project.ref, { create: true })), (e: StackOperationError) => {
            assert.match(e.message, /does not serve GRPCRoute and HTTPRoute at gateway\.networking\.k8s\.io\/v1, which `models\.scorer\.router` `gateway-api`, `models\.scorer\.protocol` `grpc` and `models\.web\.router` `gateway-api` need; nothing was applied\. Install the Gateway API's standard channel CRDs/);
            return true;
        });
        assert.deepStrictEqual(["web-v1", "scorer-v1"].map((d) => live.get("deployment", d)), [undefined, undefined]);
        assert.deepStrictEqual(["web-service", "scorer-service"].map((d) => live.get("service", d)), [undefined, undefined]);
        // The Gateway API's CRDs for the rest of the file, as `cluster:up` installs them.
        installGatewayApiCrds(cp);
    });

    /** Applies the route the arguments give (a GRPCRoute for `protocol: grpc`), strictly (an unknown field is an error), and reads its spec back. */
    function applyRoute(args: Record<string, unknown>): any {
        const resolved = validateModelCanaryArgs({ router: "gateway-api", stable, canary, ...args });
        const kind = gatewayApiRouteKind(resolved);
        // Named apart from the stack's own route, which the later tests create.
        const route = { apiVersion: "gateway.networking.k8s.io/v1", kind, metadata: { name: "probe", namespace: "default" }, spec: httpRouteSpec(resolved) };
        kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-test", "--validate=strict", "-f", "-"], JSON.stringify(route));
        return JSON.parse(kubectl(cp, ["get", kind.toLowerCase(), "probe", "-n", "default", "-o", "json"])).spec;
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

    it("accepts the GRPCRoute of `protocol: grpc`: every step, header routes (Exact, a prefix as RegularExpression), the shadow stage's mirror, as sent", () => {
        for (const [weight, expected] of [[1, [99, 1]], [10, [90, 10]], [50, [50, 50]], [100, [100]]] as const) {
            const spec = applyRoute({ protocol: "grpc", canaryWeight: weight });
            assert.deepStrictEqual(spec.rules.at(-1).backendRefs.map((b: { weight: number }) => b.weight), expected, `canaryWeight ${weight}`);
        }
        const headerRoutes = [{ header: "x-canary-version", exact: "v2", version: "v2" }, { header: "x-group", prefix: "beta.", version: "v1" }];
        const spec = applyRoute({ protocol: "grpc", canaryWeight: 0, mirrorPercent: 12.5, headerRoutes });
        assert.deepStrictEqual(spec.parentRefs, [{ group: "", kind: "Service", name: "model-service", port: 80 }]);
        assert.deepStrictEqual(spec.rules.map((r: any) => [r.name, r.matches?.[0].headers]), [
            ["header-0-v2", [{ type: "Exact", name: "x-canary-version", value: "v2" }]],
            ["header-1-v1", [{ type: "RegularExpression", name: "x-group", value: "^beta\\..*" }]],
            ["default", undefined],
        ]);
        assert.deepStrictEqual(spec.rules[2].filters[0].requestMirror, { backendRef: { group: "", kind: "Service", name: "model-service-v2", port: 80 }, fraction: { numerator: 125000, denominator: 1000000 } });
        kubectl(cp, ["delete", "grpcroute", "probe", "-n", "default"]);
    });

    it("accepts Gateway parents beside the Service (31, the most the arguments allow, one in another namespace) with 16 hostnames, and keeps them as sent", () => {
        const gateways = ["infra/edge", ...Array.from({ length: 30 }, (_, i) => `gw-${i}`)];
        const hostnames = ["*.fraud.example.com", ...Array.from({ length: 15 }, (_, i) => `h${i}.fraud.example.com`)];
        const spec = applyRoute({ canaryWeight: 10, gateways, hostnames });
        assert.strictEqual(spec.parentRefs.length, 32);
        assert.deepStrictEqual(spec.parentRefs.slice(0, 3), [
            { group: "", kind: "Service", name: "model-service", port: 80 },
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: "edge", namespace: "infra" },
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw-0" },
        ]);
        assert.deepStrictEqual(spec.hostnames, hostnames);
    });

    it("accepts sticky assignment's Cookie rules and each backend's Set-Cookie filter, and keeps them as sent", () => {
        const spec = applyRoute({ canaryWeight: 50, sticky: { cookie: "model-version" } });
        assert.deepStrictEqual(spec.rules.map((r: { name: string }) => r.name), ["sticky-v1", "sticky-v2", "default"]);
        assert.deepStrictEqual(spec.rules[1].matches[0].headers, [{ type: "RegularExpression", name: "Cookie", value: "^(.*;\\s*)?model-version=v2(;.*)?$" }]);
        assert.deepStrictEqual(spec.rules[2].backendRefs.map((b: any) => b.filters[0].responseHeaderModifier.add), [
            [{ name: "Set-Cookie", value: "model-version=v1; Path=/" }], [{ name: "Set-Cookie", value: "model-version=v2; Path=/" }],
        ]);
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

    it("accepts both routers' DestinationRules with `trafficPolicy` (Istio's CRD and its CEL duration rules) as sent, and refuses a duration under 1ms, as the argument check does; the preflight finds DestinationRule served", async () => {
        const trafficPolicy = {
            connectionPool: {
                tcp: { maxConnections: 100, connectTimeout: "500ms" },
                http: { http1MaxPendingRequests: 64, http2MaxRequests: 1000, maxRequestsPerConnection: 10, maxRetries: 3, idleTimeout: "1m30s" },
            },
            outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, interval: "1.5s", baseEjectionTime: "1ms", maxEjectionPercent: 100, minHealthPercent: 0 },
        };
        // Server-side apply straight to the API server, strictly (an unknown field is an error): no kubectl to start.
        const api = connect({ kubeconfig: cp.kubeconfig });
        const rules = "/apis/networking.istio.io/v1/namespaces/default/destinationrules";
        const apply = (name: string, spec: unknown) => api.request(`${rules}/${name}?fieldManager=model-canary-test&fieldValidation=Strict`, {
            method: "PATCH", contentType: "application/apply-patch+yaml", body: { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name, namespace: "default" }, spec },
        });
        const istio = destinationRuleSpec(validateModelCanaryArgs({ stable, canary, trafficPolicy }));
        const perVersion = versionDestinationRules(validateModelCanaryArgs({ router: "gateway-api", stable, canary, trafficPolicy }));
        const applied = await Promise.all([apply("probe-istio", istio), ...perVersion.map((r) => apply(`probe-${r.version}`, r.spec))]);
        assert.deepStrictEqual(applied.map((r) => r.status), [201, 201, 201], applied.map((r) => r.body).join("\n"));
        const back = await Promise.all(["probe-istio", "probe-v1", "probe-v2"].map(async (name) => JSON.parse((await api.request(`${rules}/${name}`)).body).spec));
        assert.deepStrictEqual(back, [istio, { host: "model-service-v1", trafficPolicy }, { host: "model-service-v2", trafficPolicy }]);
        // The API server draws the line where the argument check does.
        const finer = { ...trafficPolicy, outlierDetection: { interval: "0.5ms" } };
        const refused = await apply("probe-finer", { host: "model-service-v1", trafficPolicy: finer });
        assert.strictEqual(refused.status, 422);
        assert.match(JSON.parse(refused.body).message, /spec\.trafficPolicy\.outlierDetection\.interval: Invalid value: "0\.5ms": must be a valid duration greater than 1ms/);
        assert.throws(() => validateModelCanaryArgs({ stable, trafficPolicy: finer }), /`trafficPolicy\.outlierDetection\.interval` must be an Istio duration from 1ms/);
        for (const name of ["probe-istio", "probe-v1", "probe-v2"]) assert.strictEqual((await api.request(`${rules}/${name}`, { method: "DELETE" })).status, 200);
        await checkDestinationRuleApi({ kubeconfig: cp.kubeconfig }, ["trafficPolicy"]);
    });

    it("`up` at 1% creates the Deployments, a Service per version and the HTTPRoute; `status` reads it live with no drift", async () => {
        project.writeConfig({ ...seed, canaryWeight: 1 });
        const up = await upStack(await openStack(project.ref));
        // The stack and its provider were registered by the refused `up` above.
        assert.deepStrictEqual(changed(up.steps).filter((s) => s !== "create kubernetes"), [
            "create model", "create model-route", "create model-svc", "create model-v1", "create model-v1-svc", "create model-v2", "create model-v2-svc",
        ]);
        for (const v of ["v1", "v2"]) live.waitAvailable(`model-${v}`);
        assert.deepStrictEqual(live.get("service", "model-service-v2").spec.selector, { app: "model", version: "v2" });
        assert.deepStrictEqual(liveSplit(), { "model-service-v1": 99, "model-service-v2": 1 });
        assert.strictEqual(live.get("virtualservices.networking.istio.io", "model-virtual-service"), undefined);
        assert.deepStrictEqual(status().live, {
            split: { v1: 99, v2: 1 }, drift: false, differences: [], route: "HTTPRoute",
            replicas: { v1: { replicas: 2, availableReplicas: 2 }, v2: { replicas: 2, availableReplicas: 2 } },
        });
    });

    it("weight steps 10 and 50 (with `sticky`) update the HTTPRoute only: Deployments, pods and Services unchanged, read back; `status` reads the cookie rules back with no drift", async () => {
        const before = workloads();
        for (const [weight, split] of [[10, { "model-service-v1": 90, "model-service-v2": 10 }], [50, { "model-service-v1": 50, "model-service-v2": 50 }]] as const) {
            project.writeConfig({ ...seed, canaryWeight: weight, ...(weight === 50 ? { sticky } : {}) });
            const up = await upStack(await openStack(project.ref));
            assert.deepStrictEqual(changed(up.steps), ["update model-route"], `step to ${weight}`);
            assert.deepStrictEqual(liveSplit(), split);
        }
        assert.deepStrictEqual(workloads(), before);
        assert.deepStrictEqual(live.get("httproutes.gateway.networking.k8s.io", "model-service").spec.rules.map((r: any) => r.name), ["header-0-v2", "sticky-v1", "sticky-v2", "default"]);
        assert.deepStrictEqual(status().live.differences, []);
    });

    it("`status` shows a hand edit of the live HTTPRoute as drift (the split, a sticky cookie rule, a backend's Set-Cookie); rollback sends everything to stable and reads it back", async () => {
        // Rules: header-0-v2, sticky-v1, sticky-v2, default.
        kubectl(cp, ["patch", "httproutes.gateway.networking.k8s.io", "model-service", "-n", "default", "--type", "json", "--field-manager", "incident-responder",
            "-p", JSON.stringify([
                { op: "replace", path: "/spec/rules/3/backendRefs/0/weight", value: 100 }, { op: "replace", path: "/spec/rules/3/backendRefs/1/weight", value: 0 },
                { op: "replace", path: "/spec/rules/1/matches/0/headers/0/value", value: "^model-version=v1$" }, { op: "remove", path: "/spec/rules/3/backendRefs/1/filters" },
            ])]);
        const drifted = status().live;
        assert.deepStrictEqual([drifted.drift, drifted.differences], [true, [
            "split: live v1 100, v2 0, config v1 50, v2 50",
            "sticky cookie rule `sticky-v1`: live matches `^model-version=v1$` to v1, config matches `^(.*;\\s*)?model-version=v1(;.*)?$` to v1",
            "sticky cookie setting of the split: live v1 sets `model-version=v1; Path=/`, v2 none; config v1 sets `model-version=v1; Path=/`, v2 sets `model-version=v2; Path=/`",
        ]]);
        const before = workloads();
        await rollbackStack(await openStack(project.ref), "test rollback");
        const route = live.get("httproutes.gateway.networking.k8s.io", "model-service");
        assert.deepStrictEqual(route.spec.rules.map((r: any) => r.name), ["default"]);
        assert.deepStrictEqual(liveSplit(), { "model-service-v1": 100 });
        assert.deepStrictEqual(status().live.differences, []);
        // The canary's pods and Service stay for the next attempt.
        assert.deepStrictEqual({ v2: workloads().v2, svc: workloads()["model-service-v2"] }, { v2: before.v2, svc: before["model-service-v2"] });
        // The run's notifications land as Events on the HTTPRoute, which holds the weights (there is no VirtualService).
        const config = parseStackConfig({
            "model-canary:kubeconfig": cp.kubeconfig, "model-canary:router": "gateway-api", "model-canary:serviceName": "model-service",
            "model-canary:stable": JSON.stringify(stable), "model-canary:canary": JSON.stringify(canary),
        }, "test");
        const model = config.models.model;
        const notifier = modelNotifier(config, model, []);
        notifier.send(notificationEvent(notifyContext({ stack: "test" }, config, model, []), "rolled-back", { weight: 0, outcome: "rolled-back", reason: "test rollback" }));
        assert.deepStrictEqual(await notifier.settle(), { delivered: 1, failed: [] });
        const events = JSON.parse(kubectl(cp, ["get", "events", "-n", "default", "--field-selector", "reason=RolloutRolledBack", "-o", "json"])).items;
        assert.deepStrictEqual(events.map((e: any) => [e.involvedObject.apiVersion, e.involvedObject.kind, e.involvedObject.name]), [["gateway.networking.k8s.io/v1", "HTTPRoute", "model-service"]]);
    });

    it("`protocol: grpc` turns the HTTPRoute into a GRPCRoute in one `up` (created before the HTTPRoute is deleted), the Services' appProtocol to grpc; `status` and rollback read the GRPCRoute", async () => {
        project.writeConfig({ ...seed, protocol: "grpc", canaryWeight: 10 });
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(changed(up.steps), ["create model-route", "delete model-route", "update model-svc", "update model-v1-svc", "update model-v2-svc"]);
        const ops = up.steps.filter((s) => s.name === "model-route").map((s) => `${s.op} ${s.type.split(":").at(-1)}`);
        assert.deepStrictEqual(ops, ["create GRPCRoute", "delete HTTPRoute"]);
        assert.strictEqual(live.get("httproutes.gateway.networking.k8s.io", "model-service"), undefined);
        const route = live.get("grpcroutes.gateway.networking.k8s.io", "model-service");
        assert.deepStrictEqual(route.spec.rules.map((r: any) => [r.name, r.backendRefs.map((b: any) => `${b.name}=${b.weight}`)]), [
            ["header-0-v2", ["model-service-v2=1"]], ["default", ["model-service-v1=90", "model-service-v2=10"]],
        ]);
        for (const svc of ["model-service", "model-service-v1", "model-service-v2"]) assert.strictEqual(live.get("service", svc).spec.ports[0].appProtocol, "grpc", svc);
        const { replicas, ...rest } = status().live;
        assert.deepStrictEqual(rest, { split: { v1: 90, v2: 10 }, drift: false, differences: [], route: "GRPCRoute" });
        // The rollback reads the GRPCRoute back (it would find no route, and fail, reading an HTTPRoute).
        await rollbackStack(await openStack(project.ref), "test rollback");
        const back = live.get("grpcroutes.gateway.networking.k8s.io", "model-service");
        assert.deepStrictEqual(back.spec.rules.map((r: any) => [r.name, r.backendRefs.map((b: any) => `${b.name}=${b.weight}`)]), [["default", ["model-service-v1=100"]]]);
    });

    describe("switching the live stack between routers", () => {
        const routePaths = ["/apis/networking.istio.io/v1/namespaces/default/virtualservices", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", "/apis/gateway.networking.k8s.io/v1/namespaces/default/grpcroutes"];
        // The stack serves gRPC since the test above: the Gateway API router's route is a GRPCRoute, the Istio router's a VirtualService.
        const { router: _, ...istio } = { ...seed, protocol: "grpc", canaryWeight: 10 };
        const deleted = (object: string) => (events: WatchEvent[]) => events.some((e) => e.type === "DELETED" && e.object === object);
        const liveOf = async () => ((await stackStatus(project.ref)) as any).live;
        // The schema probe above attached a route of its own to the Service: only the stack's routes from here.
        before(() => kubectl(cp, ["delete", "httproute", "probe", "-n", "default"]));

        it("`gateway-api` -> `istio` with a plain `pulumi up`: the VirtualService is created before the GRPCRoute and version Services are deleted, in one update; exactly one route after, pods kept", async () => {
            const podsBefore = [live.podUids("v1"), live.podUids("v2")];
            project.writeConfig(istio);
            const watch = watchCollections(cp, routePaths);
            await watch.ready;
            const r = runPulumi(project, ["up", "--yes", "--skip-preview"]);
            assert.strictEqual(r.status, 0, r.output);
            const events = await watch.stop(deleted("GRPCRoute/model-service"));
            assert.ok(r.output.includes("model `model` switches router from `gateway-api` to `istio`: this update creates the DestinationRule `default/model-destination` and the VirtualService `default/model-virtual-service` first, "
                + "and deletes the Service `default/model-service-v1`, the Service `default/model-service-v2` and the GRPCRoute `default/model-service` only after they exist"), r.output);
            const over = presentAfterEach(events);
            assert.deepStrictEqual(over[0], ["GRPCRoute/model-service"], "the watch began with the GRPCRoute alone");
            assert.deepStrictEqual(over.filter((present) => present.length === 0), [], `a moment without a route object: ${JSON.stringify(events)}`);
            assert.deepStrictEqual(over.at(-1), ["VirtualService/model-virtual-service"]);
            assert.deepStrictEqual(live.split("model-virtual-service"), { v1: 90, v2: 10 });
            assert.strictEqual(live.get("service", "model-service-v2"), undefined);
            assert.deepStrictEqual([live.podUids("v1"), live.podUids("v2")], podsBefore);
        });

        it("`status` flags an HTTPRoute someone else attached to the Service beside the VirtualService, naming both and what to do", async () => {
            const foreign = { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "hand-made", namespace: "default" },
                spec: { parentRefs: [{ group: "", kind: "Service", name: "model-service", port: 80 }], rules: [{ backendRefs: [{ name: "model-service", port: 80 }] }] } };
            kubectl(cp, ["apply", "--server-side", "--field-manager", "someone-else", "-f", "-"], JSON.stringify(foreign));
            const drifted = await liveOf();
            assert.deepStrictEqual([drifted.drift, drifted.differences], [true, [
                "both the VirtualService `default/model-virtual-service` (this stack's, `router: istio`) and the HTTPRoute `default/hand-made` route host `model-service.default.svc.cluster.local`: "
                + "Istio follows the HTTPRoute and ignores the VirtualService, so this stack's weights and rollbacks do not apply. "
                + "Delete the HTTPRoute (`kubectl delete httproute hand-made -n default`), or switch this model to `router: gateway-api` (`up` then replaces the VirtualService with its own route `default/model-service`)",
            ]]);
            kubectl(cp, ["delete", "httproute", "hand-made", "-n", "default"]);
        });

        it("`istio` -> `gateway-api` through `up` (model-canary's, no longer refused): the GRPCRoute is created before the VirtualService is deleted; exactly one route after", async () => {
            project.writeConfig({ ...seed, protocol: "grpc", canaryWeight: 10 });
            const watch = watchCollections(cp, routePaths);
            await watch.ready;
            let output = "";
            const up = await upStack(await openStack(project.ref), { onOutput: (o) => (output += o) });
            const events = await watch.stop(deleted("VirtualService/model-virtual-service"));
            assert.ok(output.includes("model `model` switches router from `istio` to `gateway-api`: this update creates the Service `default/model-service-v1`, the Service `default/model-service-v2` and the GRPCRoute `default/model-service` first"), output);
            assert.deepStrictEqual(changed(up.steps), ["create model-route", "create model-v1-svc", "create model-v2-svc", "delete model-dr", "delete model-vs"]);
            const over = presentAfterEach(events);
            assert.deepStrictEqual(over[0], ["VirtualService/model-virtual-service"]);
            assert.deepStrictEqual(over.filter((present) => present.length === 0), [], `a moment without a route object: ${JSON.stringify(events)}`);
            assert.deepStrictEqual(over.at(-1), ["GRPCRoute/model-service"]);
            const route = live.get("grpcroutes.gateway.networking.k8s.io", "model-service");
            assert.deepStrictEqual(route.spec.rules.at(-1).backendRefs.map((b: any) => `${b.name}=${b.weight}`), ["model-service-v1=90", "model-service-v2=10"]);
            assert.deepStrictEqual((await liveOf()).differences, []);
        });
    });

    // After the switches above: `router: gateway-api`, a GRPCRoute at 10%.
    describe("the version Services' DestinationRules (`trafficPolicy`)", () => {
        it("`status` names a deleted version DestinationRule and another's removed outlier detection; `up` creates the one and takes the other back", async () => {
            const drKind = "destinationrules.networking.istio.io";
            const trafficPolicy = { outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s" } };
            project.writeConfig({ ...seed, protocol: "grpc", canaryWeight: 10, trafficPolicy });
            assert.deepStrictEqual(changed((await upStack(await openStack(project.ref))).steps), ["create model-v1-dr", "create model-v2-dr"]);
            const rendered = ["v1", "v2"].map((v) => live.get(drKind, `model-service-${v}`).spec);
            assert.deepStrictEqual(rendered, [{ host: "model-service-v1", trafficPolicy }, { host: "model-service-v2", trafficPolicy }]);
            kubectl(cp, ["delete", drKind, "model-service-v2", "-n", "default"]);
            kubectl(cp, ["patch", drKind, "model-service-v1", "-n", "default", "--type", "json", "--field-manager", "incident-responder", "-p", JSON.stringify([{ op: "remove", path: "/spec/trafficPolicy/outlierDetection" }])]);
            const drifted = ((await stackStatus(project.ref)) as any).live;
            assert.deepStrictEqual([drifted.drift, drifted.differences], [true, [
                "DestinationRule `default/model-service-v1` trafficPolicy.outlierDetection: live none, config {\"baseEjectionTime\":\"30s\",\"consecutive5xxErrors\":5,\"interval\":\"10s\"}",
                "DestinationRule `default/model-service-v2` does not exist in the cluster",
            ]]);
            assert.deepStrictEqual(changed((await upStack(await openStack(project.ref))).steps), ["create model-v2-dr", "update model-v1-dr"]);
            assert.deepStrictEqual(["v1", "v2"].map((v) => live.get(drKind, `model-service-${v}`).spec), rendered);
            assert.deepStrictEqual(((await stackStatus(project.ref)) as any).live.differences, []);
        });
    });
});

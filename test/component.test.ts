import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { drain, installMocks, Registered, settle } from "./support/mocks";
import type { ModelCanary, ModelCanaryArgs } from "../components";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };

let ModelCanaryClass: typeof ModelCanary;

/** Builds one component and returns the children it registered, by logical name. */
async function build(name: string, args: ModelCanaryArgs): Promise<{ model: ModelCanary; children: Map<string, Registered> }> {
    drain();
    const model = new ModelCanaryClass(name, args);
    const urns: pulumi.Output<string>[] = [model.urn, model.route.urn, ...Object.values(model.routingObjects).map((r) => r.urn), model.service.urn,
        ...Object.values(model.deployments).map((d) => d.urn), ...Object.values(model.envSecrets ?? {}).map((s) => s.urn)];
    await settle(pulumi.all(urns));
    await settle(model.deploymentNames);
    const children = new Map(drain().filter((r) => r.name.startsWith(name)).map((r) => [r.name, r]));
    return { model, children };
}

const kinds = (children: Map<string, Registered>) => [...children.values()].map((r) => `${r.type} ${r.name}`).sort();

describe("ModelCanary (mocked engine)", () => {
    before(async () => {
        await installMocks();
        ({ ModelCanary: ModelCanaryClass } = await import("../components"));
    });

    it("creates two Deployments, a Service, a DestinationRule and a VirtualService during a canary", async () => {
        const { children } = await build("a", { stable, canary, canaryWeight: 1, headerRoutes: [testers] });
        assert.deepStrictEqual(kinds(children), [
            "kubernetes:apps/v1:Deployment a-v1",
            "kubernetes:apps/v1:Deployment a-v2",
            "kubernetes:core/v1:Service a-svc",
            "kubernetes:networking.istio.io/v1:DestinationRule a-dr",
            "kubernetes:networking.istio.io/v1:VirtualService a-vs",
            "model-canary:index:ModelCanary a",
        ]);
    });

    it("creates one Deployment when no canary is in flight", async () => {
        const { children } = await build("b", { stable });
        assert.deepStrictEqual(kinds(children).filter((k) => k.includes("Deployment")), ["kubernetes:apps/v1:Deployment b-v1"]);
    });

    it("labels pods app and version, selects on both, and the Service on app only", async () => {
        const { children } = await build("c", { stable, canary, canaryWeight: 10 });
        const v2 = children.get("c-v2")!.inputs;
        assert.deepStrictEqual(v2.metadata.name, "model-v2");
        assert.deepStrictEqual(v2.spec.selector.matchLabels, { app: "model", version: "v2" });
        assert.deepStrictEqual(v2.spec.template.metadata.labels, { app: "model", version: "v2" });
        assert.strictEqual(v2.spec.replicas, 5);
        const container = v2.spec.template.spec.containers[0];
        assert.strictEqual(container.name, "model-server");
        assert.strictEqual(container.image, "your-docker-repo/model-runner:v2");
        assert.deepStrictEqual(container.ports, [{ name: "http", containerPort: 8080 }]);
        assert.deepStrictEqual(container.readinessProbe, { tcpSocket: { port: 8080 }, periodSeconds: 5 });
        const svc = children.get("c-svc")!.inputs;
        assert.strictEqual(svc.metadata.name, "model-service");
        assert.deepStrictEqual(svc.spec.selector, { app: "model" });
        assert.deepStrictEqual(svc.spec.ports, [{ name: "http", protocol: "TCP", appProtocol: "http", port: 80, targetPort: 8080 }]);
    });

    it("runs pods with secure defaults that the user can override", async () => {
        const secure = (await build("d", { stable })).children.get("d-v1")!.inputs.spec.template.spec;
        assert.deepStrictEqual(secure.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        assert.deepStrictEqual(secure.containers[0].securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true });
        const relaxed = (await build("e", { stable, podSecurityContext: { runAsNonRoot: false, runAsUser: 0 }, containerSecurityContext: { runAsNonRoot: false } }))
            .children.get("e-v1")!.inputs.spec.template.spec;
        assert.deepStrictEqual(relaxed.securityContext, { runAsNonRoot: false, runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } });
        assert.deepStrictEqual(relaxed.containers[0].securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: false });
    });

    it("passes env, resources, probes and annotations through to the model container", async () => {
        const resources = { requests: { cpu: "2", memory: "4Gi" }, limits: { "nvidia.com/gpu": "1" } };
        const readinessProbe = { httpGet: { path: "/v2/health/ready", port: 8080 } };
        const { children } = await build("f", { stable: { ...stable, env: { MODEL_NAME: "ranker" }, resources, readinessProbe, podAnnotations: { "prometheus.io/scrape": "true" } } });
        const pod = children.get("f-v1")!.inputs.spec.template;
        assert.deepStrictEqual(pod.metadata.annotations, { "prometheus.io/scrape": "true" });
        assert.deepStrictEqual(pod.spec.containers[0].env, [{ name: "MODEL_NAME", value: "ranker" }]);
        assert.deepStrictEqual(pod.spec.containers[0].resources, resources);
        assert.deepStrictEqual(pod.spec.containers[0].readinessProbe, readinessProbe);
    });

    it("delivers env values given as secrets through a Secret named by app and version, referenced with secretKeyRef", async () => {
        const env = { LOG_LEVEL: "info", API_KEY: pulumi.secret("s3cr3t-Tok3n") };
        const { model, children } = await build("s", { stable, canary: { ...canary, env }, canaryWeight: 10 });
        assert.deepStrictEqual(kinds(children).filter((k) => k.includes("Secret")), ["kubernetes:core/v1:Secret s-v2-env"]);
        const secret = children.get("s-v2-env")!.inputs;
        assert.deepStrictEqual(secret, {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "model-v2-env", namespace: "default", labels: { app: "model", version: "v2" } },
            type: "Opaque",
            // Handed to the engine marked secret, so state stores it encrypted and previews show [secret].
            data: { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: { API_KEY: Buffer.from("s3cr3t-Tok3n").toString("base64") } },
        });
        assert.strictEqual(await pulumi.isSecret(model.envSecrets.v2.data), true);
        const deployment = children.get("s-v2")!.inputs;
        assert.deepStrictEqual(deployment.spec.template.spec.containers[0].env, [
            { name: "LOG_LEVEL", value: "info" },
            { name: "API_KEY", valueFrom: { secretKeyRef: { name: "model-v2-env", key: "API_KEY" } } },
        ]);
        assert.ok(!JSON.stringify(deployment).includes("s3cr3t"));
        assert.ok(!JSON.stringify(deployment).includes(Buffer.from("s3cr3t-Tok3n").toString("base64")));
        assert.deepStrictEqual(Object.keys(model.envSecrets), ["v2"], "a version without secret env has no Secret");

        // A secret value's name is checked like any other, before anything is registered.
        drain();
        assert.throws(() => new ModelCanaryClass("badsecret", { stable: { ...stable, env: { "API KEY": pulumi.secret("s3cr3t-Tok3n") } } }),
            (e: Error) => /`stable\.env` key "API KEY" must be an environment variable name/.test(e.message) && !e.message.includes("s3cr3t"));
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepStrictEqual(drain().filter((r) => r.name.startsWith("badsecret")), []);
    });

    it("leaves the Secret and both Deployments untouched across weight steps and promotion", async () => {
        const secretCanary = { ...canary, env: { API_KEY: pulumi.secret("s3cr3t-Tok3n") } };
        const at10 = (await build("t", { stable, canary: secretCanary, canaryWeight: 10 })).children;
        const at50 = (await build("t", { stable, canary: secretCanary, canaryWeight: 50 })).children;
        const promoted = (await build("t", { stable: secretCanary })).children;
        for (const name of ["t-v2-env", "t-v2"]) {
            assert.deepStrictEqual(at50.get(name)!.inputs, at10.get(name)!.inputs, `${name} changed with the weight`);
            assert.deepStrictEqual(promoted.get(name)!.inputs, at10.get(name)!.inputs, `${name} changed with promotion`);
        }
    });

    it("`protocol: grpc` says `appProtocol: grpc` on every Service; the Istio router's VirtualService is the one HTTP gets, the Gateway API router's route a GRPCRoute", async () => {
        const grpcPort = [{ name: "http", protocol: "TCP", appProtocol: "grpc", port: 80, targetPort: 8080 }];
        const istio = await build("grpc-istio", { stable, canary, canaryWeight: 10, headerRoutes: [testers], protocol: "grpc" });
        const http = await build("http-istio", { stable, canary, canaryWeight: 10, headerRoutes: [testers] });
        assert.deepStrictEqual(istio.children.get("grpc-istio-svc")!.inputs.spec.ports, grpcPort);
        assert.deepStrictEqual(istio.children.get("grpc-istio-vs")!.inputs.spec, http.children.get("http-istio-vs")!.inputs.spec);
        const gatewayApi = await build("grpc-gw", { stable, canary, canaryWeight: 10, router: "gateway-api", protocol: "grpc" });
        assert.deepStrictEqual(kinds(gatewayApi.children).filter((k) => !k.includes("Deployment")), [
            "kubernetes:core/v1:Service grpc-gw-svc",
            "kubernetes:core/v1:Service grpc-gw-v1-svc",
            "kubernetes:core/v1:Service grpc-gw-v2-svc",
            "kubernetes:gateway.networking.k8s.io/v1:GRPCRoute grpc-gw-route",
            "model-canary:index:ModelCanary grpc-gw",
        ]);
        for (const svc of ["grpc-gw-svc", "grpc-gw-v1-svc", "grpc-gw-v2-svc"]) assert.deepStrictEqual(gatewayApi.children.get(svc)!.inputs.spec.ports, grpcPort, svc);
        assert.strictEqual(gatewayApi.children.get("grpc-gw-route")!.inputs.kind, "GRPCRoute");
    });

    it("gives the DestinationRule one subset per version and the VirtualService the weighted split", async () => {
        const { model, children } = await build("g", { stable, canary, canaryWeight: 10, headerRoutes: [testers] });
        assert.deepStrictEqual(children.get("g-dr")!.inputs.spec, {
            host: "model-service",
            subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }],
        });
        const vs = children.get("g-vs")!.inputs;
        assert.strictEqual(vs.apiVersion, "networking.istio.io/v1");
        assert.strictEqual(vs.metadata.name, "model-virtual-service");
        assert.deepStrictEqual(vs.spec.http.map((r: { route: { destination: { subset: string }; weight: number }[] }) => r.route.map((d) => `${d.destination.subset}:${d.weight}`)),
            [["v2:100"], ["v1:90", "v2:10"]]);
        assert.deepStrictEqual(model.split, { v1: 90, v2: 10 });
        assert.deepStrictEqual(await settle(model.deploymentNames), { v1: "model-v1", v2: "model-v2" });
        assert.strictEqual(await settle(model.serviceName), "model-service");
    });

    it("changes only the VirtualService across weights 0, 1, 10, 50 and 100 and header-route edits", async () => {
        const variants: ModelCanaryArgs[] = [0, 1, 10, 50, 100].map((w) => ({ stable, canary, canaryWeight: w, headerRoutes: w === 0 ? [] : [testers] }));
        const builds = [];
        for (const args of variants) builds.push((await build("h", args)).children);
        const names = [...builds[0].keys()].sort();
        for (const children of builds) assert.deepStrictEqual([...children.keys()].sort(), names);
        for (const name of names.filter((n) => n !== "h-vs")) {
            for (const children of builds) assert.deepStrictEqual(children.get(name)!.inputs, builds[0].get(name)!.inputs, `${name} changed`);
        }
        const defaultRoutes = builds.map((c) => JSON.stringify(c.get("h-vs")!.inputs.spec.http.at(-1).route.map((d: { weight: number }) => d.weight)));
        assert.deepStrictEqual(defaultRoutes, ["[100]", "[99,1]", "[90,10]", "[50,50]", "[100]"]);
    });

    it("keeps the promoted version's Deployment under the same name and inputs, and drops the old stable", async () => {
        const during = (await build("p", { stable, canary, canaryWeight: 100 })).children;
        const after = (await build("p", { stable: canary })).children;
        assert.deepStrictEqual([...after.keys()].filter((n) => /^p-v\d/.test(n)), ["p-v2"]);
        assert.deepStrictEqual(after.get("p-v2")!.inputs, during.get("p-v2")!.inputs);
        assert.deepStrictEqual(after.get("p-vs")!.inputs.spec.http, [{ name: "default", route: [{ destination: { host: "model-service", subset: "v2" }, weight: 100 }] }]);
    });

    describe("arguments given as Outputs", () => {
        it("takes the image, resources, pod annotations and pod labels from Outputs and promises, resolved into the Deployment", async () => {
            const gpu = pulumi.output("1");
            const { children } = await build("o", {
                stable,
                canary: {
                    ...canary,
                    image: pulumi.output("registry.example.com/team/model-runner:v2-abc123"),
                    resources: pulumi.output({ requests: { cpu: "2" }, limits: { "nvidia.com/gpu": "1" } }),
                    podAnnotations: { "prometheus.io/scrape": pulumi.output("true"), "example.com/built-by": Promise.resolve("ci") },
                    podLabels: { team: pulumi.output("ranking"), tier: "gpu" },
                },
                canaryWeight: 10,
            });
            const pod = children.get("o-v2")!.inputs.spec.template;
            assert.strictEqual(pod.spec.containers[0].image, "registry.example.com/team/model-runner:v2-abc123");
            assert.deepStrictEqual(pod.spec.containers[0].resources, { requests: { cpu: "2" }, limits: { "nvidia.com/gpu": "1" } });
            assert.deepStrictEqual(pod.metadata.annotations, { "prometheus.io/scrape": "true", "example.com/built-by": "ci" });
            assert.deepStrictEqual(pod.metadata.labels, { team: "ranking", tier: "gpu", app: "model", version: "v2" });
            // The selector and the names stay fixed: they come from plain values only.
            assert.deepStrictEqual(children.get("o-v2")!.inputs.spec.selector.matchLabels, { app: "model", version: "v2" });
            assert.strictEqual(children.get("o-v2")!.inputs.metadata.name, "model-v2");
            // Nested Outputs inside resources are resolved too.
            const nested = (await build("on", { stable: { ...stable, resources: { limits: { "nvidia.com/gpu": gpu }, requests: { "nvidia.com/gpu": gpu } } } })).children;
            assert.deepStrictEqual(nested.get("on-v1")!.inputs.spec.template.spec.containers[0].resources, { limits: { "nvidia.com/gpu": "1" }, requests: { "nvidia.com/gpu": "1" } });
        });

        it("gives plain pod labels to the pods only, and refuses `app`, `version` and bad label values up front", async () => {
            const { children } = await build("pl", { stable: { ...stable, podLabels: { team: "ranking", "example.com/cost-centre": "ml-42" } } });
            const v1 = children.get("pl-v1")!.inputs;
            assert.deepStrictEqual(v1.spec.template.metadata.labels, { team: "ranking", "example.com/cost-centre": "ml-42", app: "model", version: "v1" });
            assert.deepStrictEqual(v1.spec.selector.matchLabels, { app: "model", version: "v1" });
            assert.deepStrictEqual(v1.metadata.labels, { app: "model", version: "v1" });
            drain();
            assert.throws(() => new ModelCanaryClass("badlabels", { stable: { ...stable, podLabels: { app: "other", team: "a b" } } }), (e: Error) => e.message === [
                "2 problems:",
                "- `stable.podLabels` must not set \"app\": the component sets the pods' `app` and `version` labels, which the Service and the DestinationRule subsets select on",
                "- `stable.podLabels.team` must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (or empty), got \"a b\"",
            ].join("\n"));
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.deepStrictEqual(drain().filter((r) => r.name.startsWith("badlabels")), []);
        });

        it("refuses an Output where a plain value is needed (`canaryWeight`, `canary.version`) in one error naming each, with no toJSON warning and nothing registered", async () => {
            drain();
            const warnings: unknown[] = [];
            const warn = console.warn;
            const log = console.log;
            console.warn = (...a: unknown[]) => { warnings.push(a); };
            console.log = (...a: unknown[]) => { warnings.push(a); };
            try {
                assert.throws(() => new ModelCanaryClass("outs", { stable, canary: { ...canary, version: pulumi.output("v2") as unknown as string }, canaryWeight: pulumi.output(10) as unknown as number }),
                    (e: Error) => e instanceof pulumi.RunError && e.stack === e.message && e.message === "invalid ModelCanary argument: `canary.version`, `canaryWeight` must be plain values, not an Output or a promise: "
                        + "ModelCanary checks them and builds resource names and the traffic split from them while the program registers resources, before any Output is known; "
                        + "pass the value itself (Outputs are accepted only for a version's `image`, `resources`, `podAnnotations`, `podLabels` and `env` values)");
            } finally {
                console.warn = warn;
                console.log = log;
            }
            assert.deepStrictEqual(warnings, []);
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.deepStrictEqual(drain().filter((r) => r.name.startsWith("outs")), []);
        });

        it("still checks everything plain up front, beside Output arguments", async () => {
            drain();
            assert.throws(() => new ModelCanaryClass("mixed", { stable: { ...stable, image: pulumi.output("registry.example.com/m:v1") }, canary: { ...canary, image: "Bad Image" }, canaryWeight: 10 }),
                (e: Error) => e.message.startsWith("`canary.image` must be a container image reference") && e.message.endsWith(`got "Bad Image"`));
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.deepStrictEqual(drain().filter((r) => r.name.startsWith("mixed")), []);
        });

        it("keeps a secret image secret and a secret env value in the Secret, whatever else is an Output", async () => {
            const { model, children } = await build("sec", {
                stable: { ...stable, image: pulumi.secret("registry.example.com/private/model:v1"), env: { API_KEY: pulumi.secret("s3cr3t-Tok3n"), MODE: "fast" }, podLabels: pulumi.output({ team: "ranking" }) },
            });
            assert.strictEqual(await pulumi.isSecret(model.envSecrets.v1.data), true);
            const data = children.get("sec-v1-env")!.inputs.data;
            assert.strictEqual(data[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
            assert.deepStrictEqual(data.value, { API_KEY: Buffer.from("s3cr3t-Tok3n").toString("base64") });
            // The engine receives the Deployment's spec marked secret (the SDK marks the top-level
            // property holding a secret): state encrypts it, previews show [secret].
            const spec = children.get("sec-v1")!.inputs.spec;
            assert.strictEqual(spec[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig);
            const container = spec.value.template.spec.containers[0];
            assert.strictEqual(container.image, "registry.example.com/private/model:v1");
            assert.deepStrictEqual(container.env, [{ name: "API_KEY", valueFrom: { secretKeyRef: { name: "model-v1-env", key: "API_KEY" } } }, { name: "MODE", value: "fast" }]);
            assert.deepStrictEqual(spec.value.template.metadata.labels, { team: "ranking", app: "model", version: "v1" });
        });
    });

    it("refuses bad arguments before registering anything, the component included", async () => {
        drain();
        assert.throws(() => new ModelCanaryClass("bad", { stable, canary, canaryWeight: 150 }), /`canaryWeight` must be an integer from 0 to 100, got 150/);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.deepStrictEqual(drain().filter((r) => r.name.startsWith("bad")), []);
    });
});

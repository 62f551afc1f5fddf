// The package as a component for every Pulumi language (plugin/, docs/other-languages.md): the
// schema `pulumi package get-schema` reads from it through the real CLI and our language host is
// a contract, pinned here name by name and type by type; its argument names are the TypeScript
// component's own (argKeys, versionKeys), so neither can change without the other; and the
// cross-language arguments map back onto the TypeScript ones.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { istioApiVersions } from "../components/istio";
import { modelProtocols, routerKinds } from "../components/routers/kinds";
import { argKeys, versionKeys } from "../components/validation";
import { CrossLanguageArgsError, modelCanaryArgsFrom } from "../plugin/typescriptArgs";
import { refuseProjectNamespacedKeys } from "../plugin/modelCanariesComponent";
import { packageDir, toolchainDir } from "../stacks/operations/automation";

const pluginDir = path.join(packageDir, "plugin");

interface Property { type?: string; $ref?: string; items?: Property; additionalProperties?: Property; plain?: boolean; enum?: { value: string }[] }
interface Schema {
    name: string;
    resources: Record<string, { isComponent?: boolean; inputProperties: Record<string, Property>; requiredInputs?: string[]; properties: Record<string, Property>; required?: string[] }>;
    types: Record<string, { type: string; properties?: Record<string, Property>; required?: string[]; enum?: { name: string; value: string }[] }>;
}

/** A property's type in one word: `string`, `number[]`, `map<string>`, a type's name; `input` when it may be an Output. */
function typeOf(p: Property): string {
    const t = p.$ref ? p.$ref.split(":").pop()! : p.type === "array" ? `${typeOf(p.items!)}[]` : p.type === "object" && p.additionalProperties ? `map<${typeOf(p.additionalProperties)}>` : p.type!;
    return t;
}
function shape(properties: Record<string, Property>, required: string[] = [], inputs = true): Record<string, string> {
    return Object.fromEntries(Object.entries(properties).map(([k, p]) => [k, `${typeOf(p)}${required.includes(k) ? "" : "?"}${inputs && !p.plain ? " (input)" : ""}`]));
}

/** `pulumi package get-schema <dir>` with the toolchain's CLI and language host. */
function getSchema(dir: string, home: string): { status: number | null; stdout: string; stderr: string } {
    const bin = toolchainDir();
    const r = spawnSync(path.join(bin, "pulumi"), ["package", "get-schema", dir], {
        cwd: home,
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_HOME: path.join(home, ".pulumi") },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("model-canary as a component for every language (plugin/, the real CLI's get-schema)", function () {
    this.timeout(300_000);
    let home: string;
    let schema: Schema;

    before(() => {
        home = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-plugin-"));
        const r = getSchema(pluginDir, home);
        assert.strictEqual(r.status, 0, r.stderr);
        schema = JSON.parse(r.stdout) as Schema;
    });
    after(() => fs.rmSync(home, { recursive: true, force: true }));

    it("has two components: ModelCanary under the TypeScript component's type token, and the config-driven ModelCanaries", () => {
        assert.strictEqual(schema.name, "model-canary");
        // plugin/package.json names the package and its version, as the package's own does.
        assert.strictEqual((schema as unknown as { version: string }).version, JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")).version);
        assert.deepStrictEqual(Object.keys(schema.resources).sort(), ["model-canary:index:ModelCanaries", "model-canary:index:ModelCanary"].sort());
        assert.strictEqual(schema.resources["model-canary:index:ModelCanary"].isComponent, true);
    });

    it("ModelCanaries takes no arguments (it reads the stack config) and outputs what the commands read, under their stack output names", () => {
        const r = schema.resources["model-canary:index:ModelCanaries"];
        assert.strictEqual(r.isComponent, true);
        assert.deepStrictEqual([r.inputProperties ?? {}, r.requiredInputs ?? []], [{}, []]);
        assert.deepStrictEqual(shape(r.properties, r.required, false), { models: "pulumi.json#/Any", appliedConfig: "pulumi.json#/Any", appliedSecrets: "pulumi.json#/Any", target: "pulumi.json#/Any" });
    });

    it("takes the TypeScript arguments by name, the unions as enums, and Outputs only where the component accepts them", () => {
        const r = schema.resources["model-canary:index:ModelCanary"];
        assert.deepStrictEqual(Object.keys(r.inputProperties).sort(), [...argKeys].sort());
        assert.deepStrictEqual(shape(r.inputProperties, r.requiredInputs), {
            app: "string?", namespace: "string?", serviceName: "string?", servicePort: "number?", containerPort: "number?", containerName: "string?",
            stable: "ModelVersion", canary: "ModelVersion?", canaryWeight: "number?", mirrorPercent: "number?", headerRoutes: "HeaderRoute[]?",
            hosts: "string[]?", gateways: "string[]?", hostnames: "string[]?", virtualServiceName: "string?", destinationRuleName: "string?",
            istioApiVersion: "IstioApiVersion?", router: "Router?", protocol: "Protocol?", sticky: "Sticky?", trafficPolicy: "TrafficPolicy?",
            podSecurityContext: "PodSecurityContext?", containerSecurityContext: "SecurityContext?",
        });
        const version = schema.types["model-canary:index:ModelVersion"];
        // `replicas: number | "auto"` is two fields; every other name is the TypeScript one.
        assert.deepStrictEqual(Object.keys(version.properties!).sort(), [...versionKeys, "replicasAuto"].sort());
        assert.deepStrictEqual(shape(version.properties!, version.required), {
            version: "string", image: "string (input)", replicas: "number?", replicasAuto: "boolean?", autoReplicas: "AutoReplicas?",
            env: "map<string>?", resources: "ResourceRequirements? (input)", readinessProbe: "Probe?", livenessProbe: "Probe?",
            podAnnotations: "map<string>? (input)", podLabels: "map<string>? (input)",
        });
        // env's values may be Outputs (secrets): the map is plain, its values are not.
        assert.strictEqual(version.properties!.env.additionalProperties!.plain, undefined);
        const enumValues = (name: string) => schema.types[`model-canary:index:${name}`].enum!.map((m) => m.value);
        assert.deepStrictEqual(enumValues("IstioApiVersion"), [...istioApiVersions]);
        assert.deepStrictEqual(enumValues("Router"), [...routerKinds]);
        assert.deepStrictEqual(enumValues("Protocol"), [...modelProtocols]);
    });

    it("splits the probes' number-or-name ports into `port` and `portName`, and types the rest field by field", () => {
        const t = (name: string) => { const d = schema.types[`model-canary:index:${name}`]; return shape(d.properties!, d.required, false); };
        assert.deepStrictEqual(t("HttpGetAction"), { path: "string?", port: "number?", portName: "string?", host: "string?", scheme: "string?", httpHeaders: "HttpHeader[]?" });
        assert.deepStrictEqual(t("TcpSocketAction"), { port: "number?", portName: "string?", host: "string?" });
        assert.deepStrictEqual(t("GrpcAction"), { port: "number", service: "string?" });
        assert.deepStrictEqual(Object.keys(t("Probe")).sort(), ["exec", "failureThreshold", "grpc", "httpGet", "initialDelaySeconds", "periodSeconds", "successThreshold", "tcpSocket", "terminationGracePeriodSeconds", "timeoutSeconds"]);
        assert.deepStrictEqual(t("HeaderRoute"), { header: "string", exact: "string?", prefix: "string?", regex: "string?", version: "string" });
        assert.deepStrictEqual(t("AutoReplicas"), { min: "number?", max: "number?", shrinkStable: "boolean?", hold: "number?", holdStable: "number?" });
        assert.deepStrictEqual(t("ResourceRequirements"), { limits: "map<string>?", requests: "map<string>?", claims: "ResourceClaim[]?" });
        assert.deepStrictEqual(t("Sticky"), { cookie: "string" });
        assert.deepStrictEqual(t("TrafficPolicy"), { connectionPool: "ConnectionPool?", outlierDetection: "OutlierDetection?" });
        assert.deepStrictEqual(t("ConnectionPool"), { tcp: "TcpConnectionPool?", http: "HttpConnectionPool?" });
        assert.deepStrictEqual(t("TcpConnectionPool"), { maxConnections: "number?", connectTimeout: "string?" });
        assert.deepStrictEqual(t("HttpConnectionPool"), { http1MaxPendingRequests: "number?", http2MaxRequests: "number?", maxRequestsPerConnection: "number?", maxRetries: "number?", idleTimeout: "string?" });
        assert.deepStrictEqual(t("OutlierDetection"), { consecutive5xxErrors: "number?", consecutiveGatewayErrors: "number?", interval: "string?", baseEjectionTime: "string?", maxEjectionPercent: "number?", minHealthPercent: "number?" });
    });

    it("outputs the TypeScript component's values by name, as plain values any language reads (no Kubernetes resource objects)", () => {
        const r = schema.resources["model-canary:index:ModelCanary"];
        assert.deepStrictEqual(shape(r.properties, r.required, false), {
            serviceName: "string", virtualServiceName: "string?", destinationRuleName: "string?", deploymentNames: "map<string>",
            router: "Router", routingObjectNames: "RoutingObjectName[]", split: "map<number>", headerRoutes: "HeaderRoute[]",
            stableVersion: "string", canaryVersion: "string?", canaryWeight: "number", replicas: "map<number>", mirror: "Mirror?", namespace: "string",
        });
        const t = (name: string) => { const d = schema.types[`model-canary:index:${name}`]; return shape(d.properties!, d.required, false); };
        assert.deepStrictEqual(t("RoutingObjectName"), { apiVersion: "string", kind: "string", namespace: "string", name: "string" });
        assert.deepStrictEqual(t("Mirror"), { version: "string", percent: "number" });
    });
});

describe("ModelCanary built through the plugin (a remote component of a Node.js program, the real engine, render mode)", function () {
    this.timeout(600_000);
    let dir: string;
    const bin = toolchainDir();
    const run = (args: string[], program: string) => {
        fs.writeFileSync(path.join(dir, "index.js"), program);
        return spawnSync(path.join(bin, "pulumi"), args, {
            cwd: dir,
            encoding: "utf8",
            env: {
                ...process.env, PATH: `${bin}:${process.env.PATH}`, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_HOME: path.join(dir, ".pulumi"),
                PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "test",
            },
        });
    };
    // The component as another language's SDK registers it: by type token, remote, with the
    // cross-language arguments; the Kubernetes provider renders to out/.
    const program = (args: string) => `const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const provider = new k8s.Provider("render", { renderYamlToDirectory: "out" });
const c = new pulumi.ComponentResource("model-canary:index:ModelCanary", "fraud", { ...${args}, serviceName: undefined, split: undefined, deploymentNames: undefined, replicas: undefined },
    { providers: { kubernetes: provider } }, true);
module.exports = { serviceName: c.serviceName, split: c.split, deploymentNames: c.deploymentNames, replicas: c.replicas };
`;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-remote-"));
        fs.mkdirSync(path.join(dir, "state"));
        fs.symlinkSync(path.join(packageDir, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "remote-consumer", main: "index.js" }));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: remote-consumer\nruntime: nodejs\nmain: index.js\npackages:\n  model-canary: ${pluginDir}\n`);
        const r = run(["stack", "init", "dev", "--non-interactive"], "");
        assert.strictEqual(r.status, 0, r.stderr);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("an Output image, a secret env value, replicasAuto and a named probe port build the TypeScript component's objects under the same URNs", () => {
        const r = run(["up", "--yes", "--non-interactive", "--skip-preview"], program(`{
    stable: { version: "v1", image: pulumi.output("registry.example/m:1"), replicas: 2, env: { TOKEN: pulumi.secret("s3cret") }, readinessProbe: { httpGet: { path: "/ready", portName: "http" } } },
    canary: { version: "v2", image: "registry.example/m:2", replicasAuto: true },
    canaryWeight: 50,
    istioApiVersion: "networking.istio.io/v1",
}`));
        assert.strictEqual(r.status, 0, r.stdout + r.stderr);
        const outputs = JSON.parse(run(["stack", "output", "--json"], "").stdout);
        assert.deepStrictEqual(outputs, { serviceName: "model-service", split: { v1: 50, v2: 50 }, deploymentNames: { v1: "model-v1", v2: "model-v2" }, replicas: { v1: 2, v2: 1 } });
        const state = JSON.parse(run(["stack", "export"], "").stdout) as { deployment: { resources: { urn: string }[] } };
        assert.deepStrictEqual(state.deployment.resources.map((res) => res.urn.split("::").slice(2).join("::")).filter((u) => u.startsWith("model-canary:")).sort(), [
            "model-canary:index:ModelCanary$kubernetes:apps/v1:Deployment::fraud-v1",
            "model-canary:index:ModelCanary$kubernetes:apps/v1:Deployment::fraud-v2",
            "model-canary:index:ModelCanary$kubernetes:core/v1:Secret::fraud-v1-env",
            "model-canary:index:ModelCanary$kubernetes:core/v1:Service::fraud-svc",
            "model-canary:index:ModelCanary$kubernetes:networking.istio.io/v1:DestinationRule::fraud-dr",
            "model-canary:index:ModelCanary$kubernetes:networking.istio.io/v1:VirtualService::fraud-vs",
            "model-canary:index:ModelCanary::fraud",
        ]);
        const rendered = (file: string) => fs.readFileSync(path.join(dir, "out", "1-manifest", file), "utf8");
        const v1 = rendered("apps_v1-deployment-default-model-v1.yaml");
        assert.match(v1, /image: registry\.example\/m:1/);
        assert.match(v1, /httpGet:\n\s+path: \/ready\n\s+port: http/);
        assert.match(v1, /secretKeyRef:\n\s+key: TOKEN\n\s+name: model-v1-env/);
        assert.match(rendered("apps_v1-deployment-default-model-v2.yaml"), /replicas: 1\n/);
    });

    it("a value only the cross-language shape can hold wrong (replicas and replicasAuto) fails the preview naming both keys", () => {
        const r = run(["preview", "--non-interactive"], program(`{ stable: { version: "v1", image: "m:1" }, canary: { version: "v2", image: "m:2", replicas: 2, replicasAuto: true } }`));
        assert.notStrictEqual(r.status, 0);
        assert.match(r.stdout + r.stderr, /invalid ModelCanary argument: `canary\.replicas` and `canary\.replicasAuto` cannot both be set, got replicas 2 and replicasAuto true/);
    });
});

describe("the component plugin when it cannot start", function () {
    this.timeout(300_000);

    it("a copy of the package without its compiled code (a checkout before `npm ci`) fails naming the missing file and the command that builds it", () => {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-plugin-uncompiled-"));
        try {
            // The package's layout without dist/: plugin/ as shipped, the dependencies resolving.
            fs.cpSync(pluginDir, path.join(home, "package", "plugin"), { recursive: true });
            fs.symlinkSync(path.join(packageDir, "node_modules"), path.join(home, "package", "node_modules"));
            const r = getSchema(path.join(home, "package", "plugin"), home);
            assert.strictEqual(r.status, 1);
            const root = path.join(home, "package");
            assert.ok(r.stderr.includes(`model-canary's component plugin is not compiled: ${path.join(root, "dist", "plugin", "index.js")} is missing. In a checkout of model-canary run \`npm ci\` (or \`npm run compile\`) in ${root}; the package from npm ships it compiled`), r.stderr);
            assert.match(r.stderr, /exited with code 32 after reporting its error/);
        } finally {
            fs.rmSync(home, { recursive: true, force: true });
        }
    });
});

describe("the cross-language arguments mapped onto the TypeScript ones (plugin/typescriptArgs.ts)", () => {
    it("`replicasAuto: true` is `replicas: auto`, a probe's `portName` or `port` is its `port`; the rest is passed as given", () => {
        assert.deepStrictEqual(modelCanaryArgsFrom({
            app: "fraud",
            stable: { version: "v1", image: "m:1", replicas: 4, readinessProbe: { httpGet: { path: "/ready", portName: "http" }, periodSeconds: 5 } },
            canary: { version: "v2", image: "m:2", replicasAuto: true, autoReplicas: { min: 1, max: 3 }, livenessProbe: { tcpSocket: { port: 8080 } } },
            canaryWeight: 10,
        }), {
            app: "fraud",
            stable: { version: "v1", image: "m:1", replicas: 4, readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 5 } },
            canary: { version: "v2", image: "m:2", replicas: "auto", autoReplicas: { min: 1, max: 3 }, livenessProbe: { tcpSocket: { port: 8080 } } },
            canaryWeight: 10,
        });
    });

    it("refuses both halves of a split union, naming the keys and the values", () => {
        assert.throws(() => modelCanaryArgsFrom({
            stable: { version: "v1", image: "m:1", readinessProbe: { httpGet: { port: 8080, portName: "http" } } },
            canary: { version: "v2", image: "m:2", replicas: 2, replicasAuto: true },
        }), (e: unknown) => e instanceof CrossLanguageArgsError && e.message === [
            "2 problems:",
            "- `stable.readinessProbe.httpGet.port` and `stable.readinessProbe.httpGet.portName` cannot both be set, got 8080 and \"http\": set one, the port's number or the container port's name",
            "- `canary.replicas` and `canary.replicasAuto` cannot both be set, got replicas 2 and replicasAuto true: set `replicasAuto: true` to size the canary from its traffic, or `replicas` for a fixed count",
        ].join("\n"));
    });
});

describe("ModelCanaries in a project of another name (plugin/modelCanariesComponent.ts)", () => {
    it("refuses model-canary's keys written under the project's namespace, naming each and the key that is read", () => {
        // `pulumi config set canaryWeight 10` in project `models` writes `models:canaryWeight`.
        assert.throws(() => refuseProjectNamespacedKeys("models", ["model-canary:canaryWeight", "models:canaryWeight", "models:renderDir", "models:owner"]), (e: Error) => {
            assert.deepStrictEqual(e.message.split("\n"), [
                "`models:canaryWeight` is not read: model-canary's keys are in the `model-canary` namespace, so set `model-canary:canaryWeight` (e.g. `pulumi config set model-canary:canaryWeight ...`) and remove `models:canaryWeight` (`pulumi config rm canaryWeight`). Nothing was applied.",
                "`models:renderDir` is not read: model-canary's keys are in the `model-canary` namespace, so set `model-canary:renderDir` (e.g. `pulumi config set model-canary:renderDir ...`) and remove `models:renderDir` (`pulumi config rm renderDir`). Nothing was applied.",
            ]);
            return true;
        });
    });

    it("leaves the project's own keys, other namespaces and a project named model-canary alone", () => {
        assert.doesNotThrow(() => refuseProjectNamespacedKeys("models", ["models:owner", "kubernetes:context", "model-canary:canaryWeight"]));
        assert.doesNotThrow(() => refuseProjectNamespacedKeys("model-canary", ["model-canary:canaryWeight"]));
    });
});

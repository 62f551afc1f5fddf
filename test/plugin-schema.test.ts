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

    it("has one component, ModelCanary, under the TypeScript component's type token", () => {
        assert.strictEqual(schema.name, "model-canary");
        // plugin/package.json names the package and its version, as the package's own does.
        assert.strictEqual((schema as unknown as { version: string }).version, JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")).version);
        assert.deepStrictEqual(Object.keys(schema.resources), ["model-canary:index:ModelCanary"]);
        assert.strictEqual(schema.resources["model-canary:index:ModelCanary"].isComponent, true);
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

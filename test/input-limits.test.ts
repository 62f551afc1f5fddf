// Input checked as the README promises: integers, name lengths (derived names included), header
// routes checked with RE2's rules, control characters, Kubernetes-typed fields and size limits.
import * as assert from "assert";
import { limits, quantityValue, validateModelCanaryArgs, ValidationError } from "../components";
import { parseStackConfig } from "../stacks/config/config";
import { refusalProblems } from "./support/refusal";

const stable = { version: "v1", image: "registry.example.com/team/model-runner:v1" };
const canary = { version: "v2", image: "registry.example.com/team/model-runner:v2" };

function problemsOf(input: unknown): string[] {
    return refusalProblems(() => validateModelCanaryArgs(input), `expected ${JSON.stringify(input).slice(0, 200)} to be refused`);
}

const route = (match: Record<string, string>) => ({ stable, canary, headerRoutes: [{ header: "x-canary-version", version: "v2", ...match }] });

describe("input limits", () => {
    describe("integers", () => {
        it("refuses replicas past Kubernetes' int32 instead of letting them wrap (99999999999 rendered as 1215752191)", () => {
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, replicas: 99999999999 } }), ["`stable.replicas` must be an integer from 0 to 2147483647, got 99999999999"]);
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, replicas: "99999999999" } }), ["`stable.replicas` must be an integer from 0 to 2147483647, got \"99999999999\""]);
        });

        it("refuses replicas of 1e308, which rendered as 0", () => {
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, replicas: 1e308 } }), ["`stable.replicas` must be an integer from 0 to 2147483647, got 1e+308"]);
        });

        it("accepts replicas at the int32 maximum", () => {
            assert.strictEqual(validateModelCanaryArgs({ stable: { ...stable, replicas: "2147483647" } }).stable.replicas, 2147483647);
        });

        for (const text of ["0x10", "1e2", " 10 ", "+10", "10.0", "010", "0b1", "Infinity"]) {
            it(`refuses canaryWeight ${JSON.stringify(text)}, which Number() reads as another number`, () => {
                const problems = problemsOf({ stable, canary, canaryWeight: text });
                assert.strictEqual(problems.length, 1);
                assert.match(problems[0], /^`canaryWeight` must be an integer from 0 to 100( written in plain decimal digits)?, got /);
                assert.ok(problems[0].endsWith(`got ${JSON.stringify(text)}`), problems[0]);
            });
        }

        it("says plain decimal digits are needed when the text is an integer in another form", () => {
            assert.deepStrictEqual(problemsOf({ stable, canary, canaryWeight: "0x10" }), ["`canaryWeight` must be an integer from 0 to 100 written in plain decimal digits, got \"0x10\""]);
        });

        it("applies the same to ports", () => {
            assert.deepStrictEqual(problemsOf({ stable, servicePort: "8e1", containerPort: "0x1F90" }), [
                "`servicePort` must be an integer from 1 to 65535 written in plain decimal digits, got \"8e1\"",
                "`containerPort` must be an integer from 1 to 65535 written in plain decimal digits, got \"0x1F90\"",
            ]);
        });
    });

    describe("names", () => {
        it("refuses a 70-character namespace or app, as the message says 63 at most", () => {
            const long = "n".repeat(70);
            assert.deepStrictEqual(problemsOf({ stable, namespace: long }), [
                `\`namespace\` must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, got "${"n".repeat(70)}" (70 characters)`,
            ]);
            assert.ok(problemsOf({ stable, app: long })[0].startsWith("`app` must be a DNS label"));
            assert.ok(problemsOf({ stable: { ...stable, version: "v".repeat(64) } })[0].startsWith("`stable.version` must be a DNS label"));
        });

        it("accepts a name of exactly 63 characters", () => {
            assert.strictEqual(validateModelCanaryArgs({ stable, namespace: "n".repeat(63) }).namespace, "n".repeat(63));
        });

        it("reports a derived default name that does not fit, with its derivation", () => {
            const app = "a".repeat(50);
            const problems = problemsOf({ stable, app: "a".repeat(50) });
            assert.deepStrictEqual(problems, [
                `\`virtualServiceName\` defaults to \`<app>-virtual-service\` = "${app}-virtual-service" (66 characters), which is not a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters; set \`virtualServiceName\` or use a shorter \`app\``,
            ]);
        });

        it("accepts the long app once the derived names are set explicitly", () => {
            const r = validateModelCanaryArgs({ stable, app: "a".repeat(50), virtualServiceName: "model-vs" });
            assert.strictEqual(r.serviceName, `${"a".repeat(50)}-service`);
        });

        it("refuses a Deployment name <app>-<version> longer than 63 characters and names it", () => {
            const app = "a".repeat(40);
            const version = "v".repeat(30);
            const problems = problemsOf({ stable: { ...stable, version }, app, serviceName: "svc", virtualServiceName: "vs", destinationRuleName: "dr" });
            assert.deepStrictEqual(problems, [
                `\`stable.version\` makes the Deployment name \`<app>-<version>\` = "${app}-${version}" 71 characters long; it must be at most 63 (a DNS label): use a shorter \`app\` or version`,
            ]);
        });

        it("checks hosts as DNS names (wildcards allowed) and gateways as `ns/name` references", () => {
            assert.deepStrictEqual(validateModelCanaryArgs({ stable, hosts: ["*.models.example.com", "model-service", "*"], gateways: ["mesh", "istio-system/public-gw"] }).gateways, ["mesh", "istio-system/public-gw"]);
            assert.deepStrictEqual(problemsOf({ stable, hosts: ["Model Service", "a".repeat(64) + ".example.com"], gateways: ["istio-system/gw/x", "Bad_Gw"] }), [
                "`hosts[0]` must be a DNS name (lowercase, at most 253 characters), optionally with a wildcard prefix such as *.example.com, or *, got \"Model Service\"",
                `\`hosts[1]\` must be a DNS name (lowercase, at most 253 characters), optionally with a wildcard prefix such as *.example.com, or *, got "${"a".repeat(64)}.example.com" (76 characters)`,
                "`gateways[0]` must be an Istio gateway: `mesh`, `<name>` or `<namespace>/<name>` (DNS names), got \"istio-system/gw/x\"",
                "`gateways[1]` must be an Istio gateway: `mesh`, `<name>` or `<namespace>/<name>` (DNS names), got \"Bad_Gw\"",
            ]);
        });

        it("checks image references against the reference grammar", () => {
            for (const image of ["model:v1", "localhost:5000/model", "ghcr.io/org/model-runner:2.1.0-rc_1", `model@sha256:${"a".repeat(64)}`, `r.io/m:v1@sha256:${"0".repeat(64)}`]) {
                assert.strictEqual(validateModelCanaryArgs({ stable: { ...stable, image } }).stable.image, image);
            }
            for (const image of ["Model:v1", "model:v1 --privileged", "model:", "model:-x", "model@sha256:short", "-model", "model:v1\n"]) {
                assert.match(problemsOf({ stable: { ...stable, image } })[0], /^`stable\.image` must be a container image reference/, image);
            }
        });

        it("checks pod annotation keys as Kubernetes qualified names", () => {
            assert.deepStrictEqual(validateModelCanaryArgs({ stable: { ...stable, podAnnotations: { "prometheus.io/scrape": "true", "sidecar.istio.io/inject": "true" } } }).stable.podAnnotations,
                { "prometheus.io/scrape": "true", "sidecar.istio.io/inject": "true" });
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, podAnnotations: { "bad key": "x", "a/b/c": "y" } } }), [
                "`stable.podAnnotations` key \"bad key\" must be an annotation key: an optional DNS-name prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
                "`stable.podAnnotations` key \"a/b/c\" must be an annotation key: an optional DNS-name prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            ]);
        });

        it(`refuses more than ${limits.envVars} environment variables`, () => {
            const env = Object.fromEntries(Array.from({ length: limits.envVars + 1 }, (_, i) => [`VAR_${i}`, "x"]));
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, env } }), ["`stable.env` must have at most 100 entries, got 101"]);
        });
    });

    describe("header routes", () => {
        it("accepts the valid RE2 `(?i)^beta`, which JavaScript's RegExp refuses", () => {
            assert.deepStrictEqual(validateModelCanaryArgs(route({ regex: "(?i)^beta" })).headerRoutes, [{ header: "x-canary-version", regex: "(?i)^beta", version: "v2" }]);
        });

        it("refuses `\\Z`, which JavaScript's RegExp accepts and RE2 does not", () => {
            assert.deepStrictEqual(problemsOf(route({ regex: "^beta\\Z" })), [
                "`headerRoutes[0].regex` must be an RE2 regular expression (the syntax Istio uses: no lookaround, no backreferences, no \\Z), got \"^beta\\\\Z\" (error parsing regexp: invalid escape sequence: `\\Z`)",
            ]);
        });

        it("refuses backreferences and RE2's repeat limit", () => {
            assert.match(problemsOf(route({ regex: "(a)\\1" }))[0], /invalid escape sequence: `\\1`/);
            assert.match(problemsOf(route({ regex: "a{1001}" }))[0], /invalid repeat count/);
        });

        for (const [what, value] of [["a newline", "v2\nx-injected: 1"], ["a carriage return", "v2\r"], ["a NUL", "v\u00002"], ["an ANSI escape", "\u001b[31mv2"], ["a tab", "v\t2"]] as const) {
            for (const kind of ["exact", "prefix", "regex"]) {
                it(`refuses ${what} in a header ${kind} value`, () => {
                    const problems = problemsOf(route({ [kind]: value }));
                    assert.ok(problems[0].startsWith(`\`headerRoutes[0].${kind}\` must not contain control characters (newlines, tabs, escapes), got ${JSON.stringify(value)} with`), problems[0]);
                });
            }
        }

        it("limits the length of header names and values", () => {
            assert.match(problemsOf({ stable, canary, headerRoutes: [{ header: "x".repeat(257), exact: "v2", version: "v2" }] })[0], /^`headerRoutes\[0\]\.header` must be a lowercase HTTP header name \(Istio matches lowercase names\) of at most 256 characters/);
            assert.deepStrictEqual(problemsOf(route({ exact: "v".repeat(1025) })), ["`headerRoutes[0].exact` must be at most 1024 characters, got 1025"]);
            assert.strictEqual(validateModelCanaryArgs(route({ exact: "v".repeat(1024) })).headerRoutes.length, 1);
        });

        it(`refuses more than ${limits.headerRoutes} header routes with a clear error (3,000 ended in "argument list too long")`, () => {
            const many = (n: number) => ({ stable, canary, headerRoutes: Array.from({ length: n }, (_, i) => ({ header: "x-tenant", exact: `t${i}`, version: "v2" })) });
            assert.strictEqual(validateModelCanaryArgs(many(100)).headerRoutes.length, 100);
            assert.deepStrictEqual(problemsOf(many(3000)), ["`headerRoutes` must have at most 100 routes, got 3000"]);
        });
    });

    describe("Kubernetes-typed fields", () => {
        it("refuses an unknown field in a probe, naming its path", () => {
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, readinessProbe: { foo: "bar" } } }), [
                "unknown field `stable.readinessProbe.foo`; accepted fields are `exec`, `httpGet`, `tcpSocket`, `grpc`, `initialDelaySeconds`, `timeoutSeconds`, `periodSeconds`, `successThreshold`, `failureThreshold`, `terminationGracePeriodSeconds`",
                "`stable.readinessProbe` must set exactly one of `exec`, `httpGet`, `tcpSocket`, `grpc`, got none",
            ]);
        });

        it("checks probe handlers, ports and timings", () => {
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, tcpSocket: { port: 8080 }, periodSeconds: 0, successThreshold: 2 } } }), [
                "`stable.livenessProbe.httpGet.port` must be a port number from 1 to 65535 or \"http\" (the container's named port), got \"metrics\"",
                "`stable.livenessProbe.periodSeconds` must be an integer from 1 to 2147483647, got 0",
                "`stable.livenessProbe` must set exactly one of `exec`, `httpGet`, `tcpSocket`, `grpc`, got `httpGet` and `tcpSocket`",
                "`stable.livenessProbe.successThreshold` must be 1 for a liveness probe, got 2",
            ]);
            assert.deepStrictEqual(problemsOf({ canary, stable: { ...stable, readinessProbe: { exec: { command: [] }, timeoutSeconds: "1e1" } } }), [
                "`stable.readinessProbe.exec.command` must have at least 1 item, got none",
                "`stable.readinessProbe.timeoutSeconds` must be an integer from 1 to 2147483647, got \"1e1\"",
            ]);
        });

        it("passes a valid probe through, with integers given as text turned into numbers", () => {
            const r = validateModelCanaryArgs({ stable: { ...stable, readinessProbe: { httpGet: { path: "/ready", port: "http", scheme: "HTTP" }, periodSeconds: "3" } } });
            assert.deepStrictEqual(r.stable.readinessProbe, { httpGet: { path: "/ready", port: "http", scheme: "HTTP" }, periodSeconds: 3 });
        });

        it("refuses junk under resources and checks quantities", () => {
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, resources: { limits: { cpu: "lots", memory: "2GB", "nvidia.com/gpu": "0.5" }, requests: { memory: "-1Gi", gpu: 1 }, junk: true } } }), [
                "`stable.resources.limits.cpu` must be a Kubernetes quantity such as 500m, 2Gi, 1.5 or 1e3, got \"lots\"",
                "`stable.resources.limits.memory` must be a Kubernetes quantity such as 500m, 2Gi, 1.5 or 1e3, got \"2GB\"",
                "`stable.resources.limits.nvidia.com/gpu` must be a whole number of nvidia.com/gpu, got \"0.5\"",
                "`stable.resources.requests.memory` must not be negative, got \"-1Gi\"",
                "`stable.resources.requests` key \"gpu\" must be cpu, memory, ephemeral-storage, hugepages-<size> or a prefixed extended resource such as nvidia.com/gpu",
                "unknown field `stable.resources.junk`; accepted fields are `limits`, `requests`, `claims`",
            ]);
        });

        it("refuses requests above limits, and GPU requests that differ from limits", () => {
            assert.deepStrictEqual(problemsOf({ stable: { ...stable, resources: { limits: { cpu: "500m", "nvidia.com/gpu": 2 }, requests: { cpu: "1", "nvidia.com/gpu": 1 } } } }), [
                "`stable.resources.requests.cpu` (\"1\") must be at most `stable.resources.limits.cpu` (\"500m\")",
                "`stable.resources.requests.nvidia.com/gpu` (1) must be equal to `stable.resources.limits.nvidia.com/gpu` (2)",
            ]);
        });

        it("accepts the README's GPU example and ordinary quantities", () => {
            const resources = { limits: { "nvidia.com/gpu": "1", memory: "16Gi", cpu: 4 }, requests: { cpu: "3500m", memory: "12e9", "ephemeral-storage": "1.5Gi" } };
            assert.deepStrictEqual(validateModelCanaryArgs({ stable: { ...stable, resources } }).stable.resources, resources);
        });

        it("parses quantities per the Kubernetes grammar", () => {
            assert.deepStrictEqual(["500m", "2Gi", "1.5", "1e3", "12E-1", ".5", "5.", "1Ki", "3M", "+2"].map(quantityValue), [0.5, 2 * 2 ** 30, 1.5, 1000, 1.2, 0.5, 5, 1024, 3e6, 2]);
            assert.deepStrictEqual(["2GB", "1.5.1", "Gi", "1 Gi", "1gi", "0x10", "", "1e", "1Ki2"].map(quantityValue), Array(9).fill(undefined));
        });

        it("refuses `podSecurityContext: {privileged: \"yes\"}` and says where the field belongs", () => {
            assert.deepStrictEqual(problemsOf({ stable, podSecurityContext: { privileged: "yes" } }), [
                "unknown field `podSecurityContext.privileged` (it belongs in `containerSecurityContext`); accepted fields are `appArmorProfile`, `fsGroup`, `fsGroupChangePolicy`, `runAsGroup`, `runAsNonRoot`, `runAsUser`, `seLinuxChangePolicy`, `seLinuxOptions`, `seccompProfile`, `supplementalGroups`, `supplementalGroupsPolicy`, `sysctls`, `windowsOptions`",
            ]);
        });

        it("checks security context types, enums and the pairs the API server refuses", () => {
            assert.deepStrictEqual(problemsOf({
                stable,
                podSecurityContext: { runAsUser: -1, fsGroupChangePolicy: "Sometimes", seccompProfile: { type: "Localhost" } },
                containerSecurityContext: { privileged: true, readOnlyRootFilesystem: "yes", capabilities: { add: ["net_admin"] } },
            }), [
                "`podSecurityContext.runAsUser` must be an integer from 0 to 2147483647, got -1",
                "`podSecurityContext.fsGroupChangePolicy` must be one of OnRootMismatch, Always, got \"Sometimes\"",
                "`podSecurityContext.seccompProfile.localhostProfile` is required when `podSecurityContext.seccompProfile.type` is Localhost (the seccomp profile file on the node)",
                "`containerSecurityContext.readOnlyRootFilesystem` must be true or false, got \"yes\"",
                "`containerSecurityContext.capabilities.add[0]` must be a Linux capability name such as NET_BIND_SERVICE or ALL, got \"net_admin\"",
                "`containerSecurityContext.privileged` is true but `containerSecurityContext.allowPrivilegeEscalation` is false (the default); Kubernetes refuses that pair",
            ]);
            assert.deepStrictEqual(problemsOf({ stable, containerSecurityContext: { runAsUser: 0 } }), [
                "`containerSecurityContext.runAsUser` is 0 (root) but `containerSecurityContext.runAsNonRoot` is true (the default): the kubelet would refuse to start the container; set runAsNonRoot: false to run as root",
            ]);
        });

        it("accepts valid security contexts unchanged", () => {
            const r = validateModelCanaryArgs({
                stable,
                podSecurityContext: { runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000], seccompProfile: { type: "RuntimeDefault" } },
                containerSecurityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } },
            });
            assert.deepStrictEqual(r.podSecurityContext, { runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000], seccompProfile: { type: "RuntimeDefault" } });
            assert.deepStrictEqual(r.containerSecurityContext, { readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } });
        });
    });

    describe("the whole config", () => {
        it(`refuses project config past ${limits.configBytes / 1024} KiB, naming the size and the limit`, () => {
            const env = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`BLOB_${i}`, "x".repeat(7000)]));
            const all = { "model-canary:stable": JSON.stringify({ ...stable, env }) };
            assert.throws(() => parseStackConfig(all, "dev"), (e: ValidationError) =>
                e instanceof ValidationError && e.problems.length === 1
                && /^the project's config is \d+ bytes; at most 65536 are accepted \(the engine passes all config to the program in one environment variable, which Linux caps at 128 KiB\): largest keys `stable` \(\d+ bytes\)$/.test(e.problems[0]));
        });
    });
});

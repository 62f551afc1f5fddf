import * as assert from "assert";
import { checkKnownInput, DeferrableField, validateModelCanaryArgs, ValidationError } from "../components";
import { refusalProblems } from "./support/refusal";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };

function problemsOf(input: unknown): string[] {
    return refusalProblems(() => validateModelCanaryArgs(input), "expected the arguments to be refused");
}

describe("validateModelCanaryArgs", () => {
    it("applies the documented defaults to the smallest valid input", () => {
        const r = validateModelCanaryArgs({ stable: { version: "v1", image: "m:v1" } });
        assert.deepStrictEqual(
            [r.app, r.namespace, r.serviceName, r.servicePort, r.containerPort, r.containerName, r.canaryWeight],
            ["model", "default", "model-service", 80, 8080, "model-server", 0],
        );
        assert.deepStrictEqual(r.hosts, ["model-service"]);
        assert.strictEqual(r.stable.replicas, 1);
        assert.deepStrictEqual(r.stable.env, {});
        assert.deepStrictEqual(r.headerRoutes, []);
        assert.strictEqual(r.virtualServiceName, "model-virtual-service");
        assert.strictEqual(r.destinationRuleName, "model-destination");
        assert.strictEqual(r.istioApiVersion, "networking.istio.io/v1");
        assert.strictEqual(r.canary, undefined);
    });

    it("keeps a meaningful zero instead of replacing it with a default", () => {
        const r = validateModelCanaryArgs({ stable: { ...stable, replicas: 0 }, canary, canaryWeight: 0 });
        assert.strictEqual(r.stable.replicas, 0);
        assert.strictEqual(r.canaryWeight, 0);
    });

    it("accepts numeric strings, as `pulumi config set` stores them", () => {
        const r = validateModelCanaryArgs({ stable: { ...stable, replicas: "3" }, canary, canaryWeight: "10" });
        assert.strictEqual(r.canaryWeight, 10);
        assert.strictEqual(r.stable.replicas, 3);
    });

    it("stringifies numeric and boolean env values and keeps header routes in order", () => {
        const r = validateModelCanaryArgs({
            stable: { ...stable, env: { THREADS: 4, WARM: true } },
            canary,
            headerRoutes: [
                { header: "x-canary-version", exact: "v2", version: "v2" },
                { header: "x-user-group", prefix: "beta-", version: "v2" },
                { header: "x-tenant", regex: "^(acme|globex)$", version: "v1" },
            ],
        });
        assert.deepStrictEqual(r.stable.env, { THREADS: "4", WARM: "true" });
        assert.deepStrictEqual(r.headerRoutes.map((h) => h.header), ["x-canary-version", "x-user-group", "x-tenant"]);
        assert.deepStrictEqual(r.headerRoutes[2], { header: "x-tenant", regex: "^(acme|globex)$", version: "v1" });
    });

    const refused: [string, unknown, string][] = [
        ["canaryWeight above 100", { stable, canary, canaryWeight: 150 }, "`canaryWeight` must be an integer from 0 to 100, got 150"],
        ["negative canaryWeight", { stable, canary, canaryWeight: -1 }, "`canaryWeight` must be an integer from 0 to 100, got -1"],
        ["fractional canaryWeight", { stable, canary, canaryWeight: 10.5 }, "`canaryWeight` must be an integer from 0 to 100, got 10.5"],
        ["fractional canaryWeight as text", { stable, canary, canaryWeight: "10.5" }, "`canaryWeight` must be an integer from 0 to 100, got \"10.5\""],
        ["canaryWeight that is not a number", { stable, canary, canaryWeight: "ten" }, "`canaryWeight` must be an integer from 0 to 100, got \"ten\""],
        ["canaryWeight with no canary", { stable, canaryWeight: 10 }, "`canaryWeight` is 10 but no `canary` is configured; set `canary` or use canaryWeight 0"],
        ["same stable and canary version", { stable, canary: { ...canary, version: "v1" } }, "`canary.version` must differ from `stable.version`, both are \"v1\""],
        ["missing stable", { canary }, "`stable` is required: the version serving production, e.g. { version: v1, image: registry/model-runner:v1 }"],
        ["missing image", { stable: { version: "v1" } }, "`stable.image` must be a non-empty string (a container image reference such as registry.example.com/team/model-runner:v2 (lowercase path, optional :tag and @sha256:digest)), got nothing"],
        ["empty image", { stable, canary: { version: "v2", image: "" } }, "`canary.image` must be a non-empty string (a container image reference such as registry.example.com/team/model-runner:v2 (lowercase path, optional :tag and @sha256:digest)), got \"\""],
        ["negative replicas", { stable: { ...stable, replicas: -2 } }, "`stable.replicas` must be an integer from 0 to 2147483647, got -2"],
        ["uppercase version", { stable: { ...stable, version: "V1" } }, "`stable.version` must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, got \"V1\""],
        ["empty header name", { stable, canary, headerRoutes: [{ header: "", exact: "v2", version: "v2" }] },
            "`headerRoutes[0].header` must be a non-empty string (a lowercase HTTP header name (Istio matches lowercase names) of at most 256 characters, e.g. \"x-canary-version\"), got \"\""],
        ["uppercase header name", { stable, canary, headerRoutes: [{ header: "X-Canary-Version", exact: "v2", version: "v2" }] },
            "`headerRoutes[0].header` must be a lowercase HTTP header name (Istio matches lowercase names) of at most 256 characters, e.g. \"x-canary-version\", got \"X-Canary-Version\""],
        ["header name with a space", { stable, canary, headerRoutes: [{ header: "x canary", exact: "v2", version: "v2" }] },
            "`headerRoutes[0].header` must be a lowercase HTTP header name (Istio matches lowercase names) of at most 256 characters, e.g. \"x-canary-version\", got \"x canary\""],
        ["no match kind", { stable, canary, headerRoutes: [{ header: "x-canary-version", version: "v2" }] },
            "`headerRoutes[0]` must set exactly one of `exact`, `prefix` or `regex`, got none"],
        ["two match kinds", { stable, canary, headerRoutes: [{ header: "x-canary-version", exact: "v2", prefix: "v", version: "v2" }] },
            "`headerRoutes[0]` must set exactly one of `exact`, `prefix` or `regex`, got `exact` and `prefix`"],
        ["invalid regex", { stable, canary, headerRoutes: [{ header: "x-tenant", regex: "(acme", version: "v2" }] },
            "`headerRoutes[0].regex` must be an RE2 regular expression (the syntax Istio uses: no lookaround, no backreferences, no \\Z), got \"(acme\" (error parsing regexp: missing closing ): `(acme`)"],
        ["regex with lookahead, which RE2 lacks", { stable, canary, headerRoutes: [{ header: "x-tenant", regex: "^(?!internal).*", version: "v2" }] },
            "`headerRoutes[0].regex` must be an RE2 regular expression (the syntax Istio uses: no lookaround, no backreferences, no \\Z), got \"^(?!internal).*\" (error parsing regexp: invalid or unsupported Perl syntax: `(?!`)"],
        ["header route to an unknown version", { stable, canary, headerRoutes: [{ header: "x-canary-version", exact: "v3", version: "v3" }] },
            "`headerRoutes[0].version` must be the stable or the canary version (\"v1\" or \"v2\"), got \"v3\""],
        ["header route to the canary when there is none", { stable, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] },
            "`headerRoutes[0].version` must be the stable or the canary version (\"v1\"), got \"v2\""],
        ["unknown top-level key", { stable, canary, canaryWieght: 10 },
            "unknown key `canaryWieght` (did you mean `canaryWeight`?); accepted keys are `app`, `namespace`, `serviceName`, `servicePort`, `containerPort`, `containerName`, `stable`, `canary`, `canaryWeight`, `mirrorPercent`, `headerRoutes`, `hosts`, `gateways`, `hostnames`, `virtualServiceName`, `destinationRuleName`, `istioApiVersion`, `router`, `protocol`, `sticky`, `trafficPolicy`, `podSecurityContext`, `containerSecurityContext`"],
        ["unknown key in a version", { stable: { ...stable, replica: 3 } },
            "unknown key `stable.replica` (did you mean `replicas`?); accepted keys are `version`, `image`, `replicas`, `autoReplicas`, `env`, `resources`, `readinessProbe`, `livenessProbe`, `podAnnotations`, `podLabels`"],
        ["port out of range", { stable, containerPort: 70000 }, "`containerPort` must be an integer from 1 to 65535, got 70000"],
        ["unknown Istio API version", { stable, istioApiVersion: "networking.istio.io/v2" },
            "`istioApiVersion` must be one of `networking.istio.io/v1`, `networking.istio.io/v1beta1`, `networking.istio.io/v1alpha3`, got \"networking.istio.io/v2\""],
        ["headerRoutes that is not a list", { stable, canary, headerRoutes: "x-canary-version" },
            "`headerRoutes` must be a list of { header, exact | prefix | regex, version }, got \"x-canary-version\""],
        ["env with a bad name", { stable: { ...stable, env: { "1BAD": "x" } } },
            "`stable.env` key \"1BAD\" must be an environment variable name (letters, digits, '_', '-', '.', not starting with a digit)"],
    ];
    for (const [what, input, message] of refused) {
        it(`refuses ${what}`, () => {
            assert.deepStrictEqual(problemsOf(input), [message]);
        });
    }

    it("reports every problem at once", () => {
        const problems = problemsOf({ stable: { version: "v1", image: "m:v1", replicas: -1 }, canaryWeight: 101, canaryWieght: 3 });
        assert.deepStrictEqual(problems.map((p) => p.split(" ")[0] + " " + p.split(" ")[1]), [
            "unknown key", "`stable.replicas` must", "`canaryWeight` must",
        ]);
    });

    it("puts all problems in the error message", () => {
        assert.throws(() => validateModelCanaryArgs({ stable, canaryWeight: 5, canary: { ...canary, replicas: -1 } }),
            (e: Error) => e.message === "`canary.replicas` must be an integer from 0 to 2147483647, or `auto` (follow the canary's traffic), got -1");
        assert.throws(() => validateModelCanaryArgs({ stable: { version: "v1" }, canaryWeight: 500 }),
            (e: Error) => e.message.startsWith("2 problems:\n- `stable.image`") && e.message.includes("\n- `canaryWeight` must be an integer from 0 to 100, got 500"));
    });

    describe("mirrorPercent (the shadow stage)", () => {
        const accepted: [unknown, number][] = [[100, 100], ["100", 100], [0, 0], ["0", 0], ["12.5", 12.5], [0.25, 0.25], ["0.0001", 0.0001], ["99.9999", 99.9999], ["100.0", 100]];
        for (const [given, read] of accepted) {
            it(`reads ${JSON.stringify(given)} as ${read}`, () => {
                assert.strictEqual(validateModelCanaryArgs({ stable, canary, canaryWeight: 0, mirrorPercent: given }).mirrorPercent, read);
            });
        }
        it("defaults to 0 (no mirror)", () => {
            assert.strictEqual(validateModelCanaryArgs({ stable, canary }).mirrorPercent, 0);
        });
        const what = "must be a number from 0 to 100 in plain decimal with at most 4 decimal places (e.g. 100, 12.5, 0.25), got";
        const refusedPercents: [unknown, string][] = [
            [101, "101"], ["100.5", "\"100.5\""], [-1, "-1"], ["1e2", "\"1e2\""], [".5", "\".5\""], ["+5", "\"+5\""], ["5%", "\"5%\""],
            [" 5", "\" 5\""], ["0x10", "\"0x10\""], ["12.34567", "\"12.34567\""], [0.00001, "0.00001"], ["", "\"\""], [true, "true"], [null, "null"], [Infinity, "Infinity"],
        ];
        for (const [given, shown] of refusedPercents) {
            it(`refuses ${typeof given === "string" ? JSON.stringify(given) : String(given)}`, () => {
                assert.deepStrictEqual(problemsOf({ stable, canary, mirrorPercent: given }), [`\`mirrorPercent\` ${what} ${shown}`]);
            });
        }
        it("refuses a mirror without a canary", () => {
            assert.deepStrictEqual(problemsOf({ stable, mirrorPercent: 100 }),
                ["`mirrorPercent` is 100 but no `canary` is configured: there is nothing to mirror to; set `canary` or use mirrorPercent 0"]);
        });
        it("refuses a mirror while the canary serves users (canaryWeight above 0)", () => {
            assert.deepStrictEqual(problemsOf({ stable, canary, canaryWeight: 10, mirrorPercent: "50" }),
                ["`mirrorPercent` is 50 while `canaryWeight` is 10: mirroring (the shadow stage) is only for a canary that serves no user; use canaryWeight 0 to shadow, or mirrorPercent 0 to serve 10%"]);
        });
        it("accepts mirrorPercent 0 beside any weight, and without a canary", () => {
            assert.strictEqual(validateModelCanaryArgs({ stable, canary, canaryWeight: 50, mirrorPercent: 0 }).mirrorPercent, 0);
            assert.strictEqual(validateModelCanaryArgs({ stable, mirrorPercent: "0" }).mirrorPercent, 0);
        });
    });
});

describe("checkKnownInput (arguments given as Outputs, checked once known)", () => {
    function problemsOfKnown(path: string, field: DeferrableField, value: unknown): string[] {
        try {
            checkKnownInput(path, field, value);
        } catch (e) {
            assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${e}`);
            return e.problems;
        }
        return [];
    }

    it("gives a known value the message the same value gets up front", () => {
        for (const [field, value] of [
            ["image", "Registry/Model Runner"],
            ["resources", { limits: { cpu: "-1" } }],
            ["resources", { limts: { cpu: "1" } }],
            ["podAnnotations", { "bad key!": "x" }],
            ["podLabels", { version: "v9" }],
            ["podLabels", { team: "x".repeat(64) }],
        ] as const) {
            const upFront = problemsOf({ stable: { ...stable, [field]: value } });
            assert.ok(upFront.length > 0, `${field} ${JSON.stringify(value)} is refused up front`);
            assert.deepStrictEqual(problemsOfKnown("stable", field, value), upFront);
        }
        assert.deepStrictEqual(problemsOfKnown("canary", "image", "Registry/Model Runner"), [
            "`canary.image` must be a container image reference such as registry.example.com/team/model-runner:v2 (lowercase path, optional :tag and @sha256:digest), got \"Registry/Model Runner\"",
        ]);
    });

    it("accepts what is accepted up front", () => {
        assert.deepStrictEqual(problemsOfKnown("stable", "image", "registry.example.com/team/model-runner:v2@sha256:" + "a".repeat(64)), []);
        assert.deepStrictEqual(problemsOfKnown("stable", "resources", { requests: { cpu: "500m", memory: "2Gi" } }), []);
        assert.deepStrictEqual(problemsOfKnown("stable", "podLabels", { team: "ranking", "example.com/tier": "" }), []);
        assert.deepStrictEqual(problemsOfKnown("stable", "env.API_KEY", "s3cr3t"), []);
    });

    it("refuses an env value that is not text, without showing it", () => {
        assert.deepStrictEqual(problemsOfKnown("canary", "env.API_KEY", { token: "s3cr3t" }), ["`canary.env.API_KEY` must be a string, number or boolean, got [secret]"]);
    });
});

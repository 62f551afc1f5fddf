// Secret config, without the engine: where secrets may be, how the stack config sees them
// decrypted, that no message echoes one, and that edits keep them encrypted in the file.
import * as assert from "assert";
import * as fs from "fs";
import http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { runCustomCheck } from "../analysis/custom";
import { formatPath, redact, secureLeaves } from "../components";
import { resolvePlan } from "../stacks/config/rollout-plan";
import * as pulumi from "@pulumi/pulumi";
import { componentArgs, engineSecretPaths, kubeconfigInput, envSecretRevisions, parseStackConfig, secretRevisionAnnotation } from "../stacks/config/config";
import { checkProjectConfig, editProjectConfig, readProjectConfig } from "../stacks/config/settings";
import { refusalProblems } from "./support/refusal";

const secret = "s3cr3t-Tok3n/value";
const stable = { version: "v1", image: "registry/ranker:v1" };
const canary = { version: "v2", image: "registry/ranker:v2", env: { LOG_LEVEL: "info", API_KEY: secret } };

function problemsOf(fn: () => unknown): string[] {
    return refusalProblems(() => fn(), "expected a refusal");
}

/** The engine's view of a config whose values are given plainly (secrets decrypted). */
function engineView(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [`model-canary:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

describe("secret config", () => {
    it("finds each encrypted leaf of the stack settings with its `--path`", () => {
        const settings = { canary: { version: "v2", env: { API_KEY: { secure: "v1:aaa" }, "my.var": { secure: "v1:bbb" } } }, rollout: { checks: [{ webhook: { headers: { authorization: { secure: "v1:ccc" } } } }] } };
        const leaves = Object.entries(settings).flatMap(([k, v]) => secureLeaves(v, [k]));
        assert.deepStrictEqual(leaves.map((l) => [formatPath(l.path), l.ciphertext]), [
            ["canary.env.API_KEY", "v1:aaa"],
            ['canary.env["my.var"]', "v1:bbb"],
            ["rollout.checks[0].webhook.headers.authorization", "v1:ccc"],
        ]);
    });

    it("learns the secret fields from the engine's secret keys and the settings, and a key secret as a whole without them", () => {
        const settings = { "model-canary:canary": { version: "v2", env: { API_KEY: { secure: "v1:aaa" } } }, "model-canary:kubeconfig": { secure: "v1:bbb" } };
        assert.deepStrictEqual(engineSecretPaths(["model-canary:canary", "model-canary:kubeconfig", "kubernetes:token"], settings),
            [["canary", "env", "API_KEY"], ["kubeconfig"]]);
        assert.deepStrictEqual(engineSecretPaths(["model-canary:canary"], undefined), [["canary"]]);
    });

    it("validates a secret env value like any other and reports where the secrets are", () => {
        const c = parseStackConfig(engineView({ stable, canary, canaryWeight: 10 }), "dev", [["canary", "env", "API_KEY"]]);
        assert.strictEqual(c.models.model.resolved.canary?.env.API_KEY, secret);
        assert.deepStrictEqual([c.secretPaths, c.secrets], [[["canary", "env", "API_KEY"]], [secret]]);
    });

    it("marks secret env values for the component and restarts a version's pods when a secret is set again, never on promotion", () => {
        const settings = (ciphertext: string) => ({ "model-canary:canary": { version: "v2", env: { LOG_LEVEL: "info", API_KEY: { secure: ciphertext } } } });
        const first = envSecretRevisions(settings("v1:first"));
        assert.match(first.canary ?? "", /^[0-9a-f]{16}$/);
        assert.strictEqual(first.stable, undefined);
        assert.notStrictEqual(envSecretRevisions(settings("v1:second")).canary, first.canary);
        const promoted = envSecretRevisions({ "model-canary:stable": settings("v1:first")["model-canary:canary"] });
        assert.deepStrictEqual(promoted, { stable: first.canary });

        const config = parseStackConfig(engineView({ stable, canary }), "dev", [["canary", "env", "API_KEY"]]);
        const args = componentArgs(config, { ...config.models.model, envSecretRevisions: first });
        assert.ok(pulumi.Output.isInstance(args.canary?.env?.API_KEY), "the secret is an Output");
        assert.strictEqual(args.canary?.env?.LOG_LEVEL, "info");
        assert.deepStrictEqual(args.canary?.podAnnotations, { [secretRevisionAnnotation]: first.canary });
        assert.strictEqual(args.stable.podAnnotations, undefined);
    });

    it("hands the cluster provider its kubeconfig as a secret, from `kubeconfig` or the provider's own `kubernetes:kubeconfig`", async () => {
        const own = parseStackConfig({ ...engineView({ stable }), "model-canary:kubeconfig": "apiVersion: v1\nusers: []" }, "prod");
        const providers = parseStackConfig({ ...engineView({ stable }), "kubernetes:kubeconfig": "apiVersion: v1\nusers: []" }, "prod");
        for (const config of [own, providers]) {
            const input = kubeconfigInput(config) as pulumi.Output<string>;
            assert.ok(pulumi.Output.isInstance(input));
            assert.strictEqual(await pulumi.isSecret(input), true);
        }
        assert.strictEqual(kubeconfigInput(parseStackConfig(engineView({ stable }), "dev")), undefined);
    });

    it("refuses a secret where it cannot stay secret, naming the key and never the value", () => {
        const problems = problemsOf(() => parseStackConfig(engineView({ stable, canary: { ...canary, image: secret } }), "dev", [["canary", "image"], ["canary"]]));
        assert.strictEqual(problems.length, 2);
        assert.match(problems[0], /^`canary\.image` cannot be a secret: it would be written in plaintext into resource names, manifests or messages; secrets are accepted in `kubeconfig`, `stable\.env\.<NAME>`, `canary\.env\.<NAME>`, `rollout\.checks\[i\]\.webhook\.url`, `rollout\.checks\[i\]\.webhook\.headers\.<NAME>`, `rollout\.checks\[i\]\.env\.<NAME>`/);
        assert.match(problems[1], /^`canary` cannot be a secret/);
        for (const p of problems) assert.ok(!p.includes(secret), p);
    });

    it("takes Prometheus credentials only as secrets, in any rollout block, and never shows them", () => {
        const rollout = { prometheusAuth: { username: "canary", password: "hunter2" } };
        const plain = problemsOf(() => parseStackConfig(engineView({ stable, canary, rollout }), "dev"));
        assert.deepStrictEqual(plain, ["`rollout.prometheusAuth.password` must be a secret, set with `pulumi config set --secret --path 'rollout.prometheusAuth.password' VALUE`: in plaintext it would be committed with the stack's settings file"]);
        const models = { fraud: { stable, canary, rollout: { prometheusAuth: { bearerToken: "t0ken" } } } };
        assert.deepStrictEqual(problemsOf(() => parseStackConfig(engineView({ models }), "dev")),
            ["`models.fraud.rollout.prometheusAuth.bearerToken` must be a secret, set with `pulumi config set --secret --path 'models.fraud.rollout.prometheusAuth.bearerToken' VALUE`: in plaintext it would be committed with the stack's settings file"]);
        const config = parseStackConfig(engineView({ stable, canary, rollout }), "dev", [["rollout", "prometheusAuth", "password"]]);
        assert.deepStrictEqual([config.secrets, config.models.model.rollout], [["hunter2"], rollout]);
        assert.strictEqual(parseStackConfig(engineView({ models }), "dev", [["models", "fraud", "rollout", "prometheusAuth", "bearerToken"]]).secrets[0], "t0ken");
    });

    it("shows [secret] where a validation message would echo a secret", () => {
        const rollout = { checks: [{ name: "eval", webhook: { url: `ftp://hooks.internal/${secret}`, headers: { authorization: `Bearer ${secret}\nx-admin: 1` } } }] };
        const problems = problemsOf(() => parseStackConfig(engineView({ stable, canary, rollout }), "dev",
            [["rollout", "checks", 0, "webhook", "url"], ["rollout", "checks", 0, "webhook", "headers", "authorization"]]));
        assert.deepStrictEqual(problems, [
            "`rollout.checks[0].webhook.url` must be an http(s) URL, got [secret]",
            "`rollout.checks[0].webhook.headers.authorization` must be one line of text (no CR, LF or NUL), got [secret]",
        ]);
    });

    it("never echoes a secret whose structured value cannot be read, not even in part", () => {
        const all = { "model-canary:stable": JSON.stringify(stable), "model-canary:canary": `{"version": "v2", "token": "${secret}"` };
        const problems = problemsOf(() => parseStackConfig(all, "dev", [["canary"]]));
        assert.ok(problems.length > 0);
        for (const p of problems) assert.ok(!p.includes(secret) && !p.includes(secret.slice(0, 8)), p);
        assert.match(problems.join("\n"), /`canary` must be valid structured config, got \[secret\] \(not valid JSON\)/);
    });

    it("refuses a webhook header value that is not a string instead of sending [object Object]", () => {
        const problems = problemsOf(() => resolvePlan({ checks: [{ name: "eval", webhook: { url: "http://127.0.0.1:9/x", headers: { authorization: { secure: "v1:abc" }, "x-retries": 3 } } }] }));
        assert.deepStrictEqual(problems, [
            "`rollout.checks[0].webhook.headers.authorization` must be a string, got {\"secure\":\"v1:abc\"}",
            "`rollout.checks[0].webhook.headers.x-retries` must be a string, got 3",
        ]);
        assert.deepStrictEqual(problemsOf(() => resolvePlan({ checks: [{ name: "eval", command: ["true"], env: { TOKEN: 5 } }] })),
            ["`rollout.checks[0].env.TOKEN` must be a string, got 5"]);
    });

    it("masks a secret as is and as it appears inside JSON, longest first, in one pass", () => {
        assert.strictEqual(redact(`token ${secret} and "${JSON.stringify("a\"b").slice(1, -1)}"`, [secret, "a\"b"]), "token [secret] and \"[secret]\"");
        assert.strictEqual(redact("abc abcd", ["abc", "abcd"]), "[secret] [secret]");
        assert.strictEqual(redact("nothing here", []), "nothing here");
        assert.strictEqual(redact("user u: must be a string, got \"u\"", ["u"]), "user [secret]: must be a string, got \"[secret]\"");
    });
});

describe("a webhook check with a secret header", () => {
    let server: http.Server;
    let url: string;
    const received: (string | undefined)[] = [];
    before(async () => {
        server = http.createServer((req, res) => {
            received.push(req.headers.authorization);
            // A careless evaluator that echoes what it received, in its answer and its errors.
            res.writeHead(req.url === "/echo-error" ? 500 : 200, { "Content-Type": "application/json" });
            res.end(req.url === "/echo-error" ? `bad token ${req.headers.authorization}` : JSON.stringify({ pass: true, message: `accepted ${req.headers.authorization}` }));
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
    });

    it("sends the header decrypted and never shows it in the result, even when the webhook echoes it", async () => {
        const context = { canaryVersion: "v2", stableVersion: "v1", weight: 10 };
        const secrets = [`Bearer ${secret}`];
        const ok = await runCustomCheck({ name: "eval", webhook: { url: `${url}/ok`, headers: { authorization: `Bearer ${secret}` } } }, context, { secrets });
        assert.deepStrictEqual(ok, { name: "eval", status: "pass", message: "accepted [secret]" });
        const failed = await runCustomCheck({ name: "eval", webhook: { url: `${url}/echo-error`, headers: { authorization: `Bearer ${secret}` } } }, context, { secrets });
        assert.deepStrictEqual(failed, { name: "eval", status: "error", message: `webhook ${url}/echo-error answered HTTP 500: bad token [secret]` });
        assert.deepStrictEqual(received, [`Bearer ${secret}`, `Bearer ${secret}`]);
    });

    it("gives a command check its secret environment and masks it in what the command prints", async () => {
        const r = await runCustomCheck({ name: "eval", command: "echo \"rejected with token $EVAL_TOKEN\" >&2; exit 3", env: { EVAL_TOKEN: secret } },
            { canaryVersion: "v2", stableVersion: "v1", weight: 1 }, { secrets: [secret] });
        assert.deepStrictEqual(r, { name: "eval", status: "fail", message: "rejected with token [secret] (exit 3)" });
    });

    it("hides a secret webhook URL in its messages", async () => {
        const hook = `http://127.0.0.1:9/${secret}`;
        const r = await runCustomCheck({ name: "eval", webhook: { url: hook, timeoutMs: 2000 } }, { canaryVersion: "v2", stableVersion: "v1", weight: 1 }, { secrets: [hook] });
        assert.strictEqual(r.status, "error");
        assert.match(r.message, /^webhook \[secret\] failed: /);
        assert.ok(!r.message.includes(secret), r.message);
    });
});

describe("stack settings with secrets", () => {
    let dir: string;
    const ciphertext = "v1:Yz4xGqVt0e1l5Kj2:AbCdEfGhIjKlMnOpQrStUvWx==";
    const original = `encryptionsalt: v1:salt
config:
  model-canary:canaryWeight: 10 # step two
  model-canary:stable:
    version: v1
    image: registry/ranker:v1
  model-canary:canary:
    version: v2
    image: registry/ranker:v2
    env:
      LOG_LEVEL: info
      API_KEY:
        secure: ${ciphertext}
`;
    let decryptions = 0;
    const decrypt = () => {
        decryptions++;
        return { "model-canary:canary": { value: JSON.stringify({ version: "v2", image: "registry/ranker:v2", env: { LOG_LEVEL: "info", API_KEY: secret } }), secret: true } };
    };
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-secrets-"));
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), original);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads a secret decrypted, as the engine hands it to the program", () => {
        const c = checkProjectConfig(dir, "dev", decrypt);
        assert.deepStrictEqual(c.models.model.resolved.canary?.env, { LOG_LEVEL: "info", API_KEY: secret });
        assert.deepStrictEqual(c.secretPaths, [["canary", "env", "API_KEY"]]);
    });

    it("edits keep the secret's ciphertext exactly and never write its plaintext", () => {
        editProjectConfig(dir, "dev", (c) => { c.canaryWeight = 50; }, decrypt);
        assert.strictEqual(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), original.replace("canaryWeight: 10 #", "canaryWeight: 50 #"));
        const promoted = editProjectConfig(dir, "dev", (c) => { c.stable = c.canary; c.canary = undefined; c.canaryWeight = 0; }, decrypt);
        assert.strictEqual(promoted.models.model.resolved.stable.env.API_KEY, secret);
        const text = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
        assert.ok(!text.includes(secret));
        assert.deepStrictEqual((readProjectConfig(dir, "dev").stable as { env: unknown }).env, { LOG_LEVEL: "info", API_KEY: { secure: ciphertext } });
    });

    it("decrypts once per process, not at every edit", () => {
        decryptions = 0;
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), original.replace(ciphertext, `${ciphertext}-other`));
        checkProjectConfig(dir, "dev", decrypt);
        editProjectConfig(dir, "dev", (c) => { c.canaryWeight = 20; }, decrypt);
        checkProjectConfig(dir, "dev", decrypt);
        assert.strictEqual(decryptions, 1);
    });

    it("refuses an edit that breaks the config without echoing the secret, leaving the file untouched", () => {
        const problems = problemsOf(() => editProjectConfig(dir, "dev", (c) => { (c.canary as { image: string }).image = "has spaces"; c.canaryWeight = secret; }, decrypt));
        assert.ok(problems.some((p) => p.startsWith("`canaryWeight` must be an integer from 0 to 100, got ")));
        for (const p of problems) assert.ok(!p.includes(secret), p);
        assert.strictEqual(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), original);
    });

    it("reads a key encrypted as a whole as the string it is, even when it looks like JSON", () => {
        const kubeconfig = JSON.stringify({ apiVersion: "v1", kind: "Config", users: [{ name: "u", user: { token: secret } }] });
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), `${original}  model-canary:kubeconfig:\n    secure: v1:kube-ciphertext\n`);
        const c = checkProjectConfig(dir, "dev", () => ({ ...decrypt(), "model-canary:kubeconfig": { value: kubeconfig, secret: true } }));
        assert.deepStrictEqual([c.kubeconfig, c.secretPaths], [kubeconfig, [["canary", "env", "API_KEY"], ["kubeconfig"]]]);
    });

    it("without the stack's secrets provider, reading secrets is a clear error", () => {
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), original.replace(ciphertext, `${ciphertext}-unknown`));
        assert.throws(() => checkProjectConfig(dir, "dev"), /the config of stack `dev` holds secrets, and reading it needs the stack's secrets provider/);
    });
});

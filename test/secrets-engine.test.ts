// Secrets set with the real `pulumi config set --secret --path`, through the real engine (render
// mode, temp file backend) and the `model-canary` command: never in plaintext in the state, the
// preview, the rendered Deployment, the commands' output, the rollout record or its report; used
// decrypted where they are needed (the pod's Secret, a webhook's header).
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import http from "http";
import type { AddressInfo } from "net";
import * as path from "path";
import { openStack } from "../stacks/operations/automation";
import { secretRevisionAnnotation } from "../stacks/config/config";
import { readProjectConfig } from "../stacks/config/settings";
import { makeProject, TestProject, runPulumi as pulumi, sourceCli } from "./support/engine";
import type { IstioExporter } from "./support/istio-exporter";
import { PrometheusHarness, startScrapedExporter } from "./support/prometheus";

const envSecret = "s3cr3t-Q9vX-env-value";
const headerSecret = "Bearer hdr-7Kp2-webhook-token";
const kubeconfigToken = "kc-T0ken-4Rz8-cluster";
const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5, env: { LOG_LEVEL: "info" } };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Runs the `model-canary` command without blocking this process (the exporter and webhook answer meanwhile). */
function modelCanary(project: TestProject, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [sourceCli, ...args, "--stack", project.ref.stack, "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
        env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

/** Every file below `dir`, with its text. */
function filesBelow(dir: string): Map<string, string> {
    const files = new Map<string, string>();
    if (!fs.existsSync(dir)) return files;
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
        const file = path.join(dir, f);
        if (fs.statSync(file).isFile()) files.set(file, fs.readFileSync(file, "latin1"));
    }
    return files;
}

/** The files below `dir` that contain any of `needles`. */
function holding(dir: string, needles: string[]): string[] {
    return [...filesBelow(dir)].filter(([, text]) => needles.some((n) => text.includes(n))).map(([file]) => path.relative(dir, file));
}

function settingsText(project: TestProject): string {
    return fs.readFileSync(path.join(project.dir, `Pulumi.${project.ref.stack}.yaml`), "utf8");
}

/** The `secure:` values of the stack settings, in order. */
function ciphertexts(project: TestProject): string[] {
    return [...settingsText(project).matchAll(/secure: (\S+)/g)].map((m) => m[1]);
}

describe("secrets (real engine, real CLI)", function () {
    this.timeout(600_000);
    let exporter: IstioExporter;
    let prometheus: PrometheusHarness;
    let webhook: http.Server;
    let webhookUrl: string;
    const received: (string | undefined)[] = [];
    let project: TestProject;
    let follow: NodeJS.Timeout | undefined;
    let encrypted: string[];

    before(async () => {
        ({ exporter, prometheus } = await startScrapedExporter());
        // An evaluator that passes and, carelessly, echoes the credential it was sent.
        webhook = http.createServer((req, res) => {
            received.push(req.headers.authorization);
            req.resume();
            req.on("end", () => {
                res.writeHead(200, { "Content-Type": "application/json" });
                res.end(JSON.stringify({ pass: true, message: `accuracy 0.94 (authorized as ${req.headers.authorization})` }));
            });
        });
        await new Promise<void>((resolve) => webhook.listen(0, "127.0.0.1", resolve));
        webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/evaluate`;

        project = makeProject();
        project.writeConfig({
            serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 0, headerRoutes: [testers],
            rollout: {
                prometheus: prometheus.url, steps: [1], interval: "3s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 2 },
                checks: [{ name: "offline-eval", webhook: { url: webhookUrl } }],
            },
        });
        await openStack(project.ref, { create: true });
        for (const [key, value] of [["canary.env.API_KEY", envSecret], ["rollout.checks[0].webhook.headers.authorization", headerSecret]]) {
            const set = pulumi(project, ["config", "set", "--secret", "--path", key, value]);
            assert.strictEqual(set.status, 0, set.output);
        }
        encrypted = ciphertexts(project);
        assert.strictEqual(encrypted.length, 2);
        assert.ok(!settingsText(project).includes(envSecret) && !settingsText(project).includes(headerSecret));

        // Traffic follows the rendered VirtualService, as the mesh would route it.
        const apply = () => {
            // A read while the provider rewrites the file finds none, or part of one: no state of the
            // mesh, so the traffic stays as it was.
            let split: Record<string, number>;
            try {
                split = project.renderedSplit();
            } catch {
                return;
            }
            if (Object.values(split).reduce((sum, w) => sum + w, 0) !== 100) return;
            exporter.set("model-v1", { latencyMs: 80, rps: 1000 * (split.v1 ?? 0) / 100 });
            exporter.set("model-v2", { latencyMs: 80, rps: 1000 * (split.v2 ?? 0) / 100 });
        };
        follow = setInterval(apply, 100);
    });
    after(async () => {
        if (follow) clearInterval(follow);
        webhook?.closeAllConnections();
        await new Promise((resolve) => webhook ? webhook.close(resolve) : resolve(undefined));
        await prometheus?.stop();
        await exporter?.close();
        project?.remove();
    });

    it("`pulumi preview --diff` shows the secret as [secret] and the Deployment's secretKeyRef, never the value", () => {
        const preview = pulumi(project, ["preview", "--diff"]);
        assert.strictEqual(preview.status, 0, preview.output);
        assert.match(preview.output, /\+ kubernetes:core\/v1:Secret: \(create\)/);
        assert.match(preview.output, /secretKeyRef/);
        assert.match(preview.output, /\[secret\]/);
        assert.ok(!preview.output.includes(envSecret) && !preview.output.includes(base64(envSecret)), preview.output);
    });

    it("`pulumi up` keeps only ciphertext in the state and warns once that the render holds the secret", () => {
        const up = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        assert.ok(!up.output.includes(envSecret) && !up.output.includes(base64(envSecret)), up.output);
        const warning = "secret `canary.env.API_KEY` is written base64-encoded, not encrypted, into the Secret manifests under";
        assert.strictEqual(up.output.split("\n").filter((l) => l.includes(warning) && /^\s*warning:/.test(l)).length, 1, up.output);
        assert.deepStrictEqual(holding(path.join(project.dir, "state"), [envSecret, base64(envSecret), headerSecret]), []);
        const exported = pulumi(project, ["stack", "export"]);
        assert.strictEqual(exported.status, 0, exported.output);
        assert.ok(!exported.output.includes(envSecret) && !exported.output.includes(base64(envSecret)));
    });

    it("a weight step with `pulumi config set` keeps the ciphertexts and previews as one VirtualService update", () => {
        try {
            assert.strictEqual(pulumi(project, ["config", "set", "canaryWeight", "1"]).status, 0);
            assert.deepStrictEqual(ciphertexts(project), encrypted);
            const preview = pulumi(project, ["preview", "--diff"]);
            assert.strictEqual(preview.status, 0, preview.output);
            assert.match(preview.output, /Resources:\n\s+~ 1 to update\n\s+8 unchanged/);
            assert.match(preview.output, /~ kubernetes:networking\.istio\.io\/v1:VirtualService: \(update\)/);
        } finally {
            assert.strictEqual(pulumi(project, ["config", "set", "canaryWeight", "0"]).status, 0);
        }
    });

    it("the rendered Deployment refers to the Secret, which holds what a cluster would receive", () => {
        const rendered = project.rendered();
        const deployment = rendered.get("Deployment/model-v2");
        assert.deepStrictEqual(deployment.spec.template.spec.containers[0].env, [
            { name: "API_KEY", valueFrom: { secretKeyRef: { name: "model-v2-env", key: "API_KEY" } } },
            { name: "LOG_LEVEL", value: "info" },
        ]);
        assert.ok(!JSON.stringify(deployment).includes(envSecret));
        const secret = rendered.get("Secret/model-v2-env");
        assert.deepStrictEqual([secret.type, secret.data], ["Opaque", { API_KEY: base64(envSecret) }]);
        assert.strictEqual(rendered.has("Secret/model-v1-env"), false);
    });

    it("`model-canary status --json` reads the config decrypted and shows no secret", async () => {
        const r = await modelCanary(project, ["status", "--json"]);
        assert.strictEqual(r.status, 0, r.stderr);
        const status = JSON.parse(r.stdout);
        assert.deepStrictEqual([status.applied.split, status.configuredWeight, status.drift], [{ v1: 100 }, 0, false]);
        for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(envSecret) && !text.includes(headerSecret), text);
    });

    it("`model-canary preview` writes the pull-request comment with the secret shown as [secret]", async () => {
        const r = await modelCanary(project, ["preview", "--markdown", "-"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /<details><summary>pulumi preview --diff<\/summary>/);
        for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(envSecret) && !text.includes(base64(envSecret)) && !text.includes(headerSecret), text);
    });

    it("a rollout sends the webhook its decrypted header, and its output, record and report never show it", async () => {
        const r = await modelCanary(project, ["rollout"]);
        assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /COMPLETED: v2 passed every step and serves 1%/);
        assert.ok(received.length >= 1 && received.every((h) => h === headerSecret), JSON.stringify(received));
        assert.match(r.stdout, /ok {6}offline-eval: accuracy 0\.94 \(authorized as \[secret\]\)/);
        const json = await modelCanary(project, ["status", "--json"]);
        assert.strictEqual(json.status, 0, json.stderr);
        assert.strictEqual(JSON.parse(json.stdout).rollout.lastAnalysis.results.at(-1).message, "accuracy 0.94 (authorized as [secret])");
        for (const text of [r.stdout, r.stderr, json.stdout]) assert.ok(!text.includes(headerSecret) && !text.includes(envSecret), text);
        const records = path.join(project.dir, ".model-canary");
        assert.ok(filesBelow(records).size >= 3, "the record, a Markdown report and its SVG chart");
        assert.deepStrictEqual(holding(records, [headerSecret, envSecret]), []);
        assert.deepStrictEqual(ciphertexts(project), encrypted, "the rollout's edits keep the secrets encrypted as they were");
    });

    it("`rollback` works with secrets in the config and leaves them encrypted as they were", async () => {
        const r = await modelCanary(project, ["rollback"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /rolled back: stack test sends 100% to v1/);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
        assert.deepStrictEqual(ciphertexts(project), encrypted);
        assert.ok(!settingsText(project).includes(envSecret) && !settingsText(project).includes(headerSecret));
        assert.deepStrictEqual(holding(path.join(project.dir, "state"), [envSecret, base64(envSecret), headerSecret]), []);
    });

    it("`promote` moves the canary's encrypted values to stable as they are, and its Secret is untouched", async () => {
        const before = project.rendered().get("Secret/model-v2-env");
        const apiKey = (readProjectConfig(project.dir, project.ref.stack).canary as any).env.API_KEY;
        assert.deepStrictEqual(Object.keys(apiKey), ["secure"]);
        const r = await modelCanary(project, ["promote", "--force", "--json"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.deepStrictEqual(JSON.parse(r.stdout).stableVersion, "v2");
        assert.deepStrictEqual((readProjectConfig(project.dir, project.ref.stack).stable as any).env.API_KEY, apiKey);
        assert.deepStrictEqual(ciphertexts(project).sort(), [...encrypted].sort());
        assert.deepStrictEqual(project.rendered().get("Secret/model-v2-env"), before);
        assert.deepStrictEqual(project.rendered().get("Deployment/model-v2").spec.template.spec.containers[0].env[0],
            { name: "API_KEY", valueFrom: { secretKeyRef: { name: "model-v2-env", key: "API_KEY" } } });
        assert.deepStrictEqual(holding(path.join(project.dir, "state"), [envSecret, base64(envSecret), headerSecret]), []);
    });

    it("setting a secret again replaces its Secret and restarts only that version's pods", () => {
        const newSecret = "n3w-s3cr3t-Lm5w-rotated";
        const before = project.rendered().get("Deployment/model-v2").spec.template.metadata.annotations[secretRevisionAnnotation];
        assert.match(before, /^[0-9a-f]{16}$/);
        assert.strictEqual(pulumi(project, ["config", "set", "--secret", "--path", "stable.env.API_KEY", newSecret]).status, 0);
        const preview = pulumi(project, ["preview", "--diff"]);
        assert.strictEqual(preview.status, 0, preview.output);
        // The Kubernetes provider treats a Secret's data as immutable: a new value is a new Secret.
        assert.match(preview.output, /Resources:\n\s+~ 1 to update\n\s+\+-1 to replace\n\s+2 changes\. 6 unchanged/);
        assert.match(preview.output, /\+-kubernetes:core\/v1:Secret: \(replace\)\n.*\n\s+\[urn=[^\n]*Secret::model-v2-env\]/);
        assert.match(preview.output, /~ kubernetes:apps\/v1:Deployment: \(update\)\n.*\n\s+\[urn=[^\n]*Deployment::model-v2\]/);
        assert.match(preview.output, /~ model-canary\/secret-env-revision: "[0-9a-f]{16}" => "[0-9a-f]{16}"/);
        assert.ok(!preview.output.includes(newSecret) && !preview.output.includes(base64(newSecret)), preview.output);
        const up = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        const rendered = project.rendered();
        assert.deepStrictEqual(rendered.get("Secret/model-v2-env").data, { API_KEY: base64(newSecret) });
        assert.notStrictEqual(rendered.get("Deployment/model-v2").spec.template.metadata.annotations[secretRevisionAnnotation], before);
        assert.deepStrictEqual(holding(path.join(project.dir, "state"), [newSecret, base64(newSecret)]), []);
    });

    describe("a secret kubeconfig", () => {
        let cluster: TestProject;
        // A cluster address nothing listens on: the provider reaches no cluster, and no packet leaves the machine.
        const kubeconfig = [
            "apiVersion: v1", "kind: Config",
            "clusters: [{ name: c, cluster: { server: \"https://127.0.0.1:1\" } }]",
            `users: [{ name: u, user: { token: ${kubeconfigToken} } }]`,
            "contexts: [{ name: x, context: { cluster: c, user: u } }]",
            "current-context: x", "",
        ].join("\n");
        before(async () => {
            cluster = makeProject();
            cluster.writeConfig({ stable, canaryWeight: 0 });
            await openStack(cluster.ref, { create: true });
            const set = pulumi(cluster, ["config", "set", "--secret", "kubeconfig", kubeconfig]);
            assert.strictEqual(set.status, 0, set.output);
        });
        after(() => cluster?.remove());

        it("is the cluster provider's input as a secret: not in the preview, nor in the state an `up` leaves", async () => {
            const preview = pulumi(cluster, ["preview", "--diff"]);
            assert.strictEqual(preview.status, 0, preview.output);
            assert.match(preview.output, /\+ pulumi:providers:kubernetes: \(create\)/);
            assert.ok(!preview.output.includes(kubeconfigToken), preview.output);
            // A plain `up` that cannot reach the cluster (its identity unread) is refused before anything is registered.
            const refused = pulumi(cluster, ["up", "--yes", "--skip-preview"]);
            assert.notStrictEqual(refused.status, 0);
            assert.match(refused.output, /the cluster the stack's kubeconfig names cannot be reached, so nothing was applied: cannot reach the API server https:\/\/127\.0\.0\.1:1/);
            assert.ok(!refused.output.includes(kubeconfigToken));
            assert.doesNotMatch(pulumi(cluster, ["stack", "export"]).output, /pulumi:providers:kubernetes/);
            // As a command runs it when it has no identity to hand on (none recorded, none readable), `up`
            // registers the provider in the state, then fails on the unreachable cluster.
            const up = pulumi(cluster, ["up", "--yes", "--skip-preview"], cluster.ref.stack, { env: { MODEL_CANARY_CLUSTER_ID: "" } });
            assert.notStrictEqual(up.status, 0);
            assert.match(up.output, /cluster is unreachable/);
            assert.ok(!up.output.includes(kubeconfigToken));
            const exported = pulumi(cluster, ["stack", "export"]);
            assert.match(exported.output, /"type": "pulumi:providers:kubernetes"/);
            assert.deepStrictEqual(holding(path.join(cluster.dir, "state"), [kubeconfigToken]), []);
        });

        it("is read decrypted by `model-canary status`, which shows none of it", async () => {
            const r = await modelCanary(cluster, ["status", "--json"]);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.ok(!r.stdout.includes(kubeconfigToken) && !r.stderr.includes(kubeconfigToken));
        });
    });
});

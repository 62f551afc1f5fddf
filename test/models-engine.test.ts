// Many models in one stack through the real engine (render mode, temp local backend), the CLI's
// `--model`, and two models' rollouts at once against a real Prometheus over the simulated
// Istio exporter.
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { stackStatus } from "../api/automation";
import { readRecord } from "../rollout/status";
import { openStack, previewStack, projectDir, readOutputs, toolchainDir, upStack } from "../stacks/operations/automation";
import { readProjectConfig } from "../stacks/config/settings";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";
import type { IstioExporter } from "./support/istio-exporter";
import { PrometheusHarness, startScrapedExporter } from "./support/prometheus";

const version = (v: string, app: string) => ({ version: v, image: `registry.example.com/ml/${app}:${v}`, replicas: 2 });
const fraud = { stable: version("v1", "fraud"), canary: version("v2", "fraud"), canaryWeight: 0, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };
const churn = { namespace: "retention", stable: version("v7", "churn"), canary: version("v8", "churn"), canaryWeight: 20 };
const ranker = { stable: version("r1", "ranker") };

/** The default-route weights of a rendered VirtualService, by subset. */
function split(project: TestProject, vs: string): Record<string, number> {
    const o = project.rendered().get(`VirtualService/${vs}`);
    return o ? Object.fromEntries(o.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight])) : {};
}

/** A digest of one rendered file per object, to show which ones an `up` rewrote. */
function renderedFiles(project: TestProject): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const f = path.join(dir, e.name);
            if (e.isDirectory()) walk(f);
            else out.set(path.relative(project.renderDir, f), fs.readFileSync(f, "utf8"));
        }
    };
    if (fs.existsSync(project.renderDir)) walk(project.renderDir);
    return out;
}

function run(project: TestProject, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", project.ref.stack, "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
        encoding: "utf8",
        env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("many models in one stack (real engine, render mode)", function () {
    this.timeout(600_000);
    let project: TestProject;

    before(() => { project = makeProject("multi"); });
    after(() => project?.remove());

    it("`up` of three models creates one component per model with its own objects and routing", async () => {
        project.writeConfig({ models: { fraud, churn, ranker } });
        const result = await upStack(await openStack(project.ref, { create: true }));
        const created = result.steps.filter((s) => s.op === "create" && s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers")).map((s) => `${s.type.split(":").pop()} ${s.name}`).sort();
        assert.deepStrictEqual(created, [
            "Deployment churn-v7", "Deployment churn-v8", "Deployment fraud-v1", "Deployment fraud-v2", "Deployment ranker-r1",
            "DestinationRule churn-dr", "DestinationRule fraud-dr", "DestinationRule ranker-dr",
            "ModelCanary churn", "ModelCanary fraud", "ModelCanary ranker",
            "Service churn-svc", "Service fraud-svc", "Service ranker-svc",
            "VirtualService churn-vs", "VirtualService fraud-vs", "VirtualService ranker-vs",
        ]);
        assert.deepStrictEqual([...project.rendered().keys()].sort(), [
            "Deployment/churn-v7", "Deployment/churn-v8", "Deployment/fraud-v1", "Deployment/fraud-v2", "Deployment/ranker-r1",
            "DestinationRule/churn-destination", "DestinationRule/fraud-destination", "DestinationRule/ranker-destination",
            "Service/churn-service", "Service/fraud-service", "Service/ranker-service",
            "VirtualService/churn-virtual-service", "VirtualService/fraud-virtual-service", "VirtualService/ranker-virtual-service",
        ]);
        const churnService = project.rendered().get("Service/churn-service");
        assert.deepStrictEqual([churnService.metadata.namespace, churnService.spec.selector], ["retention", { app: "churn" }]);
        assert.deepStrictEqual([split(project, "fraud-virtual-service"), split(project, "churn-virtual-service"), split(project, "ranker-virtual-service")], [{ v1: 100 }, { v7: 80, v8: 20 }, { r1: 100 }]);
        const models = result.outputs.models as Record<string, any>;
        assert.deepStrictEqual(Object.keys(models).sort(), ["churn", "fraud", "ranker"]);
        assert.deepStrictEqual([models.churn.split, models.churn.canaryWeight, models.churn.canaryVersion, models.ranker.canaryVersion], [{ v7: 80, v8: 20 }, 20, "v8", null]);
    });

    it("one model's weight step previews and applies as exactly one update, its own VirtualService", async () => {
        const before = renderedFiles(project);
        assert.strictEqual(run(project, ["status", "--model", "fraud"]).status, 0);
        const cfg = readProjectConfig(project.dir, "multi");
        (cfg.models as any).fraud.canaryWeight = 10;
        project.writeConfig({ models: cfg.models });
        const stack = await openStack(project.ref);
        const preview = await previewStack(stack);
        const changed = (steps: { op: string; name: string }[]) => steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`);
        assert.deepStrictEqual(changed(preview.steps), ["update fraud-vs"]);
        const up = await upStack(stack);
        assert.deepStrictEqual(changed(up.steps), ["update fraud-vs"]);
        assert.deepStrictEqual(up.changes, { same: 18, update: 1 });
        const after = renderedFiles(project);
        const rewritten = [...after.keys()].filter((f) => after.get(f) !== before.get(f));
        assert.deepStrictEqual(rewritten, ["1-manifest/networking.istio.io_v1-virtualservice-default-fraud-virtual-service.yaml"]);
        assert.deepStrictEqual(split(project, "fraud-virtual-service"), { v1: 90, v2: 10 });
    });

    it("commands that act on one model require `--model` with several, listing them, and refuse an unknown one (exit 2, nothing changed)", () => {
        const before = fs.readFileSync(path.join(project.dir, "Pulumi.multi.yaml"), "utf8");
        for (const command of ["rollout", "rollback", "promote"]) {
            const r = run(project, [command]);
            assert.strictEqual(r.status, 2, `${command}: ${r.stderr}`);
            assert.strictEqual(r.stderr, "model-canary: stack `multi` has 3 models (`fraud`, `churn`, `ranker`): name the one to act on with `--model NAME`\n");
        }
        const unknown = run(project, ["rollback", "--model", "frod"]);
        assert.strictEqual(unknown.status, 2);
        assert.strictEqual(unknown.stderr, "model-canary: `--model` must name a model of stack `multi`, got \"frod\"; its models are `fraud`, `churn`, `ranker`\n");
        assert.strictEqual(fs.readFileSync(path.join(project.dir, "Pulumi.multi.yaml"), "utf8"), before);
    });

    it("`status` without `--model` shows every model; with it, one; `--json` has a `models` list", () => {
        const all = run(project, ["status"]);
        assert.strictEqual(all.status, 0, all.stderr);
        assert.match(all.stdout, /^stack multi: 3 models\nmodel fraud of stack multi: v1 90%, v2 10%\n {2}replicas: v1 2, v2 2\n {2}header route 1: .*\nno rollout recorded here\nmodel churn of stack multi: v7 80%, v8 20%\n {2}replicas: v7 2, v8 2\nno rollout recorded here\nmodel ranker of stack multi: r1 100%\n {2}replicas: r1 2\nno rollout recorded here\n$/);
        const json = JSON.parse(run(project, ["status", "--json"]).stdout);
        assert.deepStrictEqual(json.models.map((m: any) => [m.model, m.applied.canaryWeight, m.configuredWeight, m.drift]), [["fraud", 10, 10, false], ["churn", 20, 20, false], ["ranker", 0, 0, false]]);
        const one = JSON.parse(run(project, ["status", "--model", "churn", "--json"]).stdout);
        assert.deepStrictEqual([one.model, one.applied.split, one.config.valid], ["churn", { v7: 80, v8: 20 }, true]);
    });

    it("`stackStatus` (model-canary/automation) returns what `status --json` prints, for every model and for one", async () => {
        const all = await stackStatus(project.ref);
        assert.deepStrictEqual(all, JSON.parse(run(project, ["status", "--json"]).stdout));
        assert.ok("models" in all);
        assert.deepStrictEqual([all.stack, all.config, all.models.map((m) => [m.model, m.applied.split, m.configuredWeight, m.drift, m.rollout])],
            ["multi", { valid: true, problems: [] }, [["fraud", { v1: 90, v2: 10 }, 10, false, null], ["churn", { v7: 80, v8: 20 }, 20, false, null], ["ranker", { r1: 100 }, 0, false, null]]]);
        const one = await stackStatus(project.ref, { model: "churn" });
        assert.deepStrictEqual(one, JSON.parse(run(project, ["status", "--model", "churn", "--json"]).stdout));
        assert.deepStrictEqual(one, {
            stack: "multi", model: "churn",
            applied: { split: { v7: 80, v8: 20 }, mirror: null, replicas: { v7: 2, v8: 2 }, headerRoutes: [], canaryWeight: 20 },
            configuredWeight: 20, configuredMirror: null, drift: false, live: null, lock: null, rollout: null,
            config: { valid: true, problems: [] },
        });
    });

    it("`rollback --model` takes one model's traffic off its canary and edits only its entry", () => {
        const r = run(project, ["rollback", "--model", "churn"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /^rolled back: model churn of stack multi sends 100% to v7 \(\d+(\.\d)?s\)\n$/);
        const cfg = readProjectConfig(project.dir, "multi").models as any;
        assert.deepStrictEqual([cfg.churn.canaryWeight, cfg.fraud.canaryWeight, cfg.fraud.headerRoutes.length], [0, 10, 1]);
        assert.deepStrictEqual([split(project, "churn-virtual-service"), split(project, "fraud-virtual-service")], [{ v7: 100 }, { v1: 90, v2: 10 }]);
    });

    it("a collision across models is refused before anything is applied, naming both models and the value", async () => {
        const before = project.renderedDigest();
        const cfg = readProjectConfig(project.dir, "multi");
        project.writeConfig({ models: { ...(cfg.models as object), ranker: { ...ranker, serviceName: "fraud-service" } } });
        const r = run(project, ["up"]);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /models `fraud` and `ranker` collide: both would use the Service "default\/fraud-service" \(`models\.fraud\.serviceName` and `models\.ranker\.serviceName`\); give one of them another value/);
        assert.strictEqual(project.renderedDigest(), before);
        project.writeConfig({ models: cfg.models });
    });

    it("renaming a model that keeps its object names (`ranker` to `ranker-new`) is refused before anything is applied, by `up` and by a plain `pulumi up`: the new objects would be deleted with the old model's", () => {
        const before = project.renderedDigest();
        const cfg = readProjectConfig(project.dir, "multi");
        const { ranker: _, ...rest } = cfg.models as Record<string, unknown>;
        project.writeConfig({ models: { ...rest, "ranker-new": { ...ranker, app: "ranker" } } });
        const refusal = (kind: string, name: string, key: string) => `model \`ranker\` is removed from the config, which deletes its ${kind} \`default/${name}\`, but model \`ranker-new\` makes it too (\`models.ranker-new.${key}\`): `
            + "the update would apply it over the old one and then delete it. Nothing was applied: do it in two updates, first without model `ranker`, then with model `ranker-new`";
        const expected = [refusal("Deployment", "ranker-r1", "stable.version"), refusal("Service", "ranker-service", "serviceName"),
            refusal("DestinationRule", "ranker-destination", "destinationRuleName"), refusal("VirtualService", "ranker-virtual-service", "virtualServiceName")];
        // Without the check, the up exits 0 having deleted all four of the new model's objects (files) after writing them.
        const r = run(project, ["up"]);
        assert.strictEqual(r.status, 1, r.stderr);
        for (const line of expected) assert.ok(r.stderr.includes(line), r.stderr);
        const plain = runPulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(plain.status, 0, plain.output);
        for (const line of expected) assert.ok(plain.output.includes(line), plain.output);
        assert.strictEqual(project.renderedDigest(), before);
        project.writeConfig({ models: cfg.models });
    });

    it("a Gateway API model dropping its canary while another model takes that version's Service name is refused before anything is applied", () => {
        const cfg = readProjectConfig(project.dir, "multi").models as Record<string, unknown>;
        const gw = { router: "gateway-api", stable: version("g1", "gw") };
        project.writeConfig({ models: { ...cfg, gw: { ...gw, canary: version("g2", "gw"), canaryWeight: 0 } } });
        const first = run(project, ["up"]);
        assert.strictEqual(first.status, 0, first.stderr);
        const before = project.renderedDigest();
        assert.ok(project.rendered().has("Service/gw-service-g2"));
        // Without the check, the up exits 0 with ranker's new Service `gw-service-g2` deleted with gw's version g2 Service.
        project.writeConfig({ models: { ...cfg, gw, ranker: { ...ranker, serviceName: "gw-service-g2" } } });
        const r = run(project, ["up"]);
        assert.strictEqual(r.status, 1, r.stderr);
        assert.ok(r.stderr.includes("model `gw` drops version `g2`, which deletes its Service `default/gw-service-g2`, but model `ranker` makes it too (`models.ranker.serviceName`): "
            + "the update would apply it over the old one and then delete it. Nothing was applied: do it in two updates, first without version `g2` of model `gw`, then set `models.ranker.serviceName`"), r.stderr);
        assert.strictEqual(project.renderedDigest(), before);
    });
});

describe("the shorthand stack and `models.model` (real engine)", function () {
    this.timeout(600_000);
    let project: TestProject;
    before(() => { project = makeProject("legacy"); });
    after(() => project?.remove());

    it("moving the shorthand's keys under `models.model` previews no resource change", async () => {
        const keys = { serviceName: "model-service", stable: version("v1", "model"), canary: version("v2", "model"), canaryWeight: 5 };
        project.writeConfig(keys);
        const stack = await openStack(project.ref, { create: true });
        await upStack(stack);
        assert.deepStrictEqual((await readOutputs(stack)).split, { v1: 95, v2: 5 });
        project.writeConfig({ models: { model: keys } });
        const preview = await previewStack(stack);
        assert.deepStrictEqual(preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), []);
        assert.strictEqual(preview.steps.length, 8);
        // `--model model` and no `--model` are the same model; its routing is read from `models.model` after the `up`.
        await upStack(stack);
        const status = run(project, ["status", "--model", "model", "--json"]);
        assert.deepStrictEqual(JSON.parse(status.stdout).applied.split, { v1: 95, v2: 5 });
    });
});

for (const stackPerModel of [false, true]) describe(`two models' rollouts at once${stackPerModel ? ", each model in a stack of its own" : ""} (real engine, real Prometheus)`, function () {
    this.timeout(600_000);
    let exporter: IstioExporter;
    let prometheus: PrometheusHarness;
    let project: TestProject;

    before(async () => {
        ({ exporter, prometheus } = await startScrapedExporter());
        project = makeProject("pair");
    });
    after(async () => {
        await prometheus?.stop();
        await exporter?.close();
        project?.remove();
    });

    it("`rollout --model` of a healthy and a failing model run together: one completes, the other rolls back, each with its own record", async () => {
        const rollout = { prometheus: prometheus.url, steps: [1, 10], interval: "3s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 2 } };
        project.writeConfig({ ...(stackPerModel ? { stackPerModel: true } : {}), models: { fraud: { ...fraud, namespace: "pair-a", rollout }, churn: { ...churn, namespace: "pair-b", canaryWeight: 0, rollout } } });
        await upStack(await openStack(project.ref, { create: true }));
        // Traffic follows each model's rendered split: fraud's canary is healthy, churn's answers 5% errors.
        const follow = () => {
            for (const [model, ns, stableV, canaryV, errors] of [["fraud", "pair-a", "v1", "v2", 0], ["churn", "pair-b", "v7", "v8", 0.05]] as const) {
                // A read while the provider rewrites the file finds none, or part of one: no state
                // of the mesh, so the traffic stays as it was.
                let s: Record<string, number>;
                try {
                    s = split(project, `${model}-virtual-service`);
                } catch {
                    continue;
                }
                if (Object.values(s).reduce((sum, w) => sum + w, 0) !== 100) continue;
                exporter.set(`${model}-${stableV}`, { namespace: ns, rps: 10 * (s[stableV] ?? 0), latencyMs: 80 });
                exporter.set(`${model}-${canaryV}`, { namespace: ns, rps: 10 * (s[canaryV] ?? 0), latencyMs: 80, errorRatio: errors });
            }
        };
        follow();
        const timer = setInterval(follow, 100);
        try {
            const start = (model: string) => {
                const child: ChildProcess = spawn(process.execPath, [sourceCli, "rollout", "--model", model, "--stack", "pair", "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
                    env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir }, stdio: ["ignore", "pipe", "pipe"],
                });
                let output = "";
                child.stdout!.on("data", (d) => { output += d; });
                child.stderr!.on("data", (d) => { output += d; });
                return new Promise<{ code: number | null; output: string }>((resolve) => child.on("exit", (code) => resolve({ code, output })));
            };
            const [a, b] = await Promise.all([start("fraud"), start("churn")]);
            assert.strictEqual(a.code, 0, a.output);
            assert.match(a.output, /COMPLETED: v2 passed every step and serves 10%/);
            assert.strictEqual(b.code, 1, b.output);
            assert.match(b.output, /ROLLED-BACK: rolled back from 1% to 0%/);
            // Each model's record and report in its own directory.
            assert.deepStrictEqual([readRecord(project.dir, "pair", "fraud")?.outcome, readRecord(project.dir, "pair", "churn")?.outcome], ["completed", "rolled-back"]);
            assert.strictEqual(readRecord(project.dir, "pair"), undefined, "nothing in the shorthand's place");
            assert.match(a.output, /report: .*\/\.model-canary\/pair\/models\/fraud\/reports\/rollout-.*\.md/);
            const cfg = readProjectConfig(project.dir, "pair").models as any;
            assert.deepStrictEqual([cfg.fraud.canaryWeight, cfg.churn.canaryWeight], [10, 0]);
            assert.deepStrictEqual([split(project, "fraud-virtual-service"), split(project, "churn-virtual-service")], [{ v1: 90, v2: 10 }, { v7: 100 }]);
            const status = JSON.parse(run(project, ["status", "--json"]).stdout);
            assert.deepStrictEqual(status.models.map((m: any) => [m.model, m.rollout.outcome, m.lock]), [["fraud", "completed", null], ["churn", "rolled-back", null]]);
        } finally {
            clearInterval(timer);
        }
    });
});

describe("a user's own program built with modelCanariesFromConfig (real engine, the CLI)", function () {
    this.timeout(600_000);
    let dir: string;
    let ref: { backend: string; toolchain: string };

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-user-program-"));
        ref = { backend: `file://${path.join(dir, "state")}`, toolchain: toolchainDir() };
        fs.mkdirSync(path.join(dir, "state"));
        fs.symlinkSync(path.join(projectDir, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "shop", private: true, main: "index.ts" }));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: shop\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "commonjs", moduleResolution: "node", strict: true, esModuleInterop: true } }));
        // The user's program: its own provider (render mode, its own directory), its models from config in one line.
        fs.writeFileSync(path.join(dir, "index.ts"), [
            `import * as k8s from "@pulumi/kubernetes";`,
            `import { modelCanariesFromConfig, modelCanaryOutputs } from ${JSON.stringify(path.join(projectDir, "api", "program"))};`,
            `const provider = new k8s.Provider("shop-cluster", { renderYamlToDirectory: "out", kubeconfig: "" });`,
            `const models = modelCanariesFromConfig({ opts: { provider } });`,
            `export = modelCanaryOutputs(models);`,
            "",
        ].join("\n"));
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), [
            "config:",
            "  model-canary:models:",
            "    fraud:",
            "      stable: { version: v1, image: registry.example.com/ml/fraud:v1 }",
            "      canary: { version: v2, image: registry.example.com/ml/fraud:v2 }",
            "    churn:",
            "      stable: { version: v7, image: registry.example.com/ml/churn:v7 }",
            "",
        ].join("\n"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const cli = (args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", "prod", "--cwd", dir, "--backend", ref.backend], {
            encoding: "utf8", env: { ...process.env, MODEL_CANARY_TOOLCHAIN: ref.toolchain },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const vsSplit = (name: string) => {
        const file = path.join(dir, "out", "1-manifest", `networking.istio.io_v1-virtualservice-default-${name}.yaml`);
        const vs = YAML.parse(fs.readFileSync(file, "utf8"));
        return Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
    };

    it("`up`, a weight step, `status --model` and `rollback --model` drive the user's stack", () => {
        const up = cli(["up"]);
        assert.strictEqual(up.status, 0, up.stderr);
        assert.match(up.stdout, /model-canary: stack prod model fraud serves v1 100%\nmodel-canary: stack prod model churn serves v7 100%\n$/);
        assert.deepStrictEqual(vsSplit("fraud-virtual-service"), { v1: 100 });

        // A weight step as a user types it in their own project.
        const set = spawnSync(path.join(ref.toolchain, "pulumi"), ["config", "set", "--path", "model-canary:models.fraud.canaryWeight", "10", "--stack", "prod", "--non-interactive"], {
            cwd: dir, encoding: "utf8", env: { ...process.env, PULUMI_BACKEND_URL: ref.backend, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true" },
        });
        assert.strictEqual(set.status, 0, set.stderr);
        const step = cli(["up", "--model", "fraud"]);
        assert.strictEqual(step.status, 0, step.stderr);
        assert.match(step.stdout, /model-canary: stack prod model fraud serves v1 90%, v2 10%\n$/);
        assert.deepStrictEqual([vsSplit("fraud-virtual-service"), vsSplit("churn-virtual-service")], [{ v1: 90, v2: 10 }, { v7: 100 }]);

        const status = JSON.parse(cli(["status", "--model", "fraud", "--json"]).stdout);
        assert.deepStrictEqual([status.model, status.applied.split, status.configuredWeight, status.drift], ["fraud", { v1: 90, v2: 10 }, 10, false]);

        const rollback = cli(["rollback", "--model", "fraud"]);
        assert.strictEqual(rollback.status, 0, rollback.stderr);
        assert.deepStrictEqual(vsSplit("fraud-virtual-service"), { v1: 100 });
        assert.deepStrictEqual((readProjectConfig(dir, "prod").models as any).fraud.canaryWeight, 0);
    });

    it("with `stackPerModel`, the same commands move the user's models to stacks of their own, and a step changes its model's stack only", () => {
        const pulumiCli = (args: string[]) => spawnSync(path.join(ref.toolchain, "pulumi"), [...args, "--non-interactive"], {
            cwd: dir, encoding: "utf8", env: { ...process.env, PULUMI_BACKEND_URL: ref.backend, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true" },
        });
        for (const args of [["config", "set", "--path", "model-canary:stackPerModel", "true"], ["config", "set", "--path", "model-canary:models.fraud.canaryWeight", "20"]]) {
            const set = pulumiCli([...args, "--stack", "prod"]);
            assert.strictEqual(set.status, 0, set.stderr);
        }
        const step = cli(["up", "--model", "fraud"]);
        assert.strictEqual(step.status, 0, step.stderr);
        assert.deepStrictEqual(step.stderr.split("\n").filter((l) => l.startsWith("model-canary: moved")).map((l) => l.replace(/ \(`pulumi state move`.*$/, "")), [
            "model-canary: moved model `churn` from stack `prod` to its own stack `prod.churn`",
            "model-canary: moved model `fraud` from stack `prod` to its own stack `prod.fraud`",
        ]);
        assert.match(step.stdout, /model-canary: stack prod model fraud serves v1 80%, v2 20%\n$/);
        assert.deepStrictEqual([vsSplit("fraud-virtual-service"), vsSplit("churn-virtual-service")], [{ v1: 80, v2: 20 }, { v7: 100 }]);
        const stacks = (JSON.parse(pulumiCli(["stack", "ls", "--json"]).stdout) as { name: string }[]).map((x) => x.name).sort();
        assert.deepStrictEqual(stacks, ["prod", "prod.churn", "prod.fraud"]);
        const status = JSON.parse(cli(["status", "--json"]).stdout);
        assert.deepStrictEqual(status.models.map((m: any) => [m.model, m.applied.split]), [["fraud", { v1: 80, v2: 20 }], ["churn", { v7: 100 }]]);
    });
});

describe("a user's own program and the stack's `renderDir` / `kubeconfig` (real engine, the CLI)", function () {
    this.timeout(600_000);
    let dir: string;
    let ref: { backend: string; toolchain: string };
    const program = (lines: string[]) => fs.writeFileSync(path.join(dir, "index.ts"), [...lines, ""].join("\n"));
    const api = JSON.stringify(path.join(projectDir, "api", "program"));
    const manifests = (folder: string) => {
        const at = path.join(dir, folder, "1-manifest");
        return fs.existsSync(at) ? fs.readdirSync(at).sort() : [];
    };

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-user-target-"));
        ref = { backend: `file://${path.join(dir, "state")}`, toolchain: toolchainDir() };
        fs.mkdirSync(path.join(dir, "state"));
        fs.symlinkSync(path.join(projectDir, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "shop", private: true, main: "index.ts" }));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: shop\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "commonjs", moduleResolution: "node", strict: true, esModuleInterop: true } }));
        fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), [
            "config:",
            "  model-canary:renderDir: manifests/prod",
            "  model-canary:models:",
            "    fraud:",
            "      stable: { version: v1, image: registry.example.com/ml/fraud:v1 }",
            "      canary: { version: v2, image: registry.example.com/ml/fraud:v2 }",
            "",
        ].join("\n"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const cli = (args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", "prod", "--cwd", dir, "--backend", ref.backend], {
            encoding: "utf8", env: { ...process.env, MODEL_CANARY_TOOLCHAIN: ref.toolchain },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    it("a program with its own provider is refused while `model-canary:renderDir` is set, before anything is rendered anywhere", () => {
        program([
            `import * as k8s from "@pulumi/kubernetes";`,
            `import { modelCanariesFromConfig, modelCanaryOutputs } from ${api};`,
            `const provider = new k8s.Provider("shop-cluster", { renderYamlToDirectory: "out", kubeconfig: "" });`,
            `export = modelCanaryOutputs(modelCanariesFromConfig({ opts: { provider } }));`,
        ]);
        const up = cli(["up"]);
        assert.strictEqual(up.status, 1, up.stdout);
        assert.ok(up.stderr.includes("`model-canary:renderDir` is set in the stack config, but the components of `fraud` do not use the provider that reads it: the objects would go where this program's own provider sends them instead. "
            + "Build the provider from the config with `const { opts, target } = await stackProvider(config)` (from `model-canary/program`) and pass `opts` to the components (export `target` too), or remove `model-canary:renderDir` and configure your own provider"), up.stderr);
        assert.deepStrictEqual([manifests("out"), manifests("manifests/prod")], [[], []]);
    });

    it("with `stackProvider(config)` the same keys work as in this project's program: `up` renders to `renderDir`, and `status` reads the target", () => {
        program([
            `import { loadStackConfig, modelCanariesFromConfig, modelCanaryOutputs, stackProvider } from ${api};`,
            "export = async () => {",
            "    const config = loadStackConfig();",
            "    const { opts, target } = await stackProvider(config);",
            "    return { target, ...modelCanaryOutputs(modelCanariesFromConfig({ config, opts })) };",
            "};",
        ]);
        const up = cli(["up"]);
        assert.strictEqual(up.status, 0, up.stderr);
        assert.match(up.stdout, /model-canary: stack prod serves v1 100%\n$/);
        assert.ok(manifests("manifests/prod").includes("networking.istio.io_v1-virtualservice-default-fraud-virtual-service.yaml"), manifests("manifests/prod").join(" "));
        assert.deepStrictEqual(manifests("out"), []);
        assert.deepStrictEqual(JSON.parse(cli(["status", "--json"]).stdout).applied.split, { v1: 100 });
    });
});

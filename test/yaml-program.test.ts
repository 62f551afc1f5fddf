// A Pulumi YAML program (`runtime: yaml`) through the real CLI and the YAML language host the
// toolchain builds (toolchain/go/language-yaml), rendering to a directory: after `pulumi package
// add <checkout>/plugin` it declares two models with model-canary's component
// (docs/other-languages.md), and an Output-valued image reaches a Deployment. The commands'
// inline-program decision sends such a project to its own host. The same program also declares
// `ModelCanaries`, the config-driven component, and the model-canary commands then drive the
// stack's config model (`ranker`) as they drive the TypeScript program: a weight step, status,
// rollback; a rollout against a real Prometheus (test/support/rendered-split.ts's simulated
// traffic) to 100%, promote, a rollout that rolls back by itself; hostile canaryWeight values
// refused by the commands and by `pulumi up` before anything is applied; preview.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { packageDir, toolchainDir } from "../stacks/operations/automation";
import { commandSdkDir, decideInline, inlineProgramOf } from "../stacks/operations/inline-program";
import { reportBaseName } from "../rollout/record";
import { readRecord } from "../rollout/status";
import { pulumiCliEnv, sourceCli } from "./support/engine";
import type { IstioExporter } from "./support/istio-exporter";
import { PrometheusHarness, startScrapedExporter, waitFor } from "./support/prometheus";
import { type Behaviour, followRenderedSplit, type Observed, type RenderedModel } from "./support/rendered-split";

/** Two models through model-canary's component; the canary's image is an Output (a ConfigMap's data). */
const models = {
    resources: {
        render: { type: "pulumi:providers:kubernetes", properties: { renderYamlToDirectory: "rendered" } },
        tags: {
            type: "kubernetes:core/v1:ConfigMap",
            properties: { metadata: { name: "model-tags", namespace: "models" }, data: { fraud: "v2" } },
            options: { provider: "${render}" },
        },
        fraud: {
            type: "model-canary:index:ModelCanary",
            properties: {
                namespace: "models", app: "fraud", serviceName: "fraud", virtualServiceName: "fraud",
                stable: { version: "v1", image: "your-docker-repo/fraud:v1", replicas: 2 },
                canary: { version: "v2", image: "your-docker-repo/fraud:${tags.data[\"fraud\"]}", replicas: 1 },
                canaryWeight: 10,
            },
            options: { providers: ["${render}"] },
        },
        churn: {
            type: "model-canary:index:ModelCanary",
            properties: { namespace: "models", app: "churn", serviceName: "churn", virtualServiceName: "churn", stable: { version: "v1", image: "your-docker-repo/churn:v1", replicas: 1 } },
            options: { providers: ["${render}"] },
        },
        // Every model of the stack config (`model-canary:models`), with the provider the config asks for.
        configured: { type: "model-canary:index:ModelCanaries" },
    },
    outputs: {
        fraudSplit: "${fraud.split}", churnSplit: "${churn.split}",
        // What the commands read, under the names they read.
        models: "${configured.models}", appliedConfig: "${configured.appliedConfig}", target: "${configured.target}",
    },
};

/** The stack config of the commands: one model, rendered beside the program's other objects. */
const rankerConfig = (canaryWeight: number) => ({
    "model-canary:renderDir": "rendered",
    "model-canary:models": { ranker: { namespace: "models", stable: { version: "r1", image: "your-docker-repo/ranker:r1", replicas: 2 }, canary: { version: "r2", image: "your-docker-repo/ranker:r2", replicas: 1 }, canaryWeight } },
});

describe("a YAML program (runtime: yaml) through the YAML language host", function () {
    this.timeout(300_000);
    let dir: string;
    const bin = toolchainDir();

    function pulumi(args: string[], stack = true): { status: number | null; output: string; stdout: string } {
        const r = spawnSync(path.join(bin, "pulumi"), [...args, ...(stack ? ["--stack", "dev"] : []), "--non-interactive"], {
            cwd: dir,
            encoding: "utf8",
            env: pulumiCliEnv(bin, `file://${path.join(dir, "state")}`, { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" }),
        });
        return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
    }

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-yaml-"));
        fs.mkdirSync(path.join(dir, "state"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ name: "yaml-models", runtime: "yaml" }));
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the toolchain has the YAML language host beside pulumi", () => {
        assert.ok(fs.statSync(path.join(bin, "pulumi-language-yaml")).mode & 0o100, "pulumi-language-yaml is executable");
    });

    it("the commands run it through its own language host, and say why once", () => {
        assert.deepStrictEqual(decideInline(dir, commandSdkDir), { reason: "its runtime is `yaml`, not nodejs", runtime: "yaml" });
        // MODEL_CANARY_INLINE=false changes nothing for a program that is not Node.js's.
        assert.deepStrictEqual(decideInline(dir, commandSdkDir, { MODEL_CANARY_INLINE: "false" }), { reason: "its runtime is `yaml`, not nodejs", runtime: "yaml" });
        const said: string[] = [];
        assert.strictEqual(inlineProgramOf(dir, (m) => said.push(m)), undefined);
        assert.strictEqual(inlineProgramOf(dir, (m) => said.push(m)), undefined);
        assert.deepStrictEqual(said, ["model-canary: the program runs through the `yaml` language host, not in this process: its runtime is `yaml`, not nodejs"]);
    });

    /** Replaces the stack's config, keeping what the engine wrote there (the secrets salt). */
    function writeConfig(config: Record<string, unknown>): void {
        const file = path.join(dir, "Pulumi.dev.yaml");
        const settings = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8")) ?? {} : {};
        fs.writeFileSync(file, YAML.stringify({ ...settings, config: { ...settings.config, ...config } }));
    }

    /** The `model-canary` command from the sources, on this project's `dev` stack. */
    function modelCanary(args: string[], stack = "dev"): { status: number | null; output: string; stdout: string } {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", stack, "--cwd", dir, "--backend", `file://${path.join(dir, "state")}`], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: bin, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true" },
        });
        return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
    }

    /** The same command without blocking this process (the simulated traffic follows the rendered files meanwhile). */
    function modelCanaryAsync(args: string[]): Promise<{ status: number | null; output: string; stdout: string }> {
        const child = spawn(process.execPath, [sourceCli, ...args, "--stack", "dev", "--cwd", dir, "--backend", `file://${path.join(dir, "state")}`], {
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: bin, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true" },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let output = "";
        child.stdout.on("data", (d) => { stdout += d; output += d; });
        child.stderr.on("data", (d) => { output += d; });
        return new Promise((resolve) => child.on("close", (status) => resolve({ status, output, stdout })));
    }

    /** The config model's entry as Pulumi.dev.yaml holds it now. */
    function rankerSettings(): Record<string, any> {
        return YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8")).config["model-canary:models"].ranker;
    }
    /** Edits the config model's entry in place, as a user would (what the commands wrote there stays). */
    function editRanker(edit: (ranker: Record<string, any>) => void): void {
        const file = path.join(dir, "Pulumi.dev.yaml");
        const settings = YAML.parse(fs.readFileSync(file, "utf8"));
        edit(settings.config["model-canary:models"].ranker);
        fs.writeFileSync(file, YAML.stringify(settings));
    }

    /** Every rendered object, keyed `Kind/name`. */
    function rendered(): Map<string, any> {
        const objects = new Map<string, any>();
        const manifests = path.join(dir, "rendered", "1-manifest");
        for (const f of fs.readdirSync(manifests)) {
            for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(manifests, f), "utf8"))) {
                const o = doc.toJS();
                if (o) objects.set(`${o.kind}/${o.metadata.name}`, o);
            }
        }
        return objects;
    }
    /** A VirtualService's default-route weights by subset. */
    const split = (name: string) => Object.fromEntries(rendered().get(`VirtualService/${name}`).spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
    /** Each rendered file's text, to show which ones an update rewrote. */
    function renderedFiles(): Map<string, string> {
        const manifests = path.join(dir, "rendered", "1-manifest");
        return new Map(fs.readdirSync(manifests).map((f) => [f, fs.readFileSync(path.join(manifests, f), "utf8")]));
    }

    it("with `pulumi package add <checkout>/plugin`, two ModelCanary components render two VirtualServices, and the Output-valued image reaches the canary's Deployment; ModelCanaries renders the stack config's model", () => {
        const add = pulumi(["package", "add", path.join(packageDir, "plugin")], false);
        assert.strictEqual(add.status, 0, add.output);
        const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"));
        assert.deepStrictEqual(project.packages, { "model-canary": path.join(packageDir, "plugin") });
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ ...project, ...models }));
        const init = pulumi(["stack", "init"]);
        assert.strictEqual(init.status, 0, init.output);
        writeConfig(rankerConfig(10));
        const up = pulumi(["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        assert.deepStrictEqual([split("fraud"), split("churn"), split("ranker-virtual-service")], [{ v1: 90, v2: 10 }, { v1: 100 }, { r1: 90, r2: 10 }]);
        assert.strictEqual(rendered().get("Deployment/fraud-v2").spec.template.spec.containers[0].image, "your-docker-repo/fraud:v2");
        const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
        assert.deepStrictEqual([outputs.fraudSplit, outputs.churnSplit], [{ v1: 90, v2: 10 }, { v1: 100 }]);
        // The config's model is a child of the ModelCanaries component, and its URN is exported for the commands.
        assert.deepStrictEqual(Object.keys(outputs.models), ["ranker"]);
        assert.deepStrictEqual([outputs.models.ranker.urn, outputs.models.ranker.split, outputs.models.ranker.replicas], ["urn:pulumi:dev::yaml-models::model-canary:index:ModelCanaries$model-canary:index:ModelCanary::ranker", { r1: 90, r2: 10 }, { r1: 2, r2: 1 }]);
        assert.deepStrictEqual([outputs.appliedConfig["model-canary:renderDir"], outputs.appliedConfig["model-canary:models"].ranker.canaryWeight, outputs.target], ["rendered", 10, { mode: "render", renderDir: "rendered" }]);
    });

    it("`model-canary up` of a weight step in Pulumi.dev.yaml rewrites only the config model's VirtualService", () => {
        const before = renderedFiles();
        writeConfig(rankerConfig(50));
        const up = modelCanary(["up"]);
        assert.strictEqual(up.status, 0, up.output);
        assert.match(up.stdout, /model-canary: stack dev serves r1 50%, r2 50%/);
        const after = renderedFiles();
        assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort());
        assert.deepStrictEqual([...after.keys()].filter((f) => after.get(f) !== before.get(f)), ["networking.istio.io_v1-virtualservice-models-ranker-virtual-service.yaml"]);
        assert.deepStrictEqual(split("ranker-virtual-service"), { r1: 50, r2: 50 });
    });

    it("`model-canary status` shows the config model's split and pods from the stack's outputs", () => {
        const status = modelCanary(["status"]);
        assert.strictEqual(status.status, 0, status.output);
        assert.match(status.stdout, /^model ranker of stack dev: r1 50%, r2 50%\n  replicas: r1 2, r2 1\n/);
    });

    it("`model-canary rollback` sends 100% to stable and writes canaryWeight 0 to Pulumi.dev.yaml", () => {
        const rollback = modelCanary(["rollback"]);
        assert.strictEqual(rollback.status, 0, rollback.output);
        assert.match(rollback.stdout, /rolled back: model ranker of stack dev sends 100% to r1/);
        assert.deepStrictEqual(split("ranker-virtual-service"), { r1: 100 });
        const settings = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"));
        assert.strictEqual(settings.config["model-canary:models"].ranker.canaryWeight, 0);
        // The program's own components are left as they were.
        assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 90, v2: 10 }, { v1: 100 }]);
    });

    /**
     * The stack's resources by URN (a failed update may write them in another order), and apart
     * the package's default provider (`pulumi:providers:model-canary`): its inputs are the engine's
     * copy of the `model-canary:*` config, which the engine records before any component is
     * constructed, so a refused `pulumi up` still writes the refused config there (see
     * docs/other-languages.md).
     */
    function state(): { resources: unknown[]; provider: string } {
        const resources = [...JSON.parse(pulumi(["stack", "export"]).stdout).deployment.resources].sort((a: any, b: any) => a.urn.localeCompare(b.urn));
        const provider = resources.filter((r) => r.type === "pulumi:providers:model-canary").map((r) => r.urn).join();
        return { resources: resources.filter((r) => r.type !== "pulumi:providers:model-canary"), provider };
    }

    describe("`model-canary rollout` of the config model against a real Prometheus, and `promote`", () => {
        let exporter: IstioExporter;
        let prometheus: PrometheusHarness;
        /** The config model's objects and workloads, for the traffic that follows the rendered split. */
        const ranker = (stable: string, canary: string): RenderedModel => ({
            virtualService: "ranker-virtual-service", service: "ranker-service",
            stable: { version: stable, workload: `ranker-${stable}` }, canary: { version: canary, workload: `ranker-${canary}` },
        });

        before(async () => {
            ({ exporter, prometheus } = await startScrapedExporter());
        });
        after(async () => {
            await prometheus?.stop();
            await exporter?.close();
        });

        /** `model-canary rollout` while the simulated traffic follows the rendered split; the (weight, mirror) states it went through. */
        async function rollout(model: RenderedModel, behaviour: Behaviour, args: string[] = []): Promise<{ status: number | null; output: string; stdout: string; observed: Observed }> {
            const observed: Observed = [];
            const stop = followRenderedSplit({ rendered }, exporter, "models", behaviour, observed, model);
            try {
                // The rollout's preflight wants the stable workload's series in Prometheus: its first scrape.
                const { PrometheusClient } = await import("../analysis/prometheus");
                const client = new PrometheusClient({ url: prometheus.url });
                await waitFor(`${model.stable.workload}'s first scrape`, async () => ((await client.query(`count(istio_requests_total{destination_workload="${model.stable.workload}"})`)) ? true : undefined), { timeoutMs: 30_000 });
                return { ...(await modelCanaryAsync(["rollout", ...args])), observed };
            } finally {
                stop();
            }
        }

        it("a healthy canary walks 10% -> 100%; its record, report and the outputs read back have a TypeScript stack's shape", async () => {
            editRanker((r) => {
                r.rollout = { prometheus: prometheus.url, steps: [10, 100], interval: "2s", tick: "1s", window: "5s", analysis: { minRequests: 20, failureThreshold: 4 } };
            });
            const run = await rollout(ranker("r1", "r2"), { stable: { latencyMs: 80 }, canary: { latencyMs: 80 } });
            assert.strictEqual(run.status, 0, run.output);
            assert.match(run.stdout, /^COMPLETED: r2 passed every step and serves 100%; run `promote` to make it stable$/m);
            assert.deepStrictEqual(run.observed, [[0, 0], [10, 0], [100, 0]]);
            assert.deepStrictEqual(split("ranker-virtual-service"), { r2: 100 });
            assert.strictEqual(rankerSettings().canaryWeight, 100);
            // The record: where a TypeScript stack's model `ranker` keeps it, with the same fields.
            const record = readRecord(dir, "dev", "ranker")!;
            assert.deepStrictEqual([record.stack, record.model, record.stableVersion, record.canaryVersion, record.plan, record.outcome], ["dev", "ranker", "r1", "r2", [10, 100], "completed"]);
            assert.deepStrictEqual(Object.keys(record).sort(), ["canaryVersion", "finishedAt", "message", "model", "outcome", "plan", "reporters", "runner", "stableVersion", "stack", "startedAt", "steps", "thresholds"]);
            assert.deepStrictEqual(record.steps.map((s) => [s.weight, s.verdict, s.analyses.at(-1)!.summary]), [[10, "passed", "pass"], [100, "passed", "pass"]]);
            assert.deepStrictEqual(Object.keys(record.steps[0]).sort(), ["analyses", "appliedAt", "applyMs", "index", "reason", "startedAt", "verdict", "weight"]);
            assert.deepStrictEqual(Object.keys(record.steps[0].analyses[0].measurement.canary).sort(), ["p99Ms", "requests", "successRate"]);
            const report = path.join(dir, ".model-canary", "dev", "models", "ranker", "reports", `${reportBaseName(record)}.md`);
            assert.match(run.stdout, new RegExp(`^report: ${report.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
            assert.strictEqual(fs.readFileSync(report, "utf8").split("\n")[0], "# Rollout dev/ranker: r1 → r2: ✅ Completed");
            // The outputs the commands read back: ModelCanaries exports each model as index.ts's modelCanaryOutputs does.
            const outputs = JSON.parse(pulumi(["stack", "output", "--json"]).stdout);
            assert.deepStrictEqual(Object.keys(outputs.models.ranker).sort(), ["canaryVersion", "canaryWeight", "deploymentNames", "destinationRuleName", "headerRoutes", "namespace", "replicas", "routingRecord", "serviceName", "split", "stableVersion", "urn", "virtualServiceName"]);
            assert.deepStrictEqual([outputs.models.ranker.canaryWeight, outputs.models.ranker.split, outputs.appliedConfig["model-canary:models"].ranker.canaryWeight], [100, { r2: 100 }, 100]);
            const status = modelCanary(["status"]);
            assert.strictEqual(status.status, 0, status.output);
            assert.match(status.stdout, /^model ranker of stack dev: r2 100%\n/);
        });

        it("`model-canary promote` writes r2 as stable (its replicas, no canary, weight 0) to Pulumi.dev.yaml and renders r2 alone", () => {
            const program = [split("fraud"), split("churn")];
            const promote = modelCanary(["promote"]);
            assert.strictEqual(promote.status, 0, promote.output);
            assert.match(promote.stdout, /^promoted: model ranker: r2 is stable and serves 100%/m);
            const settings = rankerSettings();
            assert.deepStrictEqual([settings.stable, settings.canary, settings.canaryWeight], [{ version: "r2", image: "your-docker-repo/ranker:r2", replicas: 1 }, undefined, 0]);
            const objects = rendered();
            assert.deepStrictEqual([...objects.keys()].filter((k) => k.startsWith("Deployment/ranker-")), ["Deployment/ranker-r2"]);
            assert.deepStrictEqual(split("ranker-virtual-service"), { r2: 100 });
            assert.deepStrictEqual(objects.get("DestinationRule/ranker-destination").spec.subsets.map((s: any) => s.name), ["r2"]);
            assert.deepStrictEqual([split("fraud"), split("churn")], program);
        });

        it("a canary failing 5% of its requests is rolled back by the rollout itself: exit 1, 100% stable, canaryWeight 0", async () => {
            editRanker((r) => {
                r.canary = { version: "r3", image: "your-docker-repo/ranker:r3", replicas: 1 };
            });
            const run = await rollout(ranker("r2", "r3"), { stable: { latencyMs: 80 }, canary: { latencyMs: 80, errorRatio: 0.05 } }, ["--failure-threshold", "2"]);
            assert.strictEqual(run.status, 1, run.output);
            assert.match(run.stdout, /^ROLLED-BACK: rolled back from 10% to 0%: 2 consecutive analyses did not pass \(failureThreshold 2\): canary success rate/m);
            assert.deepStrictEqual(run.observed, [[0, 0], [10, 0], [0, 0]]);
            assert.deepStrictEqual(split("ranker-virtual-service"), { r2: 100 });
            assert.deepStrictEqual([rankerSettings().canaryWeight, rankerSettings().canary.version], [0, "r3"]);
            const record = readRecord(dir, "dev", "ranker")!;
            assert.deepStrictEqual([record.outcome, record.steps.map((s) => [s.weight, s.verdict])], ["rolled-back", [[10, "failed"]]]);
            assert.deepStrictEqual(Object.keys(record.rollback!).sort(), ["actionMs", "appliedAt", "decidedAt", "reason"]);
        });
    });

    describe("a hostile canaryWeight in Pulumi.dev.yaml is refused before anything is applied", () => {
        let settings: string;
        let files: Map<string, string>;
        let applied: unknown;
        before(() => {
            settings = fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8");
            files = renderedFiles();
            applied = state();
        });
        afterEach(() => {
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), settings);
        });

        /** The settings with the config model's canaryWeight set to `value` as YAML text. */
        const withWeight = (value: string) => settings.replace(/^(      canaryWeight:) 0$/m, `$1 ${value}`);

        for (const [written, shown] of [["500", "500"], ['"ten"', '"ten"'], ["[10]", "[10]"]]) {
            it(`\`models.ranker.canaryWeight: ${written}\`: every command that applies refuses it naming the key, ${shown} and the range, and exits 1`, () => {
                const hostile = withWeight(written);
                assert.notStrictEqual(hostile, settings);
                fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), hostile);
                for (const command of written === "500" ? ["up", "rollout", "promote", "preview"] : ["up"]) {
                    const run = modelCanary([command]);
                    assert.deepStrictEqual([command, run.status, run.output], [command, 1, `model-canary: invalid stack config for stack \`dev\`: \`models.ranker.canaryWeight\` must be an integer from 0 to 100, got ${shown}\n`]);
                }
                assert.strictEqual(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), hostile);
            });
        }

        it("`pulumi up` by hand with `canaryWeight: 500` stops in ModelCanaries with the same message, exit 1", () => {
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), withWeight("500"));
            const up = pulumi(["up", "--yes", "--skip-preview"]);
            assert.strictEqual(up.status, 1, up.output);
            assert.match(up.output, /error: model-canary:index:ModelCanaries resource 'configured' has a problem: invalid stack config for `model-canary`: `models.ranker.canaryWeight` must be an integer from 0 to 100, got 500\n/);
        });

        it("a secret canaryWeight is refused by the commands and by `pulumi up`, naming the key and where secrets are accepted, without its value", () => {
            const set = pulumi(["config", "set", "--secret", "--path", "model-canary:models.ranker.canaryWeight", "37"]);
            assert.strictEqual(set.status, 0, set.output);
            assert.match(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), /^ {6}canaryWeight:\n {8}secure: /m);
            const refusal = /`models\.ranker\.canaryWeight` cannot be a secret: it would be written in plaintext into resource names, manifests or messages; secrets are accepted in `kubeconfig`, `stable\.env\.<NAME>`/;
            const command = modelCanary(["up"]);
            assert.deepStrictEqual(command.status, 1, command.output);
            assert.match(command.output, refusal);
            const up = pulumi(["up", "--yes", "--skip-preview"]);
            assert.strictEqual(up.status, 1, up.output);
            assert.match(up.output, refusal);
            // The secret's value appears nowhere (the outputs' ISO times, which could hold a 37, left out).
            for (const output of [command.output, up.output]) assert.doesNotMatch(output.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, ""), /\b37\b/);
        });

        it("`model-canary:canaryWeight: 500` beside `models` is refused, naming the model key to use", () => {
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), settings.replace(/^config:\n/m, "config:\n  model-canary:canaryWeight: 500\n"));
            const up = modelCanary(["up"]);
            assert.deepStrictEqual([up.status, up.output], [1, "model-canary: invalid stack config for stack `dev`: `canaryWeight` is a key of the one-model shorthand and cannot be used with `models` (`ranker`): move it into a model's entry, e.g. `models.ranker.canaryWeight`\n"]);
        });

        it("`model-canary preview` of a weight step writes the comment and applies nothing", () => {
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), withWeight("20"));
            const preview = modelCanary(["preview", "--markdown", "-"]);
            assert.strictEqual(preview.status, 0, preview.output);
            assert.match(preview.stdout, /r2`? \| stable \| 100% \| 80% \| 100% → 80% \|/);
            assert.match(preview.stdout, /r3`? \| canary \| 0% \| 20% \| 0% → 20% \|/);
        });

        it("after the refusals and the preview, the rendered files and every resource of the stack but the package's default provider are as before them", () => {
            assert.deepStrictEqual(renderedFiles(), files);
            assert.deepStrictEqual(state(), applied);
        });
    });
    describe("`stackPerModel: true` on a YAML stack is refused by the commands before anything is applied", () => {
        /** The refusal, for stack `stack`. */
        const refusal = (stack: string, why = "this program's runtime is `yaml`") => `\`stackPerModel\` is true in Pulumi.${stack}.yaml, which the commands support for a TypeScript program only, and ${why}: each model's stack (\`${stack}.<model>\`) would run the whole program, creating its other resources once per model, and each model's \`ModelCanary\` is a child of \`ModelCanaries\`, which the commands cannot move to a model's stack, so a model stack \`${stack}\` already holds would be created a second time. Nothing was applied. Remove \`stackPerModel\` to keep every model in stack \`${stack}\`, or drive the models from a TypeScript program (docs/many-models.md).`;
        /** The stacks of the project, by name. */
        const stacks = () => (JSON.parse(pulumi(["stack", "ls", "--json"], false).stdout) as { name: string }[]).map((s) => s.name).sort();

        it("from the start (stack `fresh`, nothing deployed): `up`, `up --model ranker`, `preview`, `rollback --model ranker` and `status` exit 1 with the refusal; no model stack is made", () => {
            const init = pulumi(["stack", "init", "fresh"], false);
            assert.strictEqual(init.status, 0, init.output);
            const file = path.join(dir, "Pulumi.fresh.yaml");
            const text = YAML.stringify({ config: { ...rankerConfig(10), "model-canary:renderDir": "rendered-fresh", "model-canary:stackPerModel": true } });
            fs.writeFileSync(file, text);
            for (const args of [["up"], ["up", "--model", "ranker"], ["preview"], ["rollback", "--model", "ranker"], ["status"]]) {
                const run = modelCanary(args, "fresh");
                assert.deepStrictEqual([args, run.status, run.output], [args, 1, `model-canary: ${refusal("fresh")}\n`]);
            }
            assert.strictEqual(fs.readFileSync(file, "utf8"), text);
            assert.deepStrictEqual([stacks(), fs.existsSync(path.join(dir, "Pulumi.fresh.ranker.yaml")), fs.existsSync(path.join(dir, "rendered-fresh"))], [["dev", "fresh"], false, false]);
            const rm = pulumi(["stack", "rm", "--yes", "fresh"], false);
            assert.strictEqual(rm.status, 0, rm.output);
        });

        it("on the deployed one-stack `dev`: `up` and `up --model ranker` exit 1 with the refusal and move nothing, `pulumi up` by hand stops in ModelCanaries with it; the rendered files, the state and Pulumi.dev.yaml are as before", () => {
            const file = path.join(dir, "Pulumi.dev.yaml");
            const settings = fs.readFileSync(file, "utf8");
            const files = renderedFiles();
            const applied = state();
            const text = settings.replace(/^config:\n/m, "config:\n  model-canary:stackPerModel: true\n");
            fs.writeFileSync(file, text);
            try {
                for (const args of [["up"], ["up", "--model", "ranker"]]) {
                    const run = modelCanary(args);
                    assert.deepStrictEqual([args, run.status, run.output], [args, 1, `model-canary: ${refusal("dev")}\n`]);
                }
                // By hand, ModelCanaries stops the update with the same reason.
                const up = pulumi(["up", "--yes", "--skip-preview"]);
                assert.strictEqual(up.status, 1, up.output);
                assert.ok(up.output.includes(`error: model-canary:index:ModelCanaries resource 'configured' has a problem: ${refusal("dev", "this program declares `ModelCanaries`")}\n`), up.output);
                assert.strictEqual(fs.readFileSync(file, "utf8"), text);
                assert.deepStrictEqual([stacks(), fs.existsSync(path.join(dir, "Pulumi.dev.ranker.yaml"))], [["dev"], false]);
                assert.deepStrictEqual(renderedFiles(), files);
                assert.deepStrictEqual(state(), applied);
            } finally {
                fs.writeFileSync(file, settings);
            }
        });
    });
});

// A Pulumi YAML program (`runtime: yaml`) through the real CLI and the YAML language host the
// toolchain builds (toolchain/go/language-yaml), rendering to a directory: after `pulumi package
// add <checkout>/plugin` it declares two models with model-canary's component
// (docs/other-languages.md), and an Output-valued image reaches a Deployment. The commands'
// inline-program decision sends such a project to its own host. The same program also declares
// `ModelCanaries`, the config-driven component, and the model-canary commands then drive the
// stack's config model (`ranker`) as they drive the TypeScript program: a weight step, status,
// rollback.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { packageDir, toolchainDir } from "../stacks/operations/automation";
import { commandSdkDir, decideInline, inlineProgramOf } from "../stacks/operations/inline-program";
import { pulumiCliEnv, sourceCli } from "./support/engine";

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
    function modelCanary(args: string[]): { status: number | null; output: string; stdout: string } {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", "dev", "--cwd", dir, "--backend", `file://${path.join(dir, "state")}`], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: bin, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true" },
        });
        return { status: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
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
});

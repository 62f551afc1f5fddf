// A Pulumi YAML program (`runtime: yaml`) through the real CLI and the YAML language host the
// toolchain builds (toolchain/go/language-yaml), rendering to a directory: after `pulumi package
// add <checkout>/plugin` it declares two models with model-canary's component
// (docs/other-languages.md), and an Output-valued image reaches a Deployment. The commands'
// inline-program decision sends such a project to its own host.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { packageDir, toolchainDir } from "../stacks/operations/automation";
import { commandSdkDir, decideInline, inlineProgramOf } from "../stacks/operations/inline-program";

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
    },
    outputs: { fraudSplit: "${fraud.split}", churnSplit: "${churn.split}" },
};

describe("a YAML program (runtime: yaml) through the YAML language host", function () {
    this.timeout(300_000);
    let dir: string;
    const bin = toolchainDir();

    function pulumi(args: string[], stack = true): { status: number | null; output: string; stdout: string } {
        const r = spawnSync(path.join(bin, "pulumi"), [...args, ...(stack ? ["--stack", "dev"] : []), "--non-interactive"], {
            cwd: dir,
            encoding: "utf8",
            env: {
                ...process.env,
                PATH: `${bin}:${process.env.PATH}`,
                PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
                PULUMI_CONFIG_PASSPHRASE: "",
                PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            },
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

    it("with `pulumi package add <checkout>/plugin`, two ModelCanary components render two VirtualServices, and the Output-valued image reaches the canary's Deployment", () => {
        const add = pulumi(["package", "add", path.join(packageDir, "plugin")], false);
        assert.strictEqual(add.status, 0, add.output);
        const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8"));
        assert.deepStrictEqual(project.packages, { "model-canary": path.join(packageDir, "plugin") });
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ ...project, ...models }));
        const init = pulumi(["stack", "init"]);
        assert.strictEqual(init.status, 0, init.output);
        const up = pulumi(["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        const objects = new Map<string, any>();
        const manifests = path.join(dir, "rendered", "1-manifest");
        for (const f of fs.readdirSync(manifests)) {
            for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(manifests, f), "utf8"))) {
                const o = doc.toJS();
                if (o) objects.set(`${o.kind}/${o.metadata.name}`, o);
            }
        }
        const split = (name: string) => Object.fromEntries(objects.get(`VirtualService/${name}`).spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
        assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 90, v2: 10 }, { v1: 100 }]);
        assert.strictEqual(objects.get("Deployment/fraud-v2").spec.template.spec.containers[0].image, "your-docker-repo/fraud:v2");
        assert.deepStrictEqual(JSON.parse(pulumi(["stack", "output", "--json"]).stdout), { fraudSplit: { v1: 90, v2: 10 }, churnSplit: { v1: 100 } });
    });
});

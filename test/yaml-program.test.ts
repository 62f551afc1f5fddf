// A Pulumi YAML program (`runtime: yaml`) through the real CLI and the YAML language host the
// toolchain builds (toolchain/go/language-yaml), rendering to a directory: the host is found
// beside `pulumi`, reads the Kubernetes provider's schema, and an Output-valued image reaches a
// Deployment. The commands' inline-program decision sends such a project to its own host.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { toolchainDir } from "../stacks/operations/automation";
import { commandSdkDir, decideInline, inlineProgramOf } from "../stacks/operations/inline-program";

/** A YAML program: a provider that renders, and a Deployment whose image is built from another resource's output. */
const program = {
    name: "yaml-render",
    runtime: "yaml",
    config: { image: { type: "string", default: "your-docker-repo/model-runner" } },
    resources: {
        render: { type: "pulumi:providers:kubernetes", properties: { renderYamlToDirectory: "rendered" } },
        settings: {
            type: "kubernetes:core/v1:ConfigMap",
            properties: { metadata: { name: "model-settings", namespace: "models" }, data: { tag: "v2" } },
            options: { provider: "${render}" },
        },
        model: {
            type: "kubernetes:apps/v1:Deployment",
            properties: {
                metadata: { name: "model-v2", namespace: "models" },
                spec: {
                    replicas: 1,
                    selector: { matchLabels: { app: "model", version: "v2" } },
                    template: {
                        metadata: { labels: { app: "model", version: "v2" } },
                        // An Output: the ConfigMap's data, known once the provider has it.
                        spec: { containers: [{ name: "model", image: "${image}:${settings.data[\"tag\"]}" }] },
                    },
                },
            },
            options: { provider: "${render}" },
        },
    },
    outputs: { image: "${model.spec.template.spec.containers[0].image}" },
};

describe("a YAML program (runtime: yaml) through the YAML language host", function () {
    this.timeout(300_000);
    let dir: string;
    const bin = toolchainDir();

    function pulumi(args: string[]): { status: number | null; output: string; stdout: string } {
        const r = spawnSync(path.join(bin, "pulumi"), [...args, "--stack", "dev", "--non-interactive"], {
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
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify(program));
    });
    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the toolchain has the YAML language host beside pulumi", () => {
        assert.ok(fs.statSync(path.join(bin, "pulumi-language-yaml")).mode & 0o100, "pulumi-language-yaml is executable");
    });

    it("`pulumi up` renders the Deployment with the image its Output resolved to, and exports it", () => {
        const init = pulumi(["stack", "init"]);
        assert.strictEqual(init.status, 0, init.output);
        const up = pulumi(["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        const file = fs.readdirSync(path.join(dir, "rendered", "1-manifest")).find((f) => f.includes("deployment"));
        assert.ok(file, "a Deployment manifest was rendered");
        const deployment = YAML.parse(fs.readFileSync(path.join(dir, "rendered", "1-manifest", file), "utf8"));
        assert.deepStrictEqual([deployment.metadata.name, deployment.spec.template.spec.containers[0].image], ["model-v2", "your-docker-repo/model-runner:v2"]);
        const outputs = pulumi(["stack", "output", "--json"]);
        assert.deepStrictEqual(JSON.parse(outputs.stdout), { image: "your-docker-repo/model-runner:v2" });
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
});

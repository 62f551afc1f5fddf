// Through the real engine and the `model-canary` command: a number written in one of YAML's own
// forms (`canaryWeight: 0x10`, which the engine hands the program as 16) is refused by `pulumi up`
// and the commands with nothing applied, `status` names it, and `rollback` takes traffic off the
// canary from the last applied config, writing text that reads back as text.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { projectDir, toolchainDir } from "../stacks/operations/automation";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5, env: { BATCH: "1_000" } };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable, canary };
const refusal = "`canaryWeight` is written 0x10, a hexadecimal number, which YAML reads as another value than the text shows: "
    + "write numbers in plain decimal digits, such as 10 or 12.5 (a quoted \"10\" reads the same), and quote a value meant as text";

describe("config as written, through the real engine and the command", function () {
    this.timeout(600_000);
    let project: TestProject;
    let settings: string;
    const run = (args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir, PULUMI_HOME: path.join(project.dir, "pulumi-home") },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    // Each resource without its `stackTrace`, the frames of what ran the program: a refused `up` by
    // hand (the language host) rewrites the stack resource's after the command ran it inline.
    const state = () => JSON.stringify(JSON.parse(runPulumi(project, ["stack", "export"]).output).deployment.resources.map(({ stackTrace, ...r }: Record<string, unknown>) => r));
    /** The config as the test writes it, with `BATCH: "1_000"` quoted as a user would (YAML.stringify leaves it bare). */
    const writeText = (weight: string) => {
        project.writeConfig({ ...seed, canaryWeight: 10 });
        const text = fs.readFileSync(settings, "utf8").replace("BATCH: 1_000", "BATCH: \"1_000\"").replace("model-canary:canaryWeight: 10", `model-canary:canaryWeight: ${weight}`);
        fs.writeFileSync(settings, text);
        return text;
    };

    before(() => {
        project = makeProject();
        settings = path.join(project.dir, "Pulumi.test.yaml");
        writeText("10");
        const up = run(["up", "--stack", "test"]);
        assert.strictEqual(up.status, 0, up.stderr);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
    });
    after(() => project?.remove());

    it("`canaryWeight: 0x10` is refused by `pulumi up` and `model-canary up`, naming the key and the value as written; state, rendered files and settings unchanged", () => {
        const stateBefore = state();
        const renderedBefore = project.renderedDigest();
        const text = writeText("0x10");

        const byHand = runPulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(byHand.status, 0);
        assert.ok(byHand.output.includes(refusal), byHand.output);
        assert.doesNotMatch(byHand.output, /84%|16%/);

        const command = run(["up", "--stack", "test"]);
        assert.strictEqual(command.status, 1, command.stdout);
        assert.ok(command.stderr.includes(refusal), command.stderr);
        assert.strictEqual(command.stdout, "");

        assert.strictEqual(state(), stateBefore);
        assert.strictEqual(project.renderedDigest(), renderedBefore);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
        assert.strictEqual(fs.readFileSync(settings, "utf8"), text);
    });

    it("`status` shows what is applied and the refusal", () => {
        const r = run(["status", "--stack", "test", "--json"]);
        assert.strictEqual(r.status, 0, r.stderr);
        const status = JSON.parse(r.stdout);
        assert.deepStrictEqual([status.applied.split, status.config.valid, status.config.problems], [{ v1: 90, v2: 10 }, false, [refusal]]);
    });

    it("`rollback` takes traffic off the canary from the last applied config, and the text it writes back reads as text", () => {
        const r = run(["rollback", "--stack", "test"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.ok(r.stderr.includes(`the config of stack test is invalid; rolling back from the last applied config instead:\n  - ${refusal}\n`), r.stderr);
        assert.match(r.stdout, /^rolled back: stack test sends 100% to v1 .*from the last applied config/m);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
        const deployment = project.rendered().get("Deployment/model-v1");
        assert.deepStrictEqual(deployment.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "BATCH"), { name: "BATCH", value: "1_000" });

        const written = fs.readFileSync(settings, "utf8");
        assert.match(written, /BATCH: "1_000"/);
        assert.strictEqual(YAML.parse(written).config["model-canary:canaryWeight"], 0);
        const after = JSON.parse(run(["status", "--stack", "test", "--json"]).stdout);
        assert.deepStrictEqual([after.applied.split, after.config.valid], [{ v1: 100 }, true]);
    });
});

describe("an Output where ModelCanary needs a plain value, in a user's own program (real engine)", function () {
    this.timeout(600_000);
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-user-output-"));
        fs.mkdirSync(path.join(dir, "state"));
        fs.symlinkSync(path.join(projectDir, "node_modules"), path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "shop", private: true, main: "index.ts" }));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: shop\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2022", module: "commonjs", moduleResolution: "node", strict: true, esModuleInterop: true } }));
        fs.writeFileSync(path.join(dir, "index.ts"), [
            `import * as pulumi from "@pulumi/pulumi";`,
            `import * as k8s from "@pulumi/kubernetes";`,
            `import { ModelCanary } from ${JSON.stringify(path.join(projectDir, "components"))};`,
            `const provider = new k8s.Provider("render", { renderYamlToDirectory: "out" });`,
            `new ModelCanary("m", { stable: { version: "v1", image: "registry.example.com/m:v1" }, canary: { version: pulumi.output("v2") as unknown as string, image: "registry.example.com/m:v2" }, canaryWeight: pulumi.output(10) as unknown as number }, { provider });`,
            "",
        ].join("\n"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("`pulumi up` fails with one error naming `canary.version` and `canaryWeight`, the reason on its last line, no toJSON warning or stack trace, nothing rendered", () => {
        const bin = toolchainDir();
        const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
        assert.strictEqual(spawnSync(path.join(bin, "pulumi"), ["stack", "init", "t"], { cwd: dir, encoding: "utf8", env }).status, 0);
        const up = spawnSync(path.join(bin, "pulumi"), ["up", "--yes", "--skip-preview", "--stack", "t"], { cwd: dir, encoding: "utf8", env });
        const output = `${up.stdout}${up.stderr}`;
        assert.notStrictEqual(up.status, 0);
        const reason = "invalid ModelCanary argument: `canary.version`, `canaryWeight` must be plain values, not an Output or a promise: ModelCanary checks them and builds resource names and the traffic split from them while the program registers resources, before any Output is known; "
            + "pass the value itself (Outputs are accepted only for a version's `image`, `resources`, `podAnnotations`, `podLabels` and `env` values)";
        assert.ok(output.includes(reason), output);
        assert.doesNotMatch(output, /toJSON|\n\s+at /);
        // The engine's diagnostics end with the error, the reason on that one line (before its resource counts).
        const lines = output.split("\nResources:")[0].split("\n").map((l) => l.trim()).filter((l) => l !== "");
        assert.ok(lines.at(-1)!.endsWith("`resources`, `podAnnotations`, `podLabels` and `env` values)"), output);
        assert.strictEqual(fs.existsSync(path.join(dir, "out")), false);
    });
});

// A stack's outputs on a local backend are read from its checkpoint file when they are plain
// values (stacks/operations/local-stack-file.ts), as the real `pulumi stack output --json
// --show-secrets` prints them; anything else (a secret, no file, both a .json and a .json.gz) is
// left to the CLI. The stacks here run an Automation API inline program: no provider, no host.
// The program, under a plain `pulumi up`, finds the backend the CLI uses as the CLI picks it.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import * as pulumi from "@pulumi/pulumi";
import type * as auto from "@pulumi/pulumi/automation";
import { openStack, readOutputs, toolchainDir } from "../stacks/operations/automation";
import { currentBackendUrl, isAbsoluteLocalBackend, localStackOutputs } from "../stacks/operations/local-stack-file";

describe("stack outputs read from a local backend's checkpoint file", function () {
    this.timeout(120_000);
    let dir: string;
    let backendUrl: string;
    let stack: auto.Stack;
    const bin = toolchainDir();
    const env = () => ({ ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true" });
    /** What the real CLI prints for the stack's outputs. */
    const cliOutputs = (name = "x") => JSON.parse(execFileSync(path.join(bin, "pulumi"), ["stack", "output", "--json", "--show-secrets", "--stack", name, "--non-interactive"], { cwd: dir, env: env(), encoding: "utf8" })) as Record<string, unknown>;
    const checkpoint = (name = "x") => path.join(dir, "state", ".pulumi", "stacks", "outputs-file-test", `${name}.json`);

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-outputs-file-"));
        backendUrl = `file://${path.join(dir, "state")}`;
        fs.mkdirSync(path.join(dir, "state"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: outputs-file-test\nruntime: nodejs\n");
        for (const name of ["x", "fresh"]) execFileSync(path.join(bin, "pulumi"), ["stack", "init", name, "--no-select", "--non-interactive"], { cwd: dir, env: env(), stdio: "ignore" });
        stack = await openStack({ stack: "x", workDir: dir, backendUrl, toolchainDir: bin });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("gives a stack that was never updated no outputs, as the CLI does", async () => {
        assert.deepStrictEqual(localStackOutputs(backendUrl, dir, "fresh"), {});
        assert.deepStrictEqual(cliOutputs("fresh"), {});
    });

    const outputs = { n: 1, f: 0.5, big: 12345678901, neg: -3, s: "ü ✓ \"q\" \\ \n", b: false, list: [], nested: { a: [1, { b: "c" }], empty: {} } };

    it("reads plain outputs from the file as the CLI prints them", async () => {
        await stack.up({ program: async () => outputs });
        const fromFile = localStackOutputs(backendUrl, dir, "x");
        assert.deepStrictEqual(fromFile, outputs);
        assert.deepStrictEqual(fromFile, cliOutputs());
        // readOutputs takes them from the file: a `pulumi` that can only fail is not asked.
        const command = (stack.workspace as auto.LocalWorkspace).pulumiCommand;
        Object.defineProperty(stack.workspace, "pulumiCommand", { value: { ...command, command: "/bin/false" }, configurable: true });
        try {
            assert.deepStrictEqual(await readOutputs(stack), outputs);
        } finally {
            Object.defineProperty(stack.workspace, "pulumiCommand", { value: command, configurable: true });
        }
    });

    it("reads a compressed checkpoint, and leaves it to the CLI when both a .json and a .json.gz are there", async () => {
        const text = fs.readFileSync(checkpoint());
        fs.writeFileSync(`${checkpoint()}.gz`, zlib.gzipSync(text));
        assert.strictEqual(localStackOutputs(backendUrl, dir, "x"), undefined);
        fs.rmSync(checkpoint());
        assert.deepStrictEqual(localStackOutputs(backendUrl, dir, "x"), outputs);
        fs.writeFileSync(checkpoint(), text);
        fs.rmSync(`${checkpoint()}.gz`);
    });

    it("leaves a file it cannot read as a checkpoint to the CLI", () => {
        const text = fs.readFileSync(checkpoint(), "utf8");
        try {
            fs.writeFileSync(checkpoint(), text.slice(0, 40));
            assert.strictEqual(localStackOutputs(backendUrl, dir, "x"), undefined);
            fs.writeFileSync(checkpoint(), JSON.stringify({ ...JSON.parse(text), version: 4 }));
            assert.strictEqual(localStackOutputs(backendUrl, dir, "x"), undefined);
        } finally {
            fs.writeFileSync(checkpoint(), text);
        }
        assert.strictEqual(localStackOutputs("s3://bucket", dir, "x"), undefined);
        assert.strictEqual(localStackOutputs(backendUrl, dir, "missing"), undefined);
    });

    it("leaves a stack with a secret output to the CLI, which decrypts it", async () => {
        await stack.up({ program: async () => ({ plain: "p", token: pulumi.secret("t0k-3n") }) });
        assert.strictEqual(localStackOutputs(backendUrl, dir, "x"), undefined);
        assert.deepStrictEqual(await readOutputs(stack), { plain: "p", token: "t0k-3n" });
        assert.deepStrictEqual(cliOutputs(), { plain: "p", token: "t0k-3n" });
    });

    it("finds the backend as the CLI picks it: PULUMI_BACKEND_URL, else Pulumi.yaml's backend.url, else the credentials file's current login; only an absolute file:// one is read directly", () => {
        const project = path.join(dir, "picked");
        const home = path.join(project, "home");
        for (const d of ["home", "env", "project", "login"]) fs.mkdirSync(path.join(project, d), { recursive: true });
        const url = (name: string) => `file://${path.join(project, name)}`;
        fs.writeFileSync(path.join(home, "credentials.json"), JSON.stringify({ current: url("login"), accounts: { [url("login")]: {} } }));
        const base = { ...process.env, PULUMI_HOME: home, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_BACKEND_URL: "", PULUMI_CREDENTIALS_PATH: "" };
        /** The backend the real CLI reports for the project. */
        const cli = (env: NodeJS.ProcessEnv) => /^Backend URL: (.*)$/m.exec(execFileSync(path.join(bin, "pulumi"), ["whoami", "--verbose", "--non-interactive"], { cwd: project, env, encoding: "utf8" }))?.[1];
        const cases: [string, NodeJS.ProcessEnv, string][] = [
            [`name: picked\nruntime: nodejs\nbackend:\n  url: ${url("project")}\n`, { ...base, PULUMI_BACKEND_URL: url("env") }, url("env")],
            [`name: picked\nruntime: nodejs\nbackend:\n  url: ${url("project")}\n`, base, url("project")],
            ["name: picked\nruntime: nodejs\n", base, url("login")],
        ];
        for (const [yaml, env, expected] of cases) {
            fs.writeFileSync(path.join(project, "Pulumi.yaml"), yaml);
            assert.strictEqual(cli(env), expected);
            assert.strictEqual(currentBackendUrl(project, env), expected);
        }
        assert.deepStrictEqual(["file:///srv/state", "file://~", "file://~/state", "file://state", "file://./state", "file://../state", "s3://bucket", "https://api.pulumi.com"].map(isAbsoluteLocalBackend), [true, true, true, false, false, false, false, false]);
    });
});

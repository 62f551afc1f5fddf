// Opening a stack (stacks/operations/automation.ts openStack) reads the toolchain's `pulumi version`
// once per binary, kept across processes (stacks/operations/pulumi-version.ts): a script of our own
// stands in for `pulumi` and logs every command it is given.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openStack, StackOperationError } from "../stacks/operations/automation";

describe("openStack and the toolchain's `pulumi version`", () => {
    let dir: string;
    let bin: string;
    let log: string;
    const savedCache = process.env.MODEL_CANARY_CACHE;

    /** A `pulumi` that logs its arguments and answers `version` as 3.248.0; it knows no stack. */
    function fakePulumi(): void {
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "$*" >>'${log}'\n[ "$1" = version ] && { echo v3.248.0; exit 0; }\necho "error: no stack named 'x' found" >&2\nexit 255\n`, { mode: 0o755 });
    }
    const versionRuns = (): number => fs.readFileSync(log, "utf8").split("\n").filter((l) => l === "version").length;
    /** Opens stack `x` on a backend folder that does not exist: refused as missing after the toolchain is read. */
    const open = () => assert.rejects(openStack({ stack: "x", workDir: dir, backendUrl: `file://${path.join(dir, "no-state")}`, toolchainDir: bin }),
        (e: unknown) => e instanceof StackOperationError && e.kind === "stack-not-found");

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-open-"));
        bin = path.join(dir, "toolchain", "bin");
        fs.mkdirSync(bin, { recursive: true });
        log = path.join(dir, "pulumi.log");
        fs.writeFileSync(log, "");
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: open-stack-test\nruntime: nodejs\n");
        fakePulumi();
        // The versions read are kept here, not in the user's cache.
        process.env.MODEL_CANARY_CACHE = path.join(dir, "cache");
    });
    afterEach(() => {
        if (savedCache === undefined) delete process.env.MODEL_CANARY_CACHE;
        else process.env.MODEL_CANARY_CACHE = savedCache;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs `pulumi version` once for every stack it opens with the same binary", async () => {
        await open();
        await open();
        await open();
        assert.strictEqual(versionRuns(), 1);
    });

    it("reads the version again when the binary was replaced at the same path", async () => {
        await open();
        fs.rmSync(path.join(bin, "pulumi"));
        fakePulumi();
        // Another modification time, as a rebuilt toolchain has.
        fs.utimesSync(path.join(bin, "pulumi"), new Date(), new Date(Date.now() + 5_000));
        await open();
        assert.strictEqual(versionRuns(), 2);
    });

    it("does not keep a failed read: a `pulumi` that fails `version` is asked again", async () => {
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "$*" >>'${log}'\nexit 3\n`, { mode: 0o755 });
        await assert.rejects(openStack({ stack: "x", workDir: dir, backendUrl: `file://${path.join(dir, "no-state")}`, toolchainDir: bin }));
        await assert.rejects(openStack({ stack: "x", workDir: dir, backendUrl: `file://${path.join(dir, "no-state")}`, toolchainDir: bin }));
        assert.strictEqual(versionRuns(), 2);
    });

    it("keeps the version for the next process: a second command runs no `pulumi version`", () => {
        // Each a process of its own, as two commands are: the version it got, printed.
        const versionIn = () => execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e",
            `require("./stacks/operations/pulumi-version").pulumiCommandOf(${JSON.stringify(path.dirname(bin))}).then((c) => console.log(c.version.raw))`],
        { cwd: path.join(__dirname, ".."), env: { ...process.env, MODEL_CANARY_CACHE: path.join(dir, "cache") }, encoding: "utf8" }).trim();
        assert.strictEqual(versionIn(), "v3.248.0");
        assert.strictEqual(versionIn(), "v3.248.0");
        assert.strictEqual(versionRuns(), 1);
        assert.deepStrictEqual(Object.values(JSON.parse(fs.readFileSync(path.join(dir, "cache", "pulumi-versions.json"), "utf8"))), ["v3.248.0"]);
    });

    describe("on a local backend, a stack whose checkpoint file exists", () => {
        /** A backend folder in the project layout, holding the given files of project `open-stack-test`. */
        function backend(files: string[]): string {
            const state = path.join(dir, "state");
            fs.mkdirSync(path.join(state, ".pulumi", "stacks", "open-stack-test"), { recursive: true });
            fs.writeFileSync(path.join(state, ".pulumi", "meta.yaml"), "version: 1\n");
            for (const f of files) fs.writeFileSync(path.join(state, ".pulumi", "stacks", "open-stack-test", f), "{}");
            return `file://${state}`;
        }
        const stackCommands = () => fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("stack"));

        it("is opened without running `pulumi stack`", async () => {
            const stack = await openStack({ stack: "x", workDir: dir, backendUrl: backend(["x.json"]), toolchainDir: bin });
            assert.strictEqual(stack.name, "x");
            assert.deepStrictEqual(stackCommands(), []);
        });

        it("is asked of the CLI when only a removed stack's backup is there, and reported missing", async () => {
            await assert.rejects(openStack({ stack: "x", workDir: dir, backendUrl: backend(["x.json.bak"]), toolchainDir: bin }),
                (e: unknown) => e instanceof StackOperationError && e.kind === "stack-not-found");
            assert.deepStrictEqual(stackCommands(), ["stack --show-name --stack x --non-interactive"]);
        });
    });
});

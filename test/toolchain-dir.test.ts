// Finding a toolchain directory (stacks/operations/toolchain-dir.ts), as the Pulumi toolchain, the local
// control plane and the test data plane are found: scripts of our own stand in for ensure.sh.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { toolchainLocator } from "../stacks/operations/toolchain-dir";

class TestError extends Error {}

describe("toolchainLocator", () => {
    const envVar = "MODEL_CANARY_TEST_LOCATOR_DIR";
    let dir: string;
    let runs: string;

    /** An ensure script that counts its runs in `runs`, prints `stdout` and exits with `code`. */
    function script(name: string, stdout: string, code = 0): string {
        const file = path.join(dir, name);
        fs.writeFileSync(file, `echo run >>'${runs}'\nprintf '%s' '${stdout}'\nexit ${code}\n`);
        return file;
    }
    const runCount = (): number => (fs.existsSync(runs) ? fs.readFileSync(runs, "utf8").split("\n").filter(Boolean).length : 0);
    const locator = (file: string, advice?: string) =>
        toolchainLocator({ envVar, script: file, what: "the test toolchain", fail: (m) => new TestError(m), advice });

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-locator-"));
        runs = path.join(dir, "runs");
        delete process.env[envVar];
    });
    afterEach(() => {
        delete process.env[envVar];
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("returns the last line the script prints, and runs the script once per locator", () => {
        const find = locator(script("ensure.sh", "/cache/toolchain/x/bin\n"));
        assert.strictEqual(find(), "/cache/toolchain/x/bin");
        assert.strictEqual(find(), "/cache/toolchain/x/bin");
        assert.strictEqual(runCount(), 1);
        assert.strictEqual(locator(script("two.sh", "built\n/other/bin\n"))(), "/other/bin");
    });

    it("uses the environment variable without running the script; an empty one does not count", () => {
        const find = locator(script("ensure.sh", "/from/script\n"));
        process.env[envVar] = "/from/env";
        assert.strictEqual(find(), "/from/env");
        assert.strictEqual(runCount(), 0);
        process.env[envVar] = "";
        assert.strictEqual(find(), "/from/script");
        assert.strictEqual(runCount(), 1);
    });

    it("a failing script is the caller's error, naming the script and its exit code, with the advice", () => {
        const file = script("ensure.sh", "", 3);
        assert.throws(() => locator(file, "; set IT yourself")(), (e: unknown) => e instanceof TestError
            && e.message === `the test toolchain is not available: ${file} failed with exit code 3 (its messages are above); set IT yourself`);
    });

    it("a script that prints no directory is an error", () => {
        const file = script("ensure.sh", "");
        assert.throws(() => locator(file)(), (e: unknown) => e instanceof TestError && e.message === `${file} printed no directory`);
    });
});

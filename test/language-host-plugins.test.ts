// Plugins written in Node.js through the real CLI and our language host's RunPlugin
// (toolchain/go/language-nodejs/runplugin.go): `pulumi package get-schema <dir>` starts the
// fixture resource plugin in test/fixtures/plugin-provider, reads its port from its first line of
// stdout and asks for its schema. (Policy packs, kind `analyzer`, are started the same way by
// `pulumi preview --policy-pack`.)
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { toolchainDir } from "../stacks/operations/automation";

const fixture = path.join(__dirname, "fixtures", "plugin-provider");

/** A process that has ended: gone, or a zombie nobody reaped (this container's init does not). */
function ended(pid: number): boolean {
    try {
        return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] === "Z";
    } catch {
        return true;
    }
}

describe("Node.js plugins through the language host's RunPlugin (real CLI)", function () {
    this.timeout(180_000);
    let dir: string;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-plugins-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function getSchema(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
        const bin = toolchainDir();
        const r = spawnSync(path.join(bin, "pulumi"), ["package", "get-schema", fixture], {
            cwd: dir,
            encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_HOME: path.join(dir, ".pulumi"), ...env },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    it("a resource plugin serves on the port it prints, installs nothing that already resolves, and nothing it started outlives the command", () => {
        const pids = path.join(dir, "pids");
        const r = getSchema({ FIXTURE_PIDS: pids });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.deepStrictEqual(JSON.parse(r.stdout), { name: "fixture-provider", version: "0.1.0", config: {} });
        // `get-schema` installs a local plugin's dependencies first: @pulumi/pulumi resolves from
        // the repository's node_modules, so npm is not run.
        assert.match(r.stderr, /The plugin's dependencies already resolve from .*plugin-provider; nothing to install/);
        // The plugin (node) and the child it started are gone once the command is. (That the host
        // kills the plugin's process group when the request ends while the host lives on is
        // pinned by TestRunPluginEndsTheProcessGroupWithTheRequest in the host's Go tests.)
        const [node, child] = fs.readFileSync(pids, "utf8").trim().split(" ").map(Number);
        assert.deepStrictEqual([ended(node), ended(child)], [true, true]);
    });

    it("a plugin that exits before listening fails the command with its exit code, its stderr relayed", () => {
        const r = getSchema({ FIXTURE_EXIT_CODE: "3" });
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /fixture-provider: failing on purpose before listening/);
        assert.match(r.stderr, /the plugin in .*plugin-provider exited with code 3/);
    });
});

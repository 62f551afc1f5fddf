// The local-cluster walkthrough of docs/getting-started.md (section "A local cluster"), run as written with bash in a
// copy of the checkout as a fresh clone has it (tracked and unignored files only: no node_modules,
// no dist, no .pulumi-state), so the documented commands cannot drift from what works.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const projectDir = path.resolve(__dirname, "..");

/** The first ```sh block after the heading `### A local cluster`. */
function walkthroughBlock(readme: string): string {
    const section = readme.slice(readme.indexOf("\n### A local cluster\n"));
    const block = section.match(/\n```sh\n([\s\S]*?)\n```\n/);
    if (!block) throw new Error("docs/getting-started.md has no ```sh block under ### A local cluster");
    return block[1];
}

describe("docs/getting-started.md: the local-cluster walkthrough", function () {
    this.timeout(1_200_000);
    let clone: string;
    let pointer: string;

    before(function () {
        clone = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-clone-"));
        const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: projectDir, encoding: "utf8" }).split("\0").filter(Boolean);
        for (const f of files) {
            if (!fs.existsSync(path.join(projectDir, f))) continue; // deleted in the working tree
            fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
            fs.copyFileSync(path.join(projectDir, f), path.join(clone, f));
        }
        pointer = path.join(clone, "..", `${path.basename(clone)}.cluster`);
    });
    after(function () {
        // The block ends with cluster:down; this stops the cluster when it failed half way.
        if (fs.existsSync(pointer)) spawnSync("npm", ["run", "-s", "cluster:down"], { cwd: clone, env: { ...process.env, MODEL_CANARY_CLUSTER_POINTER: pointer }, stdio: "inherit" });
        fs.rmSync(clone, { recursive: true, force: true });
        fs.rmSync(pointer, { force: true });
    });

    it("runs as written from a fresh clone: up at 1%, a step to 10%, status, rollback, promote, then everything removed", function () {
        const block = walkthroughBlock(fs.readFileSync(path.join(projectDir, "docs", "getting-started.md"), "utf8"));
        assert.match(block, /^npm ci$/m);
        const env: NodeJS.ProcessEnv = { ...process.env, MODEL_CANARY_CLUSTER_POINTER: pointer };
        // As a user's shell would have it: none of the test run's Pulumi or cluster settings.
        for (const k of ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG", "MODEL_CANARY_TOOLCHAIN", "MODEL_CANARY_CLUSTER_TOOLCHAIN", "TS_NODE_PROJECT"]) delete env[k];
        const r = spawnSync("bash", ["-c", `set -euo pipefail\n${block}`], { cwd: clone, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        const output = `${r.stdout}\n${r.stderr}`;
        assert.strictEqual(r.status, 0, output.slice(-4000));
        assert.match(r.stdout, /model-canary: stack local serves v1 99%, v2 1%\n/);
        assert.match(r.stdout, /model-canary: stack local serves v1 90%, v2 10%\n/);
        assert.match(r.stdout, /deployment\.apps\/model-v1 +5\/5/);
        assert.match(output, /rolled back: stack local sends 100% to v1/);
        assert.match(output, /model-canary: stack local serves v2 100%\n/);
        assert.match(output, /promoted: v2 is stable and serves 100%/);
        // cluster:down removed the cluster, and `pulumi stack rm` the stack and its settings file.
        assert.ok(!fs.existsSync(pointer));
        assert.ok(!fs.existsSync(path.join(clone, "Pulumi.local.yaml")));
    });
});

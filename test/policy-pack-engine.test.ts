// The policy pack (policy/) through the real CLI: `pulumi up|preview --policy-pack policy` on the
// project's program in render mode, the pack started by our language host's RunPlugin (kind
// analyzer). The checks themselves are pinned in policy-rules.test.ts.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectDir } from "../stacks/operations/automation";
import { makeProject, TestProject, runPulumi } from "./support/engine";

const pack = path.join(projectDir, "policy");
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination" };

describe("the policy pack through the real engine (render mode)", function () {
    this.timeout(300_000);
    let project: TestProject;

    before(() => {
        project = makeProject("policy");
        assert.strictEqual(runPulumi(project, ["stack", "init"]).status, 0);
    });
    after(() => project?.remove());

    it("a program whose canary runs the stable's image is refused with the policy's message, and nothing is applied", () => {
        project.writeConfig({
            ...seed,
            stable: { version: "v1", image: "registry.example.com/model:v1", replicas: 2 },
            canary: { version: "v2", image: "registry.example.com/model:v1", replicas: 1 },
            canaryWeight: 10,
        });
        const r = runPulumi(project, ["up", "--yes", "--policy-pack", pack]);
        assert.notStrictEqual(r.status, 0, r.output);
        assert.match(r.output, /\[mandatory\]\s+canary-image-differs[\s\S]*ModelCanary `model`: versions `v1` and `v2` run the same image `registry\.example\.com\/model:v1`/);
        assert.deepStrictEqual([...project.rendered().keys()], []);
        const state = runPulumi(project, ["stack", "export"]);
        assert.deepStrictEqual(JSON.parse(state.output.slice(state.output.indexOf("{"))).deployment.resources ?? [], []);
    });

    it("the pack's config sets a policy's level and bounds: a `latest` tag made mandatory and replicas over `maxReplicas` refuse the preview", () => {
        project.writeConfig({
            ...seed,
            stable: { version: "v1", image: "registry.example.com/model:latest", replicas: 5 },
            canary: { version: "v2", image: "registry.example.com/model:v2", replicas: 1 },
            canaryWeight: 10,
        });
        const config = path.join(project.dir, "policy-config.json");
        fs.writeFileSync(config, JSON.stringify({ "immutable-image-tags": "mandatory", "replicas-within-bounds": { maxReplicas: 4 } }));
        const r = runPulumi(project, ["preview", "--policy-pack", pack, "--policy-pack-config", config]);
        assert.notStrictEqual(r.status, 0, r.output);
        assert.match(r.output, /\[mandatory\]\s+immutable-image-tags[\s\S]*Deployment `model-v1`: container `model-server` image `registry\.example\.com\/model:latest` uses the tag `latest`/);
        assert.match(r.output, /\[mandatory\]\s+replicas-within-bounds[\s\S]*Deployment `model-v1`: `replicas` is 5, more than the 4 this policy allows/);
    });

    it("a compliant program passes, an advisory policy (a `latest` tag by default) warning without refusing it", () => {
        project.writeConfig({
            ...seed,
            stable: { version: "v1", image: "registry.example.com/model:v1", replicas: 2 },
            canary: { version: "v2", image: "registry.example.com/model:latest", replicas: 1 },
            canaryWeight: 10,
            headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }],
        });
        const r = runPulumi(project, ["preview", "--policy-pack", pack]);
        assert.strictEqual(r.status, 0, r.output);
        assert.match(r.output, /\[advisory\]\s+immutable-image-tags[\s\S]*Deployment `model-v2`: container `model-server` image `registry\.example\.com\/model:latest` uses the tag `latest`/);
        assert.doesNotMatch(r.output, /\[mandatory\]/);
    });

    it("a pack whose dependencies are not installed fails with the fix, before the program runs", () => {
        const bare = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-pack-"));
        try {
            for (const f of ["PulumiPolicy.yaml", "package.json", "index.ts", "rules.ts"]) fs.copyFileSync(path.join(pack, f), path.join(bare, f));
            const r = runPulumi(project, ["preview", "--policy-pack", bare]);
            assert.notStrictEqual(r.status, 0);
            assert.match(r.output, new RegExp(`it looks like the policy pack's dependencies are not installed; try running npm install or yarn install in "${bare}"`));
        } finally {
            fs.rmSync(bare, { recursive: true, force: true });
        }
    });

    it("a pack where @pulumi/pulumi resolves but @pulumi/policy does not names the missing package and the install command, before the program runs", () => {
        const bare = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-pack-"));
        try {
            for (const f of ["PulumiPolicy.yaml", "package.json", "index.ts", "dependency.ts", "pack.ts", "rules.ts"]) fs.copyFileSync(path.join(pack, f), path.join(bare, f));
            fs.mkdirSync(path.join(bare, "node_modules", "@pulumi"), { recursive: true });
            fs.symlinkSync(path.join(projectDir, "node_modules", "@pulumi", "pulumi"), path.join(bare, "node_modules", "@pulumi", "pulumi"));
            project.writeConfig({
                ...seed,
                stable: { version: "v1", image: "registry.example.com/model:v1", replicas: 2 },
                canary: { version: "v2", image: "registry.example.com/model:v2", replicas: 1 },
                canaryWeight: 10,
            });
            const r = runPulumi(project, ["up", "--yes", "--policy-pack", bare]);
            assert.notStrictEqual(r.status, 0, r.output);
            assert.ok(r.output.includes(`the model-canary policy pack needs \`@pulumi/policy\`, which does not resolve from ${bare}: run \`npm install --save-dev @pulumi/policy@^1.21.0\` in the project that installs model-canary`), r.output);
            assert.doesNotMatch(r.output, /TS2307|Unable to compile TypeScript/);
            assert.deepStrictEqual([...project.rendered().keys()], []);
        } finally {
            fs.rmSync(bare, { recursive: true, force: true });
        }
    });
});

// Two clones of the project as two runners sharing one state backend (render mode, the real
// engine): a clone whose settings were written before the other's steps cannot move the routing
// back, through `model-canary up` or a plain `pulumi up`; `adopt` and `--override-stale` are the
// ways out, and a deliberate edit on an up-to-date clone still works.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type * as auto from "@pulumi/pulumi/automation";
import { checkConfig, openStack, readOutputs, setModelConfig, upStack } from "../stacks/operations/automation";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable, canary, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };

describe("routing revisions: a stale clone cannot undo another runner's step (render mode, two clones, one backend)", function () {
    this.timeout(600_000);
    let a: TestProject;
    let b: TestProject;
    let stackA: auto.Stack;
    let stackB: auto.Stack;

    const settings = (p: TestProject) => YAML.parse(fs.readFileSync(path.join(p.dir, "Pulumi.test.yaml"), "utf8")).config as Record<string, unknown>;
    const applied = async () => {
        const outputs = await readOutputs(stackA);
        return { split: outputs.split, record: outputs.routingRecord as { revision: number; appliedBy: string; appliedAt: string } };
    };
    /** A step as a rollout makes it: the weight edited in the settings, then `up`. */
    const step = async (stack: auto.Stack, weight: number) => {
        setModelConfig(stack, checkConfig(stack).models.model, (c) => { c.canaryWeight = weight; });
        return upStack(stack);
    };
    const cli = (p: TestProject, args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", "test", "--cwd", p.dir, "--backend", p.ref.backendUrl!], {
            encoding: "utf8", env: { ...process.env, MODEL_CANARY_TOOLCHAIN: p.ref.toolchainDir, PULUMI_CONFIG_PASSPHRASE: "" },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    before(async () => {
        a = makeProject();
        a.writeConfig({ ...seed, canaryWeight: 1 });
        stackA = await openStack(a.ref, { create: true });
        await upStack(stackA);
        // Clone B is made now, at 1%, and shares A's backend.
        b = makeProject();
        b.ref.backendUrl = a.ref.backendUrl;
        fs.copyFileSync(path.join(a.dir, "Pulumi.test.yaml"), path.join(b.dir, "Pulumi.test.yaml"));
        stackB = await openStack(b.ref);
        await step(stackA, 10);
        await step(stackA, 50);
    });
    after(() => {
        a?.remove();
        b?.remove();
    });

    it("a first `up` of settings without a revision records revision 0 and leaves the settings as they are; each step takes the next and writes it", async () => {
        // The clone was copied after the first up: it holds what that up left.
        assert.strictEqual(settings(b)["model-canary:routingRevision"], undefined);
        assert.strictEqual(settings(a)["model-canary:routingRevision"], 2);
        const { split, record } = await applied();
        assert.deepStrictEqual(split, { v1: 50, v2: 50 });
        assert.strictEqual(record.revision, 2);
        assert.match(record.appliedBy, /^[^@]+@[^@]+$/);
        const vs = a.rendered().get("VirtualService/model-virtual-service");
        assert.strictEqual(vs.metadata.annotations["model-canary/routing-revision"], "2");
        assert.strictEqual(vs.metadata.annotations["model-canary/routing-applied-by"], record.appliedBy);
        assert.strictEqual(vs.metadata.annotations["model-canary/routing-applied-at"], record.appliedAt);
    });

    it("`model-canary up` in the stale clone is refused naming both revisions, who applied the newer and when, and the ways out; nothing is applied", async () => {
        const before = await applied();
        const r = cli(b, ["up"]);
        assert.strictEqual(r.status, 1, r.stdout + r.stderr);
        assert.ok(r.stderr.includes(`the routing of stack \`test\` is at revision 2, applied by ${before.record.appliedBy} at ${before.record.appliedAt}, but Pulumi.test.yaml has no \`routingRevision\` (revision 0)`), r.stderr);
        assert.ok(r.stderr.includes("Nothing was applied"), r.stderr);
        assert.ok(r.stderr.includes("`model-canary adopt --stack test`"), r.stderr);
        assert.ok(r.stderr.includes("--override-stale") && r.stderr.includes("MODEL_CANARY_OVERRIDE_STALE=true"), r.stderr);
        assert.deepStrictEqual(await applied(), before);
        assert.strictEqual(settings(b)["model-canary:routingRevision"], undefined);
        assert.strictEqual(settings(b)["model-canary:canaryWeight"], "1");
    });

    it("a plain `pulumi up` in the stale clone is refused by the program before anything is registered, reading the stack's outputs from its checkpoint file, not with `pulumi stack output`", async () => {
        const before = await applied();
        // A `pulumi` first on PATH that only leaves a mark: the update runs the toolchain's CLI by
        // its path, so only the program would run this one (it did, for `pulumi stack output`).
        const shim = fs.mkdtempSync(path.join(b.dir, "shim-"));
        fs.writeFileSync(path.join(shim, "pulumi"), `#!/bin/sh\necho "$@" >> ${path.join(shim, "ran")}\nexit 1\n`, { mode: 0o755 });
        const r = runPulumi(b, ["up", "--yes", "--skip-preview"], undefined, { env: { PATH: `${shim}:${b.ref.toolchainDir}:${process.env.PATH}` } });
        assert.strictEqual(fs.existsSync(path.join(shim, "ran")), false, `the program ran \`pulumi ${fs.existsSync(path.join(shim, "ran")) ? fs.readFileSync(path.join(shim, "ran"), "utf8").trim() : ""}\``);
        assert.notStrictEqual(r.status, 0, r.output);
        assert.ok(r.output.includes("the routing of stack `test` is at revision 2"), r.output);
        assert.ok(!/\+\s+create|~\s+update/.test(r.output), r.output);
        assert.deepStrictEqual(await applied(), before);
        assert.strictEqual(settings(b)["model-canary:routingRevision"], undefined);
    });

    it("`adopt` writes the stack's routing and revision into the stale clone's settings; its `up` then changes no routing", async () => {
        const r = cli(b, ["adopt"]);
        assert.strictEqual(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /adopted routing revision 2 .*changed `canaryWeight`, `routingRevision`$/m);
        assert.strictEqual(settings(b)["model-canary:canaryWeight"], 50);
        assert.strictEqual(settings(b)["model-canary:routingRevision"], 2);
        const before = await applied();
        const result = await upStack(stackB);
        assert.strictEqual(result.changes.update, undefined, JSON.stringify(result.steps));
        assert.deepStrictEqual(await applied(), before);
    });

    it("a deliberate edit on the adopted clone (canaryWeight 0) applies and takes the next revision", async () => {
        await step(stackB, 0);
        const { split, record } = await applied();
        assert.deepStrictEqual(split, { v1: 100 });
        assert.strictEqual(record.revision, 3);
        assert.strictEqual(settings(b)["model-canary:routingRevision"], 3);
    });

    it("overriding on purpose applies stale settings: a plain `pulumi up` with MODEL_CANARY_OVERRIDE_STALE=true, which writes the new revision into its settings, and `up --override-stale`", async () => {
        // Clone A is now the stale one (revision 2, 50%).
        const r = runPulumi(a, ["up", "--yes", "--skip-preview"], "test", { env: { MODEL_CANARY_OVERRIDE_STALE: "true" } });
        assert.strictEqual(r.status, 0, r.output);
        let now = await applied();
        assert.deepStrictEqual(now.split, { v1: 50, v2: 50 });
        assert.strictEqual(now.record.revision, 4);
        assert.strictEqual(settings(a)["model-canary:routingRevision"], 4);
        // B (revision 3, 0%) is stale in turn.
        const c = cli(b, ["up", "--override-stale"]);
        assert.strictEqual(c.status, 0, c.stdout + c.stderr);
        now = await applied();
        assert.deepStrictEqual(now.split, { v1: 100 });
        assert.strictEqual(now.record.revision, 5);
        assert.strictEqual(settings(b)["model-canary:routingRevision"], 5);
    });
});

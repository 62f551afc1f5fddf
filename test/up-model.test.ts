// `model-canary up --model NAME` in a stack of several models, through the CLI and the real engine
// (render mode, temp file backend): a scoped update of that model, refused only while a rollout
// holds that model; a whole update (said on stderr) when it cannot be scoped, refused then while
// any model is held.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { openStack, previewStack, upStack } from "../stacks/operations/automation";
import { acquireStackLock } from "../stacks/operations/lock";
import { readProjectConfig } from "../stacks/config/settings";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";
import { unrenewed } from "./support/refusal";

const entry = (name: string) => ({
    stable: { version: "v1", image: `registry.example.com/ml/${name}:v1` },
    canary: { version: "v2", image: `registry.example.com/ml/${name}:v2` },
    canaryWeight: 1,
});

describe("`up --model NAME` is a scoped update of that model (real engine, the CLI)", function () {
    this.timeout(600_000);
    let project: TestProject;

    const cli = (args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", project.ref.stack, "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const split = (model: string) => {
        const vs = project.rendered().get(`VirtualService/${model}-virtual-service`);
        return vs ? Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight])) : {};
    };
    /** Every rendered object as JSON, by `Kind/name`. */
    const rendered = () => new Map([...project.rendered()].map(([k, v]) => [k, JSON.stringify(v)]));
    const changedSince = (before: Map<string, string>) => {
        const after = rendered();
        return [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k)).sort();
    };
    const setWeights = (weights: Record<string, number>) => {
        const models = readProjectConfig(project.dir, project.ref.stack).models as Record<string, Record<string, unknown>>;
        for (const [name, weight] of Object.entries(weights)) models[name].canaryWeight = weight;
        project.writeConfig({ models });
    };
    const refusal = (model: string, startedAt: string) =>
        `model-canary: model \`${model}\` of stack \`upmodel\` is held by a running \`rollout\` (pid ${process.pid} on host ${os.hostname()}, user ${os.userInfo().username}, since ${startedAt}); `
        + `wait for it to finish, or run \`model-canary rollback --stack upmodel --model ${model}\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, 60s after its last renewal`;

    before(async () => {
        project = makeProject("upmodel");
        project.writeConfig({ models: { fraud: entry("fraud"), churn: entry("churn") } });
        await upStack(await openStack(project.ref, { create: true }));
    });
    after(() => project?.remove());

    it("`preview --model fraud` previews what `up --model fraud` would apply: fraud's VirtualService only, while `preview` shows both edits", async () => {
        setWeights({ fraud: 10, churn: 50 });
        const before = rendered();
        const stack = await openStack(project.ref);
        const changed = (steps: { op: string; name: string }[]) => steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort();
        const whole: string[] = [];
        const scoped = await previewStack(stack, { model: "fraud", beforeWhole: (reason) => { whole.push(reason); } });
        assert.deepStrictEqual(changed(scoped.steps), ["update fraud-vs"]);
        assert.deepStrictEqual(scoped.scope, { model: "fraud" });
        assert.deepStrictEqual(whole, []);
        assert.deepStrictEqual(changed((await previewStack(stack)).steps), ["update churn-vs", "update fraud-vs"]);

        const comment = cli(["preview", "--model", "fraud", "--markdown", "-"]);
        assert.strictEqual(comment.status, 0, comment.stderr);
        assert.strictEqual(comment.stderr, "");
        assert.match(comment.stdout, /fraud/);
        assert.doesNotMatch(comment.stdout, /churn-vs/);
        assert.deepStrictEqual(changedSince(before), [], "a preview writes nothing");
    });

    it("while a rollout holds `churn`, `up --model fraud` applies fraud's edit only; `up --model churn` and `up` are refused naming the holder", async () => {
        setWeights({ fraud: 10, churn: 50 });
        const before = rendered();
        const lock = await acquireStackLock(project.ref, "rollout", { model: "churn" });
        try {
            const up = cli(["up", "--model", "fraud"]);
            assert.strictEqual(up.status, 0, up.stderr);
            assert.strictEqual(up.stderr, "");
            assert.match(up.stdout, /\nmodel-canary: stack upmodel model fraud serves v1 90%, v2 10%\n$/);
            assert.deepStrictEqual(changedSince(before), ["VirtualService/fraud-virtual-service"]);
            assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 90, v2: 10 }, { v1: 99, v2: 1 }]);

            const applied = rendered();
            for (const args of [["up", "--model", "churn"], ["up"]]) {
                const refused = cli(args);
                assert.strictEqual(refused.status, 1, args.join(" "));
                assert.strictEqual(unrenewed(refused.stderr.trim()), refusal("churn", lock.holder.startedAt), args.join(" "));
                assert.deepStrictEqual(changedSince(applied), [], args.join(" "));
            }
        } finally {
            await lock.release();
        }
        // Once churn is free, its own edit is applied the same way, leaving fraud alone.
        const before2 = rendered();
        const churn = cli(["up", "--model", "churn"]);
        assert.strictEqual(churn.status, 0, churn.stderr);
        assert.strictEqual(churn.stderr, "");
        assert.deepStrictEqual(changedSince(before2), ["VirtualService/churn-virtual-service"]);
        assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 90, v2: 10 }, { v1: 50, v2: 50 }]);
    });

    it("a model not deployed yet makes `up --model` a whole update, said on stderr and refused while another model is held", async () => {
        const models = readProjectConfig(project.dir, project.ref.stack).models as Record<string, unknown>;
        project.writeConfig({ models: { ...models, ranker: entry("ranker") } });
        const whole = "model-canary: updating every model of stack `upmodel`, not only `ranker`: model `ranker` is not deployed yet";
        const lock = await acquireStackLock(project.ref, "rollout", { model: "churn" });
        try {
            const refused = cli(["up", "--model", "ranker"]);
            assert.strictEqual(refused.status, 1);
            assert.strictEqual(unrenewed(refused.stderr), `${whole}\n${refusal("churn", lock.holder.startedAt)}\n`);
            assert.deepStrictEqual(split("ranker"), {});
        } finally {
            await lock.release();
        }
        const up = cli(["up", "--model", "ranker"]);
        assert.strictEqual(up.status, 0, up.stderr);
        assert.strictEqual(up.stderr, `${whole}\n`);
        assert.match(up.stdout, /\nmodel-canary: stack upmodel model ranker serves v1 99%, v2 1%\n$/);
        assert.deepStrictEqual([split("ranker"), split("fraud"), split("churn")], [{ v1: 99, v2: 1 }, { v1: 90, v2: 10 }, { v1: 50, v2: 50 }]);
    });

    it("`promote --model` that cannot be scoped is refused while another model is held, before its config is edited", async () => {
        // A key outside `models` changed since the last update: the next update is a whole one.
        assert.strictEqual(runPulumi(project, ["config", "set", "kubernetes:suppressHelmHookWarnings", "true"]).status, 0);
        const whole = "model-canary: promoting `fraud` updates every model of stack `upmodel`: config outside `models` changed since the last update";
        const settings = () => fs.readFileSync(path.join(project.dir, `Pulumi.${project.ref.stack}.yaml`), "utf8");
        const before = { settings: settings(), rendered: rendered() };
        const lock = await acquireStackLock(project.ref, "rollout", { model: "churn" });
        try {
            const refused = cli(["promote", "--model", "fraud", "--force"]);
            assert.strictEqual(refused.status, 1);
            assert.strictEqual(unrenewed(refused.stderr), `${whole}\n${refusal("churn", lock.holder.startedAt)}\n`);
            assert.strictEqual(settings(), before.settings);
            assert.deepStrictEqual(changedSince(before.rendered), []);
        } finally {
            await lock.release();
        }
        const promoted = cli(["promote", "--model", "fraud", "--force"]);
        assert.strictEqual(promoted.status, 0, promoted.stderr);
        assert.strictEqual(promoted.stderr, `${whole}\n`);
        assert.deepStrictEqual([split("fraud"), project.rendered().has("Deployment/fraud-v1"), split("churn")], [{ v2: 100 }, false, { v1: 50, v2: 50 }]);
    });
});

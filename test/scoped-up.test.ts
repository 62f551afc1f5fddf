// One model's update in a stack of several (stacks/operations/scope.ts), through the real engine in render
// mode: the program registers that model only, the engine targets its component, and every
// other model's resources, files and outputs stay exactly as they were; a plain `pulumi up`
// afterwards still converges the whole stack.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as auto from "@pulumi/pulumi/automation";
import { promoteStack, rollbackStack } from "../rollout/runner";
import { openStack, previewStack, readOutputs, setProjectConfig, upStack } from "../stacks/operations/automation";
import { makeProject, runPulumi as pulumi, TestProject } from "./support/engine";
import { modelEntry, Models, modelSplit as split, renderedModel as renderedOf, stateResources as resources } from "./support/models";

const names = ["fraud", "ranker", "search"];

function setModel(stack: auto.Stack, name: string, edit: (entry: Record<string, unknown>) => void): void {
    setProjectConfig(stack, (c) => edit((c.models as Models)[name]));
}

describe("a scoped update of one model in a stack of several (real engine, render mode)", function () {
    this.timeout(600_000);
    let project: TestProject;
    let stack: auto.Stack;

    before(async () => {
        project = makeProject("scoped");
        project.writeConfig({ models: Object.fromEntries(names.map((n) => [n, modelEntry(n)])) });
        stack = await openStack(project.ref, { create: true });
        await upStack(stack);
    });
    after(() => project?.remove());

    it("a weight step of one model updates its VirtualService only: every other resource's state, file and output is unchanged", async () => {
        const before = await resources(stack);
        const others = { ranker: renderedOf(project, "ranker"), search: renderedOf(project, "search") };
        const outputsBefore = await readOutputs(stack);
        setModel(stack, "fraud", (e) => { e.canaryWeight = 10; });
        // The engine's event log and the scope go to private temporary files, removed once the update has ended.
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scoped-up-test-"));
        const tmpBefore = process.env.TMPDIR;
        process.env.TMPDIR = tmp;
        let result: Awaited<ReturnType<typeof upStack>>;
        try {
            result = await upStack(stack, { model: "fraud" });
        } finally {
            if (tmpBefore === undefined) delete process.env.TMPDIR;
            else process.env.TMPDIR = tmpBefore;
        }
        assert.deepStrictEqual(fs.readdirSync(tmp).filter((f) => f.startsWith("model-canary-")), []);
        fs.rmSync(tmp, { recursive: true, force: true });

        assert.deepStrictEqual(result.scope, { model: "fraud" });
        // Every step the engine took, read from its event log: a "same" for each untargeted resource, fraud's VirtualService the one update.
        assert.deepStrictEqual(result.changes, { same: 2 + 6 * names.length - 1, update: 1 });
        assert.strictEqual(result.steps.length, 2 + 6 * names.length);
        assert.deepStrictEqual(result.steps.filter((s) => s.op !== "same").map((s) => [s.op, s.name, s.type]), [["update", "fraud-vs", "kubernetes:networking.istio.io/v1:VirtualService"]]);
        const after = await resources(stack);
        assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort());
        const changed = [...after].filter(([urn, v]) => before.get(urn) !== v).map(([urn]) => urn.split("::").pop());
        // fraud's VirtualService, the outputs of its component and of the Stack (fraud's split and applied config); nothing else.
        assert.deepStrictEqual(changed.sort(), ["fraud", "fraud-vs", "model-canary-scoped"]);
        assert.deepStrictEqual(split(project, "fraud"), { v1: 90, v2: 10 });
        assert.deepStrictEqual({ ranker: renderedOf(project, "ranker"), search: renderedOf(project, "search") }, others);

        const outputs = result.outputs as { models: Record<string, Record<string, unknown>>; appliedConfig: Record<string, Models> };
        const previous = outputsBefore as typeof outputs;
        assert.deepStrictEqual(outputs.models.fraud.split, { v1: 90, v2: 10 });
        assert.deepStrictEqual(outputs.models.ranker, previous.models.ranker);
        assert.deepStrictEqual(outputs.models.search, previous.models.search);
        assert.strictEqual(outputs.appliedConfig["model-canary:models"].fraud.canaryWeight, 10);
        assert.deepStrictEqual(result.outputs.sharedConfigDigest, outputsBefore.sharedConfigDigest);
        assert.match(String(result.outputs.sharedConfigDigest), /^[0-9a-f]{64}$/);

        // A plain `pulumi up` afterwards has nothing to do.
        assert.deepStrictEqual((await previewStack(stack)).changes, { same: 2 + 6 * names.length });
    });

    it("another model's unapplied edit stays unapplied, and recorded as unapplied, until a plain `up` applies it alone", async () => {
        setModel(stack, "ranker", (e) => { e.canaryWeight = 50; });
        setModel(stack, "fraud", (e) => { e.canaryWeight = 20; });
        const stepped = await upStack(stack, { model: "fraud" });
        assert.deepStrictEqual(stepped.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update fraud-vs"]);
        assert.deepStrictEqual([split(project, "fraud"), split(project, "ranker")], [{ v1: 80, v2: 20 }, { v1: 99, v2: 1 }]);
        const applied = (stepped.outputs.appliedConfig as Record<string, Models>)["model-canary:models"];
        assert.deepStrictEqual([applied.fraud.canaryWeight, applied.ranker.canaryWeight], [20, 1]);
        assert.deepStrictEqual((stepped.outputs.models as Models).ranker.split, { v1: 99, v2: 1 });

        // What `preview` shows for the stack is what a plain `pulumi up` then does: ranker's step, nothing else.
        const preview = await previewStack(stack);
        assert.deepStrictEqual(preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), ["update ranker-vs"]);
        const plain = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.strictEqual(plain.status, 0, plain.output);
        assert.match(plain.output, /~ 1 updated/);
        assert.deepStrictEqual(split(project, "ranker"), { v1: 50, v2: 50 });
        const outputs = await readOutputs(stack);
        assert.strictEqual((outputs.appliedConfig as Record<string, Models>)["model-canary:models"].ranker.canaryWeight, 50);
        assert.deepStrictEqual((await previewStack(stack)).changes, { same: 2 + 6 * names.length });
    });

    it("rollback and promotion of one model are scoped too: its old Deployment is deleted, every other model's resources stay", async () => {
        const before = await resources(stack);
        await rollbackStack(stack, "test", "search");
        assert.deepStrictEqual(split(project, "search"), { v1: 100 });
        setModel(stack, "fraud", (e) => { e.canaryWeight = 100; });
        await upStack(stack, { model: "fraud" });
        await promoteStack(stack, { model: "fraud" });

        const after = await resources(stack);
        const gone = [...before.keys()].filter((u) => !after.has(u)).map((u) => u.split("::").pop());
        assert.deepStrictEqual(gone, ["fraud-v1"]);
        const changed = [...after].filter(([urn, v]) => before.get(urn) !== v).map(([urn]) => urn.split("::").pop()).sort();
        assert.deepStrictEqual(changed, ["fraud", "fraud-dr", "fraud-vs", "model-canary-scoped", "search", "search-vs"]);
        assert.strictEqual(project.rendered().has("Deployment/fraud-v1"), false);
        assert.deepStrictEqual(split(project, "fraud"), { v2: 100 });
        const outputs = await readOutputs(stack);
        assert.deepStrictEqual([(outputs.models as Models).fraud.stableVersion, (outputs.models as Models).fraud.canaryVersion], ["v2", null]);
        assert.deepStrictEqual((await previewStack(stack)).changes, { same: 2 + 6 * names.length - 1 });
    });

    it("falls back to a whole update when config outside `models` changed, or the model is new", async () => {
        setProjectConfig(stack, (c) => {
            (c.models as Models).newcomer = modelEntry("newcomer");
        });
        const added = await upStack(stack, { model: "newcomer" });
        assert.deepStrictEqual(added.scope, { whole: "model `newcomer` is not deployed yet" });
        assert.strictEqual(added.changes.create, 6);
        assert.deepStrictEqual(split(project, "newcomer"), { v1: 99, v2: 1 });

        // A kubernetes-namespace key the program does not read still counts: the scope is exact or not used.
        assert.strictEqual(pulumi(project, ["config", "set", "kubernetes:suppressHelmHookWarnings", "true"]).status, 0);
        setModel(stack, "fraud", (e) => { e.canaryWeight = 0; });
        const whole = await upStack(stack, { model: "fraud" });
        assert.deepStrictEqual(whole.scope, { whole: "config outside `models` changed since the last update" });
        const next = await upStack(stack, { model: "search" });
        assert.deepStrictEqual(next.scope, { model: "search" });
    });
});

// One Pulumi stack per model (`stackPerModel`, stacks/operations/model-stacks.ts), through the real engine in
// render mode: the commands take the stack the user names, and each model's resources live in a
// stack of its own, so a step of one model never touches another model's state.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type * as auto from "@pulumi/pulumi/automation";
import { promoteStack, rollbackStack } from "../rollout/runner";
import { openStack, previewStack, readOutputs, setProjectConfig, StackOperationError, upStack } from "../stacks/operations/automation";
import { eachLimited, mergeModelStackOutputs, modelOfStackName, modelPartOf, modelSettingsText } from "../stacks/operations/model-stacks";
import { parseStackConfig } from "../stacks/config/config";
import { makeProject, runPulumi as pulumi, TestProject } from "./support/engine";
import { modelEntry, Models, modelSplit as split, renderedModel as renderedOf, stateResources } from "./support/models";

/** The state of one of the project's stacks, resource by resource. */
async function stateOf(project: TestProject, stack: string): Promise<Map<string, string>> {
    return stateResources(await openStack({ ...project.ref, stack }));
}

function stackNames(project: TestProject): string[] {
    const r = pulumi(project, ["stack", "ls", "--json"]);
    assert.strictEqual(r.status, 0, r.output);
    return (JSON.parse(r.output.slice(r.output.indexOf("["))) as { name: string }[]).map((s) => s.name).sort();
}

function settings(project: TestProject, stack: string): { config: Record<string, unknown>; encryptionsalt?: string } {
    return YAML.parse(fs.readFileSync(path.join(project.dir, `Pulumi.${stack}.yaml`), "utf8"));
}

describe("one stack per model (real engine, render mode)", function () {
    this.timeout(600_000);
    let project: TestProject;
    let hub: auto.Stack;

    before(async () => {
        project = makeProject("dev");
        project.writeConfig({ stackPerModel: true, models: { fraud: modelEntry("fraud"), churn: modelEntry("churn") } });
        hub = await openStack(project.ref, { create: true });
        // A secret of one model: its stack gets the ciphertext, the other model's stack nothing.
        const set = pulumi(project, ["config", "set", "--secret", "--path", "model-canary:models.fraud.canary.env.API_KEY", "fr4ud-k3y"]);
        assert.strictEqual(set.status, 0, set.output);
    });
    after(() => project?.remove());

    it("the first `up` creates each model's objects in a stack of its own, `dev.<model>`; `dev` holds none", async () => {
        const result = await upStack(hub);
        // Each model's stack: its Stack, its provider, the component, two Deployments, the Secret, Service, DestinationRule and VirtualService.
        assert.deepStrictEqual(result.changes, { create: 17 });
        assert.deepStrictEqual(stackNames(project), ["dev", "dev.churn", "dev.fraud"]);
        // The engine records the root Stack resource of a failed update; nothing else.
        assert.deepStrictEqual([...(await stateOf(project, "dev")).keys()].filter((u) => !u.includes("::pulumi:pulumi:Stack::")), []);
        assert.strictEqual([...(await stateOf(project, "dev.fraud")).keys()].filter((u) => u.includes("::churn")).length, 0);
        assert.deepStrictEqual([split(project, "fraud"), split(project, "churn")], [{ v1: 99, v2: 1 }, { v1: 99, v2: 1 }]);
        // Everything lands where one stack would render it.
        assert.ok(fs.existsSync(path.join(project.renderDir, "1-manifest")));
        const outputs = await readOutputs(hub);
        assert.deepStrictEqual(Object.keys(outputs.models as Models).sort(), ["churn", "fraud"]);
        assert.deepStrictEqual(((outputs.models as Models).churn as { split: unknown }).split, { v1: 99, v2: 1 });
        assert.strictEqual((outputs.appliedConfig as Record<string, unknown>)["model-canary:stackPerModel"], true);
    });

    it("a model's settings file is `dev`'s cut down to that model: the same salt and ciphertext, no other model's secret", () => {
        const own = settings(project, "dev.fraud");
        const other = settings(project, "dev.churn");
        const main = settings(project, "dev");
        assert.deepStrictEqual(Object.keys(own.config["model-canary:models"] as Models), ["fraud"]);
        assert.deepStrictEqual(Object.keys(other.config["model-canary:models"] as Models), ["churn"]);
        assert.strictEqual(own.config["model-canary:stackPerModel"], undefined);
        assert.strictEqual(own.encryptionsalt, main.encryptionsalt);
        const cipher = (s: typeof own) => ((s.config["model-canary:models"] as any).fraud?.canary?.env?.API_KEY as { secure: string } | undefined)?.secure;
        assert.ok(cipher(main) !== undefined && cipher(own) === cipher(main));
        assert.ok(!fs.readFileSync(path.join(project.dir, "Pulumi.dev.churn.yaml"), "utf8").includes("secure"));
        // Decrypted in its own stack: the rendered Secret holds what a cluster would receive; no state holds the plaintext.
        const secret = [...project.rendered().values()].find((o) => o.kind === "Secret" && o.metadata.name.startsWith("fraud-"));
        assert.strictEqual(Buffer.from(secret.data.API_KEY, "base64").toString(), "fr4ud-k3y");
        for (const file of fs.readdirSync(path.join(project.dir, "state"), { recursive: true }) as string[]) {
            const full = path.join(project.dir, "state", file);
            if (fs.statSync(full).isFile()) assert.ok(!fs.readFileSync(full, "utf8").includes("fr4ud-k3y"), file);
        }
    });

    it("a weight step of one model updates its VirtualService in its own stack: the other model's state and files are unchanged", async () => {
        const churnBefore = await stateOf(project, "dev.churn");
        const churnFiles = renderedOf(project, "churn");
        setProjectConfig(hub, (c) => { (c.models as Models).fraud.canaryWeight = 10; });
        // Another model's pending edit stays unapplied.
        setProjectConfig(hub, (c) => { (c.models as Models).churn.canaryWeight = 50; });
        const step = await upStack(hub, { model: "fraud" });
        assert.deepStrictEqual([step.changes, step.scope], [{ same: 8, update: 1 }, { model: "fraud" }]);
        assert.deepStrictEqual(step.steps.filter((s) => s.op === "update").map((s) => s.name), ["fraud-vs"]);
        assert.deepStrictEqual([split(project, "fraud"), split(project, "churn")], [{ v1: 90, v2: 10 }, { v1: 99, v2: 1 }]);
        assert.deepStrictEqual(await stateOf(project, "dev.churn"), churnBefore);
        assert.deepStrictEqual(renderedOf(project, "churn"), churnFiles);
        const outputs = await readOutputs(hub, { model: "fraud" });
        assert.deepStrictEqual(Object.keys(outputs.models as Models), ["fraud"]);
        const preview = await previewStack(hub, { model: "churn" });
        assert.deepStrictEqual(preview.steps.filter((s) => s.op === "update").map((s) => s.name), ["churn-vs"]);
        setProjectConfig(hub, (c) => { (c.models as Models).churn.canaryWeight = 1; });
    });

    it("rollback and promotion of one model act in its own stack only", async () => {
        const churnBefore = await stateOf(project, "dev.churn");
        await rollbackStack(hub, "test", "fraud");
        assert.deepStrictEqual(split(project, "fraud"), { v1: 100 });
        setProjectConfig(hub, (c) => { (c.models as Models).fraud.canaryWeight = 100; });
        await promoteStack(hub, { model: "fraud" });
        assert.deepStrictEqual(split(project, "fraud"), { v2: 100 });
        assert.strictEqual(project.rendered().has("Deployment/fraud-v1"), false);
        assert.deepStrictEqual(await stateOf(project, "dev.churn"), churnBefore);
    });

    it("a plain `pulumi up` of `dev` is refused, naming the commands that work; nothing is created", async () => {
        const files = project.renderedDigest();
        const r = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(r.status, 0);
        assert.match(r.output, /stack `dev` keeps each model in a stack of its own \(`stackPerModel` is set\)[\s\S]*model-canary up --stack dev --model NAME/);
        // The engine records the root Stack resource of a failed update; nothing else.
        assert.deepStrictEqual([...(await stateOf(project, "dev")).keys()].filter((u) => !u.includes("::pulumi:pulumi:Stack::")), []);
        assert.strictEqual(project.renderedDigest(), files);
    });

    it("a stack of the same name that model-canary did not make is never touched: a whole `up` leaves it, a model of that name is refused", async () => {
        // `dev.eu`: say, a region's stack of its own, with its own settings.
        fs.writeFileSync(path.join(project.dir, "Pulumi.dev.eu.yaml"), "config:\n  model-canary:renderDir: elsewhere\n");
        const init = pulumi(project, ["stack", "init", "--no-select"], "dev.eu");
        assert.strictEqual(init.status, 0, init.output);
        const own = fs.readFileSync(path.join(project.dir, "Pulumi.dev.eu.yaml"), "utf8");
        await upStack(hub);
        assert.ok(stackNames(project).includes("dev.eu"));
        setProjectConfig(hub, (c) => { (c.models as Models).eu = { ...modelEntry("eu"), namespace: "eu" }; });
        await assert.rejects(upStack(hub, { model: "eu" }), (e: StackOperationError) => {
            assert.strictEqual(e.kind, "refused");
            assert.match(e.message, /^Pulumi\.dev\.eu\.yaml exists and was not written by model-canary: stack `dev\.eu` is not model `eu`'s, and its settings are left as they are\. Nothing was applied\./);
            return true;
        });
        assert.strictEqual(fs.readFileSync(path.join(project.dir, "Pulumi.dev.eu.yaml"), "utf8"), own);
        assert.strictEqual(project.rendered().has("VirtualService/eu-virtual-service"), false);
        setProjectConfig(hub, (c) => { delete (c.models as Models).eu; });
        const rm = pulumi(project, ["stack", "rm", "--yes"], "dev.eu");
        assert.strictEqual(rm.status, 0, rm.output);
    });

    it("with `stackPerModel` invalid, `rollback` still finds the model's last applied config in its own stack and applies it there", async () => {
        setProjectConfig(hub, (c) => { Object.assign((c.models as Models).fraud, { canary: { version: "v3", image: "registry/fraud:v3" }, canaryWeight: 30 }); });
        await upStack(hub, { model: "fraud" });
        assert.deepStrictEqual(split(project, "fraud"), { v2: 70, v3: 30 });
        const file = path.join(project.dir, "Pulumi.dev.yaml");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/model-canary:stackPerModel: .*/, "model-canary:stackPerModel: maybe"));
        const churnBefore = renderedOf(project, "churn");
        await rollbackStack(hub, "test", "fraud");
        // The restored file keeps the layout; fraud's canary gets no traffic; churn (updated too, as
        // a rollback from the last applied config applies every model) has the objects it had.
        assert.strictEqual(settings(project, "dev").config["model-canary:stackPerModel"], "true");
        assert.deepStrictEqual(split(project, "fraud"), { v2: 100 });
        assert.deepStrictEqual(renderedOf(project, "churn"), churnBefore);
    });

    it("a model removed from `models` has its objects deleted, and its stack and settings file removed", async () => {
        setProjectConfig(hub, (c) => { delete (c.models as Models).churn; });
        const result = await upStack(hub);
        assert.strictEqual(result.changes.delete, 8);
        assert.deepStrictEqual(stackNames(project), ["dev", "dev.fraud"]);
        assert.strictEqual(fs.existsSync(path.join(project.dir, "Pulumi.dev.churn.yaml")), false);
        assert.deepStrictEqual([...project.rendered().keys()].filter((k) => k.includes("churn")), []);
        assert.deepStrictEqual(Object.keys((await readOutputs(hub)).models as Models), ["fraud"]);
    });
});

describe("one stack per model: turning it on for a stack that holds models, and off again", function () {
    this.timeout(600_000);
    let project: TestProject;
    let stack: auto.Stack;

    before(async () => {
        project = makeProject("prod");
        project.writeConfig({ models: { fraud: modelEntry("fraud"), churn: modelEntry("churn"), ranker: modelEntry("ranker") } });
        stack = await openStack(project.ref, { create: true });
        await upStack(stack);
    });
    after(() => project?.remove());

    it("a model the stack holds that is no longer in `models` is refused before anything moves", async () => {
        const files = project.renderedDigest();
        setProjectConfig(stack, (c) => { c.stackPerModel = true; delete (c.models as Models).ranker; });
        await assert.rejects(upStack(stack, { model: "fraud" }), (e: StackOperationError) => {
            assert.strictEqual(e.kind, "refused");
            assert.match(e.message, /^stack `prod` holds the objects of `ranker` itself, and it is no longer in `models`, so it cannot move to a stack of its own\. Nothing was applied\./);
            return true;
        });
        assert.deepStrictEqual([...(await modelComponents(project, "prod"))].sort(), ["churn", "fraud", "ranker"]);
        assert.strictEqual(project.renderedDigest(), files);
        setProjectConfig(stack, (c) => { (c.models as Models).ranker = modelEntry("ranker"); });
    });

    it("a preview says the next `up` moves the models, and moves nothing", async () => {
        await assert.rejects(previewStack(stack, { model: "fraud" }), /stack `prod` still holds the objects of `churn`, `fraud`, `ranker` itself: the next `model-canary up --stack prod` moves them/);
        assert.deepStrictEqual([...(await modelComponents(project, "prod"))].sort(), ["churn", "fraud", "ranker"]);
    });

    it("the first `up` of a model moves every model to its own stack (`pulumi state move`): no object is created or deleted, and the step applies", async () => {
        const before = Object.fromEntries(["churn", "ranker"].map((m) => [m, renderedOf(project, m)]));
        setProjectConfig(stack, (c) => { (c.models as Models).fraud.canaryWeight = 10; });
        const messages: string[] = [];
        const step = await upStack(stack, { model: "fraud", onMessage: (m) => messages.push(m) });
        assert.deepStrictEqual(messages.map((m) => m.replace(/ \(`pulumi state move`.*$/, "")), ["churn", "fraud", "ranker"].map((m) => `model-canary: moved model \`${m}\` from stack \`prod\` to its own stack \`prod.${m}\``));
        // The moved model's stack already held its objects: one update, nothing created.
        assert.deepStrictEqual(step.changes, { same: 7, update: 1 });
        assert.deepStrictEqual(stackNames(project), ["prod", "prod.churn", "prod.fraud", "prod.ranker"]);
        assert.deepStrictEqual([...(await modelComponents(project, "prod"))], []);
        assert.deepStrictEqual([...(await modelComponents(project, "prod.churn"))], ["churn"]);
        assert.deepStrictEqual([split(project, "fraud"), Object.fromEntries(["churn", "ranker"].map((m) => [m, renderedOf(project, m)]))], [{ v1: 90, v2: 10 }, before]);
        // The models moved and not updated since read as the stack recorded them before the move.
        const outputs = await readOutputs(stack);
        assert.deepStrictEqual(Object.fromEntries(Object.entries(outputs.models as Record<string, { split: unknown }>).map(([m, o]) => [m, o.split])), { churn: { v1: 99, v2: 1 }, fraud: { v1: 90, v2: 10 }, ranker: { v1: 99, v2: 1 } });
        // A whole `up` after finds every model in its stack, unchanged.
        const whole = await upStack(stack);
        assert.deepStrictEqual(whole.changes, { same: 24 });
    });

    it("removing `stackPerModel` again is refused: one stack would create every model a second time", async () => {
        const files = project.renderedDigest();
        // A value that is not true or false is named as such, not taken for "off".
        setProjectConfig(stack, (c) => { c.stackPerModel = "true"; });
        fs.writeFileSync(path.join(project.dir, "Pulumi.prod.yaml"), fs.readFileSync(path.join(project.dir, "Pulumi.prod.yaml"), "utf8").replace(/model-canary:stackPerModel: .*/, "model-canary:stackPerModel: \"yes\""));
        await assert.rejects(upStack(stack), (e: StackOperationError) => e.kind === "validation" && /`stackPerModel` must be true or false, got "yes"/.test(e.message));
        setProjectConfig(stack, (c) => { delete c.stackPerModel; });
        for (const operation of [() => upStack(stack), () => previewStack(stack)]) {
            await assert.rejects(operation(), (e: StackOperationError) => {
                assert.strictEqual(e.kind, "refused");
                assert.match(e.message, /^the models of stack `prod` have stacks of their own \(`prod\.churn`, `prod\.fraud`, `prod\.ranker`\), and its config no longer sets `stackPerModel`: .* Nothing was applied\. Set `stackPerModel` to true again/);
                return true;
            });
        }
        assert.strictEqual(project.renderedDigest(), files);
    });
});

/** The models whose components a stack's state holds. */
async function modelComponents(project: TestProject, stack: string): Promise<string[]> {
    return [...(await stateOf(project, stack)).keys()].filter((u) => u.includes("::model-canary:index:ModelCanary::")).map((u) => u.split("::").pop()!);
}

describe("one stack per model: the pure parts", () => {
    const hubText = [
        "# the team's comment",
        "encryptionsalt: v1:abc",
        "config:",
        "  kubernetes:context: kind",
        "  model-canary:stackPerModel: true",
        "  model-canary:defaults:",
        "    rollout: { steps: [1, 50, 100] }",
        "  model-canary:models:",
        "    fraud:",
        "      stable: { version: v1, image: r/fraud:v1 }",
        "      canary:",
        "        version: v2",
        "        image: r/fraud:v2",
        "        env:",
        "          API_KEY:",
        "            secure: v1:CIPHER",
        "    churn:",
        "      stable: { version: v1, image: r/churn:v1 }",
        "",
    ].join("\n");

    it("a model's settings text keeps every other key, the ciphertext and the salt, and cuts `models` to the model", () => {
        const text = modelSettingsText(hubText, "dev", "fraud");
        assert.ok(text.startsWith("# Written by model-canary from Pulumi.dev.yaml"));
        assert.deepStrictEqual(YAML.parse(text), {
            encryptionsalt: "v1:abc",
            config: {
                "kubernetes:context": "kind",
                "model-canary:defaults": { rollout: { steps: [1, 50, 100] } },
                "model-canary:models": { fraud: { stable: { version: "v1", image: "r/fraud:v1" }, canary: { version: "v2", image: "r/fraud:v2", env: { API_KEY: { secure: "v1:CIPHER" } } } } },
                "model-canary:renderDir": "rendered/dev",
            },
        });
        assert.deepStrictEqual(Object.keys(YAML.parse(modelSettingsText(hubText, "org/proj/dev", "churn")).config["model-canary:models"]), ["churn"]);
        assert.strictEqual(YAML.parse(modelSettingsText(hubText.replace("  kubernetes:context: kind", "  model-canary:renderDir: out/x"), "dev", "churn")).config["model-canary:renderDir"], "out/x");
        assert.throws(() => modelSettingsText(hubText, "dev", "ranker"), /Pulumi\.dev\.yaml has no `models\.ranker` entry/);
    });

    it("names model stacks `<stack>.<model>` and reads the model back", () => {
        assert.deepStrictEqual(
            [modelOfStackName("dev", "dev.fraud"), modelOfStackName("dev", "dev"), modelOfStackName("dev", "prod.fraud"), modelOfStackName("dev", "dev."), modelOfStackName("org/p/dev", "org/p/dev.churn")],
            ["fraud", undefined, undefined, undefined, "churn"],
        );
    });

    it("merges the models' outputs into one stack's: models, their applied entries, shared keys, secrets once", () => {
        const one = (name: string, weight: number) => ({
            target: { mode: "render", renderDir: "rendered/dev" },
            models: { [name]: { canaryWeight: weight } },
            appliedConfig: { "kubernetes:context": "kind", "model-canary:models": { [name]: { canaryWeight: weight } } },
            appliedSecrets: [{ key: "kubernetes:kubeconfig", path: [], value: "k" }, { key: "model-canary:models", path: [name, "canary", "env", "K"], value: name }],
        });
        assert.deepStrictEqual(mergeModelStackOutputs([["fraud", one("fraud", 10)], ["churn", one("churn", 1)], ["ranker", {}]]), {
            target: { mode: "render", renderDir: "rendered/dev" },
            models: { fraud: { canaryWeight: 10 }, churn: { canaryWeight: 1 } },
            appliedConfig: { "kubernetes:context": "kind", "model-canary:models": { fraud: { canaryWeight: 10 }, churn: { canaryWeight: 1 } }, "model-canary:stackPerModel": true },
            appliedSecrets: [
                { key: "kubernetes:kubeconfig", path: [], value: "k" },
                { key: "model-canary:models", path: ["fraud", "canary", "env", "K"], value: "fraud" },
                { key: "model-canary:models", path: ["churn", "canary", "env", "K"], value: "churn" },
            ],
        });
        assert.deepStrictEqual(mergeModelStackOutputs([["ranker", {}]]), {});
    });

    it("a model's part of a stack's outputs that held every model: its routing, its applied entry and secrets, the stack-wide keys", () => {
        const whole = {
            target: { mode: "render" },
            models: { fraud: { canaryWeight: 10 }, churn: { canaryWeight: 1 } },
            appliedConfig: { "kubernetes:context": "kind", "model-canary:models": { fraud: { canaryWeight: 10 }, churn: { canaryWeight: 1 } }, "model-canary:defaults": { namespace: "ml" } },
            appliedSecrets: [{ key: "kubernetes:kubeconfig", path: [], value: "k" }, { key: "model-canary:models", path: ["churn", "canary", "env", "K"], value: "c" }],
        };
        assert.deepStrictEqual(modelPartOf(whole, "fraud"), {
            target: { mode: "render" },
            models: { fraud: { canaryWeight: 10 } },
            appliedConfig: { "kubernetes:context": "kind", "model-canary:models": { fraud: { canaryWeight: 10 } }, "model-canary:defaults": { namespace: "ml" } },
            appliedSecrets: [{ key: "kubernetes:kubeconfig", path: [], value: "k" }],
        });
        assert.deepStrictEqual((modelPartOf(whole, "churn").appliedSecrets as unknown[]).length, 2);
        assert.deepStrictEqual([modelPartOf(whole, "ranker"), modelPartOf({}, "fraud")], [{}, {}]);
    });

    it("runs at most `limit` at once, waits for every started item, and names what failed and what never started", async () => {
        let running = 0;
        let most = 0;
        const { results, failed, skipped } = await eachLimited([1, 2, 3, 4, 5, 6], 2, async (n) => {
            running++;
            most = Math.max(most, running);
            await new Promise((r) => setTimeout(r, 10));
            running--;
            if (n === 3) throw new Error("three");
            return n * 10;
        });
        assert.strictEqual(most, 2);
        assert.deepStrictEqual([results.slice(0, 2), failed.map(([n, e]) => [n, e.message]), skipped], [[10, 20], [[3, "three"]], [5, 6]]);
        assert.strictEqual(results[3], 40);
    });

    it("`stackPerModel` is true or false, and only beside a `models` map", () => {
        const base = { "model-canary:stable": JSON.stringify({ version: "v1", image: "r/m:v1" }) };
        const models = { "model-canary:models": JSON.stringify({ fraud: { stable: { version: "v1", image: "r/f:v1" } } }) };
        assert.strictEqual(parseStackConfig({ ...models, "model-canary:stackPerModel": "true" }, "dev").stackPerModel, true);
        assert.strictEqual(parseStackConfig({ ...models, "model-canary:stackPerModel": "false" }, "dev").stackPerModel, false);
        assert.strictEqual(parseStackConfig(models, "dev").stackPerModel, false);
        assert.throws(() => parseStackConfig({ ...models, "model-canary:stackPerModel": "yes" }, "dev"), /`stackPerModel` must be true or false, got "yes"/);
        assert.throws(() => parseStackConfig({ ...base, "model-canary:stackPerModel": "true" }, "dev"), /`stackPerModel` needs a `models` map: the top-level keys describe one model/);
    });
});

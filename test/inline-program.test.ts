// The stack's program run in the command's own process (stacks/operations/inline-program.ts) gives
// what the Node.js language host gives: the same scenario (up at 1%, a step to 10%, a rollback) run
// both ways in this one process leaves the same state and the same rendered files; a program whose
// entry file does not say it can run inline runs through the language host, and the command says
// why once; a bad config fails the same way both ways. Real engine, render mode.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { rollbackStack } from "../rollout/runner";
import { openStack, previewStack, StackOperationError, upStack } from "../stacks/operations/automation";
import { decideInline, commandSdkDir, inlineEnvVar } from "../stacks/operations/inline-program";
import { makeProject, runPulumi, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const seed = { stable, canary, canaryWeight: 1, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };

/**
 * The stack's resources as `pulumi stack export` has them, without what differs between any two
 * runs (times, the provider's random id, who applied the routing and when) and without each
 * resource's `stackTrace`: that debugging record lists the frames of whatever ran the program (the
 * language host's run.ts, or this process's inline-program.ts and the SDK's server), not the program.
 */
function comparableState(project: TestProject): unknown[] {
    const exported = JSON.parse(runPulumi(project, ["stack", "export"]).output) as { deployment: { resources: Record<string, unknown>[] } };
    // In the order of their URNs: the engine records resources registered at once in the order they came.
    const resources = exported.deployment.resources.map(({ created, modified, stackTrace, ...r }) => r).sort((a, b) => (String(a.urn) < String(b.urn) ? -1 : 1));
    // Dependencies likewise, in the order of their URNs.
    const text = JSON.stringify(resources, (_, v: unknown) => (Array.isArray(v) && v.length > 0 && v.every((u) => typeof u === "string" && u.startsWith("urn:pulumi:")) ? [...v].sort() : v))
        .replace(/"appliedAt":"[^"]*"/g, '"appliedAt":"T"')
        .replace(/"model-canary\/routing-applied-at":"[^"]*"/g, '"model-canary/routing-applied-at":"T"')
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "ID")
        .replace(/pulumi-kubernetes-[0-9a-f]{8}/g, "pulumi-kubernetes-FM");
    return JSON.parse(text) as unknown[];
}

/** Every rendered file's content, by its path under the render directory. */
function renderedFiles(project: TestProject): Record<string, string> {
    const files = (fs.readdirSync(project.renderDir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(project.renderDir, f)).isFile()).sort();
    return Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(project.renderDir, f), "utf8").replace(/routing-applied-at: "[^"]*"/g, 'routing-applied-at: "T"')]));
}

describe("the program in the command's own process (inline) and through the language host", function () {
    this.timeout(600_000);
    let inline: TestProject;
    let host: TestProject;
    const messages: Record<string, string[]> = { inline: [], host: [] };

    before(() => {
        inline = makeProject();
        host = makeProject();
        host.ref.env = { [inlineEnvVar]: "false" };
    });
    after(() => {
        inline?.remove();
        host?.remove();
    });

    it("decides from the project: this repository's program runs inline, MODEL_CANARY_INLINE=false does not", () => {
        assert.deepStrictEqual(decideInline(inline.dir, commandSdkDir), { program: { workDir: inline.dir, entry: path.join(inline.dir, "index.ts"), sdkDir: commandSdkDir, typescript: true } });
        assert.deepStrictEqual(decideInline(host.dir, commandSdkDir, { [inlineEnvVar]: "false" }), { reason: "MODEL_CANARY_INLINE is false" });
    });

    it("up at 1%, a step to 10% and a rollback leave the same state and rendered files both ways, three ups in one process", async () => {
        for (const [name, project] of [["inline", inline], ["host", host]] as const) {
            project.writeConfig(seed);
            const stack = await openStack(project.ref, { create: true });
            const onMessage = (m: string) => messages[name].push(m);
            const first = await upStack(stack, { onMessage });
            assert.deepStrictEqual(first.changes, { create: 8 }, name);
            project.writeConfig({ ...seed, canaryWeight: 10 });
            const step = await upStack(stack, { onMessage });
            assert.deepStrictEqual(step.changes, { same: 7, update: 1 }, name);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 }, name);
            await rollbackStack(stack, "test");
            assert.deepStrictEqual(project.renderedSplit(), { v1: 100 }, name);
        }
        assert.deepStrictEqual(comparableState(inline), comparableState(host));
        assert.deepStrictEqual(renderedFiles(inline), renderedFiles(host));
        // The language host's project said why once; this repository's program said nothing.
        assert.deepStrictEqual(messages.host, ["model-canary: the program runs through the Node.js language host, not in this process: MODEL_CANARY_INLINE is false"]);
        assert.deepStrictEqual(messages.inline, []);
    });

    it("a preview reads the same both ways", async () => {
        const previews: string[] = [];
        for (const project of [inline, host]) {
            project.writeConfig({ ...seed, canaryWeight: 50 });
            const result = await previewStack(await openStack(project.ref));
            assert.deepStrictEqual(result.changes, { same: 7, update: 1 });
            previews.push(result.stdout.replace(/Duration: .*/g, "").replace(/^@ .*\n/gm, "").replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "T").replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "ID"));
        }
        assert.strictEqual(previews[0], previews[1]);
    });

    it("a bad value in the config fails the same way both ways, and nothing changes", async () => {
        const failures: StackOperationError[] = [];
        for (const project of [inline, host]) {
            const before = comparableState(project);
            project.writeConfig({ ...seed, canaryWeight: 10, headerRoutes: [{ header: "x-canary-version", exact: "v3", version: "v3" }] });
            await assert.rejects(upStack(await openStack(project.ref)), (e: StackOperationError) => (failures.push(e), true));
            assert.deepStrictEqual(comparableState(project), before);
        }
        assert.strictEqual(failures[0].kind, "validation");
        assert.match(failures[0].message, /`headerRoutes\[0\]\.version` must be the stable or the canary version \("v1" or "v2"\), got "v3"/);
        assert.strictEqual(failures[0].message, failures[1].message);
    });
});

describe("a program that cannot run inline", function () {
    this.timeout(600_000);
    let project: TestProject;
    before(() => {
        project = makeProject();
        // This repository's program without the marker: the export as it was before `inlineProgram`.
        const source = fs.readFileSync(path.join(project.dir, "index.ts"), "utf8").replace("inlineProgram, ", "").replace("export = inlineProgram(async () => {", "export = (async () => {").replace(/\}\);\s*$/, "});\n");
        fs.rmSync(path.join(project.dir, "index.ts"));
        fs.writeFileSync(path.join(project.dir, "index.ts"), source.replace(/\/\/ `inlineProgram`.*\n/, ""));
    });
    after(() => project?.remove());

    it("runs through the language host, says why once, and updates as before", async () => {
        const messages: string[] = [];
        project.writeConfig(seed);
        const stack = await openStack(project.ref, { create: true });
        assert.deepStrictEqual((await upStack(stack, { onMessage: (m) => messages.push(m) })).changes, { create: 8 });
        project.writeConfig({ ...seed, canaryWeight: 10 });
        assert.deepStrictEqual((await upStack(stack, { onMessage: (m) => messages.push(m) })).changes, { same: 7, update: 1 });
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
        assert.deepStrictEqual(messages, ["model-canary: the program runs through the Node.js language host, not in this process: its entry file index.ts does not export its program through `inlineProgram(...)` (see docs/how-commands-run-the-program.md)"]);
    });
});

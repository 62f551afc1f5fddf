// State that does not depend on where the project is checked out (render mode): a copy of the
// project, its stack settings and its state in another directory previews no change at all,
// through the Automation API and through the plain CLI run from a subdirectory, and an `up` there
// writes its own files and leaves the first checkout's untouched.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { openStack, previewStack, StackRef, upStack } from "../stacks/operations/automation";
import { makeProject, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable, canary, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };

/** The real `pulumi` CLI, run in `cwd` as a user would. */
function pulumi(ref: StackRef, cwd: string, args: string[]): { status: number | null; output: string } {
    const bin = ref.toolchainDir!;
    const r = spawnSync(path.join(bin, "pulumi"), [...args, "--stack", ref.stack, "--non-interactive"], {
        cwd,
        encoding: "utf8",
        env: {
            ...process.env,
            PATH: `${bin}:${process.env.PATH}`,
            PULUMI_BACKEND_URL: ref.backendUrl,
            PULUMI_CONFIG_PASSPHRASE: "",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        },
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function renderedVirtualService(renderDir: string): { weights: Record<string, number>; file: string } {
    const dir = path.join(renderDir, "1-manifest");
    const file = fs.readdirSync(dir).find((f) => f.includes("virtualservice"));
    assert.ok(file, `a rendered VirtualService in ${dir}`);
    const vs = YAML.parse(fs.readFileSync(path.join(dir, file), "utf8"));
    return { file, weights: Object.fromEntries(vs.spec.http.at(-1).route.map((r: { destination: { subset: string }; weight: number }) => [r.destination.subset, r.weight])) };
}

describe("state independent of the checkout (render mode, real engine)", function () {
    this.timeout(300_000);
    let first: TestProject;
    let second: string;

    before(() => {
        first = makeProject();
        second = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-second-checkout-"));
    });
    after(() => {
        first?.remove();
        if (second) fs.rmSync(second, { recursive: true, force: true });
    });

    it("a copy of the project elsewhere previews no change, and its `up` leaves the first checkout's files alone", async () => {
        first.writeConfig({ ...seed, canaryWeight: 10 });
        await upStack(await openStack(first.ref, { create: true }));
        const firstDigest = first.renderedDigest();
        assert.deepStrictEqual(first.renderedSplit(), { v1: 90, v2: 10 });

        // Another checkout: the program, the stack settings and the state, but not the rendered
        // files (they are gitignored, so a fresh clone or a CI run has none).
        fs.cpSync(first.dir, second, { recursive: true, verbatimSymlinks: true, filter: (src) => src !== first.renderDir });
        const ref: StackRef = { ...first.ref, workDir: second, backendUrl: `file://${path.join(second, "state")}` };

        const preview = await previewStack(await openStack(ref));
        assert.deepStrictEqual(preview.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`), []);
        assert.deepStrictEqual(preview.changes, { same: 8 });

        // The plain CLI from a subdirectory: the engine runs the provider in the project
        // directory, so the relative render directory resolves there too.
        const sub = path.join(second, "ci-scripts");
        fs.mkdirSync(sub);
        const cliPreview = pulumi(ref, sub, ["preview", "--diff"]);
        assert.strictEqual(cliPreview.status, 0, cliPreview.output);
        assert.match(cliPreview.output, /8 unchanged/);
        assert.doesNotMatch(cliPreview.output, /replace|to create|to delete|to update/);

        const settingsFile = path.join(second, `Pulumi.${ref.stack}.yaml`);
        const settings = YAML.parse(fs.readFileSync(settingsFile, "utf8"));
        settings.config["model-canary:canaryWeight"] = 50;
        fs.writeFileSync(settingsFile, YAML.stringify(settings));
        const up = pulumi(ref, sub, ["up", "--yes", "--skip-preview"]);
        assert.strictEqual(up.status, 0, up.output);
        assert.match(up.output, /1 updated/);

        assert.deepStrictEqual(renderedVirtualService(path.join(second, "rendered")).weights, { v1: 50, v2: 50 });
        assert.ok(!fs.existsSync(path.join(sub, "rendered")), "nothing is rendered relative to the directory the CLI was started in");
        assert.strictEqual(first.renderedDigest(), firstDigest, "the first checkout's rendered files are untouched");
        assert.deepStrictEqual(first.renderedSplit(), { v1: 90, v2: 10 });
    });

    it("a stack that recorded an absolute render directory keeps its rendered files through the one-time replacement", async () => {
        const project = makeProject();
        try {
            project.writeConfig({ ...seed, canaryWeight: 10 });
            await upStack(await openStack(project.ref, { create: true }));
            const digest = project.renderedDigest();
            assert.strictEqual(project.rendered().size, 5);

            // The state as earlier versions wrote it: the render provider's directory absolute.
            const exported = path.join(project.dir, "exported.json");
            assert.strictEqual(pulumi(project.ref, project.dir, ["stack", "export", "--file", exported]).status, 0);
            const state = fs.readFileSync(exported, "utf8");
            const absolute = state.replace(/"renderYamlToDirectory": "rendered"/g, `"renderYamlToDirectory": ${JSON.stringify(project.renderDir)}`);
            assert.notStrictEqual(absolute, state);
            fs.writeFileSync(exported, absolute);
            const imported = pulumi(project.ref, project.dir, ["stack", "import", "--file", exported]);
            assert.strictEqual(imported.status, 0, imported.output);

            // Every object is replaced once (the provider's input changed); each old file is
            // removed before its replacement is written, so the same files end up in place.
            const result = await upStack(await openStack(project.ref));
            assert.strictEqual(result.changes.replace, 6);
            assert.strictEqual(project.rendered().size, 5);
            assert.strictEqual(project.renderedDigest(), digest);
            const again = await previewStack(await openStack(project.ref));
            assert.deepStrictEqual(again.changes, { same: 8 });
        } finally {
            project.remove();
        }
    });
});

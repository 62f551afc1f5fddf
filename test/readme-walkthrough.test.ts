// The README's seed walkthrough runs as written: its code block is taken from README.md and each
// line run by bash, in order, in a fresh copy of the project (its own Pulumi.dev.yaml, state,
// rendered manifests and PULUMI_HOME), through the real engine in render mode; after each line
// the rendered split is what the line's comment says.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { projectDir, toolchainDir } from "../stacks/operations/automation";
import { sourceCli } from "./support/engine";

/** The lines of the first `sh` block under the README's "The seed walkthrough". */
export function walkthroughLines(readme: string): { command: string; comment: string }[] {
    const section = readme.split(/^## /m).find((s) => s.startsWith("The seed walkthrough"));
    assert.ok(section, "README.md has a section `## The seed walkthrough`");
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1];
    return block.split("\n").filter((l) => l.trim() !== "").map((line) => {
        const i = line.search(/\s#\s/);
        return i < 0 ? { command: line.trim(), comment: "" } : { command: line.slice(0, i).trim(), comment: line.slice(i).replace(/^\s*#\s*/, "") };
    });
}

describe("README: the seed walkthrough", function () {
    this.timeout(600_000);
    let dir: string;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-readme-"));
        // The project as a reader has it after `git clone` and `npm ci`: the program and the
        // toolchain script from the repo, the dev stack's settings a file of its own.
        for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "api", "components", "stacks", "node_modules", "toolchain"]) {
            fs.symlinkSync(path.join(projectDir, f), path.join(dir, f));
        }
        fs.copyFileSync(path.join(projectDir, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev.yaml"));
    });

    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs `script` with bash in the copy, as a reader's shell would; `npx model-canary` is the checkout's command. */
    function sh(script: string): { status: number | null; output: string } {
        const prelude = [
            // The command from the sources (tests exercise the checkout, not the last compiled dist/).
            `npx() { if [ "$1" = model-canary ]; then shift; node ${JSON.stringify(sourceCli)} "$@"; else command npx "$@"; fi; }`,
            "set -e",
        ].join("\n");
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            PULUMI_HOME: path.join(dir, "pulumi-home"),
            // A terminal would ask "Do you want to perform this update?"; this is its "yes".
            PULUMI_SKIP_CONFIRMATIONS: "true",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_NODEJS_TRANSPILE_ONLY: "true",
            MODEL_CANARY_TOOLCHAIN: toolchainDir(),
        };
        delete env.PULUMI_BACKEND_URL;
        delete env.PULUMI_CONFIG_PASSPHRASE;
        const r = spawnSync("bash", ["-c", `${prelude}\n${script}`], { cwd: dir, env, encoding: "utf8" });
        return { status: r.status, output: `${r.stdout}${r.stderr}` };
    }

    function rendered(): Map<string, any> {
        const objects = new Map<string, any>();
        const root = path.join(dir, "rendered", "dev");
        for (const f of fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]) : []) {
            const file = path.join(root, f);
            if (!fs.statSync(file).isFile()) continue;
            for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
                const o = doc.toJS();
                if (o) objects.set(`${o.kind}/${o.metadata.name}`, o);
            }
        }
        return objects;
    }

    function split(): Record<string, number> {
        const vs = rendered().get("VirtualService/model-virtual-service");
        return Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]).filter(([, w]: [string, number]) => w > 0));
    }

    const headerRoutes = () => rendered().get("VirtualService/model-virtual-service").spec.http.length - 1;

    it("runs each command as written, and the rendered split is what its comment says", () => {
        const lines = walkthroughLines(fs.readFileSync(path.join(projectDir, "README.md"), "utf8"));
        // The quick start's `npm start` comes first: the dev stack at its seed state.
        const start = sh(`node ${JSON.stringify(sourceCli)} up --stack dev --backend "file://$PWD/.pulumi-state"`);
        assert.strictEqual(start.status, 0, start.output);
        assert.deepStrictEqual(split(), { v1: 99, v2: 1 });

        // The `export` lines hold for every line after them, as in one shell.
        const exports: string[] = [];
        const seen: string[] = [];
        for (const { command, comment } of lines) {
            if (command.startsWith("export ")) {
                exports.push(command);
                continue;
            }
            const r = sh([...exports, command].join("\n"));
            assert.strictEqual(r.status, 0, `\`${command}\` failed:\n${r.output}`);
            seen.push(command);
            const weights = [...comment.matchAll(/\bv([12]) (\d+)\b/g)];
            if (weights.length > 0) {
                assert.deepStrictEqual(split(), Object.fromEntries(weights.map((m) => [`v${m[1]}`, Number(m[2])])), `after \`${command}\` (${comment})`);
            }
            if (command.includes("status")) {
                assert.match(r.output, /99/);
                assert.match(r.output, /x-canary-version/);
                assert.strictEqual(headerRoutes(), 1);
            }
            if (comment.includes("the next step's diff")) {
                // A preview changes nothing, and shows the step to 50.
                assert.deepStrictEqual(split(), { v1: 90, v2: 10 });
                assert.match(r.output, /50/);
            }
            if (comment.includes("the tester route removed")) assert.strictEqual(headerRoutes(), 0);
            if (comment.includes("one object updated")) assert.match(r.output, /1 (to )?update|~ 1 (to )?update|1 updated/i);
            if (comment.includes("model-v1 deleted")) {
                assert.deepStrictEqual(split(), { v2: 100 });
                assert.ok(!rendered().has("Deployment/model-v1"), "model-v1's Deployment is deleted");
                assert.ok(rendered().has("Deployment/model-v2"));
            }
        }
        // Every step of the block ran: a README whose block lost lines would pass on nothing.
        assert.ok(seen.length >= 7, `${seen.length} commands ran`);
        assert.ok(seen.some((c) => c.includes("promote")));
    });
});

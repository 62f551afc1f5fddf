// The `model-canary` command as a pipeline runs it: real CLI process, real engine, temp backend.
import { lockFile } from "../stacks/operations/lock";
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { describeFailure, npmBannerOnStdout, UsageError } from "../cli/main";
import { projectDir, StackOperationError } from "../stacks/operations/automation";
import { makeProject, sourceCli, TestProject } from "./support/engine";

// The command from the sources; the compiled one is what `npm run preview` below and test/package.test.ts run.
const cli = sourceCli;
const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };

/** The environment a user has in the project: its toolchain, and a PULUMI_HOME of its own (where `pulumi stack select` records the current stack). */
function userEnv(project?: TestProject): NodeJS.ProcessEnv {
    return { ...process.env, ...(project ? { MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir, PULUMI_HOME: path.join(project.dir, "pulumi-home") } : {}) };
}

function run(args: string[], project?: TestProject): { status: number | null; stdout: string; stderr: string } {
    const where = project ? ["--cwd", project.dir, "--backend", project.ref.backendUrl!] : [];
    const r = spawnSync(process.execPath, [cli, ...args, ...where], { encoding: "utf8", env: userEnv(project) });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The Pulumi CLI as the user runs it by hand in the project (README: "The Pulumi CLI by hand"). */
function pulumi(args: string[], project: TestProject): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(path.join(project.ref.toolchainDir!, "pulumi"), [...args, "--non-interactive"], {
        cwd: project.dir,
        encoding: "utf8",
        env: { ...userEnv(project), PATH: `${project.ref.toolchainDir}${path.delimiter}${process.env.PATH}`, PULUMI_BACKEND_URL: project.ref.backendUrl, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_NODEJS_TRANSPILE_ONLY: "true" },
    });
    return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
}

/** The stacks the backend holds, by name. */
function stacks(project: TestProject): string[] {
    const r = pulumi(["stack", "ls", "--json"], project);
    assert.strictEqual(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { name: string }[]).map((s) => s.name.split("/").pop()!).sort();
}

describe("model-canary command line", function () {
    this.timeout(300_000);

    describe("usage", () => {
        it("lists the commands with --help and exits 0", () => {
            const r = run(["--help"]);
            assert.strictEqual(r.status, 0);
            for (const c of ["up", "preview", "rollout", "rollback", "promote", "status"]) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"));
        });

        it("shows a command's options with <command> --help", () => {
            const r = run(["rollout", "--help"]);
            assert.strictEqual(r.status, 0);
            assert.match(r.stdout, /--steps VALUE/);
            assert.match(r.stdout, /130\/143 interrupted/);
        });

        it("exits 2 with a clear message for an unknown command, a missing stack or an unknown flag", () => {
            assert.deepStrictEqual(run(["deploy"]).status, 2);
            assert.match(run(["deploy"]).stderr, /unknown command `deploy`; commands are `up`, `adopt`, `preview`, `rollout`, `rollback`, `promote`, `status`/);
            const noStack = run(["status"]);
            assert.deepStrictEqual([noStack.status, noStack.stderr.trim()], [2, "model-canary: `--stack` is required, e.g. `model-canary status --stack dev`"]);
            const badFlag = run(["rollout", "--stack", "dev", "--stepz", "1"]);
            assert.strictEqual(badFlag.status, 2);
            assert.match(badFlag.stderr, /Unknown option '--stepz'/);
        });
    });

    describe("versions and failures", () => {
        it("`--version` prints the package's version and the toolchain's", () => {
            const r = run(["--version"]);
            assert.strictEqual(r.status, 0, r.stderr);
            const lines = r.stdout.split("\n");
            assert.strictEqual(lines[0], `model-canary ${JSON.parse(fs.readFileSync(path.join(projectDir, "package.json"), "utf8")).version}`);
            assert.strictEqual(lines[1], "toolchain: Pulumi CLI 3.248.0, Kubernetes provider 4.25.0 (toolchain/versions.env)");
            assert.strictEqual(lines[2], "npm packages: @pulumi/pulumi 3.248.0, @pulumi/kubernetes 4.25.0");
            assert.strictEqual(lines[3], `Node.js ${process.version}`);
        });

        it("ordinary failures print their message alone; only a bug prints a stack trace", () => {
            const denied = Object.assign(new Error("EACCES: permission denied, open '/srv/out.md'"), { code: "EACCES", syscall: "open" });
            assert.deepStrictEqual(describeFailure(denied), { text: "EACCES: permission denied, open '/srv/out.md'", code: 1 });
            assert.deepStrictEqual(describeFailure(new StackOperationError("refused", "stack `dev` has no `canary` to promote")), { text: "stack `dev` has no `canary` to promote", code: 1 });
            assert.deepStrictEqual(describeFailure(new UsageError("`--stack` is required")), { text: "`--stack` is required", code: 2 });
            const bug = describeFailure(new TypeError("x is undefined"));
            assert.strictEqual(bug.code, 1);
            assert.match(bug.text, /^TypeError: x is undefined\n    at /);
        });

        it("knows when npm has put its banner on standard output", () => {
            const npm = { npm_lifecycle_event: "preview", npm_lifecycle_script: "node cli/model-canary.js preview" };
            assert.strictEqual(npmBannerOnStdout(npm, false), true);
            assert.strictEqual(npmBannerOnStdout(npm, true), false, "a terminal shows it harmlessly");
            assert.strictEqual(npmBannerOnStdout({ ...npm, npm_config_loglevel: "silent" }, false), false, "npm run -s");
            assert.strictEqual(npmBannerOnStdout({ ...npm, npm_config_json: "true" }, false), false, "--json moves it to stderr");
            assert.strictEqual(npmBannerOnStdout({}, false), false, "not started by npm");
            // Started from inside another script (`npm test`, a pipeline's `npm run deploy`): no banner on our stdout.
            assert.strictEqual(npmBannerOnStdout({ npm_lifecycle_event: "test", npm_lifecycle_script: "npm run -s build && mocha" }, false), false, "inside npm test");
            assert.strictEqual(npmBannerOnStdout({ npm_lifecycle_event: "preview", npm_lifecycle_script: "my-own-preview.sh" }, false), false, "another project's preview script");
        });
    });

    describe("the quick start (`npm start`: `up --stack dev` of this repository's Pulumi.dev.yaml)", () => {
        it("creates the dev stack, renders the seed at 1%, and leaves the tracked Pulumi.dev.yaml byte for byte as it was (`git status` stays clean)", () => {
            const project = makeProject("dev");
            try {
                const tracked = fs.readFileSync(path.join(projectDir, "Pulumi.dev.yaml"), "utf8");
                fs.writeFileSync(path.join(project.dir, "Pulumi.dev.yaml"), tracked);
                const r = run(["up", "--stack", "dev"], project);
                assert.strictEqual(r.status, 0, r.stderr);
                assert.match(r.stdout, /model-canary: stack dev serves v1 99%, v2 1%/);
                assert.strictEqual(fs.readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8"), tracked);
            } finally {
                project.remove();
            }
        });
    });

    describe("a stack whose preview comment passes GitHub's limit", () => {
        let project: TestProject;
        // 50 header routes with 1,000-character values: within the config's limits, but listed before and after, and in the diff, the comment passes 65,536 characters.
        const routes = (letter: string) => Array.from({ length: 50 }, (_, i) => ({ header: `x-route-${i}`, exact: `${i}-`.padEnd(1000, letter), version: "v2" }));
        before(() => {
            project = makeProject();
            project.writeConfig({ stable, canary, canaryWeight: 10, headerRoutes: routes("a") });
        });
        after(() => project.remove());

        it("`preview --markdown` writes a comment under the cap saying it was shortened, and the whole one beside it", () => {
            const up = run(["up", "--stack", "test"], project);
            assert.strictEqual(up.status, 0, up.stderr);
            project.writeConfig({ stable, canary, canaryWeight: 20, headerRoutes: routes("b") });
            const file = path.join(project.dir, "preview.md");
            const full = path.join(project.dir, "preview.full.md");
            const r = run(["preview", "--stack", "test", "--markdown", file], project);
            assert.strictEqual(r.status, 0, r.stderr);
            const comment = fs.readFileSync(file, "utf8");
            const whole = fs.readFileSync(full, "utf8");
            assert.ok(comment.length <= 60_000 && whole.length > 65_536, `comment ${comment.length}, whole ${whole.length} characters`);
            assert.strictEqual(r.stderr, `model-canary: the comment is shortened to ${comment.length} characters (GitHub refuses comments over 65536); the whole comment is in ${full}\nmodel-canary: preview comment written to ${file}\n`);
            assert.match(comment, new RegExp(`^> \\*\\*Shortened to stay under GitHub's limit of 65536 characters a comment:\\*\\* the routing is shown in one line \\(its header routes are left out\\); the raw diff is cut\\. The whole comment \\(${whole.length} characters\\) is in \`preview\\.full\\.md\`, written beside this one`, "m"));
            // The routing is there in one line, the whole comment has every route.
            assert.match(comment, /^- routing: `v1` 90% → 80%, `v2` 10% → 20%; 50 header routes$/m);
            assert.ok(comment.startsWith("<!-- model-canary-preview:test -->\n") && whole.startsWith("<!-- model-canary-preview:test -->\n"));
            assert.strictEqual(whole.match(/\*\*\(added\)\*\*/g)?.length, 50);
        });
    });

    describe("a stack in the shadow stage", () => {
        let project: TestProject;
        before(() => {
            project = makeProject();
            project.writeConfig({ stable, canary, canaryWeight: 0, mirrorPercent: 50 });
        });
        after(() => project.remove());

        it("`status` shows the applied mirror and no drift (the mirror read back from the outputs has its keys in another order)", () => {
            const up = run(["up", "--stack", "test"], project);
            assert.strictEqual(up.status, 0, up.stderr);
            const status = JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout);
            assert.deepStrictEqual([status.applied.mirror, status.configuredMirror, status.drift], [{ percent: 50, version: "v2" }, { version: "v2", percent: 50 }, false]);
            const text = run(["status", "--stack", "test"], project);
            assert.strictEqual(text.status, 0, text.stderr);
            assert.match(text.stdout, /^ {2}shadow: mirrors 50% of default traffic to v2; v2 serves no users/m);
            assert.doesNotMatch(text.stdout, /config says/);
        });
    });

    describe("against a stack", () => {
        let project: TestProject;
        before(() => {
            project = makeProject();
            project.writeConfig({ serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 10, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] });
        });
        after(() => project.remove());

        it("`up` creates the stack on first use and reports the split", () => {
            const r = run(["up", "--stack", "test"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stdout, /model-canary: stack test serves v1 90%, v2 10%/);
        });

        it("`status --json` reports what is applied", () => {
            const r = run(["status", "--stack", "test", "--json"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            const status = JSON.parse(r.stdout);
            assert.deepStrictEqual([status.applied.split, status.applied.canaryWeight, status.drift, status.rollout], [{ v1: 90, v2: 10 }, 10, false, null]);
            assert.deepStrictEqual(status.applied.headerRoutes, [{ header: "x-canary-version", exact: "v2", version: "v2" }]);
        });

        it("`status` names a damaged rollout record and still shows the routing", () => {
            const file = path.join(project.dir, ".model-canary", "test", "rollout.json");
            fs.mkdirSync(path.dirname(file), { recursive: true });
            // This checkout's copy is what status reads when the shared store (the backend's directory) has none.
            fs.rmSync(lockFile(project.ref).replace(/\.json$/, ".rollout.json"), { force: true });
            try {
                fs.writeFileSync(file, "{\"outcome\": \"running\", \"ste");
                const text = run(["status", "--stack", "test"], project);
                assert.strictEqual(text.status, 0, text.stderr);
                assert.match(text.stdout, /^stack test: v1 90%, v2 10%$/m);
                assert.match(text.stdout, /^last rollout: the rollout record .*rollout\.json cannot be read \(not valid JSON: .*\); the next `rollout` replaces it/m);
                assert.doesNotMatch(text.stderr, /SyntaxError|    at /);
                fs.writeFileSync(file, "[1, 2]");
                const json = JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout);
                assert.match(json.rollout.error, /cannot be read \(not a rollout record: `outcome`, `steps` or `plan` is missing\)/);
                assert.deepStrictEqual(json.applied.split, { v1: 90, v2: 10 });
            } finally {
                fs.rmSync(file, { force: true });
            }
        });

        it("`preview --markdown` writes the pull-request comment", () => {
            const file = path.join(project.dir, "preview.md");
            const r = run(["preview", "--stack", "test", "--markdown", file], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(fs.readFileSync(file, "utf8"), /\| `v2` \| canary \| 10% \| 10% \| unchanged \|/);
        });

        it("`promote` below 100% is refused unless forced, and changes nothing", () => {
            const r = run(["promote", "--stack", "test"], project);
            assert.strictEqual(r.status, 1);
            assert.strictEqual(r.stderr, "model-canary: `canaryWeight` is 10, not 100: promoting now would move 90% of traffic to v2 at once; finish the rollout first or pass --force\n");
            assert.deepStrictEqual(JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).applied.split, { v1: 90, v2: 10 });
        });

        it("a stack locked by another update is a clear error naming the holder, nothing applied; a dead holder's lock is taken over with a message", () => {
            // The lock a running `pulumi up` holds in a file backend, left by another process.
            const locks = path.join(new URL(project.ref.backendUrl!).pathname, ".pulumi", "locks", "organization", "model-canary", "test");
            fs.mkdirSync(locks, { recursive: true });
            const lock = path.join(locks, "5b0c7d7e-2f1e-4a7b-9f1e-6a1f4c2d9e01.json");
            const at = new Date(Math.floor(Date.now() / 1000) * 1000);
            const stamp = at.toISOString().replace(".000Z", "Z");
            const dead = spawnSync("true").pid!;
            const holders: [Record<string, unknown>, string][] = [
                [{ pid: 1, hostname: "ci-runner" }, `(pid 1 on host ci-runner, since ${stamp}: this machine cannot check it; wait for it, and run \`pulumi cancel --stack test\` (with the same backend) only once you know it has ended)`],
                [{ pid: process.pid, hostname: os.hostname() }, `(pid ${process.pid} on host ${os.hostname()}, since ${stamp}: it is running; wait for it to finish)`],
            ];
            project.writeConfig({ serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 20 });
            for (const [holder, said] of holders) {
                fs.writeFileSync(lock, JSON.stringify({ ...holder, username: "pipeline", timestamp: at.toISOString() }));
                try {
                    const second = run(["up", "--stack", "test"], project);
                    assert.strictEqual(second.status, 1);
                    assert.strictEqual(second.stderr.trim().split("\n").pop(), `model-canary: stack \`test\` is locked by another update ${said}`);
                } finally {
                    fs.rmSync(lock);
                }
            }
            assert.deepStrictEqual(JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).applied.split, { v1: 90, v2: 10 });

            // Left by a process that no longer runs (a `kill -9` mid-`up`): removed, said, and the `up` goes on.
            fs.writeFileSync(lock, JSON.stringify({ pid: dead, hostname: os.hostname(), username: "pipeline", timestamp: at.toISOString() }));
            const after = run(["up", "--stack", "test"], project);
            assert.strictEqual(after.status, 0, after.stderr);
            assert.ok(after.stderr.includes(`model-canary: removed Pulumi's lock of stack \`test\` left by pid ${dead} on host ${os.hostname()} (since ${stamp}), which ended without releasing it: process ${dead} no longer runs; the lock was ${lock}\n`), after.stderr);
            assert.ok(!fs.existsSync(lock));
            assert.deepStrictEqual(JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).applied.split, { v1: 80, v2: 20 });
        });

        it("`rollback` sends everything to stable at once", () => {
            project.writeConfig({ serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 20, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] });
            const r = run(["rollback", "--stack", "test"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stdout, /rolled back: stack test sends 100% to v1/);
            const vs = project.rendered().get("VirtualService/model-virtual-service");
            assert.deepStrictEqual(vs.spec.http, [{ name: "default", route: [{ destination: { host: "model-service", subset: "v1" }, weight: 100 }] }]);
        });

        it("`rollback` after a rollout that died says so in the record and in `status`, instead of offering to resume it", () => {
            project.writeConfig({ serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 1 });
            assert.strictEqual(run(["up", "--stack", "test"], project).status, 0);
            const dead = spawnSync("true").pid!;
            const file = path.join(project.dir, ".model-canary", "test", "rollout.json");
            fs.mkdirSync(path.dirname(file), { recursive: true });
            // This checkout's copy is what status reads when the shared store (the backend's directory) has none.
            fs.rmSync(lockFile(project.ref).replace(/\.json$/, ".rollout.json"), { force: true });
            const step = { index: 1, weight: 1, startedAt: "2026-12-05T10:00:00.000Z", analyses: [], verdict: "running" };
            fs.writeFileSync(file, JSON.stringify({ stack: "test", model: "model", stableVersion: "v1", canaryVersion: "v2", plan: [1, 10, 100], startedAt: "2026-12-05T10:00:00.000Z", outcome: "running", message: "resuming at 1%", steps: [step], thresholds: {}, runner: { host: os.hostname(), pid: dead, startedAt: "2026-12-05T10:00:00.000Z", command: "rollout" } }));
            try {
                assert.match(run(["status", "--stack", "test"], project).stdout, new RegExp(`^last rollout: died \\(process ${dead} no longer runs\\) at step 1/3 \\(1%\\): resuming at 1%$`, "m"));
                const r = run(["rollback", "--stack", "test"], project);
                assert.strictEqual(r.status, 0, r.stderr);
                const status = run(["status", "--stack", "test"], project);
                assert.match(status.stdout, /^stack test: v1 100%$/m);
                assert.match(status.stdout, new RegExp(`^last rollout: rolled-back at step 1/3 \\(1%\\): rolled back by \`model-canary rollback\` \\(user ${os.userInfo().username}, pid \\d+ on host ${os.hostname()}\\) at \\S+Z, after the run died \\(process ${dead} no longer runs\\) at step 1/3 \\(1%\\): v1 serves 100%$`, "m"));
                const json = JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).rollout;
                assert.deepStrictEqual([json.outcome, json.state], ["rolled-back", "rolled-back"]);
                // The stack's history says who rolled back too.
                const history = pulumi(["stack", "history", "--json", "--stack", "test"], project);
                assert.strictEqual(history.status, 0, history.stderr);
                assert.match(JSON.parse(history.stdout)[0].message, new RegExp(`^model-canary rollback: manual rollback by ${os.userInfo().username} \\(pid \\d+ on host ${os.hostname()}\\)$`));
            } finally {
                fs.rmSync(file, { force: true });
            }
        });

        it("a bad rollout flag fails before anything is applied", () => {
            const r = run(["rollout", "--stack", "test", "--steps", "1,150"], project);
            assert.strictEqual(r.status, 1);
            assert.match(r.stderr, /`--steps` must be a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e\.g\. shadow,1,10,50,100, got "1,150"/);
            assert.deepStrictEqual(JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).applied.split, { v1: 100 });
        });

        it("never changes which stack the user has selected", () => {
            fs.writeFileSync(path.join(project.dir, "Pulumi.prod.yaml"), YAML.stringify({ config: { "model-canary:stable": stable, "model-canary:canary": canary, "model-canary:canaryWeight": 5, "model-canary:renderDir": "rendered-prod" } }));
            assert.strictEqual(pulumi(["stack", "select", "test"], project).status, 0);
            const selected = () => pulumi(["stack", "--show-name"], project).stdout;
            assert.strictEqual(selected(), "test");
            const file = path.join(project.dir, "prod.md");
            for (const args of [["up"], ["status"], ["preview", "--markdown", file], ["rollback"], ["status", "--json"]]) {
                const r = run([...args, "--stack", "prod"], project);
                assert.strictEqual(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
                assert.strictEqual(selected(), "test", `after \`model-canary ${args.join(" ")} --stack prod\``);
            }
            assert.deepStrictEqual(stacks(project), ["prod", "test"]);
        });

        it("`up` of a new stack with bad config refuses before creating the stack or touching its file", () => {
            const file = path.join(project.dir, "Pulumi.staging.yaml");
            const text = YAML.stringify({ config: { "model-canary:stable": stable, "model-canary:canary": canary, "model-canary:canaryWeight": 150 } });
            fs.writeFileSync(file, text);
            const r = run(["up", "--stack", "staging"], project);
            assert.strictEqual(r.status, 1);
            assert.match(r.stderr, /^model-canary: invalid stack config for stack `staging`: `canaryWeight` must be an integer from 0 to 100, got "150"\n$/);
            assert.strictEqual(fs.readFileSync(file, "utf8"), text);
            assert.deepStrictEqual(stacks(project), ["prod", "test"]);
        });

        it("`up` of a stack without a Pulumi.<stack>.yaml refuses and creates nothing", () => {
            const r = run(["up", "--stack", "qa"], project);
            assert.strictEqual(r.status, 1);
            assert.strictEqual(r.stderr.trim(), `model-canary: stack \`qa\` has no settings file: ${path.join(project.dir, "Pulumi.qa.yaml")} does not exist; write the stack's config there first (see Pulumi.dev.yaml for an example)`);
            assert.strictEqual(fs.existsSync(path.join(project.dir, "Pulumi.qa.yaml")), false);
            assert.deepStrictEqual(stacks(project), ["prod", "test"]);
        });

        it("a command on a backend folder that does not exist yet reports the missing stack and creates no folder", () => {
            const backend = path.join(project.dir, "no-state-yet");
            const r = spawnSync(process.execPath, [cli, "status", "--stack", "test", "--cwd", project.dir, "--backend", `file://${backend}`], { encoding: "utf8", env: userEnv(project) });
            assert.strictEqual(r.status, 1);
            assert.strictEqual(r.stderr.trim(), "model-canary: stack `test` does not exist on this backend; create it with `model-canary up --stack test` or `pulumi stack init test`");
            assert.strictEqual(fs.existsSync(backend), false);
        });

        it("`preview` refuses an output path it cannot write before previewing, without a stack trace", () => {
            const missing = path.join(project.dir, "no-such-dir", "preview.md");
            const r = run(["preview", "--stack", "test", "--markdown", missing], project);
            assert.deepStrictEqual([r.status, r.stderr], [1, `model-canary: \`--markdown\` must be a file in an existing directory, got ${JSON.stringify(missing)}: ${path.dirname(missing)} does not exist\n`]);
            const dir = run(["preview", "--stack", "test", "--markdown", project.dir], project);
            assert.deepStrictEqual([dir.status, dir.stderr], [1, `model-canary: \`--markdown\` must be a file to write, got ${JSON.stringify(project.dir)}, which is a directory\n`]);
        });

        it("`npm run preview -- --markdown -` refuses to mix npm's banner into the Markdown; `npm run -s` gives clean Markdown", () => {
            const args = ["preview", "--", "--stack", "test", "--markdown", "-", "--cwd", project.dir, "--backend", project.ref.backendUrl!];
            const loud = spawnSync("npm", ["run", ...args], { cwd: projectDir, encoding: "utf8", env: userEnv(project) });
            assert.strictEqual(loud.status, 2);
            assert.match(loud.stderr, /model-canary: npm printed its `> model-canary preview` banner on standard output before this command started, so the Markdown would not be clean: run `npm run -s preview -- \.\.\.`/);
            assert.doesNotMatch(loud.stdout, /<!--/);
            const quiet = spawnSync("npm", ["run", "-s", ...args], { cwd: projectDir, encoding: "utf8", env: userEnv(project) });
            assert.strictEqual(quiet.status, 0, quiet.stderr);
            assert.ok(quiet.stdout.startsWith("<!-- model-canary-preview:test -->\n"), quiet.stdout.slice(0, 200));
        });

        it("`status` of a rollout record without steps says so instead of `step null (undefined%)`", () => {
            const file = path.join(project.dir, ".model-canary", "test", "rollout.json");
            fs.mkdirSync(path.dirname(file), { recursive: true });
            // This checkout's copy is what status reads when the shared store (the backend's directory) has none.
            fs.rmSync(lockFile(project.ref).replace(/\.json$/, ".rollout.json"), { force: true });
            fs.writeFileSync(file, JSON.stringify({ stack: "test", stableVersion: "v1", canaryVersion: "v2", plan: [1, 10], startedAt: "2026-11-26T10:00:00.000Z", finishedAt: "2026-11-26T10:00:01.000Z", outcome: "interrupted", message: "interrupted before the 1% step; 0% is applied", steps: [], thresholds: {} }));
            try {
                const r = run(["status", "--stack", "test"], project);
                assert.strictEqual(r.status, 0, r.stderr);
                assert.match(r.stdout, /^last rollout: interrupted before its first step: interrupted before the 1% step; 0% is applied$/m);
                assert.doesNotMatch(r.stdout, /null|undefined/);
                const json = JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout);
                assert.deepStrictEqual([json.rollout.step, json.rollout.weight], [null, null]);
            } finally {
                fs.rmSync(path.dirname(file), { recursive: true });
            }
        });

        it("`rollout` and `promote` of a stack without a canary are refused with the reason alone", () => {
            fs.writeFileSync(path.join(project.dir, "Pulumi.solo.yaml"), YAML.stringify({ config: { "model-canary:stable": stable, "model-canary:renderDir": "rendered-solo" } }));
            assert.strictEqual(run(["up", "--stack", "solo"], project).status, 0);
            const rollout = run(["rollout", "--stack", "solo"], project);
            assert.deepStrictEqual([rollout.status, rollout.stderr], [1, "model-canary: stack `solo` has no `canary` configured: set `canary` to the version to roll out\n"]);
            const promote = run(["promote", "--stack", "solo"], project);
            assert.deepStrictEqual([promote.status, promote.stderr], [1, "model-canary: stack `solo` has no `canary` to promote\n"]);
        });
    });

    describe("with an invalid config", () => {
        let project: TestProject;
        const good = { serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 30, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] };
        const broken = { ...good, canary: { ...canary, image: "your-docker-repo/model-runner: v2" }, canaryWieght: 5 };
        before(() => {
            project = makeProject();
            project.writeConfig(good);
            // Deployed by hand as the README shows, with a secret env value: 30% and a header route to v2.
            assert.strictEqual(pulumi(["stack", "init", "test"], project).status, 0);
            const set = pulumi(["config", "set", "--secret", "--path", "model-canary:canary.env.API_KEY", "s3cr3t", "--stack", "test"], project);
            assert.strictEqual(set.status, 0, set.stderr);
            const up = pulumi(["up", "--yes", "--stack", "test"], project);
            assert.strictEqual(up.status, 0, up.stderr + up.stdout);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 70, v2: 30 });
        });
        after(() => project.remove());

        it("`status` shows what is applied and the config's problems, and exits 0", () => {
            const settings = path.join(project.dir, "Pulumi.test.yaml");
            const doc = YAML.parse(fs.readFileSync(settings, "utf8"));
            doc.config["model-canary:canary"].image = broken.canary.image;
            doc.config["model-canary:canaryWieght"] = 5;
            fs.writeFileSync(settings, YAML.stringify(doc));
            const r = run(["status", "--stack", "test", "--json"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            const status = JSON.parse(r.stdout);
            assert.deepStrictEqual([status.applied.split, status.config.valid], [{ v1: 70, v2: 30 }, false]);
            // The typo, the bad image, and the route to a canary that is no longer valid.
            assert.deepStrictEqual(status.config.problems.map((p: string) => p.match(/^(unknown key `canaryWieght`|`canary\.image`|`headerRoutes\[0\]\.version`)/)?.[1]), ["unknown key `canaryWieght`", "`canary.image`", "`headerRoutes[0].version`"]);
            const text = run(["status", "--stack", "test"], project);
            assert.strictEqual(text.status, 0, text.stderr);
            assert.match(text.stdout, /^stack test: v1 70%, v2 30%$/m);
            assert.match(text.stdout, /^config Pulumi\.test\.yaml is invalid, so `up`, `rollout` and `promote` refuse it \(`rollback` still works, from the last applied config\):$/m);
        });

        it("`rollback` takes traffic off the canary from the last applied config, keeping the secret encrypted and the invalid file aside", () => {
            const r = run(["rollback", "--stack", "test"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stdout, /^rolled back: stack test sends 100% to v1 \(\d+(\.\d)?s\), from the last applied config; Pulumi\.test\.yaml now holds that config; your invalid Pulumi\.test\.yaml is saved as Pulumi\.test\.yaml\.invalid-[0-9TZ-]+ \(with canaryWeight 0 there too\): fix it and move it back before the next `up`$/m);
            assert.match(r.stderr, /the config of stack test is invalid; rolling back from the last applied config instead/);
            const vs = project.rendered().get("VirtualService/model-virtual-service");
            assert.deepStrictEqual(vs.spec.http, [{ name: "default", route: [{ destination: { host: "model-service", subset: "v1" }, weight: 100 }] }]);

            const settings = fs.readFileSync(path.join(project.dir, "Pulumi.test.yaml"), "utf8");
            assert.doesNotMatch(settings, /s3cr3t/);
            const config = YAML.parse(settings).config;
            // `pulumi config set` (the secret) rewrites the file with scalars as text.
            assert.deepStrictEqual([String(config["model-canary:canaryWeight"]), config["model-canary:headerRoutes"], config["model-canary:canary"].image, Object.keys(config["model-canary:canary"].env.API_KEY)], ["0", undefined, canary.image, ["secure"]]);
            assert.strictEqual(pulumi(["config", "get", "--path", "model-canary:canary.env.API_KEY", "--stack", "test"], project).stdout, "s3cr3t");

            const saved = fs.readdirSync(project.dir).filter((f) => f.startsWith("Pulumi.test.yaml.invalid-"));
            assert.strictEqual(saved.length, 1);
            const kept = YAML.parse(fs.readFileSync(path.join(project.dir, saved[0]), "utf8")).config;
            assert.deepStrictEqual([kept["model-canary:canaryWeight"], kept["model-canary:canaryWieght"], kept["model-canary:canary"].image, kept["model-canary:headerRoutes"]], [0, 5, broken.canary.image, undefined]);

            const after = JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout);
            assert.deepStrictEqual([after.applied.split, after.config.valid, after.drift], [{ v1: 100 }, true, false]);
            // The recorded config holds the secret only as a secret output.
            const state = pulumi(["stack", "output", "--json", "--stack", "test"], project);
            assert.doesNotMatch(state.stdout, /s3cr3t/);
            assert.strictEqual(JSON.parse(state.stdout).appliedSecrets, "[secret]");
        });

        it("`rollback` also gets through a settings file that is not YAML any more", () => {
            const settings = path.join(project.dir, "Pulumi.test.yaml");
            for (const f of fs.readdirSync(project.dir).filter((f) => f.startsWith("Pulumi.test.yaml.invalid-"))) fs.rmSync(path.join(project.dir, f));
            const doc = YAML.parse(fs.readFileSync(settings, "utf8"));
            doc.config["model-canary:canaryWeight"] = 20;
            fs.writeFileSync(settings, YAML.stringify(doc));
            const up = run(["up", "--stack", "test"], project);
            assert.strictEqual(up.status, 0, up.stderr);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 80, v2: 20 });
            const text = `${fs.readFileSync(settings, "utf8")}\n  model-canary:replicas: [unclosed\n`;
            fs.writeFileSync(settings, text);

            const status = run(["status", "--stack", "test", "--json"], project);
            assert.strictEqual(status.status, 0, status.stderr);
            assert.deepStrictEqual(JSON.parse(status.stdout).config.valid, false);
            assert.match(JSON.parse(status.stdout).config.problems[0], /Pulumi\.test\.yaml is not valid YAML/);

            const r = run(["rollback", "--stack", "test"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stdout, /is saved as Pulumi\.test\.yaml\.invalid-[0-9TZ-]+ as it was \(it is not YAML, so its canaryWeight could not be set to 0\): fix it, set canaryWeight to 0, and move it back before the next `up`$/m);
            assert.deepStrictEqual(project.renderedSplit(), { v1: 100 });
            const saved = fs.readdirSync(project.dir).filter((f) => f.startsWith("Pulumi.test.yaml.invalid-"));
            assert.strictEqual(fs.readFileSync(path.join(project.dir, saved[0]), "utf8"), text);
            assert.strictEqual(pulumi(["config", "get", "--path", "model-canary:canary.env.API_KEY", "--stack", "test"], project).stdout, "s3cr3t");
        });
    });
});

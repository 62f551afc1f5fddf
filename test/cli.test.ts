// The `model-canary` command as a pipeline runs it: real CLI process, real engine, temp backend.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectDir } from "../stacks/automation";
import { makeProject, TestProject } from "./support/engine";

const cli = path.join(projectDir, "cli", "model-canary.js");
const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };

function run(args: string[], project?: TestProject): { status: number | null; stdout: string; stderr: string } {
    const where = project ? ["--cwd", project.dir, "--backend", project.ref.backendUrl!] : [];
    const r = spawnSync(process.execPath, [cli, ...args, ...where], {
        encoding: "utf8",
        env: { ...process.env, ...(project ? { MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir } : {}) },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
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
            assert.match(run(["deploy"]).stderr, /unknown command `deploy`; commands are `up`, `preview`, `rollout`, `rollback`, `promote`, `status`/);
            const noStack = run(["status"]);
            assert.deepStrictEqual([noStack.status, noStack.stderr.trim()], [2, "model-canary: `--stack` is required, e.g. `model-canary status --stack dev`"]);
            const badFlag = run(["rollout", "--stack", "dev", "--stepz", "1"]);
            assert.strictEqual(badFlag.status, 2);
            assert.match(badFlag.stderr, /Unknown option '--stepz'/);
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

        it("`preview --markdown` writes the pull-request comment", () => {
            const file = path.join(project.dir, "preview.md");
            const r = run(["preview", "--stack", "test", "--markdown", file], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(fs.readFileSync(file, "utf8"), /\| `v2` \| canary \| 10% \| 10% \| unchanged \|/);
        });

        it("`promote` below 100% is refused unless forced, and changes nothing", () => {
            const r = run(["promote", "--stack", "test"], project);
            assert.strictEqual(r.status, 1);
            assert.match(r.stderr, /`canaryWeight` is 10, not 100: promoting now would move 90% of traffic to v2 at once; finish the rollout first or pass --force/);
            assert.deepStrictEqual(JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).applied.split, { v1: 90, v2: 10 });
        });

        it("a stack locked by another update is a clear error naming the holder; `pulumi cancel` only for one that died; nothing is applied", () => {
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
                [{ pid: dead, hostname: os.hostname() }, `(pid ${dead} on host ${os.hostname()}, since ${stamp}: that process no longer runs, so its lock is left over; run \`pulumi cancel --stack test\` (with the same backend) to remove it, then retry)`],
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
        });

        it("`rollback` sends everything to stable at once", () => {
            project.writeConfig({ serviceName: "model-service", virtualServiceName: "model-virtual-service", stable, canary, canaryWeight: 20, headerRoutes: [{ header: "x-canary-version", exact: "v2", version: "v2" }] });
            const r = run(["rollback", "--stack", "test"], project);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.match(r.stdout, /rolled back: stack test sends 100% to v1/);
            const vs = project.rendered().get("VirtualService/model-virtual-service");
            assert.deepStrictEqual(vs.spec.http, [{ name: "default", route: [{ destination: { host: "model-service", subset: "v1" }, weight: 100 }] }]);
        });

        it("a bad rollout flag fails before anything is applied", () => {
            const r = run(["rollout", "--stack", "test", "--steps", "1,150"], project);
            assert.strictEqual(r.status, 1);
            assert.match(r.stderr, /`--steps` must be a list of integer weights from 1 to 100 in increasing order, e\.g\. 1,10,50,100, got "1,150"/);
            assert.deepStrictEqual(JSON.parse(run(["status", "--stack", "test", "--json"], project).stdout).applied.split, { v1: 100 });
        });
    });
});

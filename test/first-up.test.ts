// A stack's first `up` writes its state once, at the end (stacks/first-up.ts), and a first `up`
// killed outright is repaired by running it again. Through the real engine, render mode.
import * as assert from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { openStack, previewStack, projectDir, upStack } from "../stacks/automation";
import { makeProject, runPulumi as pulumi, TestProject } from "./support/engine";

const config = {
    stable: { version: "v1", image: "registry/ranker:v1", replicas: 2 },
    canary: { version: "v2", image: "registry/ranker:v2", replicas: 2 },
    canaryWeight: 10,
};

/** Runs `upStack` for a new stack in a process group of its own; SIGKILLs the whole group once a manifest is rendered. */
function killedFirstUp(project: TestProject): Promise<void> {
    const script = `require(${JSON.stringify(path.join(projectDir, "stacks", "automation"))}).openStack(${JSON.stringify(project.ref)}, { create: true }).then((s) => require(${JSON.stringify(path.join(projectDir, "stacks", "automation"))}).upStack(s))`;
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: projectDir, detached: true, stdio: "ignore" });
    return new Promise((resolve, reject) => {
        const poll = setInterval(() => {
            const manifests = path.join(project.renderDir, "1-manifest");
            if (fs.existsSync(manifests) && fs.readdirSync(manifests).length > 0) {
                clearInterval(poll);
                process.kill(-child.pid!, "SIGKILL");
            }
        }, 5);
        child.on("exit", (code, signal) => {
            clearInterval(poll);
            if (signal === "SIGKILL") resolve();
            else reject(new Error(`the first up ended by itself (exit code ${code}) before it could be killed`));
        });
    });
}

/**
 * SIGKILLs what a killed engine leaves running in the project: the engine starts its plugins (the
 * Kubernetes provider) in process groups of their own, in the project directory, so killing the
 * update's group orphans them, idle but alive.
 */
function killLeftoversIn(dir: string): number[] {
    const killed: number[] = [];
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        let cwd: string;
        try {
            cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
        } catch {
            continue; // gone, or not ours to read
        }
        if (cwd === dir || cwd.startsWith(`${dir}/`) || cwd === `${dir} (deleted)`) {
            try {
                process.kill(Number(pid), "SIGKILL");
                killed.push(Number(pid));
            } catch {
                // ended meanwhile
            }
        }
    }
    return killed;
}

describe("the first `up` checkpoints once (real engine, render mode)", function () {
    this.timeout(300_000);
    let project: TestProject;
    before(() => {
        project = makeProject("first");
        project.writeConfig(config);
    });
    after(() => {
        if (project) killLeftoversIn(project.dir);
        project?.remove();
    });

    it("a first `up` SIGKILLed mid-way leaves the state as it was (empty, no interrupted operations), and after \`pulumi cancel\` running it again converges", async () => {
        await killedFirstUp(project);
        // Rendered objects exist, the state records none of them: no checkpoint was written during the update.
        assert.ok(project.rendered().size >= 1);
        const stack = await openStack(project.ref);
        const state = await stack.exportStack();
        assert.deepStrictEqual((state.deployment as { resources?: unknown[]; pending_operations?: unknown[] }).resources ?? [], []);
        assert.deepStrictEqual((state.deployment as { pending_operations?: unknown[] }).pending_operations ?? [], []);

        // The killed CLI left the backend's lock behind, as any killed update does; the refusal says how to clear it.
        await assert.rejects(upStack(stack), /stack `first` is locked by another update \(pid \d+ on host .*: that process no longer runs, so its lock is left over; run `pulumi cancel --stack first`/);
        assert.strictEqual(pulumi(project, ["cancel", "--yes"]).status, 0);
        const again = await upStack(stack);
        assert.deepStrictEqual(again.changes, { create: 8 });
        assert.deepStrictEqual([...project.rendered().keys()].sort(), [
            "Deployment/model-v1", "Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service",
        ]);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
        const preview = await previewStack(stack);
        assert.deepStrictEqual(preview.changes, { same: 8 });
    });
});

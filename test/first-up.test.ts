// A stack's first `up` writes its state once, at the end (stacks/operations/first-up.ts), and a first `up`
// killed outright is repaired by running it again. Through the real engine, render mode.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { openStack, previewStack, upStack } from "../stacks/operations/automation";
import { killedUp, killLeftoversIn, makeProject, runPulumi as pulumi, TestProject } from "./support/engine";

const config = {
    stable: { version: "v1", image: "registry/ranker:v1", replicas: 2 },
    canary: { version: "v2", image: "registry/ranker:v2", replicas: 2 },
    canaryWeight: 10,
};

/** A first `up` of a new stack, SIGKILLed (engine included) once a manifest is rendered. */
function killedFirstUp(project: TestProject): Promise<void> {
    const manifests = path.join(project.renderDir, "1-manifest");
    return killedUp(project, () => fs.existsSync(manifests) && fs.readdirSync(manifests).length > 0, { create: true, pollMs: 5 });
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

    it("a first `up` SIGKILLed mid-way leaves the state as it was (empty, no interrupted operations), and running it again takes over the dead CLI's lock and converges", async () => {
        await killedFirstUp(project);
        // Rendered objects exist, the state records none of them: no checkpoint was written during the update.
        assert.ok(project.rendered().size >= 1);
        const stack = await openStack(project.ref);
        const state = await stack.exportStack();
        assert.deepStrictEqual((state.deployment as { resources?: unknown[]; pending_operations?: unknown[] }).resources ?? [], []);
        assert.deepStrictEqual((state.deployment as { pending_operations?: unknown[] }).pending_operations ?? [], []);

        // The killed CLI left the backend's lock behind, as any killed update does: a plain `pulumi up` refuses,
        // and `upStack` removes it (its holder no longer runs) with a message, then updates.
        const plain = pulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(plain.status, 0);
        assert.match(plain.output, /the stack is currently locked by 1 lock\(s\)/);
        const messages: string[] = [];
        const again = await upStack(stack, { onMessage: (m) => messages.push(m) });
        assert.strictEqual(messages.length, 1, JSON.stringify(messages));
        assert.match(messages[0], /^model-canary: removed Pulumi's lock of stack `first` left by pid \d+ on host .* \(since .*\), which ended without releasing it: process \d+ no longer runs; the lock was .*\.pulumi\/locks\/organization\/model-canary\/first\/[^/]+\.json$/);
        assert.deepStrictEqual(again.changes, { create: 8 });
        assert.deepStrictEqual([...project.rendered().keys()].sort(), [
            "Deployment/model-v1", "Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service",
        ]);
        assert.deepStrictEqual(project.renderedSplit(), { v1: 90, v2: 10 });
        const preview = await previewStack(stack);
        assert.deepStrictEqual(preview.changes, { same: 8 });
    });
});

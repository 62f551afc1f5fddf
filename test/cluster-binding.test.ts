// Through the real engine against the local control plane: a stack's objects stay in their cluster
// whatever its kubeconfig calls it (a provider change never deletes a live object), and a different
// cluster is refused before anything is applied. Every assertion reads the objects back from the
// API server.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import { openStack, previewStack, readOutputs, StackOperationError, upStack } from "../stacks/operations/automation";
import { changedSteps as changed, ClusterReader, clusterReader, clusterSeed as seed, clusterSeedObjects as objects, objectIdentities, objectUids } from "./support/cluster";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

describe("a stack's objects stay in their one cluster (real engine, local control plane)", function () {
    this.timeout(300_000);
    let cp: cluster.ControlPlane;
    let live: ClusterReader;
    let project: TestProject;
    let kubeSystemUid: string;

    /** Points the stack's `kubeconfig` at `file` (every other key as `seed`, with `extra`). */
    const configure = (p: TestProject, kubeconfig: string, extra: Record<string, unknown> = {}) => {
        const file = path.join(p.dir, `Pulumi.${p.ref.stack}.yaml`);
        const settings = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8")) ?? {} : {};
        settings.config = Object.fromEntries(Object.entries({ ...seed, ...extra, kubeconfig }).map(([k, v]) => [`model-canary:${k}`, v]));
        fs.writeFileSync(file, YAML.stringify(settings));
    };
    /** A copy of the cluster's kubeconfig with its server rewritten. */
    const kubeconfigWith = (name: string, server: string) => {
        const file = path.join(project.dir, name);
        fs.writeFileSync(file, fs.readFileSync(cp.kubeconfig, "utf8").replace(cp.server, server));
        return file;
    };
    const identities = (reader = live) => objectIdentities(reader);
    const uids = () => objectUids(live);
    /** `model-canary up` as a user runs it. */
    const cli = (p: TestProject, args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", p.ref.stack, "--cwd", p.dir, "--backend", p.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: p.ref.toolchainDir },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    before(async function () {
        this.timeout(900_000); // may build the control plane on first use
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
        project = makeProject("test");
        kubeSystemUid = JSON.parse(cluster.kubectl(cp, ["get", "namespace", "kube-system", "-o", "json"])).metadata.uid;
    });
    after(async () => {
        project?.remove();
        if (cp) await cluster.stop(cp);
    });

    it("a stack from before cluster identifiers: its next `up` updates the provider only, same UIDs, no pod restarted", async () => {
        configure(project, cp.kubeconfig);
        await openStack(project.ref, { create: true });
        // A plain `pulumi up` handed no identifier is what every stack's program did before.
        const old = spawnPulumi(project, ["up", "--yes", "--skip-preview"], { MODEL_CANARY_CLUSTER_ID: "" });
        assert.strictEqual(old.status, 0, old.output);
        for (const v of ["v1", "v2"]) live.waitAvailable(`model-${v}`);
        const stack = await openStack(project.ref);
        assert.deepStrictEqual((await readOutputs(stack)).target, { mode: "cluster" });
        const before = uids();
        const pods = [live.podUids("v1"), live.podUids("v2")];
        const up = await upStack(stack);
        assert.deepStrictEqual(changed(up.steps), ["update kubernetes"]);
        assert.deepStrictEqual(uids(), before);
        assert.deepStrictEqual([live.podUids("v1"), live.podUids("v2")], pods);
        assert.strictEqual(live.get("deployment", "model-v1").metadata.generation, 1);
        assert.deepStrictEqual(up.outputs.target, { mode: "cluster", clusterIdentifier: kubeSystemUid });
    });

    it("the kubeconfig rewritten to `localhost`: `preview` shows no replacement, `up` keeps every object (same UIDs) and exits 0", async () => {
        const before = identities();
        const port = new URL(cp.server).port;
        configure(project, kubeconfigWith("localhost.kubeconfig", `https://localhost:${port}`));
        const preview = await previewStack(await openStack(project.ref));
        assert.deepStrictEqual(changed(preview.steps), ["update kubernetes"]);
        const up = cli(project, ["up"]);
        assert.strictEqual(up.status, 0, up.stderr);
        assert.deepStrictEqual(identities(), before);
        assert.deepStrictEqual(live.split(), { v1: 90, v2: 10 });
        assert.strictEqual(((await readOutputs(await openStack(project.ref))).target as { clusterIdentifier: string }).clusterIdentifier, kubeSystemUid);
    });

    it("a closed port: `up` is refused (exit 1, nothing applied or deleted), and pointing back keeps every object (same UIDs, exit 0)", async () => {
        const before = identities();
        configure(project, kubeconfigWith("closed.kubeconfig", "https://127.0.0.1:1"));
        const failed = cli(project, ["up"]);
        assert.strictEqual(failed.status, 1, failed.stdout);
        // The model's run lock, a Lease on that cluster, is the first thing `up` asks of it.
        assert.match(failed.stderr, /cannot take the run lock of stack `\w+`: cannot get Lease `[^`]+` in namespace `default` to coordinate runs: cannot reach the API server https:\/\/127\.0\.0\.1:1.*Nothing was applied/);
        assert.deepStrictEqual(identities(), before);
        configure(project, cp.kubeconfig);
        const back = cli(project, ["up"]);
        assert.strictEqual(back.status, 0, back.stderr);
        assert.deepStrictEqual(identities(), before);
        const state = JSON.parse(spawnPulumi(project, ["stack", "export"]).output);
        assert.strictEqual(state.deployment.resources.filter((r: { type: string }) => r.type.startsWith("kubernetes:")).length, 5);
    });

    it("a closed port under a plain `pulumi up`: refused before anything is registered, and pointing back keeps every object (same UIDs)", async () => {
        const before = identities();
        // What the state holds, by URN and ID, and the provider's cluster binding (secrets are re-encrypted at every write).
        const resources = () => (JSON.parse(spawnPulumi(project, ["stack", "export"]).output).deployment.resources as { urn: string; id?: string; inputs?: { clusterIdentifier?: string } }[])
            .map((r) => [r.urn, r.id, r.inputs?.clusterIdentifier]);
        const stateBefore = resources();
        configure(project, kubeconfigWith("closed-plain.kubeconfig", "https://127.0.0.1:1"));
        const failed = spawnPulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.notStrictEqual(failed.status, 0, failed.output);
        assert.match(failed.output, /the cluster the stack's kubeconfig names cannot be reached, so nothing was applied: cannot reach the API server https:\/\/127\.0\.0\.1:1/);
        assert.deepStrictEqual(resources(), stateBefore);
        configure(project, cp.kubeconfig);
        const back = spawnPulumi(project, ["up", "--yes", "--skip-preview"]);
        assert.strictEqual(back.status, 0, back.output);
        assert.deepStrictEqual(uids(), Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.split("@")[0]])));
    });

    describe("another cluster", () => {
        let other: cluster.ControlPlane;
        before(async function () {
            this.timeout(900_000);
            other = await cluster.start({ stopOnExit: true });
        });
        after(async () => {
            if (other) await cluster.stop(other);
        });

        it("is refused by `preview` and `up` naming both clusters, with nothing applied in either", async () => {
            const before = identities();
            const otherUid = JSON.parse(cluster.kubectl(other, ["get", "namespace", "kube-system", "-o", "json"])).metadata.uid;
            configure(project, other.kubeconfig);
            const stack = await openStack(project.ref);
            for (const run of [() => previewStack(stack), () => upStack(stack)]) {
                await assert.rejects(run(), (e: unknown) => {
                    assert.ok(e instanceof StackOperationError, String(e));
                    assert.strictEqual(e.kind, "refused");
                    assert.ok(e.message.startsWith(`stack \`test\` holds objects in the cluster whose \`kube-system\` namespace has UID ${kubeSystemUid}, and its kubeconfig now reaches another cluster (${other.server}, \`kube-system\` UID ${otherUid}). Nothing was applied`), e.message);
                    return true;
                });
            }
            const up = cli(project, ["up"]);
            assert.strictEqual(up.status, 1);
            assert.match(up.stderr, /another cluster/);
            assert.deepStrictEqual(identities(), before);
            assert.deepStrictEqual(identities(clusterReader(other)), Object.fromEntries(objects.map(([kind, name]) => [`${kind}/${name}`, "missing"])));
            configure(project, cp.kubeconfig);
        });
    });
});

/** `runPulumi` with extra environment. */
function spawnPulumi(project: TestProject, args: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
        return runPulumi(project, args);
    } finally {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    }
}

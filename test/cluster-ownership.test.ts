// Through the real engine against the local control plane: objects have one owner. A second stack
// with the same names, or an object another tool made, is refused before anything is applied;
// adopting on purpose works as the refusal says; a stack from before owner annotations keeps
// working. Every assertion reads the objects back from the API server.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import { openStack, previewStack, StackOperationError, upStack } from "../stacks/operations/automation";
import { changedSteps as changed, ClusterReader, clusterReader, clusterSeed as seed, clusterSeedObjects as objects, objectIdentities, objectUids } from "./support/cluster";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

describe("objects have one owner (real engine, local control plane)", function () {
    this.timeout(300_000);
    let cp: cluster.ControlPlane;
    let live: ClusterReader;
    let first: TestProject;
    let dup: TestProject;
    const configure = (p: TestProject, extra: Record<string, unknown> = {}) => {
        fs.writeFileSync(path.join(p.dir, `Pulumi.${p.ref.stack}.yaml`), YAML.stringify({ config: Object.fromEntries(Object.entries({ ...seed, ...extra, kubeconfig: cp.kubeconfig }).map(([k, v]) => [`model-canary:${k}`, v])) }));
    };
    const identities = () => objectIdentities(live);
    const uids = () => objectUids(live);
    const owners = () => objects.map(([kind, name]) => live.get(kind, name).metadata.annotations?.["model-canary/owner"]);
    const cli = (p: TestProject, args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", p.ref.stack, "--cwd", p.dir, "--backend", p.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: p.ref.toolchainDir },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const kubernetesResources = (p: TestProject) => {
        const exported = runPulumi(p, ["stack", "export"]);
        assert.strictEqual(exported.status, 0, exported.output);
        return (JSON.parse(exported.output).deployment?.resources ?? []).filter((r: { type: string }) => r.type.startsWith("kubernetes:")).length;
    };

    before(async function () {
        this.timeout(900_000); // may build the control plane on first use
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
        first = makeProject("test");
        dup = makeProject("dup");
        for (const p of [first, dup]) configure(p);
    });
    after(async () => {
        first?.remove();
        dup?.remove();
        if (cp) await cluster.stop(cp);
    });

    it("a stack from before owner annotations: its next `up` stamps each object (a metadata update: same UIDs, no pod restarted)", async () => {
        await openStack(first.ref, { create: true });
        // A plain `pulumi up` handed no owner stamps none: what every stack's program did before.
        const saved = process.env.MODEL_CANARY_OWNER;
        process.env.MODEL_CANARY_OWNER = "";
        try {
            const old = runPulumi(first, ["up", "--yes", "--skip-preview"]);
            assert.strictEqual(old.status, 0, old.output);
        } finally {
            if (saved === undefined) delete process.env.MODEL_CANARY_OWNER;
            else process.env.MODEL_CANARY_OWNER = saved;
        }
        for (const v of ["v1", "v2"]) live.waitAvailable(`model-${v}`);
        assert.deepStrictEqual(owners(), [undefined, undefined, undefined, undefined, undefined]);
        // Created through SSA, the objects carry no `app.kubernetes.io/managed-by` label: their field manager says Pulumi.
        assert.strictEqual(live.get("deployment", "model-v1").metadata.labels["app.kubernetes.io/managed-by"], undefined);
        const managed = JSON.parse(cluster.kubectl(cp, ["get", "deployment", "model-v1", "-n", "default", "-o", "json", "--show-managed-fields"]));
        assert.ok(managed.metadata.managedFields.some((f: { manager: string }) => f.manager.startsWith("pulumi-kubernetes-")), JSON.stringify(managed.metadata.managedFields));
        const before = uids();
        const pods = [live.podUids("v1"), live.podUids("v2")];
        const up = await upStack(await openStack(first.ref));
        assert.deepStrictEqual(changed(up.steps).sort(), ["update model-dr", "update model-svc", "update model-v1", "update model-v2", "update model-vs"]);
        assert.deepStrictEqual(uids(), before);
        assert.deepStrictEqual([live.podUids("v1"), live.podUids("v2")], pods);
        assert.deepStrictEqual(owners(), Array(5).fill("model-canary/test"));
    });

    it("a second stack with the same names is refused by `preview` and `up` naming the owner; the first stack's objects stay untouched", async () => {
        const before = identities();
        await openStack(dup.ref, { create: true });
        await assert.rejects(previewStack(await openStack(dup.ref)), (e: unknown) => {
            assert.ok(e instanceof StackOperationError && e.kind === "refused", String(e));
            assert.match(e.message, /^stack `dup` would take over objects that another owner manages: Deployment default\/model-v1 is managed by stack `model-canary\/test`/);
            return true;
        });
        const up = cli(dup, ["up"]);
        assert.strictEqual(up.status, 1, up.stdout);
        for (const [kind, name] of [["Deployment", "model-v1"], ["Deployment", "model-v2"], ["Service", "model-service"], ["DestinationRule", "model-destination"], ["VirtualService", "model-virtual-service"]]) {
            assert.ok(up.stderr.includes(`${kind} default/${name} is managed by stack \`model-canary/test\` (its \`model-canary/owner\` annotation)`), up.stderr);
        }
        assert.match(up.stderr, /Nothing was applied/);
        assert.deepStrictEqual(identities(), before);
        assert.deepStrictEqual(live.split(), { v1: 90, v2: 10 });
        assert.strictEqual(kubernetesResources(dup), 0);
    });

    it("adopting on purpose with the commands the refusal gives: the second stack takes the objects over in place (same UIDs), and then the first is refused", async () => {
        const refused = cli(dup, ["up"]);
        const commands = [...refused.stderr.matchAll(/`kubectl (annotate [^`]+)`/g)].map((m) => m[1]);
        assert.strictEqual(commands.length, 5, refused.stderr);
        const before = uids();
        for (const command of commands) cluster.kubectl(cp, command.split(" "));
        const up = cli(dup, ["up"]);
        assert.strictEqual(up.status, 0, up.stderr);
        assert.deepStrictEqual(uids(), before);
        assert.deepStrictEqual(owners(), Array(5).fill("model-canary/dup"));
        const back = cli(first, ["up"]);
        assert.strictEqual(back.status, 1);
        assert.match(back.stderr, /VirtualService default\/model-virtual-service is managed by stack `model-canary\/dup`/);
    });

    it("an object another tool made (kubectl) is refused as such, naming its field manager, and nothing is applied", async () => {
        cluster.kubectl(cp, ["create", "service", "clusterip", "tool-service", "--tcp", "80:8080", "-n", "default"]);
        const other = makeProject("other");
        try {
            configure(other, { app: "tool", serviceName: "tool-service", virtualServiceName: "tool-vs", destinationRuleName: "tool-dr" });
            const up = cli(other, ["up"]);
            assert.strictEqual(up.status, 1, up.stdout);
            assert.match(up.stderr, /Service default\/tool-service is managed by another tool \(field managers `kubectl-create`\)/);
            assert.strictEqual(live.get("deployment", "tool-v1"), undefined);
        } finally {
            other.remove();
        }
    });
});

// The live cluster is the truth: `up`, a weight step, `rollback` and `promote` act on the objects
// as the API server holds them, not as the state last recorded them (a hand edit, a deleted route,
// a hand-scaled or unready canary). Real engine, the local control plane; every assertion reads
// the objects back from the API server.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as cluster from "../cluster/controlplane";
import { promoteStack, rollbackStack } from "../rollout/runner";
import { checkConfig, openStack, readOutputs, setProjectConfig, StackOperationError, upStack } from "../stacks/operations/automation";
import { selectModel } from "../stacks/config/config";
import { checkLiveRollback } from "../stacks/cluster-client/live";
import { connect, getObjectIfServed } from "../stacks/cluster-client/cluster-api";
import { stackStatus } from "../rollout/stack-status";
import { readProjectConfig } from "../stacks/config/settings";
import { ClusterReader, clusterReader } from "./support/cluster";
import { makeProject, sourceCli, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 3 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 3 };
// With a traffic policy, so that the DestinationRule's drift has its outlier detection to lose.
const trafficPolicy = { outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s" } };
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable, canary, trafficPolicy };
const vsKind = "virtualservices.networking.istio.io";
const changed = (steps: { op: string; name: string }[]) => steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`);

describe("the live cluster is the truth (real engine, local control plane)", function () {
    this.timeout(300_000);
    let cp: cluster.ControlPlane;
    let project: TestProject;
    let live: ClusterReader;
    const kubectl = (args: string[]) => cluster.kubectl(cp, args);
    /** A hand edit by another field manager: the default route split 50/50. */
    const patchHalf = () => kubectl(["patch", vsKind, "model-virtual-service", "-n", "default", "--type", "json", "--field-manager", "incident-responder",
        "-p", JSON.stringify([{ op: "replace", path: "/spec/http/0/route", value: [{ destination: { host: "model-service", subset: "v1" }, weight: 50 }, { destination: { host: "model-service", subset: "v2" }, weight: 50 }] }])]);
    const cli = (args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", "test", "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
        project = makeProject("test", { kubeconfig: cp.kubeconfig });
        project.writeConfig({ ...seed, canaryWeight: 0 });
        await upStack(await openStack(project.ref, { create: true }));
        for (const v of ["v1", "v2"]) live.waitAvailable(`model-${v}`);
        assert.deepStrictEqual(live.split(), { v1: 100 });
    });
    after(async () => {
        project?.remove();
        if (cp) await cluster.stop(cp);
    });

    it("`rollback` at weight 0 takes back a hand edit that sends 50% to v2 with its first write, and says so only once the live route sends 100% to v1", async () => {
        patchHalf();
        assert.deepStrictEqual(live.split(), { v1: 50, v2: 50 });
        const r = cli(["rollback"]);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.match(r.stdout, /^rolled back: stack test sends 100% to v1 \(the live VirtualService default\/model-virtual-service in \d+ ms/);
        // The route write (as the provider's field manager, forced) took the hand edit back before
        // the `up`, which found nothing to change: no repair was needed, and the write's mark is gone.
        assert.doesNotMatch(r.stderr, /still does not send all traffic/);
        assert.deepStrictEqual(live.split(), { v1: 100 });
        assert.strictEqual(live.get(vsKind, "model-virtual-service").metadata.annotations["model-canary/rollback-written-at"], undefined);
    });

    it("`rollback` with the VirtualService deleted creates it again, sending 100% to v1, at weight 0 and at 10%", async () => {
        kubectl(["delete", vsKind, "model-virtual-service", "-n", "default"]);
        assert.strictEqual(live.get(vsKind, "model-virtual-service"), undefined);
        await rollbackStack(await openStack(project.ref), "test");
        assert.deepStrictEqual(live.split(), { v1: 100 });
        // At 10% the rollback's update of the route meets a deleted object (the state still has it).
        const stack = await openStack(project.ref);
        setProjectConfig(stack, (c) => { c.canaryWeight = 10; });
        await upStack(stack);
        assert.deepStrictEqual(live.split(), { v1: 90, v2: 10 });
        kubectl(["delete", vsKind, "model-virtual-service", "-n", "default"]);
        await rollbackStack(stack, "test");
        assert.deepStrictEqual(live.split(), { v1: 100 });
        assert.strictEqual(readProjectConfig(project.dir, "test").canaryWeight, 0);
    });

    it("`up` with the config unchanged takes back a hand edit, and creates a deleted VirtualService again", async () => {
        patchHalf();
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(changed(up.steps), ["update model-vs"]);
        assert.deepStrictEqual(live.split(), { v1: 100 });
        kubectl(["delete", vsKind, "model-virtual-service", "-n", "default"]);
        const again = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(changed(again.steps), ["create model-vs"]);
        assert.deepStrictEqual(live.split(), { v1: 100 });
        // Nothing drifted: nothing changes, and the reads are not counted as changes.
        const quiet = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(changed(quiet.steps), []);
    });

    it("a weight step after the VirtualService was deleted creates it at the step's weight", async () => {
        kubectl(["delete", vsKind, "model-virtual-service", "-n", "default"]);
        const stack = await openStack(project.ref);
        setProjectConfig(stack, (c) => { c.canaryWeight = 10; });
        // What a rollout step runs (rollout/runner.ts applyTraffic): an `up` of the model.
        const step = await upStack(stack, { model: "model" });
        assert.deepStrictEqual(changed(step.steps), ["create model-vs"]);
        assert.deepStrictEqual(live.split(), { v1: 90, v2: 10 });
        patchHalf();
        setProjectConfig(stack, (c) => { c.canaryWeight = 1; });
        await upStack(stack, { model: "model" });
        assert.deepStrictEqual(live.split(), { v1: 99, v2: 1 });
    });

    it("the rollback's read-back names what is live when the route does not send everything to stable", async () => {
        // A route set by hand that no `up` ran after: what the read-back reports about it.
        patchHalf();
        const stack = await openStack(project.ref);
        const model = selectModel(checkConfig(stack), undefined, "test");
        assert.deepStrictEqual(await checkLiveRollback(checkConfig(stack), model), { problems: ["the default route sends v1 50, v2 50"], otherManagers: ["incident-responder"] });
        await rollbackStack(stack, "test");
        assert.deepStrictEqual(await checkLiveRollback(checkConfig(stack), model), { problems: [], otherManagers: [] });
    });

    it("`kubectl scale` of the canary shows in `status` (live next to applied) and stops the next `up`", async () => {
        setProjectConfig(await openStack(project.ref), (c) => { c.canaryWeight = 1; });
        kubectl(["scale", "deployment", "model-v2", "-n", "default", "--replicas", "1"]);
        const json = cli(["status", "--json"]);
        assert.strictEqual(json.status, 0, json.stderr);
        const report = JSON.parse(json.stdout);
        assert.deepStrictEqual(report.applied.replicas, { v1: 3, v2: 3 });
        assert.deepStrictEqual(report.live.replicas.v2.replicas, 1);
        assert.deepStrictEqual(report.live.replicas.v1, { replicas: 3, availableReplicas: 3 });
        const text = cli(["status"]);
        assert.match(text.stdout, /v2 runs 1 replica in the cluster, 3 are applied \(scaled outside model-canary\): the next `up` or rollout step stops on it/);
        const vsVersion = live.get(vsKind, "model-virtual-service").metadata.resourceVersion;
        await assert.rejects(upStack(await openStack(project.ref)), (e: StackOperationError) => {
            assert.strictEqual(e.kind, "conflict", e.message);
            assert.match(e.message, /Deployment `default\/model-v2`/);
            assert.match(e.message, /\.spec\.replicas/);
            return true;
        });
        assert.strictEqual(live.get("deployment", "model-v2").spec.replicas, 1);
        assert.strictEqual(live.get(vsKind, "model-virtual-service").metadata.resourceVersion, vsVersion);
        // A rollback is not stopped by it: it does not read the Deployments, only its route back.
        patchHalf();
        await rollbackStack(await openStack(project.ref), "test");
        assert.deepStrictEqual(live.split(), { v1: 100 });
        assert.strictEqual(live.get("deployment", "model-v2").spec.replicas, 1);
        kubectl(["scale", "deployment", "model-v2", "-n", "default", "--replicas", "3"]);
        live.waitAvailable("model-v2");
    });

    it("`promote` with the canary not Available is refused, naming it, and the stable Deployment stays", async () => {
        const stack = await openStack(project.ref);
        setProjectConfig(stack, (c) => { c.canaryWeight = 100; });
        await upStack(stack);
        assert.deepStrictEqual(live.split(), { v2: 100 });
        // Its pods go and cannot come back: the only node takes no new pods.
        kubectl(["cordon", cp.node]);
        try {
            kubectl(["delete", "pods", "-n", "default", "-l", "app=model,version=v2", "--wait=true"]);
            const deadline = Date.now() + 60_000;
            while (live.get("deployment", "model-v2").status.conditions.find((c: any) => c.type === "Available").status !== "False" && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 200));
            }
            const v1 = live.get("deployment", "model-v1").metadata.uid;
            await assert.rejects(promoteStack(stack), (e: StackOperationError) => {
                assert.strictEqual(e.kind, "refused", e.message);
                assert.match(e.message, /Deployment default\/model-v2 is not Available \(0 of 3 replicas/);
                assert.match(e.message, /promoting deletes Deployment default\/model-v1 \(v1\).*Nothing was changed/);
                return true;
            });
            assert.strictEqual(live.get("deployment", "model-v1").metadata.uid, v1);
            assert.strictEqual(live.get("deployment", "model-v1").status.availableReplicas, 3);
            assert.deepStrictEqual(readProjectConfig(project.dir, "test").canary, canary);
            assert.deepStrictEqual((await readOutputs(stack)).split, { v2: 100 });
        } finally {
            kubectl(["uncordon", cp.node]);
        }
        // Ready again: promotion goes ahead.
        live.waitAvailable("model-v2");
        await promoteStack(stack);
        assert.strictEqual(live.get("deployment", "model-v1"), undefined);
    });

    it("`status` names a hand edit of the live DestinationRule (the removed outlier detection, a subset's labels); `up` takes it back", async () => {
        const drKind = "destinationrules.networking.istio.io";
        // Since the promotion above: v2 alone, in subset v2.
        const rendered = live.get(drKind, "model-destination").spec;
        assert.deepStrictEqual(rendered, { host: "model-service", trafficPolicy, subsets: [{ name: "v2", labels: { version: "v2" } }] });
        kubectl(["patch", drKind, "model-destination", "-n", "default", "--type", "json", "--field-manager", "incident-responder",
            "-p", JSON.stringify([{ op: "remove", path: "/spec/trafficPolicy/outlierDetection" }, { op: "replace", path: "/spec/subsets/0/labels", value: { version: "v9" } }])]);
        const drifted = (await stackStatus(project.ref)) as any;
        assert.deepStrictEqual([drifted.live.drift, drifted.live.differences], [true, [
            "DestinationRule `default/model-destination` trafficPolicy.outlierDetection: live none, config {\"baseEjectionTime\":\"30s\",\"consecutive5xxErrors\":5,\"interval\":\"10s\"}",
            "DestinationRule `default/model-destination` subset `v2` labels: live version=v9, config version=v2",
        ]]);
        const text = cli(["status"]);
        assert.strictEqual(text.status, 0, text.stderr);
        assert.match(text.stdout, /the live DestinationRule differs from the config \(changed in the cluster, or config not applied yet\): DestinationRule `default\/model-destination` trafficPolicy\.outlierDetection: live none, .*; DestinationRule `default\/model-destination` subset `v2` labels: live version=v9, config version=v2; `up` takes it back/);
        assert.doesNotMatch(text.stdout, /the live VirtualService differs/);
        // The provider's server-side apply takes the fields back from the other field manager (the DestinationRule's patchForce).
        assert.deepStrictEqual(changed((await upStack(await openStack(project.ref))).steps), ["update model-dr"]);
        assert.deepStrictEqual(live.get(drKind, "model-destination").spec, rendered);
        assert.deepStrictEqual(((await stackStatus(project.ref)) as any).live.differences, []);
        // A kind the API server does not serve is told from a missing object (both answer 404).
        const api = connect({ kubeconfig: cp.kubeconfig });
        assert.deepStrictEqual(await Promise.all([
            getObjectIfServed(api, "networking.istio.io/v1", "destinationrules", "default", "gone"),
            getObjectIfServed(api, "networking.istio.io/v9", "destinationrules", "default", "model-destination"),
            getObjectIfServed(api, "networking.istio.io/v1", "nosuchkinds", "default", "model-destination"),
        ]), ["absent", "unserved", "unserved"]);
    });
});

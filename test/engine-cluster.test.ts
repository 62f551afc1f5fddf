// Through the real engine against a real API server: the local control plane (cluster/), the
// Pulumi CLI and Kubernetes provider from `npm run toolchain`, and a local file backend. Every
// assertion reads the objects back from the API server.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import { promoteStack, rollbackStack } from "../rollout/runner";
import { openStack, previewStack, readOutputs, setProjectConfig, StackOperationError, upStack } from "../stacks/operations/automation";
import { ClusterReader, clusterReader } from "./support/cluster";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

/** Rewrites a project's stack config with exactly these keys (no renderDir added). */
function makeProjectConfig(project: TestProject, config: Record<string, unknown>): void {
    const file = path.join(project.dir, `Pulumi.${project.ref.stack}.yaml`);
    const settings = YAML.parse(fs.readFileSync(file, "utf8"));
    settings.config = Object.fromEntries(Object.entries(config).map(([k, v]) => [`model-canary:${k}`, v]));
    fs.writeFileSync(file, YAML.stringify(settings));
}

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 3 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 3 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const seed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable, canary, headerRoutes: [testers] };

const changedNames = (steps: { op: string; name: string }[]) => steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`);

describe("through the real engine against a local control plane", function () {
    this.timeout(300_000);
    let cp: cluster.ControlPlane;
    let project: TestProject;
    let live: ClusterReader;
    /** What must not change across weight steps: Deployment generations and pod UIDs. */
    let workloads: () => Record<string, unknown>;
    const kubectl = (args: string[]) => cluster.kubectl(cp, args);
    /** `model-canary status` of the test stack, as a user runs it. */
    const status = (json = true) => {
        const r = spawnSync(process.execPath, [sourceCli, "status", "--stack", "test", ...(json ? ["--json"] : []), "--cwd", project.dir, "--backend", project.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: project.ref.toolchainDir },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    before(async function () {
        this.timeout(900_000); // may build the control plane on first use
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
        project = makeProject("test", { kubeconfig: cp.kubeconfig });
        workloads = () => Object.fromEntries(["v1", "v2"].map((v) => {
            const d = live.get("deployment", `model-${v}`);
            return [v, { generation: d?.metadata.generation, pods: live.podUids(v) }];
        }));
    });
    after(async () => {
        project?.remove();
        if (cp) await cluster.stop(cp);
    });

    it("`up` at 1% creates the Deployments (Available), the Service, the DestinationRule and a 99/1 VirtualService", async () => {
        project.writeConfig({ ...seed, canaryWeight: 1 });
        const stack = await openStack(project.ref, { create: true });
        const result = await upStack(stack);
        assert.deepStrictEqual(result.steps.filter((s) => s.op === "create").map((s) => s.name).sort(),
            ["kubernetes", "model", "model-canary-test", "model-dr", "model-svc", "model-v1", "model-v2", "model-vs"]);
        for (const v of ["v1", "v2"]) {
            live.waitAvailable(`model-${v}`);
            const d = live.get("deployment", `model-${v}`);
            assert.strictEqual(d.status.availableReplicas, 3);
            assert.deepStrictEqual(d.spec.selector.matchLabels, { app: "model", version: v });
            assert.strictEqual(live.podUids(v).length, 3);
        }
        const service = live.get("service", "model-service");
        assert.deepStrictEqual(service.spec.selector, { app: "model" });
        // The first `up` does not sit on the Service waiting for endpoints (the Deployments' await covers the pods).
        assert.strictEqual(service.metadata.annotations["pulumi.com/skipAwait"], "true");
        assert.doesNotMatch(result.stdout, /Finding Pods to direct traffic to|Attempting to allocate IP address/);
        const dr = live.get("destinationrules.networking.istio.io", "model-destination");
        assert.strictEqual(dr.apiVersion, "networking.istio.io/v1");
        assert.deepStrictEqual(dr.spec.subsets, [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }]);
        const vs = live.get("virtualservices.networking.istio.io", "model-virtual-service");
        assert.deepStrictEqual(vs.spec.hosts, ["model-service"]);
        assert.deepStrictEqual(vs.spec.http[0].match, [{ headers: { "x-canary-version": { exact: "v2" } } }]);
        assert.deepStrictEqual(vs.spec.http[0].route, [{ destination: { host: "model-service", subset: "v2" }, weight: 100 }]);
        assert.deepStrictEqual(live.split(), { v1: 99, v2: 1 });
    });

    for (const [weight, split] of [[10, { v1: 90, v2: 10 }], [50, { v1: 50, v2: 50 }], [100, { v2: 100 }]] as const) {
        it(`a step to ${weight}% changes only the VirtualService: Deployment generations and pod UIDs stay`, async () => {
            const before = workloads();
            const drVersion = live.get("destinationrules.networking.istio.io", "model-destination").metadata.resourceVersion;
            const svcVersion = live.get("service", "model-service").metadata.resourceVersion;
            project.writeConfig({ ...seed, canaryWeight: weight });
            const up = await upStack(await openStack(project.ref));
            assert.deepStrictEqual(changedNames(up.steps), ["update model-vs"]);
            assert.deepStrictEqual(live.split(), split);
            assert.deepStrictEqual(workloads(), before);
            assert.strictEqual(live.get("destinationrules.networking.istio.io", "model-destination").metadata.resourceVersion, drVersion);
            assert.strictEqual(live.get("service", "model-service").metadata.resourceVersion, svcVersion);
        });
    }

    it("the live VirtualService carries the stack's routing record; a plain `pulumi up` of settings written before the steps is refused and the live route stays", async () => {
        const record = (await readOutputs(await openStack(project.ref))).routingRecord as { revision: number; appliedBy: string; appliedAt: string };
        assert.strictEqual(record.revision, 3);
        const annotations = live.get("virtualservices.networking.istio.io", "model-virtual-service").metadata.annotations;
        assert.deepStrictEqual([annotations["model-canary/routing-revision"], annotations["model-canary/routing-applied-by"], annotations["model-canary/routing-applied-at"]], ["3", record.appliedBy, record.appliedAt]);
        // The settings as the first `up` left them: 1%, no revision (0).
        const file = path.join(project.dir, "Pulumi.test.yaml");
        const text = fs.readFileSync(file, "utf8");
        project.writeConfig({ ...seed, canaryWeight: 1, routingRevision: 0 });
        try {
            const r = runPulumi(project, ["up", "--yes", "--skip-preview"]);
            assert.notStrictEqual(r.status, 0, r.output);
            assert.ok(r.output.includes(`the routing of stack \`test\` is at revision 3, applied by ${record.appliedBy} at ${record.appliedAt}, but Pulumi.test.yaml has \`routingRevision\` 0`), r.output);
            assert.deepStrictEqual(live.split(), { v2: 100 });
        } finally {
            fs.writeFileSync(file, text);
        }
    });

    it("header routes are applied in order before the split", async () => {
        const before = workloads();
        const beta = { header: "x-user-group", prefix: "beta-", version: "v2" };
        project.writeConfig({ ...seed, canaryWeight: 50, headerRoutes: [testers, beta] });
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(changedNames(up.steps), ["update model-vs"]);
        const http = live.get("virtualservices.networking.istio.io", "model-virtual-service").spec.http;
        assert.strictEqual(http.length, 3);
        assert.deepStrictEqual(http[0].match, [{ headers: { "x-canary-version": { exact: "v2" } } }]);
        assert.deepStrictEqual(http[1].match, [{ headers: { "x-user-group": { prefix: "beta-" } } }]);
        assert.deepStrictEqual(http[1].route, [{ destination: { host: "model-service", subset: "v2" }, weight: 100 }]);
        assert.deepStrictEqual(live.split(), { v1: 50, v2: 50 });
        assert.deepStrictEqual(workloads(), before);
    });

    it("`preview` against the cluster shows the next step as one update of the VirtualService and changes nothing", async () => {
        const vsVersion = live.get("virtualservices.networking.istio.io", "model-virtual-service").metadata.resourceVersion;
        project.writeConfig({ ...seed, canaryWeight: 10, headerRoutes: [testers] });
        const preview = await previewStack(await openStack(project.ref));
        assert.deepStrictEqual(changedNames(preview.steps), ["update model-vs"]);
        assert.match(preview.stdout, /v1: 50 => 90/);
        assert.strictEqual(live.get("virtualservices.networking.istio.io", "model-virtual-service").metadata.resourceVersion, vsVersion);
        assert.deepStrictEqual(live.split(), { v1: 50, v2: 50 });
    });

    it("a weight step takes the VirtualService back from a hand edit (another field manager)", async () => {
        project.writeConfig({ ...seed, canaryWeight: 50 });
        await upStack(await openStack(project.ref));
        // An incident-time hand edit: everything to v1, by kubectl's field manager.
        kubectl(["patch", "virtualservices.networking.istio.io", "model-virtual-service", "-n", "default", "--type", "json", "--field-manager", "incident-responder",
            "-p", JSON.stringify([{ op: "replace", path: "/spec/http/1/route/0/weight", value: 100 }, { op: "replace", path: "/spec/http/1/route/1/weight", value: 0 }])]);
        assert.deepStrictEqual(live.split(), { v1: 100, v2: 0 });
        // `status` reads the live VirtualService and shows the drift.
        const drifted = status();
        assert.strictEqual(drifted.status, 0, drifted.stderr);
        const report = JSON.parse(drifted.stdout);
        assert.deepStrictEqual(report.applied.split, { v1: 50, v2: 50 });
        const both = { v1: { replicas: 3, availableReplicas: 3 }, v2: { replicas: 3, availableReplicas: 3 } };
        assert.deepStrictEqual(report.live, { split: { v1: 100, v2: 0 }, drift: true, differences: ["split: live v1 100, v2 0, config v1 50, v2 50"], replicas: both });
        assert.match(status(false).stdout, /the live VirtualService differs from the config .*: split: live v1 100, v2 0, config v1 50, v2 50; `up` takes it back \(it reads the cluster first\)/);
        project.writeConfig({ ...seed, canaryWeight: 10 });
        const up = await upStack(await openStack(project.ref));
        assert.deepStrictEqual(changedNames(up.steps), ["update model-vs"]);
        assert.deepStrictEqual(live.split(), { v1: 90, v2: 10 });
        const managers = JSON.parse(kubectl(["get", "virtualservices.networking.istio.io", "model-virtual-service", "-n", "default", "-o", "json", "--show-managed-fields"])).metadata.managedFields.map((m: any) => m.manager);
        assert.ok(!managers.includes("incident-responder"), `still managed by ${managers.join(", ")}`);
        assert.deepStrictEqual(JSON.parse(status().stdout).live, { split: { v1: 90, v2: 10 }, drift: false, differences: [], replicas: both });
    });

    it("a conflict on another object (kubectl scale) fails the step with its cause and the fix, and applies nothing", async () => {
        kubectl(["scale", "deployment", "model-v2", "-n", "default", "--replicas", "4"]);
        const vsVersion = live.get("virtualservices.networking.istio.io", "model-virtual-service").metadata.resourceVersion;
        project.writeConfig({ ...seed, canaryWeight: 50, canary: { ...canary, replicas: 2 } });
        await assert.rejects(upStack(await openStack(project.ref)), (e: StackOperationError) => {
            assert.strictEqual(e.kind, "conflict", e.message);
            assert.match(e.message, /Deployment `default\/model-v2`/);
            assert.match(e.message, /\.spec\.replicas/);
            assert.match(e.message, /kubectl/);
            assert.match(e.message, /PULUMI_K8S_ENABLE_PATCH_FORCE=true/);
            return true;
        });
        assert.strictEqual(live.get("deployment", "model-v2").spec.replicas, 4);
        assert.strictEqual(live.get("virtualservices.networking.istio.io", "model-virtual-service").metadata.resourceVersion, vsVersion);
        assert.deepStrictEqual(live.split(), { v1: 90, v2: 10 });
        // Put the stack back to what the remaining tests expect.
        kubectl(["scale", "deployment", "model-v2", "-n", "default", "--replicas", "3"]);
    });

    it("rollback sends everything to stable and drops the canary's header routes; the canary's pods stay", async () => {
        project.writeConfig({ ...seed, canaryWeight: 50 });
        const before = workloads();
        await rollbackStack(await openStack(project.ref), "test rollback");
        const vs = live.get("virtualservices.networking.istio.io", "model-virtual-service");
        assert.strictEqual(vs.spec.http.length, 1);
        assert.deepStrictEqual(live.split(), { v1: 100 });
        assert.deepStrictEqual(workloads(), before);
        const outputs = await readOutputs(await openStack(project.ref));
        assert.deepStrictEqual(outputs.split, { v1: 100 });
        assert.deepStrictEqual(outputs.headerRoutes, []);
    });

    it("promotion at 100% keeps v2's pods (same UIDs) and deletes v1's Deployment and pods", async () => {
        project.writeConfig({ ...seed, canaryWeight: 100 });
        await upStack(await openStack(project.ref));
        assert.deepStrictEqual(live.split(), { v2: 100 });
        const v2Before = workloads().v2;
        await promoteStack(await openStack(project.ref));
        assert.deepStrictEqual(workloads().v2, v2Before);
        assert.strictEqual(live.get("deployment", "model-v1"), undefined);
        assert.deepStrictEqual(live.split(), { v2: 100 });
        assert.deepStrictEqual(live.get("destinationrules.networking.istio.io", "model-destination").spec.subsets, [{ name: "v2", labels: { version: "v2" } }]);
        // The old stable's pods go with their Deployment (garbage collection).
        const deadline = Date.now() + 60_000;
        while (live.podUids("v1").length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        assert.deepStrictEqual(live.podUids("v1"), []);
    });

    describe("render mode next to a cluster", () => {
        let rendered: TestProject;
        const other = { app: "rendered", stable, canary, canaryWeight: 10 };
        after(() => rendered?.remove());

        it("ignores KUBECONFIG in the environment: it renders, and nothing reaches the cluster", async () => {
            rendered = makeProject("rendered");
            rendered.writeConfig(other);
            const stack = await openStack({ ...rendered.ref, env: { KUBECONFIG: cp.kubeconfig } }, { create: true });
            const up = await upStack(stack);
            assert.deepStrictEqual(up.changes, { create: 8 });
            assert.deepStrictEqual(up.outputs.target, { mode: "render", renderDir: "rendered" });
            assert.deepStrictEqual([...rendered.rendered().keys()].sort(), [
                "Deployment/rendered-v1", "Deployment/rendered-v2", "DestinationRule/rendered-destination", "Service/rendered-service", "VirtualService/rendered-virtual-service",
            ]);
            assert.strictEqual(live.get("deployment", "rendered-v1"), undefined);
        });

        it("moving that stack to the cluster is refused with the way to do it, and nothing is applied", async () => {
            const digest = rendered.renderedDigest();
            const settings = JSON.stringify(rendered.rendered().get("Deployment/rendered-v1"));
            // Same stack, now with a kubeconfig.
            makeProjectConfig(rendered, { ...other, kubeconfig: cp.kubeconfig });
            const stack = await openStack(rendered.ref);
            for (const operation of [() => previewStack(stack), () => upStack(stack)]) {
                await assert.rejects(operation(), (e: StackOperationError) => {
                    assert.strictEqual(e.kind, "validation");
                    assert.match(e.message, /stack `rendered` renders manifests .* would replace every object\. Nothing was applied\./);
                    assert.match(e.message, /pulumi stack init <name> --copy-config-from rendered/);
                    assert.match(e.message, /pulumi destroy/);
                    return true;
                });
            }
            assert.strictEqual(live.get("deployment", "rendered-v1"), undefined);
            assert.strictEqual(rendered.renderedDigest(), digest);
            assert.strictEqual(JSON.stringify(rendered.rendered().get("Deployment/rendered-v1")), settings);
        });
    });

    it("with a stack per model, each model's objects come from its own stack: one model's step and rollback change its VirtualService only", async () => {
        const split = makeProject("split", { kubeconfig: cp.kubeconfig });
        try {
            split.writeConfig({
                stackPerModel: true,
                models: {
                    fraud: { stable: { version: "v1", image: "registry/fraud:v1" }, canary: { version: "v2", image: "registry/fraud:v2" }, canaryWeight: 1 },
                    churn: { stable: { version: "v7", image: "registry/churn:v7" } },
                },
            });
            const stack = await openStack(split.ref, { create: true });
            const first = await upStack(stack);
            // fraud's stack: its Stack, provider, component, two Deployments, Service, DestinationRule, VirtualService; churn's one Deployment fewer.
            assert.deepStrictEqual(first.changes, { create: 15 });
            const weights = (model: string) => Object.fromEntries(live.get("virtualservices.networking.istio.io", `${model}-virtual-service`).spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
            assert.deepStrictEqual([weights("fraud"), weights("churn")], [{ v1: 99, v2: 1 }, { v7: 100 }]);
            assert.deepStrictEqual(["fraud-v1", "fraud-v2", "churn-v7"].map((d) => live.get("deployment", d)?.status?.availableReplicas), [1, 1, 1]);
            const churnVersion = live.get("virtualservices.networking.istio.io", "churn-virtual-service").metadata.resourceVersion;
            const pods = [live.podUids("v1", "fraud"), live.podUids("v2", "fraud"), live.podUids("v7", "churn")];

            setProjectConfig(stack, (c) => { (c.models as Record<string, Record<string, unknown>>).fraud.canaryWeight = 10; });
            const step = await upStack(stack, { model: "fraud" });
            assert.deepStrictEqual(changedNames(step.steps), ["update fraud-vs"]);
            assert.deepStrictEqual(weights("fraud"), { v1: 90, v2: 10 });
            await rollbackStack(stack, "test", "fraud");
            assert.deepStrictEqual(weights("fraud"), { v1: 100 });
            assert.strictEqual(live.get("virtualservices.networking.istio.io", "churn-virtual-service").metadata.resourceVersion, churnVersion);
            assert.deepStrictEqual([live.podUids("v1", "fraud"), live.podUids("v2", "fraud"), live.podUids("v7", "churn")], pods);
        } finally {
            split.remove();
        }
    });

    it("a cluster without Istio's CRDs is refused before anything is applied, naming the missing kinds and the fix", async () => {
        // Last: takes the Istio kinds away from this cluster.
        kubectl(["delete", "crd", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io", "--wait=true"]);
        const bare = makeProject("bare", { kubeconfig: cp.kubeconfig });
        try {
            bare.writeConfig({ app: "bare", stable, canary, canaryWeight: 10 });
            const stack = await openStack(bare.ref, { create: true });
            for (const operation of [() => previewStack(stack), () => upStack(stack)]) {
                await assert.rejects(operation(), (e: StackOperationError) => {
                    assert.match(e.message, /does not serve DestinationRule and VirtualService at networking\.istio\.io\/v1 \(`istioApiVersion`\); nothing was applied\./);
                    assert.match(e.message, /Install Istio's CRDs first: `istioctl install`/);
                    assert.match(e.message, new RegExp(`https://127\\.0\\.0\\.1:\\d+ \\(context model-canary-local\\)`));
                    return true;
                });
            }
            assert.strictEqual(live.get("deployment", "bare-v1"), undefined);
            assert.strictEqual(live.get("service", "bare-service"), undefined);
            assert.deepStrictEqual((await readOutputs(stack)), {});
        } finally {
            bare.remove();
        }
    });
});

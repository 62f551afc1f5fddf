// Wall time of `pulumi up` for one weight step of the embedded default (Pulumi.dev.yaml), in
// render mode and against the local control plane (cluster/), next to the same engine, language
// host and provider running a one-resource program (the engine's floor); and the first `up` of
// the stack against the cluster. All run through the Automation API, alternating, in this process.
//   npm run -s bench:step [-- RUNS]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import * as auto from "@pulumi/pulumi/automation";
import { openStack, projectDir, setProjectConfig, StackRef, toolchainDir, upStack } from "../stacks/operations/automation";
import { readProjectConfig } from "../stacks/config/settings";
import { makeProject, TestProject } from "../test/support/engine";
import { median, seconds, timed } from "./support";

const runs = Number(process.argv[2] ?? 7);

/** A throwaway copy of this project holding the dev stack's config (the embedded default). */
function canaryProject(kubeconfig?: string): TestProject {
    const project = makeProject("bench", { kubeconfig });
    project.writeConfig(readProjectConfig(projectDir, "dev"));
    return project;
}

/** The floor: one ConfigMap through the same Kubernetes provider in render mode. */
function floorProject(root: string): string {
    const dir = path.join(root, "floor");
    fs.mkdirSync(dir);
    fs.symlinkSync(path.join(projectDir, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: floor\nruntime: nodejs\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "floor", main: "index.ts" }));
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, module: "commonjs", moduleResolution: "node", target: "ES2022", esModuleInterop: true } }));
    fs.writeFileSync(path.join(dir, "index.ts"), [
        'import * as k8s from "@pulumi/kubernetes";',
        'import * as pulumi from "@pulumi/pulumi";',
        `const provider = new k8s.Provider("render", { renderYamlToDirectory: ${JSON.stringify(path.join(dir, "rendered"))} });`,
        'new k8s.core.v1.ConfigMap("one", { metadata: { labels: { step: new pulumi.Config().require("step") } }, data: { model: "ranker" } }, { provider });',
        "",
    ].join("\n"));
    fs.writeFileSync(path.join(dir, "Pulumi.bench.yaml"), YAML.stringify({ config: { "floor:step": "0" } }));
    return dir;
}

/**
 * The floor's stack, created through the Automation API directly: `openStack` creates a stack only
 * once its settings validate as a model-canary config, and the floor's hold none.
 */
async function openFloor(ref: StackRef, workDir: string): Promise<auto.Stack> {
    const bin = ref.toolchainDir ?? toolchainDir();
    const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(bin) });
    const envVars = {
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_BACKEND_URL: ref.backendUrl ?? "",
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    const workspace = await auto.LocalWorkspace.create({ workDir, envVars, pulumiCommand });
    return auto.Stack.create(ref.stack, workspace);
}

async function main(): Promise<void> {
    const project = canaryProject();
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-bench-"));
    const cp = await cluster.start({ stopOnExit: true });
    const onCluster = canaryProject(cp.kubeconfig);
    try {
        const canary = await openStack(project.ref, { create: true });
        const live = await openStack(onCluster.ref, { create: true });
        const floor = await openFloor(project.ref, floorProject(root));
        await upStack(canary);
        const [firstMs, first] = await timed(() => upStack(live));
        if (first.changes.create !== 8) throw new Error(`the first up should create 8 resources, got ${JSON.stringify(first.changes)}`);
        console.log(`first up against the cluster (2 Deployments Available, Service, DestinationRule, VirtualService): ${seconds(firstMs)}`);
        await floor.up({ color: "never" });
        const stepTimes: number[] = [];
        const clusterTimes: number[] = [];
        const floorTimes: number[] = [];
        for (let i = 0; i < runs; i++) {
            const weight = i % 2 ? 1 : 10;
            setProjectConfig(canary, (c) => { c.canaryWeight = weight; });
            const [stepMs, step] = await timed(() => upStack(canary));
            if (step.changes.update !== 1) throw new Error(`a weight step should update exactly one resource, got ${JSON.stringify(step.changes)}`);
            setProjectConfig(live, (c) => { c.canaryWeight = weight; });
            const [clusterMs, onLive] = await timed(() => upStack(live));
            if (onLive.changes.update !== 1) throw new Error(`a weight step on the cluster should update exactly one resource, got ${JSON.stringify(onLive.changes)}`);
            await floor.setConfig("floor:step", { value: String(i + 1) });
            // Not upStack: the floor is not this project, so its config is not checked as ours.
            const [floorMs, one] = await timed(() => floor.up({ color: "never" }));
            if (one.summary.resourceChanges?.update !== 1) throw new Error(`the floor should update its one resource, got ${JSON.stringify(one.summary.resourceChanges)}`);
            stepTimes.push(stepMs);
            clusterTimes.push(clusterMs);
            floorTimes.push(floorMs);
            console.log(`run ${i + 1}/${runs}: weight step rendered ${seconds(stepMs)}, on the cluster ${seconds(clusterMs)}, one-resource floor ${seconds(floorMs)}`);
        }
        console.log(`weight step up (render): median ${seconds(median(stepTimes))} over ${runs} runs, ${(median(stepTimes) / median(floorTimes)).toFixed(2)}x the floor (aim: <= 1.5x)`);
        console.log(`weight step up (cluster): median ${seconds(median(clusterTimes))} over ${runs} runs, ${(median(clusterTimes) / median(floorTimes)).toFixed(2)}x the floor`);
        console.log(`one-resource up (floor, render): median ${seconds(median(floorTimes))} over ${runs} runs`);
    } finally {
        project.remove();
        onCluster.remove();
        fs.rmSync(root, { recursive: true, force: true });
        await cluster.stop(cp);
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});

// What one weight step costs, each way it is taken, against the engine's floor, in one run and
// alternating, in render mode (issue 21):
//   floor       `pulumi up` of a one-ConfigMap TypeScript program, transpile-only (`noCheck`,
//               swc, as this project's program runs), same CLI, language host and provider;
//   pulumi up   a weight step of the embedded default (Pulumi.dev.yaml) by a plain `pulumi up`;
//   command up  the same step through `model-canary up` (the compiled command, a process of its own);
//   rollback    `model-canary rollback` after a rollout (weight back to 0);
//   rollout     a rollout's second step (step-start to step-applied, `runRollout` in this process,
//               as the `rollout` command runs it), against a real Prometheus.
// Each a median of RUNS (default 5), wall time and CPU (this process and the children it waited
// for), each as a ratio to the floor, with the load average before, during and after.
//   npm run -s bench:step [-- RUNS]
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { projectDir, toolchainDir } from "../stacks/operations/automation";
import { readProjectConfig } from "../stacks/config/settings";
import { resolvePlan } from "../stacks/config/rollout-plan";
import { runRollout } from "../rollout/runner";
import { makeProject } from "../test/support/engine";
import { startIstioExporter } from "../test/support/istio-exporter";
import { startPrometheus } from "../test/support/prometheus";
import { median, seconds, treeCpuMs } from "./support";

const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`RUNS must be a positive integer, got ${JSON.stringify(process.argv[2])}`);

const bin = toolchainDir();
const loads: number[] = [];
const load = () => {
    const l = os.loadavg()[0];
    loads.push(l);
    return l.toFixed(2);
};

/** The environment the commands give `pulumi` (stacks/operations/automation.ts), for `backend`. */
function pulumiEnv(backend: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
        PULUMI_BACKEND_URL: backend,
        PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        MODEL_CANARY_TOOLCHAIN: bin,
    };
}

/** Runs a command to its end; refuses a non-zero exit with its output. Wall and CPU ms. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ wallMs: number; cpuMs: number; out: string }> {
    const cpu = treeCpuMs();
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        const out: string[] = [];
        child.stdout.setEncoding("utf8").on("data", (c: string) => out.push(c));
        child.stderr.setEncoding("utf8").on("data", (c: string) => out.push(c));
        child.on("error", reject);
        child.on("close", (code) => {
            const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
            if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${out.join("")}`));
            resolve({ wallMs, cpuMs: treeCpuMs() - cpu, out: out.join("") });
        });
    });
}

/** The floor's project: one ConfigMap, this project's compiler options and ts-node settings (noCheck, swc). */
function floorProject(root: string): string {
    const dir = path.join(root, "floor");
    fs.mkdirSync(path.join(dir, "state"), { recursive: true });
    fs.symlinkSync(path.join(projectDir, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: floor\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "floor", main: "index.ts" }));
    const own = JSON.parse(fs.readFileSync(path.join(projectDir, "tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, "")) as { compilerOptions: Record<string, unknown>; "ts-node"?: unknown };
    const { types: _types, outDir: _outDir, ...compilerOptions } = own.compilerOptions;
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, "ts-node": own["ts-node"], files: ["index.ts"] }));
    fs.writeFileSync(path.join(dir, "index.ts"), [
        'import * as k8s from "@pulumi/kubernetes";',
        'import * as pulumi from "@pulumi/pulumi";',
        'const provider = new k8s.Provider("render", { renderYamlToDirectory: "rendered" });',
        'new k8s.core.v1.ConfigMap("one", { metadata: { labels: { step: new pulumi.Config().require("step") } }, data: { model: "ranker" } }, { provider });',
        "",
    ].join("\n"));
    fs.writeFileSync(path.join(dir, "Pulumi.bench.yaml"), YAML.stringify({ config: { "floor:step": "0" } }));
    return dir;
}

/** Sets top-level keys of a stack's settings file, as an edit by hand would. */
function setConfig(file: string, values: Record<string, string>): void {
    const settings = YAML.parse(fs.readFileSync(file, "utf8"));
    settings.config = { ...settings.config, ...values };
    fs.writeFileSync(file, YAML.stringify(settings));
}

interface Measure { name: string; aim?: number; wall: number[]; cpu: number[] }

async function main(): Promise<void> {
    console.log(`load average at start: ${load()} (2 cores; a quiet machine is under 2)`);
    // The command is measured compiled, as it is installed.
    execFileSync("npm", ["run", "-s", "compile"], { cwd: projectDir, stdio: "inherit" });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-bench-"));
    const floorDir = floorProject(root);
    const floorBackend = `file://${path.join(floorDir, "state")}`;
    const exporter = await startIstioExporter();
    const prometheus = await startPrometheus({ targets: [exporter.target], scrapeInterval: "1s" });
    exporter.set("model-v1", { rps: 900, latencyMs: 80 });
    exporter.set("model-v2", { rps: 100, latencyMs: 80 });
    const project = makeProject("bench");
    const rollout = { prometheus: prometheus.url, steps: [10, 20], interval: "1s", tick: "1s", window: "5s", analysis: { minRequests: 1 } };
    project.writeConfig({ ...readProjectConfig(projectDir, "dev"), canaryWeight: 0, rollout });
    const settings = path.join(project.dir, "Pulumi.bench.yaml");
    const env = pulumiEnv(project.ref.backendUrl!);
    const command = (args: string[]) => run(process.execPath, [path.join(projectDir, "cli", "model-canary.js"), ...args, "--stack", "bench", "--cwd", project.dir, "--backend", project.ref.backendUrl!], project.dir, env);
    const pulumiUp = (dir: string, stackEnv: NodeJS.ProcessEnv) => run(path.join(bin, "pulumi"), ["up", "--yes", "--skip-preview", "--color", "never", "--stack", "bench", "--non-interactive"], dir, stackEnv);
    const m = {
        floor: { name: "floor: one ConfigMap, `pulumi up`", wall: [], cpu: [] } as Measure,
        plain: { name: "weight step, plain `pulumi up`", aim: 1.2, wall: [], cpu: [] } as Measure,
        up: { name: "weight step, `model-canary up`", aim: 0.8, wall: [], cpu: [] } as Measure,
        rollback: { name: "`model-canary rollback`", aim: 0.8, wall: [], cpu: [] } as Measure,
        rolloutStep: { name: "a rollout's second step", aim: 0.6, wall: [], cpu: [] } as Measure,
    };
    const add = (measure: Measure, r: { wallMs: number; cpuMs: number }) => { measure.wall.push(r.wallMs); measure.cpu.push(r.cpuMs); };
    try {
        // Warm: the stacks exist and the toolchain's version is known before the first measure.
        await command(["up"]);
        await run(path.join(bin, "pulumi"), ["stack", "init", "bench", "--non-interactive"], floorDir, pulumiEnv(floorBackend));
        await pulumiUp(floorDir, pulumiEnv(floorBackend));
        let weight = 0;
        for (let i = 0; i < runs; i++) {
            // The floor: one object changes.
            setConfig(path.join(floorDir, "Pulumi.bench.yaml"), { "floor:step": String(i + 1) });
            add(m.floor, await pulumiUp(floorDir, pulumiEnv(floorBackend)));
            // A plain `pulumi up` of a weight step, from settings at the stack's routing revision
            // (the program refuses older ones; the commands keep it current themselves).
            const record = JSON.parse(execFileSync(path.join(bin, "pulumi"), ["stack", "output", "routingRecord", "--json", "--stack", "bench", "--non-interactive"], { cwd: project.dir, env, encoding: "utf8" })) as { revision: number };
            weight = weight === 1 ? 2 : 1;
            setConfig(settings, { "model-canary:canaryWeight": String(weight), "model-canary:routingRevision": String(record.revision) });
            add(m.plain, await pulumiUp(project.dir, env));
            // The same step through the command.
            weight = weight === 3 ? 4 : 3;
            setConfig(settings, { "model-canary:canaryWeight": String(weight) });
            add(m.up, await command(["up"]));
            // A rollout from 0: its second step is measured; it passes and stays at 20.
            setConfig(settings, { "model-canary:canaryWeight": "0" });
            await command(["up"]);
            const started = new Map<number, { at: bigint; cpu: number }>();
            const record2 = await runRollout({
                ref: project.ref, plan: resolvePlan(rollout), onMessage: () => undefined,
                onEvent: (e) => {
                    if (e.type === "step-start") started.set(e.step.index, { at: process.hrtime.bigint(), cpu: treeCpuMs() });
                    const s = started.get(2);
                    if (e.type === "step-applied" && e.step.index === 2 && s) add(m.rolloutStep, { wallMs: Number(process.hrtime.bigint() - s.at) / 1e6, cpuMs: treeCpuMs() - s.cpu });
                },
            });
            if (record2.outcome !== "completed") throw new Error(`run ${i + 1}: the rollout should complete, got ${record2.outcome}: ${record2.message ?? ""}`);
            // Its rollback: every request back to stable.
            add(m.rollback, await command(["rollback"]));
            console.log(`run ${i + 1}/${runs} (load ${load()}): floor ${seconds(m.floor.wall[i])}, pulumi up ${seconds(m.plain.wall[i])}, model-canary up ${seconds(m.up.wall[i])}, rollout's 2nd step ${seconds(m.rolloutStep.wall[i] ?? NaN)}, rollback ${seconds(m.rollback.wall[i])}`);
        }
        const floorWall = median(m.floor.wall);
        const floorCpu = median(m.floor.cpu);
        console.log(`\nmedians of ${runs}, alternating, render mode; load average ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} (now ${load()}):`);
        for (const x of Object.values(m)) {
            const ratio = median(x.wall) / floorWall;
            const aim = x.aim === undefined ? "" : ` (aim <= ${x.aim}x: ${ratio <= x.aim ? "met" : "NOT met"})`;
            console.log(`  ${x.name.padEnd(36)} ${seconds(median(x.wall))} wall, ${ratio.toFixed(2)}x the floor${aim}; ${seconds(median(x.cpu))} CPU, ${(median(x.cpu) / floorCpu).toFixed(2)}x`);
        }
    } finally {
        await prometheus.stop();
        await exporter.close();
        project.remove();
        fs.rmSync(root, { recursive: true, force: true });
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});

// Scale: the first `up` of stacks of 1, 50 and 100 models (is it linear in the number of
// models: does the 50th-to-100th model add what the 1st-to-50th did?) and one model's weight step in a 100-model stack next to the step in a one-model
// stack (aim: at most 1.3x). Render mode, the real engine, local file backend, this process.
// Each step is measured three ways, alternating: the one-model stack, the 100-model stack
// stepping one model (`upStack({ model })`, a scoped update), and the same 100-model stack as a
// whole update (what every step cost before scoped updates).
//   npm run -s bench:scale [-- STEP_RUNS [FIRST_RUNS]]
import * as os from "os";
import { openStack, setProjectConfig, upStack } from "../stacks/automation";
import { makeProject, TestProject } from "../test/support/engine";
import { median, seconds, timedCpu } from "./support";

const stepRuns = Number(process.argv[2] ?? 7);
const firstRuns = Number(process.argv[3] ?? 3);
const sizes = [1, 50, 100];

/** `n` models named m0..m(n-1), each v1 stable and v2 canary at 1%. */
function modelsConfig(n: number): Record<string, unknown> {
    const models: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
        models[`m${i}`] = {
            app: `m${i}`,
            stable: { version: "v1", image: `registry/m${i}:v1` },
            canary: { version: "v2", image: `registry/m${i}:v2` },
            canaryWeight: 1,
        };
    }
    return { models };
}

function project(n: number): TestProject {
    const p = makeProject("scale");
    p.writeConfig(modelsConfig(n));
    return p;
}

function setWeight(stack: Awaited<ReturnType<typeof openStack>>, weight: number): void {
    setProjectConfig(stack, (c) => { (c.models as Record<string, { canaryWeight: number }>).m0.canaryWeight = weight; });
}

type Times = { wall: number[]; cpu: number[] };
const times = (): Times => ({ wall: [], cpu: [] });
const add = (t: Times, m: { wallMs: number; cpuMs: number }) => { t.wall.push(m.wallMs); t.cpu.push(m.cpuMs); };
const show = (m: { wallMs: number; cpuMs: number }) => `${seconds(m.wallMs)} (cpu ${seconds(m.cpuMs)})`;
const med = (t: Times) => ({ wall: median(t.wall), cpu: median(t.cpu) });

async function main(): Promise<void> {
    const made: TestProject[] = [];
    const cleanUp = () => { for (const p of made.splice(0)) p.remove(); };
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => { cleanUp(); process.exit(130); });
    try {
        // First `up`s, alternating sizes, each on a new stack.
        const firsts: Record<number, Times> = Object.fromEntries(sizes.map((n) => [n, times()]));
        for (let run = 0; run < firstRuns; run++) {
            for (const n of sizes) {
                const p = project(n);
                made.push(p);
                const stack = await openStack(p.ref, { create: true });
                const [t, result] = await timedCpu(() => upStack(stack));
                if (result.changes.create !== 2 + 6 * n) throw new Error(`the first up of ${n} models should create ${2 + 6 * n} resources, got ${JSON.stringify(result.changes)}`);
                add(firsts[n], t);
                console.log(`first up, ${n} model(s), run ${run + 1}/${firstRuns}: ${show(t)}, load ${os.loadavg()[0].toFixed(1)}`);
                // Only the last round's stacks are stepped below.
                if (run < firstRuns - 1) made.pop()!.remove();
            }
        }
        const one = await openStack(made[0].ref);
        const many = await openStack(made.at(-1)!.ref);
        const single = times();
        const scoped = times();
        const whole = times();
        for (let i = 0; i < stepRuns; i++) {
            const weight = i % 2 ? 1 : 10;
            setWeight(one, weight);
            const [oneT, oneStep] = await timedCpu(() => upStack(one, { model: "m0" }));
            if (oneStep.changes.update !== 1) throw new Error(`a step in the one-model stack should update one resource, got ${JSON.stringify(oneStep.changes)}`);
            setWeight(many, weight);
            const [scopedT, scopedStep] = await timedCpu(() => upStack(many, { model: "m0" }));
            if (scopedStep.changes.update !== 1 || !(scopedStep.scope && "model" in scopedStep.scope)) throw new Error(`a scoped step should update one resource, got ${JSON.stringify(scopedStep.changes)} (${JSON.stringify(scopedStep.scope)})`);
            setWeight(many, weight + 20);
            const [wholeT, wholeStep] = await timedCpu(() => upStack(many));
            if (wholeStep.changes.update !== 1) throw new Error(`a whole step should update one resource, got ${JSON.stringify(wholeStep.changes)}`);
            add(single, oneT);
            add(scoped, scopedT);
            add(whole, wholeT);
            console.log(`step run ${i + 1}/${stepRuns}: one-model stack ${show(oneT)}, 100 models scoped ${show(scopedT)}, 100 models whole ${show(wholeT)}, load ${os.loadavg()[0].toFixed(1)}`);
        }

        console.log("");
        for (const kind of ["wall", "cpu"] as const) {
            const [f1, f50, f100] = sizes.map((n) => med(firsts[n])[kind]);
            const early = (f50 - f1) / 49;
            const late = (f100 - f50) / 50;
            const [s1, sScoped, sWhole] = [single, scoped, whole].map((t) => med(t)[kind]);
            console.log(`${kind === "wall" ? "wall time" : "CPU time (this process and the engine's)"}:`);
            console.log(`  first up, median of ${firstRuns}: 1 model ${seconds(f1)}, 50 models ${seconds(f50)}, 100 models ${seconds(f100)}`);
            console.log(`  first up per added model: models 2-50 ${seconds(early)}, models 51-100 ${seconds(late)}; ratio ${(late / early).toFixed(2)} (linear: 1.00; quadratic: about 3)`);
            console.log(`  weight step, median of ${stepRuns}: one-model stack ${seconds(s1)}, 100 models scoped ${seconds(sScoped)}, 100 models whole ${seconds(sWhole)}`);
            console.log(`  weight step ratio (100 models / 1): scoped ${(sScoped / s1).toFixed(2)}x (aim <= 1.3x), whole ${(sWhole / s1).toFixed(2)}x`);
        }
        console.log(`load average (1, 5, 15 min) at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(", ")} on ${os.cpus().length} cores`);
    } finally {
        cleanUp();
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});

// Scale: the first `up` of stacks of 1, 50 and 100 models (is it linear in the number of
// models: does the 50th-to-100th model add what the 1st-to-50th did?) and one model's weight step
// in a 100-model stack next to the step in a one-model stack (aim: at most 1.3x). Render mode, the
// real engine, local file backend, this process. Both layouts are measured: one stack holding
// every model, and one stack per model (`stackPerModel`, stacks/operations/model-stacks.ts). Each step is
// measured four ways, alternating: the one-model stack; the 100-model stack stepping one model
// (`upStack({ model })`, a scoped update); the same stack as a whole update (what every step cost
// before scoped updates); and the 100 models with a stack each, stepping one.
//   npm run -s bench:scale [-- STEP_RUNS [FIRST_RUNS]]
import * as os from "os";
import { openStack, setProjectConfig, upStack } from "../stacks/operations/automation";
import { makeProject, TestProject } from "../test/support/engine";
import { median, seconds, timedCpu } from "./support";

const stepRuns = Number(process.argv[2] ?? 7);
// One first `up` of each size by default: with a stack per model, the 100-model one takes minutes.
const firstRuns = Number(process.argv[3] ?? 1);
const sizes = [1, 50, 100];

/** `n` models named m0..m(n-1), each v1 stable and v2 canary at 1%. */
function modelsConfig(n: number, stackPerModel = false): Record<string, unknown> {
    const models: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
        models[`m${i}`] = {
            app: `m${i}`,
            stable: { version: "v1", image: `registry/m${i}:v1` },
            canary: { version: "v2", image: `registry/m${i}:v2` },
            canaryWeight: 1,
        };
    }
    return stackPerModel ? { stackPerModel: true, models } : { models };
}

function project(n: number, stackPerModel = false): TestProject {
    const p = makeProject("scale");
    p.writeConfig(modelsConfig(n, stackPerModel));
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
        // First `up`s, alternating sizes and layouts, each on a new stack.
        const layouts = [false, true];
        const firsts = new Map<string, Times>(layouts.flatMap((l) => sizes.map((n) => [`${l}:${n}`, times()] as [string, Times])));
        const kept: Record<string, TestProject> = {};
        for (let run = 0; run < firstRuns; run++) {
            for (const perModel of layouts) {
                for (const n of sizes) {
                    const p = project(n, perModel);
                    made.push(p);
                    const stack = await openStack(p.ref, { create: true });
                    const [t, result] = await timedCpu(() => upStack(stack));
                    const expected = perModel ? 8 * n : 2 + 6 * n;
                    if (result.changes.create !== expected) throw new Error(`the first up of ${n} models should create ${expected} resources, got ${JSON.stringify(result.changes)}`);
                    add(firsts.get(`${perModel}:${n}`)!, t);
                    console.log(`first up, ${n} model(s)${perModel ? ", a stack each" : ""}, run ${run + 1}/${firstRuns}: ${show(t)}, load ${os.loadavg()[0].toFixed(1)}`);
                    // Only the last round's stacks are stepped below.
                    if (run < firstRuns - 1) made.pop()!.remove();
                    else kept[`${perModel}:${n}`] = p;
                }
            }
        }
        const one = await openStack(kept["false:1"].ref);
        const many = await openStack(kept["false:100"].ref);
        const split = await openStack(kept["true:100"].ref);
        const single = times();
        const scoped = times();
        const whole = times();
        const own = times();
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
            setWeight(split, weight);
            const [ownT, ownStep] = await timedCpu(() => upStack(split, { model: "m0" }));
            if (ownStep.changes.update !== 1) throw new Error(`a step of a model with a stack of its own should update one resource, got ${JSON.stringify(ownStep.changes)}`);
            add(single, oneT);
            add(scoped, scopedT);
            add(whole, wholeT);
            add(own, ownT);
            console.log(`step run ${i + 1}/${stepRuns}: one-model stack ${show(oneT)}, 100 models scoped ${show(scopedT)}, 100 models whole ${show(wholeT)}, 100 models a stack each ${show(ownT)}, load ${os.loadavg()[0].toFixed(1)}`);
        }

        console.log("");
        for (const kind of ["wall", "cpu"] as const) {
            console.log(`${kind === "wall" ? "wall time" : "CPU time (this process and the engine's)"}:`);
            for (const perModel of layouts) {
                const [f1, f50, f100] = sizes.map((n) => med(firsts.get(`${perModel}:${n}`)!)[kind]);
                const early = (f50 - f1) / 49;
                const late = (f100 - f50) / 50;
                const layout = perModel ? "a stack per model" : "one stack";
                console.log(`  first up (${layout}), median of ${firstRuns}: 1 model ${seconds(f1)}, 50 models ${seconds(f50)}, 100 models ${seconds(f100)}`);
                console.log(`  first up (${layout}) per added model: models 2-50 ${seconds(early)}, models 51-100 ${seconds(late)}; ratio ${(late / early).toFixed(2)} (linear: 1.00; quadratic: about 3)`);
            }
            const [s1, sScoped, sWhole, sOwn] = [single, scoped, whole, own].map((t) => med(t)[kind]);
            console.log(`  weight step, median of ${stepRuns}: one-model stack ${seconds(s1)}; 100 models in one stack: scoped ${seconds(sScoped)}, whole ${seconds(sWhole)}; 100 models, a stack each: ${seconds(sOwn)}`);
            console.log(`  weight step ratio (100 models / 1): a stack per model ${(sOwn / s1).toFixed(2)}x (aim <= 1.3x); one stack scoped ${(sScoped / s1).toFixed(2)}x, whole ${(sWhole / s1).toFixed(2)}x`);
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

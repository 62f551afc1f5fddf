// Scale: the first `up` of stacks of 1, 10 and 100 models (is it linear in the number of
// models?) and one model's weight step in a 100-model stack next to the step in a one-model
// stack (aim: at most 1.3x). Render mode, the real engine, local file backend, this process.
// Each step is measured three ways, alternating: the one-model stack, the 100-model stack
// stepping one model (`upStack({ model })`, a scoped update), and the same 100-model stack as a
// whole update (what every step cost before scoped updates).
//   npm run -s bench:scale [-- STEP_RUNS [FIRST_RUNS]]
import { openStack, setProjectConfig, upStack } from "../stacks/automation";
import { makeProject, TestProject } from "../test/support/engine";
import { median, seconds, timed } from "./support";

const stepRuns = Number(process.argv[2] ?? 7);
const firstRuns = Number(process.argv[3] ?? 3);
const sizes = [1, 10, 100];

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

async function main(): Promise<void> {
    const made: TestProject[] = [];
    try {
        // First `up`s, alternating sizes, each on a new stack.
        const firsts: Record<number, number[]> = Object.fromEntries(sizes.map((n) => [n, []]));
        for (let run = 0; run < firstRuns; run++) {
            for (const n of sizes) {
                const p = project(n);
                made.push(p);
                const stack = await openStack(p.ref, { create: true });
                const [ms, result] = await timed(() => upStack(stack));
                if (result.changes.create !== 2 + 6 * n) throw new Error(`the first up of ${n} models should create ${2 + 6 * n} resources, got ${JSON.stringify(result.changes)}`);
                firsts[n].push(ms);
                console.log(`first up, ${n} model(s), run ${run + 1}/${firstRuns}: ${seconds(ms)}`);
            }
        }
        // The stacks of the last round: steps on the one-model and the 100-model stack.
        const one = await openStack(made.at(-3)!.ref);
        const many = await openStack(made.at(-1)!.ref);
        const single: number[] = [];
        const scoped: number[] = [];
        const whole: number[] = [];
        for (let i = 0; i < stepRuns; i++) {
            const weight = i % 2 ? 1 : 10;
            setWeight(one, weight);
            const [oneMs, oneStep] = await timed(() => upStack(one, { model: "m0" }));
            if (oneStep.changes.update !== 1) throw new Error(`a step in the one-model stack should update one resource, got ${JSON.stringify(oneStep.changes)}`);
            setWeight(many, weight);
            const [scopedMs, scopedStep] = await timed(() => upStack(many, { model: "m0" }));
            if (scopedStep.changes.update !== 1 || !(scopedStep.scope && "model" in scopedStep.scope)) throw new Error(`a scoped step should update one resource, got ${JSON.stringify(scopedStep.changes)} (${JSON.stringify(scopedStep.scope)})`);
            setWeight(many, weight === 10 ? 50 : 1);
            const [wholeMs, wholeStep] = await timed(() => upStack(many));
            if (wholeStep.changes.update !== 1) throw new Error(`a whole step should update one resource, got ${JSON.stringify(wholeStep.changes)}`);
            single.push(oneMs);
            scoped.push(scopedMs);
            whole.push(wholeMs);
            console.log(`step run ${i + 1}/${stepRuns}: one-model stack ${seconds(oneMs)}, 100 models scoped ${seconds(scopedMs)}, 100 models whole ${seconds(wholeMs)}`);
        }

        const m = (xs: number[]) => median(xs);
        const [f1, f10, f100] = sizes.map((n) => m(firsts[n]));
        console.log("");
        console.log(`first up, median of ${firstRuns}: 1 model ${seconds(f1)}, 10 models ${seconds(f10)}, 100 models ${seconds(f100)}`);
        console.log(`first up per added model: 1->10 ${seconds((f10 - f1) / 9)}, 10->100 ${seconds((f100 - f10) / 90)}; ratio of the two ${(((f100 - f10) / 90) / ((f10 - f1) / 9)).toFixed(2)} (linear: 1.00)`);
        console.log(`first up ratios: 10/1 models ${(f10 / f1).toFixed(2)}x, 100/10 models ${(f100 / f10).toFixed(2)}x`);
        console.log(`weight step, median of ${stepRuns}: one-model stack ${seconds(m(single))}, 100 models scoped ${seconds(m(scoped))}, 100 models whole ${seconds(m(whole))}`);
        console.log(`weight step ratio (100 models / 1): scoped ${(m(scoped) / m(single)).toFixed(2)}x (aim <= 1.3x), whole ${(m(whole) / m(single)).toFixed(2)}x`);
    } finally {
        for (const p of made) p.remove();
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});

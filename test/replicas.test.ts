// `canary.replicas: auto`: the canary's pod count follows its traffic. Pure tables.
import * as assert from "assert";
import { autoReplicaCounts, scaleDownHolds, shareOf, validateModelCanaryArgs } from "../components";
import { refusalProblems } from "./support/refusal";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: "auto" };

function problemsOf(input: unknown): string[] {
    return refusalProblems(() => validateModelCanaryArgs(input), "expected the arguments to be refused");
}

describe("canary.replicas: auto", () => {
    describe("counts for each traffic state", () => {
        // [stable replicas, weight, mirrorPercent, autoReplicas, expected { stable, canary }]
        const table: [number, number, number, Record<string, unknown>, { stable: number; canary: number }][] = [
            [5, 0, 0, {}, { stable: 5, canary: 1 }], // no traffic yet: the minimum, one ready pod to judge
            [5, 1, 0, {}, { stable: 5, canary: 1 }], // ceil(0.05)
            [5, 10, 0, {}, { stable: 5, canary: 1 }], // ceil(0.5)
            [5, 50, 0, {}, { stable: 5, canary: 3 }], // ceil(2.5)
            [5, 100, 0, {}, { stable: 5, canary: 5 }], // the full count
            [8, 50, 0, {}, { stable: 8, canary: 4 }], // exact: no rounding up
            [20, 10, 0, {}, { stable: 20, canary: 2 }],
            [1000, 0, 0.1, {}, { stable: 1000, canary: 1 }], // 0.1% of 1000 is exactly 1 (floating point says 1.0000000000000002)
            [1000, 0, 12.5, {}, { stable: 1000, canary: 125 }],
            [5, 0, 100, {}, { stable: 5, canary: 5 }], // the shadow stage at 100%: stable's whole load, mirrored
            [5, 0, 50, {}, { stable: 5, canary: 3 }],
            [5, 10, 0, { min: 2 }, { stable: 5, canary: 2 }],
            [5, 100, 0, { max: 3 }, { stable: 5, canary: 3 }],
            [5, 0, 100, { max: 2 }, { stable: 5, canary: 2 }],
            [0, 10, 0, {}, { stable: 0, canary: 1 }], // at least one, even from a stable at 0
            // shrinkStable: each side gets enough pods for its share; stable keeps one warm pod
            [5, 1, 0, { shrinkStable: true }, { stable: 5, canary: 1 }],
            [5, 10, 0, { shrinkStable: true }, { stable: 5, canary: 1 }],
            [5, 50, 0, { shrinkStable: true }, { stable: 3, canary: 3 }],
            [10, 50, 0, { shrinkStable: true }, { stable: 5, canary: 5 }],
            [10, 90, 0, { shrinkStable: true }, { stable: 1, canary: 9 }],
            [10, 100, 0, { shrinkStable: true }, { stable: 1, canary: 10 }],
            [5, 0, 100, { shrinkStable: true }, { stable: 5, canary: 5 }], // a mirror does not shrink the stable: it still serves everyone
            // hold (a rollback moving traffic first): the canary keeps its pods, the stable is full again
            [10, 0, 0, { shrinkStable: true, hold: 5 }, { stable: 10, canary: 5 }],
            // holdStable (a step up with shrinkStable moving traffic first): the stable keeps its pods
            [10, 50, 0, { shrinkStable: true, holdStable: 9 }, { stable: 9, canary: 5 }],
        ];
        for (const [replicas, canaryWeight, mirrorPercent, auto, expected] of table) {
            it(`stable ${replicas}, weight ${canaryWeight}, mirror ${mirrorPercent}%, ${JSON.stringify(auto)} -> stable ${expected.stable}, canary ${expected.canary}`, () => {
                const resolved = validateModelCanaryArgs({ stable: { ...stable, replicas }, canary: { ...canary, autoReplicas: auto }, canaryWeight, mirrorPercent });
                assert.deepStrictEqual({ stable: resolved.stable.replicas, canary: resolved.canary!.replicas }, expected);
                assert.deepStrictEqual(autoReplicaCounts(replicas, canaryWeight, mirrorPercent, { min: 1, shrinkStable: false, ...auto }), expected);
            });
        }
    });

    describe("scaleDownHolds: no pod goes before its traffic", () => {
        // [running, target, holds]
        const table: [{ stable: number; canary: number }, { stable: number; canary: number }, Record<string, number>][] = [
            [{ stable: 5, canary: 1 }, { stable: 5, canary: 3 }, {}], // a step up: pods first, in the same `up`
            [{ stable: 5, canary: 3 }, { stable: 5, canary: 1 }, { hold: 3 }], // rollback, or shadow 50% -> 1%
            [{ stable: 5, canary: 1 }, { stable: 3, canary: 3 }, { holdStable: 5 }], // shrinkStable, 10% -> 50%
            [{ stable: 3, canary: 3 }, { stable: 5, canary: 1 }, { hold: 3 }], // shrinkStable rollback: stable grows at once
            [{ stable: 5, canary: 5 }, { stable: 1, canary: 5 }, { holdStable: 5 }],
            [{ stable: 5, canary: 1 }, { stable: 5, canary: 1 }, {}],
        ];
        for (const [running, target, holds] of table) {
            it(`${JSON.stringify(running)} -> ${JSON.stringify(target)}: ${JSON.stringify(holds)}`, () => assert.deepStrictEqual(scaleDownHolds(running, target), holds));
        }
    });

    it("shareOf is the exact ceiling of count × percent / 100", () => {
        assert.deepStrictEqual([shareOf(1000, 0.1), shareOf(3, 33.3333), shareOf(3, 33.3334), shareOf(7, 0), shareOf(2147483647, 100)], [1, 1, 2, 0, 2147483647]);
    });

    it("fixed replicas are unchanged by the weight, and a config without autoReplicas has none", () => {
        const r = validateModelCanaryArgs({ stable, canary: { ...canary, replicas: 2 }, canaryWeight: 50 });
        assert.deepStrictEqual([r.stable.replicas, r.canary!.replicas, r.canary!.autoReplicas], [5, 2, undefined]);
        assert.deepStrictEqual(validateModelCanaryArgs({ stable, canary }).canary!.autoReplicas, { min: 1, shrinkStable: false });
    });

    const refused: [string, unknown, string[]][] = [
        ["auto on the stable version", { stable: { ...stable, replicas: "auto" }, canary },
            ["`stable.replicas` must be an integer from 0 to 2147483647, got \"auto\": only the canary's replicas can follow its weight; the stable version's count is what `auto` scales from"]],
        ["another word", { stable, canary: { ...canary, replicas: "automatic" } }, ["`canary.replicas` must be an integer from 0 to 2147483647, or `auto` (follow the canary's traffic), got \"automatic\""]],
        ["autoReplicas without auto", { stable, canary: { ...canary, replicas: 3, autoReplicas: { max: 4 } } }, ["`canary.autoReplicas` needs `canary.replicas: auto`, got replicas 3"]],
        ["autoReplicas on the stable version", { stable: { ...stable, autoReplicas: { min: 1 } }, canary }, ["`stable.autoReplicas` is for the canary only (with `canary.replicas: auto`)"]],
        ["a minimum of 0: a canary with no pod cannot be judged", { stable, canary: { ...canary, autoReplicas: { min: 0 } } }, ["`canary.autoReplicas.min` must be an integer from 1 to 2147483647, got 0"]],
        ["a maximum below the minimum", { stable, canary: { ...canary, autoReplicas: { min: 3, max: 2 } } }, ["`canary.autoReplicas.max` must be at least `canary.autoReplicas.min` (3), got 2"]],
        ["a fractional maximum", { stable, canary: { ...canary, autoReplicas: { max: "2.5" } } }, ["`canary.autoReplicas.max` must be an integer from 1 to 2147483647, got \"2.5\""]],
        ["shrinkStable that is not a boolean", { stable, canary: { ...canary, autoReplicas: { shrinkStable: "yes" } } }, ["`canary.autoReplicas.shrinkStable` must be true or false, got \"yes\""]],
        ["a misspelt option", { stable, canary: { ...canary, autoReplicas: { maxx: 3 } } }, ["unknown key `canary.autoReplicas.maxx` (did you mean `max`?); accepted keys are `min`, `max`, `shrinkStable`, `hold`, `holdStable`"]],
        ["autoReplicas that is not an object", { stable, canary: { ...canary, autoReplicas: 3 } }, ["`canary.autoReplicas` must be an object, got 3"]],
    ];
    for (const [what, input, problems] of refused) {
        it(`refuses ${what}`, () => assert.deepStrictEqual(problemsOf(input), problems));
    }
});

// The prediction-distribution gate, pure: the statistics over histogram buckets, the verdicts
// (pass, fail, no data, error) and the `rollout.predictions` settings.
import assert from "assert";
import { EMPTY_BUCKET_SHARE, ksDistance, psi, readHistogram, type Histogram, type HistogramSample } from "../analysis/distribution";
import {
    defaultPredictionGate,
    evaluatePredictions,
    PREDICTION_CHECK_NAMES,
    resolvePredictionGate,
    type PredictionGate,
    type PredictionMeasurement,
} from "../analysis/prediction-gate";
import { predictionBucketsQuery, type PredictionSelector } from "../analysis/queries";
import { seriesCountInWindow } from "../analysis/window-count";
import type { CheckStatus } from "../analysis/verdict";

const LE = ["0.25", "0.5", "0.75", "+Inf"];

/** Prometheus' answer for per-bucket counts: cumulative, by `le`. */
function buckets(perBucket: number[], le: string[] = LE): { buckets: HistogramSample[] } {
    let c = 0;
    return { buckets: perBucket.map((n, i) => ({ le: le[i], count: (c += n) })) };
}

function histogram(perBucket: number[], le: string[] = LE): Histogram {
    const read = readHistogram(buckets(perBucket, le).buckets);
    assert.ok("histogram" in read, JSON.stringify(read));
    return read.histogram;
}

const PSI = PREDICTION_CHECK_NAMES.psi;
const KS = PREDICTION_CHECK_NAMES.ks;

describe("analysis/distribution", () => {
    it("reads Prometheus' cumulative buckets, in any order, into per-bucket counts", () => {
        const read = readHistogram([
            { le: "+Inf", count: 100 },
            { le: "0.5", count: 30 },
            { le: "0.25", count: 10 },
            { le: "1e0", count: 90 },
        ]);
        assert.deepStrictEqual(read, { histogram: { bounds: [0.25, 0.5, 1], counts: [10, 20, 60, 10], total: 100 } });
    });

    it("counts a bucket a fraction below the previous one (increase() extrapolation) as empty, keeping the total", () => {
        assert.deepStrictEqual(readHistogram([{ le: "0.5", count: 10.2 }, { le: "1", count: 10.1 }, { le: "+Inf", count: 20 }]), {
            histogram: { bounds: [0.5, 1], counts: [10.2, 0, 9.8], total: 20 },
        });
    });

    const broken: [string, HistogramSample[], RegExp][] = [
        ["no +Inf bucket", [{ le: "0.5", count: 3 }, { le: "1", count: 5 }], /no \+Inf bucket \(2 buckets\)/],
        ["a NaN count", [{ le: "0.5", count: NaN }, { le: "+Inf", count: 5 }], /le "0.5" counts NaN, which is impossible/],
        ["an infinite count", [{ le: "+Inf", count: Infinity }], /le "\+Inf" counts Infinity, which is impossible/],
        ["a negative count", [{ le: "+Inf", count: -1 }], /counts -1, which is impossible/],
        ["a count that is not a number (NaN stored as null in a record)", [{ le: "+Inf", count: null as unknown as number }], /counts null/],
        ["an le that is not a number", [{ le: "high", count: 1 }, { le: "+Inf", count: 2 }], /le "high", which is not a number/],
        ["a series without le", [{ le: "", count: 1 }], /le "", which is not a number/],
        ["a repeated le", [{ le: "0.5", count: 1 }, { le: "0.50", count: 1 }, { le: "+Inf", count: 2 }], /le "0.50" appears twice/],
    ];
    for (const [what, samples, message] of broken) {
        it(`refuses a histogram with ${what}`, () => {
            const read = readHistogram(samples);
            assert.ok("error" in read, JSON.stringify(read));
            assert.match(read.error, message);
        });
    }

    it("PSI: 0 for equal shares whatever the counts, the textbook sum for a shift, symmetric", () => {
        assert.strictEqual(psi(histogram([25, 25, 25, 25]), histogram([250, 250, 250, 250])), 0);
        // (0.1-0.25)ln(0.4) + (0.2-0.25)ln(0.8) + (0.3-0.25)ln(1.2) + (0.4-0.25)ln(1.6)
        const shifted = psi(histogram([10, 20, 30, 40]), histogram([25, 25, 25, 25]));
        assert.ok(Math.abs(shifted - 0.228217) < 1e-6, String(shifted));
        assert.ok(Math.abs(psi(histogram([25, 25, 25, 25]), histogram([10, 20, 30, 40])) - shifted) < 1e-12);
    });

    it(`PSI: an empty bucket counts as ${EMPTY_BUCKET_SHARE} of the population; empty on both sides adds nothing`, () => {
        // Stable never predicts the top bucket, the canary puts 10% there.
        const v = psi(histogram([30, 30, 30, 10]), histogram([30, 30, 40, 0]));
        const expected = 2 * 0 + (0.3 - 0.4) * Math.log(0.3 / 0.4) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
        assert.ok(Math.abs(v - expected) < 1e-9, `${v} vs ${expected}`);
        assert.ok(v > 0.7);
        assert.strictEqual(psi(histogram([50, 50, 0, 0]), histogram([50, 50, 0, 0])), 0);
    });

    it("KS distance: the largest gap of the cumulative shares at a bucket bound, and where", () => {
        // Cumulative 0.1, 0.3, 0.6 against 0.25, 0.5, 0.75.
        const { distance, at } = ksDistance(histogram([10, 20, 30, 40]), histogram([25, 25, 25, 25]));
        assert.ok(Math.abs(distance - 0.2) < 1e-12, String(distance));
        assert.strictEqual(at, 0.5);
        assert.deepStrictEqual(ksDistance(histogram([1, 1, 1, 1]), histogram([5, 5, 5, 5])), { distance: 0, at: undefined });
    });
});

describe("analysis/prediction-gate", () => {
    it("has the documented defaults", () => {
        assert.deepStrictEqual({ ...defaultPredictionGate }, {
            metric: "model_prediction_score_bucket", appLabel: "app", namespaceLabel: "namespace", versionLabel: "version", maxPsi: 0.2, maxKs: null, minSamples: 1000,
        });
        assert.ok(Object.isFrozen(defaultPredictionGate));
    });

    describe("evaluatePredictions", () => {
        const gate: PredictionGate = { ...defaultPredictionGate, maxKs: 0.1, minSamples: 100 };
        const same = buckets([250, 250, 250, 250]);
        type Row = { title: string; canary: PredictionMeasurement | undefined; stable: PredictionMeasurement | undefined; gate?: Partial<PredictionGate>; expect: [CheckStatus, CheckStatus]; message: RegExp; values?: [number, number] };
        const rows: Row[] = [
            { title: "same distribution: both pass at 0", canary: buckets([100, 100, 100, 100]), stable: same, expect: ["pass", "pass"], values: [0, 0],
                message: /^canary predictions vs stable: PSI 0\.000 <= 0\.2 \(400 canary and 1000 stable predictions in 4 buckets\)$/ },
            { title: "a shift: PSI 0.228 > 0.2 and KS 0.2 > 0.1 fail", canary: buckets([100, 200, 300, 400]), stable: same, expect: ["fail", "fail"], values: [0.228217, 0.2],
                message: /^canary predictions shifted from stable: PSI 0\.228 > 0\.2 \(1000 canary and 1000 stable predictions in 4 buckets\)$/ },
            { title: "a shift below both thresholds passes", canary: buckets([240, 250, 250, 260]), stable: same, expect: ["pass", "pass"], values: [0.000800, 0.01],
                message: /^canary predictions vs stable: PSI 0\.001 <= 0\.2/ },
            { title: "a shift only KS sees fails KS alone", canary: buckets([130, 250, 250, 370]), stable: same, gate: { maxPsi: 0.2, maxKs: 0.1 }, expect: ["pass", "fail"],
                values: [0.125516, 0.12], message: /^canary predictions vs stable: PSI 0\.126 <= 0\.2/ },
            { title: "a value exactly at the threshold passes", canary: buckets([100, 200, 300, 400]), stable: same, gate: { maxPsi: psi(histogram([100, 200, 300, 400]), histogram([250, 250, 250, 250])), maxKs: 0.2 }, expect: ["pass", "pass"],
                message: /^canary predictions vs stable: PSI 0\.228 <= 0\.228217/ },
            { title: "canary with no series: no data", canary: null, stable: same, expect: ["nodata", "nodata"],
                message: /^no canary predictions in the analysis window \(no `model_prediction_score_bucket` series\); not judged$/ },
            { title: "canary not measured at all: no data", canary: undefined, stable: same, expect: ["nodata", "nodata"], message: /^no canary predictions/ },
            { title: "stable with no series: no data", canary: same, stable: null, expect: ["nodata", "nodata"], message: /^no stable predictions/ },
            { title: "both without series: no data", canary: null, stable: null, expect: ["nodata", "nodata"], message: /^no canary predictions/ },
            { title: "an empty vector is no data too", canary: { buckets: [] }, stable: same, expect: ["nodata", "nodata"], message: /^no canary predictions/ },
            { title: "series that counted nothing in the window: no data", canary: buckets([0, 0, 0, 0]), stable: same, expect: ["nodata", "nodata"],
                message: /^canary made 0 predictions in the analysis window, fewer than minSamples 100; not judged$/ },
            { title: "too few canary predictions: no data", canary: buckets([20, 20, 20, 19.5]), stable: same, expect: ["nodata", "nodata"],
                message: /^canary made 79\.5 predictions in the analysis window, fewer than minSamples 100; not judged$/ },
            { title: "too few stable predictions: no data", canary: same, stable: buckets([1, 1, 1, 1]), expect: ["nodata", "nodata"], message: /^stable made 4 predictions/ },
            { title: "canary query failed: error", canary: { error: "connect ECONNREFUSED" }, stable: same, expect: ["error", "error"],
                message: /^canary predictions query failed: connect ECONNREFUSED$/ },
            { title: "both queries failed: both named", canary: { error: "timeout" }, stable: { error: "bad_data" }, expect: ["error", "error"],
                message: /^canary predictions query failed: timeout; stable predictions query failed: bad_data$/ },
            { title: "an error wins over no data", canary: { error: "timeout" }, stable: null, expect: ["error", "error"], message: /^canary predictions query failed/ },
            { title: "NaN in a canary bucket: error, not a pass", canary: { buckets: [{ le: "0.25", count: NaN }, { le: "+Inf", count: 1000 }] }, stable: same, expect: ["error", "error"],
                message: /^canary prediction histogram: the bucket le "0\.25" counts NaN, which is impossible/ },
            { title: "+Inf in a stable bucket: error", canary: same, stable: { buckets: [{ le: "+Inf", count: Infinity }] }, expect: ["error", "error"],
                message: /^stable prediction histogram: the bucket le "\+Inf" counts Infinity/ },
            { title: "a histogram without +Inf: error", canary: { buckets: [{ le: "0.5", count: 500 }, { le: "1", count: 1000 }] }, stable: same, expect: ["error", "error"],
                message: /no \+Inf bucket/ },
            { title: "only the +Inf bucket: error (two such histograms always look equal)", canary: { buckets: [{ le: "+Inf", count: 1000 }] }, stable: same, expect: ["error", "error"],
                message: /^canary prediction histogram has only the \+Inf bucket: it says nothing about the distribution of predictions$/ },
            { title: "mismatched bucket bounds: error", canary: buckets([250, 250, 250, 250], ["0.1", "0.5", "0.9", "+Inf"]), stable: same, expect: ["error", "error"],
                message: /^canary and stable prediction histograms have different bucket bounds \(canary 3 bounds: 0\.1, 0\.5, 0\.9; stable 3 bounds: 0\.25, 0\.5, 0\.75\): they cannot be compared bucket by bucket$/ },
            { title: "a different number of buckets: error", canary: buckets([500, 500], ["0.5", "+Inf"]), stable: same, expect: ["error", "error"], message: /different bucket bounds/ },
        ];
        for (const row of rows) {
            it(row.title, () => {
                const results = evaluatePredictions(row.canary, row.stable, { ...gate, ...row.gate });
                assert.deepStrictEqual(results.map((r) => [r.name, r.status]), [[PSI, row.expect[0]], [KS, row.expect[1]]]);
                assert.match(results[0].message, row.message);
                if (row.values) {
                    for (let i = 0; i < 2; i++) assert.ok(Math.abs(results[i].value! - row.values[i]) < 1e-6, `${results[i].name} ${results[i].value}`);
                }
                if (row.expect[0] === "pass" || row.expect[0] === "fail") assert.strictEqual(results[0].threshold, gate.maxPsi === null ? undefined : (row.gate?.maxPsi ?? gate.maxPsi));
                else assert.strictEqual(results[0].value, undefined, "nothing judged carries no value");
            });
        }

        it("checks only what is enabled: PSI alone by default", () => {
            const results = evaluatePredictions(buckets([250, 250, 250, 250]), buckets([250, 250, 250, 250]), { ...defaultPredictionGate, minSamples: 100 });
            assert.deepStrictEqual(results.map((r) => r.name), [PSI]);
            const ksOnly = evaluatePredictions(buckets([100, 200, 300, 400]), buckets([250, 250, 250, 250]), { ...defaultPredictionGate, maxPsi: null, maxKs: 0.25, minSamples: 100 });
            assert.deepStrictEqual(ksOnly.map((r) => [r.name, r.status]), [[KS, "pass"]]);
            assert.match(ksOnly[0].message, /^canary predictions vs stable: KS distance 0\.200 <= 0\.25 \(1000 canary and 1000 stable predictions in 4 buckets, largest at le 0\.5\)$/);
        });
    });

    describe("resolvePredictionGate", () => {
        it("is off without a block and on with the defaults for an empty one", () => {
            assert.deepStrictEqual(resolvePredictionGate(undefined), { problems: [] });
            assert.deepStrictEqual(resolvePredictionGate(null), { problems: [] });
            assert.deepStrictEqual(resolvePredictionGate({}), { gate: { ...defaultPredictionGate }, problems: [] });
        });

        it("takes every setting, numbers also as plain decimal text", () => {
            assert.deepStrictEqual(
                resolvePredictionGate({ metric: "triton_score_bucket", appLabel: "kubernetes_app", namespaceLabel: "kubernetes_namespace", versionLabel: "model_version", maxPsi: "0.1", maxKs: 0.15, minSamples: "500" }).gate,
                { metric: "triton_score_bucket", appLabel: "kubernetes_app", namespaceLabel: "kubernetes_namespace", versionLabel: "model_version", maxPsi: 0.1, maxKs: 0.15, minSamples: 500 },
            );
            assert.deepStrictEqual(resolvePredictionGate({ maxPsi: null, maxKs: 0.1 }).gate?.maxPsi, null);
            assert.deepStrictEqual(resolvePredictionGate({ appLabel: null }).gate, { ...defaultPredictionGate, appLabel: null });
            // Without an app label, another setting may use the name `app`.
            assert.deepStrictEqual(resolvePredictionGate({ appLabel: null, versionLabel: "app" }).gate?.versionLabel, "app");
        });

        const bad: [string, unknown, string[]][] = [
            ["a list", [1], ["`rollout.predictions` must be an object (e.g. `{ maxPsi: 0.2 }`, or `{}` for the defaults), got [1]"]],
            ["an unknown key", { maxPSI: 0.2 }, ["`rollout.predictions.maxPSI` is not a known prediction-gate setting; known settings: metric, appLabel, namespaceLabel, versionLabel, maxPsi, maxKs, minSamples"]],
            ["a metric that is not a bucket series", { metric: "model_prediction_score_count" }, ["`rollout.predictions.metric` must be the bucket series of a Prometheus histogram (a metric name ending in `_bucket`, e.g. `model_prediction_score_bucket`), got \"model_prediction_score_count\""]],
            ["a metric with a selector in it", { metric: 'x_bucket{a="b"}' }, ["`rollout.predictions.metric` must be the bucket series of a Prometheus histogram (a metric name ending in `_bucket`, e.g. `model_prediction_score_bucket`), got \"x_bucket{a=\\\"b\\\"}\""]],
            ["a label that is not a label name", { versionLabel: "model-version" }, ["`rollout.predictions.versionLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), got \"model-version\""]],
            ["the le label", { namespaceLabel: "le" }, ["`rollout.predictions.namespaceLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), got \"le\""]],
            ["the same label twice", { namespaceLabel: "version" }, ["`rollout.predictions.namespaceLabel` and `rollout.predictions.versionLabel` must differ, both are \"version\""]],
            ["an app label that is not a label name", { appLabel: "app.kubernetes.io/name" }, ["`rollout.predictions.appLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), or null to select by namespace and version alone, got \"app.kubernetes.io/name\""]],
            ["le as the app label", { appLabel: "le" }, ["`rollout.predictions.appLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), or null to select by namespace and version alone, got \"le\""]],
            ["a reserved app label", { appLabel: "__name__" }, ["`rollout.predictions.appLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), or null to select by namespace and version alone, got \"__name__\""]],
            ["an empty app label", { appLabel: "" }, ["`rollout.predictions.appLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), or null to select by namespace and version alone, got \"\""]],
            ["an app label that is not text", { appLabel: true }, ["`rollout.predictions.appLabel` must be a Prometheus label name (letters, digits and `_`, not starting with a digit or `__`, not `le`), or null to select by namespace and version alone, got true"]],
            ["the app label as the version label", { appLabel: "version" }, ["`rollout.predictions.appLabel` and `rollout.predictions.versionLabel` must differ, both are \"version\""]],
            ["the app label as the namespace label", { namespaceLabel: "app" }, ["`rollout.predictions.appLabel` and `rollout.predictions.namespaceLabel` must differ, both are \"app\""]],
            ["a PSI of 0", { maxPsi: 0 }, ["`rollout.predictions.maxPsi` must be a number above 0 (at most 100), or null to disable the check, got 0"]],
            ["a PSI as hex text", { maxPsi: "0x1" }, ["`rollout.predictions.maxPsi` must be a number above 0 (at most 100), or null to disable the check, got \"0x1\""]],
            ["a KS of 1", { maxKs: 1 }, ["`rollout.predictions.maxKs` must be a number between 0 and 1 (exclusive: a share of the population), or null to disable the check, got 1"]],
            ["a fractional minSamples", { minSamples: 10.5 }, ["`rollout.predictions.minSamples` must be an integer from 1 to 1000000000, got 10.5"]],
            ["a null minSamples", { minSamples: null }, ["`rollout.predictions.minSamples` must be an integer from 1 to 1000000000, got null"]],
            ["nothing to check", { maxPsi: null }, ["`rollout.predictions` checks nothing with both `maxPsi` and `maxKs` null: set one of them, or remove `rollout.predictions` to turn the gate off"]],
        ];
        for (const [what, block, problems] of bad) {
            it(`refuses ${what}, naming the key and the value`, () => assert.deepStrictEqual(resolvePredictionGate(block), { problems }));
        }
    });

    describe("the prediction query's selector", () => {
        const base: PredictionSelector = { metric: "model_prediction_score_bucket", appLabel: "app", namespaceLabel: "namespace", versionLabel: "version", app: "fraud", namespace: "default", version: "v1" };
        const rows: [string, Partial<PredictionSelector>, string][] = [
            ["the defaults select by app, namespace and version", {}, 'model_prediction_score_bucket{app="fraud",namespace="default",version="v1"}'],
            ["an app label named in the config", { appLabel: "kubernetes_app", namespaceLabel: "kubernetes_namespace", versionLabel: "model_version", app: "churn" }, 'model_prediction_score_bucket{kubernetes_app="churn",kubernetes_namespace="default",model_version="v1"}'],
            ["a null app label selects by namespace and version alone", { appLabel: null }, 'model_prediction_score_bucket{namespace="default",version="v1"}'],
            ["a null app label ignores the app, even an empty one", { appLabel: null, app: "" }, 'model_prediction_score_bucket{namespace="default",version="v1"}'],
            ["an app with a quote and a backslash is escaped", { app: 'a"b\\c' }, 'model_prediction_score_bucket{app="a\\"b\\\\c",namespace="default",version="v1"}'],
        ];
        for (const [what, sel, selector] of rows) {
            it(what, () => {
                const witness = `${selector.slice(0, selector.indexOf("{"))}{${selector.match(/[a-z_]*namespace="default"/)![0]}}`;
                assert.strictEqual(predictionBucketsQuery({ ...base, ...sel }, "1m"), `sum by (le) (${seriesCountInWindow(selector, "1m", witness)})`);
            });
        }
        const refused: [string, Partial<PredictionSelector>, string][] = [
            ["an app label that is not a label name", { appLabel: "app-name" }, 'prediction appLabel must be a Prometheus label name, got "app-name"'],
            ["an empty app", { app: " " }, 'prediction selector app must be a non-empty string, got " "'],
        ];
        for (const [what, sel, message] of refused) {
            it(`refuses ${what}`, () => assert.throws(() => predictionBucketsQuery({ ...base, ...sel }, "1m"), { message }));
        }
    });
});

/**
 * Canary analysis against a real Prometheus (Debian package, /usr/bin/prometheus) scraping a
 * fake Istio exporter every second. Each scenario uses its own canary workload, all set up
 * before Prometheus starts, so one 10 s window of data serves every scenario.
 */
import assert from "assert";
import http from "http";
import type { AddressInfo } from "net";
import { runAnalysis, type AnalysisReport, type RunAnalysisOptions } from "../analysis/analyze";
import type { CheckContext } from "../analysis/custom";
import { PrometheusClient, PrometheusError } from "../analysis/prometheus";
import { ksDistance, psi } from "../analysis/distribution";
import { defaultPredictionGate, PREDICTION_CHECK_NAMES, type PredictionGate } from "../analysis/prediction-gate";
import { predictionBucketsQuery, requestCountQuery } from "../analysis/queries";
import { seriesCountInWindow } from "../analysis/window-count";
import {
    CHECK_NAMES,
    decideStep,
    evaluate,
    isMetricError,
    resolveThresholds,
    type AnalysisSummary,
    type CheckResult,
    type CheckStatus,
    type MetricValue,
} from "../analysis/verdict";
import { DEFAULT_PREDICTION_BOUNDS, normalBucketShares, startIstioExporter, type IstioExporter, type RequestBurst } from "./support/istio-exporter";
import { sleep, startPrometheus, waitFor, type PrometheusHarness } from "./support/prometheus";
import { refusalProblems } from "./support/refusal";
import { preflightPrometheus } from "../analysis/preflight";
import { resolvePlan } from "../stacks/config/rollout-plan";

const WINDOW = "10s";
const NS = "default";
/** Namespaces whose workloads are reported by a waypoint (ambient), and by a waypoint and sidecars (migrating to ambient). */
const AMBIENT = "ambient";
const MIGRATING = "migrating";
const STABLE = "model-v1";
const RPS = 50;
const context: CheckContext = { canaryVersion: "v2", stableVersion: "v1", weight: 10 };
/** The stable model's scores, and a canary's that moved up by 0.2. */
const SCORES = { mean: 0.5, sd: 0.15 };
const SHIFTED = { mean: 0.7, sd: 0.15 };
/** Another model's scores (app `fraud`, versions v1 and v2 too). */
const FRAUD_SCORES = { mean: 0.9, sd: 0.05 };
const CUSTOM_NAMES = { metric: "triton_score", namespaceLabel: "kubernetes_namespace", versionLabel: "model_version" };
/** 50 predictions a second over the 10 s window: 500 a side. */
const gate: PredictionGate = { ...defaultPredictionGate, maxKs: 0.1, minSamples: 200 };

function statuses(results: CheckResult[]): Record<string, CheckStatus> {
    return Object.fromEntries(results.map((r) => [r.name, r.status]));
}

function num(v: MetricValue): number {
    assert.ok(typeof v === "number", `expected a number, got ${JSON.stringify(v)}`);
    return v;
}

function get(results: CheckResult[], name: string): CheckResult {
    const r = results.find((x) => x.name === name);
    assert.ok(r, `no result named ${name} in ${JSON.stringify(results)}`);
    return r;
}

describe("analysis against a real Prometheus", function () {
    this.timeout(60_000);

    let exporter: IstioExporter;
    let prom: PrometheusHarness;
    let client: PrometheusClient;
    const thresholds = resolveThresholds({}); // 99 %, 500 ms, 0.5 points, 1.2x, 20 requests, 2 failures

    const analyse = (canaryWorkload: string, extra: Partial<RunAnalysisOptions> = {}): Promise<AnalysisReport> =>
        runAnalysis({
            prometheus: client,
            namespace: NS,
            app: "model",
            canaryWorkload,
            stableWorkload: STABLE,
            window: WINDOW,
            thresholds,
            context,
            ...extra,
        });

    before(async function () {
        this.timeout(60_000);
        exporter = await startIstioExporter({ namespace: NS });
        exporter.set(STABLE, { rps: RPS, latencyMs: 60, predictions: { version: "v1", ...SCORES } }); // P99 in the 50-100 bucket
        exporter.set("model-v2-healthy", { rps: RPS, latencyMs: 60, predictions: { version: "v2-same", ...SCORES } });
        // Healthy by HTTP, but its scores moved up by 0.2.
        exporter.set("model-v2-shifted", { rps: RPS, latencyMs: 60, predictions: { version: "v2-shifted", ...SHIFTED } });
        exporter.set("model-v2-other-buckets", { rps: RPS, latencyMs: 60, predictions: { version: "v2-buckets", ...SCORES, bounds: [0.25, 0.5, 0.75, 1] } });
        // A model server exporting under names of its own.
        exporter.set("model-v1-custom", { rps: RPS, latencyMs: 60, predictions: { version: "v1", ...SCORES, ...CUSTOM_NAMES } });
        exporter.set("model-v2-custom", { rps: RPS, latencyMs: 60, predictions: { version: "v2", ...SHIFTED, ...CUSTOM_NAMES } });
        // Another model in the same namespace with the same version names, predicting elsewhere: kept apart by its `app` label.
        exporter.set("fraud-v1", { rps: RPS, latencyMs: 60, predictions: { version: "v1", app: "fraud", ...FRAUD_SCORES } });
        exporter.set("fraud-v2", { rps: RPS, latencyMs: 60, predictions: { version: "v2", app: "fraud", ...FRAUD_SCORES } });
        exporter.set("model-v2-errors", { rps: RPS, errorRatio: 0.05, latencyMs: 60 });
        exporter.set("model-v2-slow", { rps: RPS, latencyMs: 120 }); // 2x stable: 100-250 bucket
        exporter.set("model-v2-broken", { rps: RPS, errorRatio: 1, latencyMs: 60 });
        exporter.set("model-v2-idle", { rps: 0 });
        exporter.set("model-v2-trickle", { rps: 1, latencyMs: 60 });
        exporter.set("model-v2-degrading", { rps: RPS, latencyMs: 60 });
        // Low-traffic canaries whose first errors (or slow answers) arrive as new series inside the window.
        exporter.set("model-v2-first-errors", { rps: 5, latencyMs: 60 });
        exporter.set("model-v2-first-grpc-errors", { rps: 5, latencyMs: 60, protocol: "grpc" });
        exporter.set("model-v2-first-slow", { rps: 5, latencyMs: 60 });
        exporter.set("model-v2-burst-only", { rps: 0 });
        // gRPC model servers: errors are gRPC statuses, over HTTP 200 unless said otherwise.
        exporter.set("model-v2-grpc-healthy", { rps: RPS, latencyMs: 60, protocol: "grpc" });
        exporter.set("model-v2-grpc-unavailable", { rps: RPS, errorRatio: 0.05, latencyMs: 60, protocol: "grpc", grpcErrorStatus: 14 });
        exporter.set("model-v2-grpc-down", { rps: RPS, errorRatio: 1, latencyMs: 60, protocol: "grpc", grpcErrorStatus: 14 });
        exporter.set("model-v2-grpc-503", { rps: RPS, errorRatio: 0.05, latencyMs: 60, protocol: "grpc", grpcErrorStatus: 14, errorCode: 503 });
        // Same workload name in another namespace, half failing: must not leak into "default".
        exporter.set("model-v2-healthy", { rps: RPS, errorRatio: 0.5, latencyMs: 60, namespace: "staging", predictions: { version: "v2-same", mean: 0.9, sd: 0.05 } });
        // Ambient mode behind a waypoint: only the waypoint reports the requests (`reporter="waypoint"`).
        const waypoint = { namespace: AMBIENT, reporters: ["waypoint" as const] };
        exporter.set(STABLE, { rps: RPS, latencyMs: 60, ...waypoint });
        exporter.set("model-v2-healthy", { rps: RPS, latencyMs: 60, ...waypoint });
        exporter.set("model-v2-errors", { rps: RPS, errorRatio: 0.05, latencyMs: 60, ...waypoint });
        // A namespace migrating to ambient: stable's pods keep their sidecars behind the new waypoint,
        // so both report each request; the canary's pods came up without one.
        exporter.set(STABLE, { rps: RPS, latencyMs: 60, namespace: MIGRATING, reporters: ["waypoint", "destination"] });
        exporter.set("model-v2", { rps: RPS, latencyMs: 60, namespace: MIGRATING, reporters: ["waypoint"] });

        prom = await startPrometheus({ targets: [exporter.target], scrapeInterval: "1s" });
        client = new PrometheusClient({ url: prom.url, timeoutMs: 5000 });
        // Wait until the analysis window is fully covered by scrapes.
        await waitFor(
            `a full ${WINDOW} of samples`,
            async () => {
                const n = await client.query(`count_over_time(up{job="istio"}[${WINDOW}])`);
                return n !== null && n >= 10 ? n : undefined;
            },
            { timeoutMs: 30_000 },
        );
    });

    after(async () => {
        await prom?.stop();
        await exporter?.close();
    });

    it("healthy canary: every check passes with values near the simulated ones", async () => {
        const report = await analyse("model-v2-healthy");
        assert.deepStrictEqual(statuses(report.results), {
            [CHECK_NAMES.successRate]: "pass",
            [CHECK_NAMES.p99]: "pass",
            [CHECK_NAMES.successRateVsStable]: "pass",
            [CHECK_NAMES.p99VsStable]: "pass",
        });
        assert.strictEqual(report.summary, "pass");
        const { canary, stable } = report.measurement;
        assert.strictEqual(num(canary.successRate), 100);
        assert.strictEqual(num(stable.successRate), 100);
        // 60 ms lies in the (50, 100] bucket; histogram_quantile interpolates to 50 + 0.99 * 50.
        assert.ok(Math.abs(num(canary.p99Ms) - 99.5) < 0.01, `p99 ${canary.p99Ms}`);
        assert.ok(Math.abs(num(stable.p99Ms) - 99.5) < 0.01, `p99 ${stable.p99Ms}`);
        // 50 req/s over 10 s, counted once (the reporter="source" duplicates are filtered out).
        const requests = num(canary.requests);
        assert.ok(requests > 400 && requests < 600, `requests ${requests}`);
        assert.match(get(report.results, CHECK_NAMES.successRate).message, /^canary success rate 100\.00% >= 99\.00%$/);
        assert.ok(report.at instanceof Date && Math.abs(report.at.getTime() - Date.now()) < 5000);
        assert.match(report.queries.canary.successRate, /destination_workload="model-v2-healthy"/);
    });

    it("request count matches what the exporter served during the window", async () => {
        const measured = num(await client.query(requestCountQuery({ namespace: NS, workload: STABLE }, WINDOW)));
        assert.ok(Math.abs(measured - RPS * 10) / (RPS * 10) < 0.15, `measured ${measured}, expected about ${RPS * 10}`);
        assert.ok(exporter.totalRequests(STABLE) > measured, "the window covers only part of all requests");
    });

    it("canary at 5% errors: success-rate checks fail at about 95%", async () => {
        const report = await analyse("model-v2-errors");
        const sr = num(report.measurement.canary.successRate);
        assert.ok(sr > 93.5 && sr < 96.5, `success rate ${sr}`);
        assert.deepStrictEqual(statuses(report.results), {
            [CHECK_NAMES.successRate]: "fail",
            [CHECK_NAMES.p99]: "pass",
            [CHECK_NAMES.successRateVsStable]: "fail",
            [CHECK_NAMES.p99VsStable]: "pass",
        });
        const check = get(report.results, CHECK_NAMES.successRate);
        assert.strictEqual(check.value, sr);
        assert.strictEqual(check.threshold, 99);
        assert.match(check.message, /^canary success rate 9[3-6]\.\d\d% < 99\.00%$/);
        assert.strictEqual(report.summary, "fail");
    });

    it("slow canary (2x stable latency): relative P99 check fails, absolute passes", async () => {
        const report = await analyse("model-v2-slow");
        const p99 = num(report.measurement.canary.p99Ms);
        // 120 ms lies in the (100, 250] bucket: 100 + 0.99 * 150 = 248.5.
        assert.ok(p99 > 100 && p99 <= 250, `p99 ${p99}`);
        assert.ok(Math.abs(p99 - 248.5) < 0.01, `p99 ${p99}`);
        const abs = get(report.results, CHECK_NAMES.p99);
        const rel = get(report.results, CHECK_NAMES.p99VsStable);
        assert.strictEqual(abs.status, "pass", abs.message);
        assert.strictEqual(rel.status, "fail", rel.message);
        assert.ok(Math.abs(rel.threshold! - 1.2 * 99.5) < 0.01);
        assert.match(rel.message, /^canary P99 latency 248\.5 ms is 2\.50x stable 99\.5 ms, above the allowed 1\.2x \(119\.4 ms\)$/);
        assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "pass");
        assert.strictEqual(report.summary, "fail");
    });

    it("canary answering only 5xx: success rate is 0 and fails (not nodata)", async () => {
        const report = await analyse("model-v2-broken");
        assert.strictEqual(num(report.measurement.canary.successRate), 0);
        assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
        assert.strictEqual(get(report.results, CHECK_NAMES.successRateVsStable).status, "fail");
    });

    describe("prediction-distribution gate", () => {
        const withGate = (canaryWorkload: string, canaryVersion: string, extra: Partial<RunAnalysisOptions> = {}) =>
            analyse(canaryWorkload, { predictions: gate, context: { ...context, canaryVersion }, ...extra });
        /** The statistics of the simulated distributions themselves, per bucket of the default bounds. */
        const ideal = (a: { mean: number; sd: number }, b: { mean: number; sd: number }) => {
            const h = (d: { mean: number; sd: number }) => ({ bounds: DEFAULT_PREDICTION_BOUNDS, counts: normalBucketShares(d.mean, d.sd, DEFAULT_PREDICTION_BOUNDS), total: 1 });
            return { psi: psi(h(a), h(b)), ks: ksDistance(h(a), h(b)).distance };
        };

        it("the query returns one cumulative count per bucket bound, +Inf included, for one version in one namespace", async () => {
            const q = predictionBucketsQuery({ metric: "model_prediction_score_bucket", appLabel: "app", namespaceLabel: "namespace", versionLabel: "version", app: "model", namespace: NS, version: "v1" }, WINDOW);
            assert.strictEqual(q, `sum by (le) (${seriesCountInWindow(`model_prediction_score_bucket{app="model",namespace="default",version="v1"}`, WINDOW, `model_prediction_score_bucket{namespace="default"}`)})`);
            const samples = await client.queryVector(q);
            assert.deepStrictEqual(samples.map((x) => x.labels.le).sort((a, b) => Number(a.replace("+Inf", "Infinity")) - Number(b.replace("+Inf", "Infinity"))),
                ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1", "+Inf"]);
            const total = samples.find((x) => x.labels.le === "+Inf")!.value;
            assert.ok(total > 400 && total < 600, `predictions ${total}`);
        });

        it("a canary predicting like stable passes both checks with statistics near 0", async () => {
            const report = await withGate("model-v2-healthy", "v2-same");
            const psiCheck = get(report.results, PREDICTION_CHECK_NAMES.psi);
            const ksCheck = get(report.results, PREDICTION_CHECK_NAMES.ks);
            assert.strictEqual(psiCheck.status, "pass", psiCheck.message);
            assert.strictEqual(ksCheck.status, "pass", ksCheck.message);
            // Whole counts and increase() over a few scrapes leave a little noise, nothing near 0.2.
            assert.ok(psiCheck.value! < 0.02, psiCheck.message);
            assert.ok(ksCheck.value! < 0.02, ksCheck.message);
            assert.strictEqual(report.summary, "pass", JSON.stringify(report.results));
            assert.strictEqual(report.queries.canary.predictions, `sum by (le) (${seriesCountInWindow(`model_prediction_score_bucket{app="model",namespace="default",version="v2-same"}`, WINDOW, `model_prediction_score_bucket{namespace="default"}`)})`);
        });

        it("a canary healthy by HTTP whose scores moved up by 0.2 fails both checks, with the statistics of the simulated shift", async () => {
            const report = await withGate("model-v2-shifted", "v2-shifted");
            assert.deepStrictEqual(statuses(report.results), {
                [CHECK_NAMES.successRate]: "pass", [CHECK_NAMES.p99]: "pass", [CHECK_NAMES.successRateVsStable]: "pass", [CHECK_NAMES.p99VsStable]: "pass",
                [PREDICTION_CHECK_NAMES.psi]: "fail", [PREDICTION_CHECK_NAMES.ks]: "fail",
            });
            const want = ideal(SHIFTED, SCORES); // PSI about 1.74 (about (0.2 / 0.15)² for two normals), KS about 0.49
            const psiCheck = get(report.results, PREDICTION_CHECK_NAMES.psi);
            const ksCheck = get(report.results, PREDICTION_CHECK_NAMES.ks);
            // About 500 predictions a side over the window: a tail bucket whose share is near 0 on one
            // side (below 0.2 for the shifted canary, above 1 for stable) holds 0 or 1 whole counts,
            // and one count there moves the PSI by about 0.07; with the four tail buckets that is up
            // to about 0.25 either way (1.93 was read once against 1.71). KS is a CDF difference and
            // barely moves.
            assert.ok(Math.abs(psiCheck.value! - want.psi) < 0.25 * want.psi, `${psiCheck.value} vs ${want.psi}`);
            assert.ok(Math.abs(ksCheck.value! - want.ks) < 0.05, `${ksCheck.value} vs ${want.ks}`);
            assert.match(psiCheck.message, /^canary predictions shifted from stable: PSI \d\.\d{3} > 0\.2 \(\d+(\.\d)? canary and \d+(\.\d)? stable predictions in 11 buckets\)$/);
            assert.match(ksCheck.message, /, largest at le 0\.6\)$/);
            assert.strictEqual(report.summary, "fail");
        });

        it("a canary whose model exports no predictions is no data, never a pass", async () => {
            const report = await withGate("model-v2-healthy", "v2-silent");
            assert.strictEqual(report.measurement.canary.predictions, null);
            assert.deepStrictEqual([get(report.results, PREDICTION_CHECK_NAMES.psi).status, get(report.results, PREDICTION_CHECK_NAMES.ks).status], ["nodata", "nodata"]);
            assert.match(get(report.results, PREDICTION_CHECK_NAMES.psi).message, /^no canary predictions in the analysis window/);
            assert.strictEqual(report.summary, "fail");
        });

        it("histograms with other bucket bounds are an error, not a comparison", async () => {
            const report = await withGate("model-v2-other-buckets", "v2-buckets");
            const check = get(report.results, PREDICTION_CHECK_NAMES.psi);
            assert.strictEqual(check.status, "error");
            assert.match(check.message, /different bucket bounds \(canary 4 bounds: 0\.25, 0\.5, 0\.75, 1; stable 10 bounds: 0\.1, 0\.2/);
        });

        it("selects by namespace: the same version's predictions in another namespace stay out", async () => {
            // In "staging", v2-same predicts around 0.9 and there is no stable version.
            const staging = await withGate("model-v2-healthy", "v2-same", { namespace: "staging" });
            assert.strictEqual(get(staging.results, PREDICTION_CHECK_NAMES.psi).status, "nodata");
            assert.match(get(staging.results, PREDICTION_CHECK_NAMES.psi).message, /^no stable predictions/);
        });

        it("selects by app: another model's predictions under the same version names in the same namespace stay out", async () => {
            // Model `model` v2-same against its own v1: as without the other model, about 500 predictions a side.
            const own = await withGate("model-v2-healthy", "v2-same");
            assert.strictEqual(get(own.results, PREDICTION_CHECK_NAMES.psi).status, "pass", get(own.results, PREDICTION_CHECK_NAMES.psi).message);
            assert.ok(get(own.results, PREDICTION_CHECK_NAMES.psi).value! < 0.02, get(own.results, PREDICTION_CHECK_NAMES.psi).message);
            assert.match(get(own.results, PREDICTION_CHECK_NAMES.psi).message, /\((4\d\d|5\d\d)(\.\d)? canary and (4\d\d|5\d\d)(\.\d)? stable predictions/);
            // Model `fraud` v2 against fraud's v1: the same version names as model's, its own scores.
            const fraud = await analyse("fraud-v2", { app: "fraud", stableWorkload: "fraud-v1", predictions: gate, context: { ...context, canaryVersion: "v2", stableVersion: "v1" } });
            assert.strictEqual(fraud.queries.stable.predictions, `sum by (le) (${seriesCountInWindow(`model_prediction_score_bucket{app="fraud",namespace="default",version="v1"}`, WINDOW, `model_prediction_score_bucket{namespace="default"}`)})`);
            assert.strictEqual(get(fraud.results, PREDICTION_CHECK_NAMES.psi).status, "pass", get(fraud.results, PREDICTION_CHECK_NAMES.psi).message);
            assert.ok(get(fraud.results, PREDICTION_CHECK_NAMES.psi).value! < 0.02, get(fraud.results, PREDICTION_CHECK_NAMES.psi).message);
            // With `appLabel: null`, model's stable v1 counts fraud's v1 too: about 1000 predictions, half near 0.9, and the healthy canary fails.
            const mixed = await withGate("model-v2-healthy", "v2-same", { predictions: { ...gate, appLabel: null } });
            assert.strictEqual(mixed.queries.stable.predictions, `sum by (le) (${seriesCountInWindow(`model_prediction_score_bucket{namespace="default",version="v1"}`, WINDOW, `model_prediction_score_bucket{namespace="default"}`)})`);
            assert.strictEqual(get(mixed.results, PREDICTION_CHECK_NAMES.psi).status, "fail");
            assert.match(get(mixed.results, PREDICTION_CHECK_NAMES.psi).message, / and (9\d\d|1\d\d\d)(\.\d)? stable predictions/);
        });

        it("reads a metric and labels named in the config", async () => {
            const custom = { ...gate, metric: "triton_score_bucket", namespaceLabel: "kubernetes_namespace", versionLabel: "model_version" };
            const report = await analyse("model-v2-custom", { predictions: custom, stableWorkload: "model-v1-custom" });
            assert.strictEqual(report.queries.canary.predictions, `sum by (le) (${seriesCountInWindow(`triton_score_bucket{app="model",kubernetes_namespace="default",model_version="v2"}`, WINDOW, `triton_score_bucket{kubernetes_namespace="default"}`)})`);
            assert.strictEqual(get(report.results, PREDICTION_CHECK_NAMES.psi).status, "fail");
            // Under the default names, the canary's model server exports nothing.
            const defaults = await analyse("model-v2-custom", { predictions: gate, stableWorkload: "model-v1-custom" });
            assert.match(get(defaults.results, PREDICTION_CHECK_NAMES.psi).message, /^no canary predictions/);
        });
    });

    describe("gRPC", () => {
        it("a canary answering UNAVAILABLE (14) over HTTP 200 to 5% of requests reads about 95% and fails", async () => {
            const report = await analyse("model-v2-grpc-unavailable");
            const sr = num(report.measurement.canary.successRate);
            assert.ok(sr > 93.5 && sr < 96.5, `success rate ${sr}`);
            assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
            assert.strictEqual(get(report.results, CHECK_NAMES.successRateVsStable).status, "fail");
            assert.strictEqual(report.summary, "fail");
            // What a query on the response code alone (Flagger's) reads for the same canary: all good.
            const m = `reporter="destination",destination_workload_namespace="${NS}",destination_workload="model-v2-grpc-unavailable"`;
            const httpOnly = await client.query(`sum(rate(istio_requests_total{${m},response_code!~"5.."}[${WINDOW}])) / sum(rate(istio_requests_total{${m}}[${WINDOW}])) * 100`);
            assert.strictEqual(httpOnly, 100);
        });

        it("a healthy gRPC canary (every status 0) reads 100% and passes", async () => {
            const report = await analyse("model-v2-grpc-healthy");
            assert.strictEqual(num(report.measurement.canary.successRate), 100);
            assert.strictEqual(report.summary, "pass", JSON.stringify(report.results));
        });

        it("a gRPC canary failing every request reads 0, not no data (both parts fall back to vector(0))", async () => {
            const report = await analyse("model-v2-grpc-down");
            assert.strictEqual(num(report.measurement.canary.successRate), 0);
            assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
        });

        it("a gRPC error answered with HTTP 503 counts once: about 95%, not 90%", async () => {
            const report = await analyse("model-v2-grpc-503");
            const sr = num(report.measurement.canary.successRate);
            assert.ok(sr > 93.5 && sr < 96.5, `success rate ${sr}`);
        });
    });

    it("canary with 0 rps: no series, every metric check is nodata and the analysis does not pass", async () => {
        const report = await analyse("model-v2-idle");
        assert.deepStrictEqual(report.measurement.canary, { requests: null, successRate: null, p99Ms: null });
        assert.deepStrictEqual(
            report.results.map((r) => r.status),
            ["nodata", "nodata", "nodata", "nodata"],
        );
        assert.match(report.results[0].message, /no canary traffic/);
        assert.strictEqual(report.summary, "fail");
    });

    it("canary with 1 rps: about 10 requests per window, below minRequests 20, so nodata", async () => {
        const report = await analyse("model-v2-trickle");
        const requests = num(report.measurement.canary.requests);
        assert.ok(requests > 5 && requests < 15, `requests ${requests}`);
        assert.strictEqual(num(report.measurement.canary.successRate), 100);
        assert.deepStrictEqual(
            report.results.map((r) => r.status),
            ["nodata", "nodata", "nodata", "nodata"],
        );
        assert.match(
            report.results[0].message,
            /^canary received \d+(\.\d)? requests in the analysis window, fewer than minRequests 20; not judged$/,
        );
        assert.strictEqual(report.summary, "fail");
    });

    it("selects by namespace: the same workload name elsewhere is a different workload", async () => {
        const report = await analyse("model-v2-healthy", { namespace: "staging" });
        const sr = num(report.measurement.canary.successRate);
        assert.ok(sr > 45 && sr < 55, `success rate ${sr}`);
        // There is no stable workload in "staging": relative checks cannot compare.
        assert.deepStrictEqual(report.measurement.stable, { requests: null, successRate: null, p99Ms: null });
        const rel = get(report.results, CHECK_NAMES.successRateVsStable);
        assert.strictEqual(rel.status, "nodata");
        assert.match(rel.message, /stable had no traffic/);
        assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
    });

    describe("rollout.analysis.reporter: ambient mode's waypoint metrics", () => {
        const waypoint = { namespace: AMBIENT, reporters: ["waypoint" as const] };
        const noData = { requests: null, successRate: null, p99Ms: null };

        it("waypoint: an ambient canary and stable are read from reporter=\"waypoint\", and a healthy canary passes", async () => {
            const report = await analyse("model-v2-healthy", waypoint);
            assert.deepStrictEqual(statuses(report.results), {
                [CHECK_NAMES.successRate]: "pass", [CHECK_NAMES.p99]: "pass", [CHECK_NAMES.successRateVsStable]: "pass", [CHECK_NAMES.p99VsStable]: "pass",
            });
            assert.strictEqual(report.summary, "pass");
            const { canary, stable } = report.measurement;
            assert.deepStrictEqual([num(canary.successRate), num(stable.successRate)], [100, 100]);
            assert.ok(Math.abs(num(canary.p99Ms) - 99.5) < 0.01, `p99 ${canary.p99Ms}`);
            for (const side of [canary, stable]) assert.ok(num(side.requests) > 400 && num(side.requests) < 600, `requests ${side.requests}`);
            assert.match(report.queries.canary.requests, /reporter="waypoint",destination_workload_namespace="ambient",destination_workload="model-v2-healthy"/);
        });

        it("waypoint: a canary failing 5% of requests at the waypoint fails at about 95%", async () => {
            const report = await analyse("model-v2-errors", waypoint);
            const sr = num(report.measurement.canary.successRate);
            assert.ok(sr > 93.5 && sr < 96.5, `success rate ${sr}`);
            assert.deepStrictEqual(statuses(report.results), {
                [CHECK_NAMES.successRate]: "fail", [CHECK_NAMES.p99]: "pass", [CHECK_NAMES.successRateVsStable]: "fail", [CHECK_NAMES.p99VsStable]: "pass",
            });
            assert.strictEqual(report.summary, "fail");
        });

        it("destination (the default) on the same ambient series: no data on both sides, every check nodata, the analysis does not pass", async () => {
            for (const reporters of [undefined, ["destination" as const]]) {
                const report = await analyse("model-v2-healthy", { namespace: AMBIENT, ...(reporters ? { reporters } : {}) });
                assert.deepStrictEqual(report.measurement, { canary: noData, stable: noData });
                assert.deepStrictEqual(report.results.map((r) => r.status), ["nodata", "nodata", "nodata", "nodata"]);
                assert.match(report.results[0].message, /no canary traffic/);
                assert.strictEqual(report.summary, "fail");
            }
        });

        it("the preflight finds stable's waypoint series with waypoint, and with destination refuses, naming the setting", async () => {
            const ask = (reporters?: ("destination" | "waypoint")[]) => preflightPrometheus({
                prometheus: client, url: prom.url, stable: { namespace: AMBIENT, workload: STABLE, ...(reporters ? { reporters } : {}) },
            });
            assert.strictEqual(await ask(["waypoint"]), undefined);
            assert.strictEqual(await ask(["destination", "waypoint"]), undefined);
            const refused = await ask();
            assert.strictEqual(refused?.message, `Prometheus at ${prom.url} has no \`istio_requests_total\` series for the stable workload \`model-v1\` in namespace \`ambient\` `
                + `(\`count(istio_requests_total{reporter="destination",destination_workload_namespace="ambient",destination_workload="model-v1"})\` is empty): `
                + "the canary could not be compared with it. Check that this is the Prometheus that scrapes the mesh's proxies and that the stable model receives traffic");
            assert.strictEqual(refused?.fix, "check that `rollout.analysis.reporter` (`destination`) names the proxy that reports the model's requests: `destination` with sidecars, "
                + "`waypoint` in ambient mode with a waypoint (without one, ambient reports no request metrics); or fix `rollout.prometheus` (or `--prometheus`)");
            const wrong = await preflightPrometheus({ prometheus: client, url: prom.url, stable: { namespace: NS, workload: STABLE, reporters: ["waypoint"] } });
            assert.match(wrong?.message ?? "", /has no `istio_requests_total` series reported by `waypoint` for the stable workload `model-v1` in namespace `default` \(`count\(istio_requests_total\{reporter="waypoint",/);
        });

        it("[destination, waypoint] while migrating: each workload is read from the first reporter with series, a request both report counted once", async () => {
            const both = ["destination" as const, "waypoint" as const];
            const report = await analyse("model-v2", { namespace: MIGRATING, reporters: both });
            assert.strictEqual(report.summary, "pass");
            const { canary, stable } = report.measurement;
            // Stable (sidecars behind a waypoint) is read from destination alone; the canary (no sidecar) from the waypoint.
            for (const side of [canary, stable]) assert.ok(num(side.requests) > 400 && num(side.requests) < 600, `requests ${side.requests}`);
            const sum = (reporter: string) => client.query(`sum(increase(istio_requests_total{reporter=~"${reporter}",destination_workload_namespace="${MIGRATING}",destination_workload="${STABLE}"}[${WINDOW}]))`);
            const [destination, waypointOnly, summed] = [num(await sum("destination")), num(await sum("waypoint")), num(await sum("destination|waypoint"))];
            // The regex both reporters match counts stable's requests twice: what `both` as a sum would read.
            assert.ok(summed > 1.8 * num(stable.requests) && summed < 2.2 * num(stable.requests), `summed ${summed}, read ${stable.requests}`);
            assert.ok(destination > 400 && waypointOnly > 400, `${destination} ${waypointOnly}`);
            // With destination alone the canary has no data; with waypoint alone it is read as with the list.
            const destinationOnly = await analyse("model-v2", { namespace: MIGRATING, reporters: ["destination"] });
            assert.deepStrictEqual(destinationOnly.measurement.canary, noData);
            assert.strictEqual(destinationOnly.summary, "fail");
        });
    });

    describe("a series born inside the window is counted from zero", () => {
        const matchers = (workload: string) => `reporter="destination",destination_workload_namespace="${NS}",destination_workload="${workload}"`;
        /** The queries before this change: rate() and increase(), which never see a new series' first value. */
        const former = (workload: string) => {
            const rate = (extra: string) => `sum(rate(istio_requests_total{${matchers(workload)}${extra}}[${WINDOW}]))`;
            return {
                requests: `sum(increase(istio_requests_total{${matchers(workload)}}[${WINDOW}]))`,
                successRate: `((${rate(`,response_code!~"5..",request_protocol!="grpc"`)} or vector(0)) + (${rate(`,response_code!~"5..",request_protocol="grpc",grpc_response_status="0"`)} or vector(0))) / ${rate("")} * 100`,
                p99Ms: `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${matchers(workload)}}[${WINDOW}])))`,
            };
        };
        /** What the former queries read for the canary, judged as the analysis judges (stable measured the new way). */
        const judgedTheFormerWay = async (workload: string, stable: AnalysisReport["measurement"]["stable"]) => {
            const q = former(workload);
            const canary = { requests: await client.query(q.requests), successRate: await client.query(q.successRate), p99Ms: await client.query(q.p99Ms) };
            return { canary, results: evaluate({ canary, stable }, thresholds) };
        };
        /** Adds the burst, then waits until Prometheus holds two samples of its new series in the window (so rate() has had its two samples too). */
        const burst = async (workload: string, b: RequestBurst, series: string) => {
            exporter.addRequests(workload, b);
            await waitFor(`two samples of ${series}`, async () => {
                const n = await client.query(`count_over_time(istio_requests_total{${matchers(workload)},${series}}[${WINDOW}])`);
                return n !== null && n >= 2 ? n : undefined;
            });
        };

        before(async function () {
            // The namespace's series had samples in the window before this one: Prometheus was scraping then.
            await waitFor("samples of the namespace a window ago", async () =>
                (await client.query(`count(count_over_time(istio_requests_total{reporter="destination",destination_workload_namespace="${NS}"}[${WINDOW}] offset ${WINDOW}))`)) ?? undefined,
            );
        });

        it("a canary whose first five 500s arrive as a new series fails at about 91% (the former query read 100% and passed)", async () => {
            await burst("model-v2-first-errors", { count: 5, responseCode: 500, latencyMs: 60 }, `response_code="500"`);
            const report = await analyse("model-v2-first-errors");
            const sr = num(report.measurement.canary.successRate);
            // About 50 good requests in the 10 s window and the 5 errors: 50 / 55.
            assert.ok(sr > 85 && sr < 95, `success rate ${sr}`);
            const requests = num(report.measurement.canary.requests);
            assert.ok(requests > 45 && requests < 70, `requests ${requests}`);
            assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
            assert.strictEqual(get(report.results, CHECK_NAMES.successRateVsStable).status, "fail");
            assert.strictEqual(report.summary, "fail");
            // The former query did not see the five errors at all, and every check passed.
            const was = await judgedTheFormerWay("model-v2-first-errors", report.measurement.stable);
            assert.strictEqual(was.canary.successRate, 100);
            assert.deepStrictEqual(statuses(was.results), {
                [CHECK_NAMES.successRate]: "pass",
                [CHECK_NAMES.p99]: "pass",
                [CHECK_NAMES.successRateVsStable]: "pass",
                [CHECK_NAMES.p99VsStable]: "pass",
            });
        });

        it("a gRPC canary whose first five UNAVAILABLE (over HTTP 200) arrive as a new series fails (the former query read 100%)", async () => {
            await burst("model-v2-first-grpc-errors", { count: 5, responseCode: 200, protocol: "grpc", grpcStatus: 14, latencyMs: 60 }, `grpc_response_status="14"`);
            const report = await analyse("model-v2-first-grpc-errors");
            const sr = num(report.measurement.canary.successRate);
            assert.ok(sr > 85 && sr < 95, `success rate ${sr}`);
            assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
            assert.strictEqual((await judgedTheFormerWay("model-v2-first-grpc-errors", report.measurement.stable)).canary.successRate, 100);
        });

        it("a canary whose first five 2 s answers arrive as a new series has its P99 above 1000 ms (the former query read 99.5 ms)", async () => {
            // 404: a client's error, not a failure; only the latency shows it.
            await burst("model-v2-first-slow", { count: 5, responseCode: 404, latencyMs: 2000 }, `response_code="404"`);
            const report = await analyse("model-v2-first-slow");
            const p99 = num(report.measurement.canary.p99Ms);
            assert.ok(p99 > 1000 && p99 <= 2500, `p99 ${p99}`);
            assert.strictEqual(num(report.measurement.canary.successRate), 100);
            assert.strictEqual(get(report.results, CHECK_NAMES.p99).status, "fail");
            assert.strictEqual(get(report.results, CHECK_NAMES.p99VsStable).status, "fail");
            const was = await judgedTheFormerWay("model-v2-first-slow", report.measurement.stable);
            assert.ok(Math.abs(num(was.canary.p99Ms) - 99.5) < 0.01, `former p99 ${was.canary.p99Ms}`);
            assert.strictEqual(get(was.results, CHECK_NAMES.p99).status, "pass");
        });

        it("minRequests counts what the rate counts: a canary whose only traffic is 30 new 500s has 30 requests and fails (formerly 0 requests, no data)", async () => {
            await burst("model-v2-burst-only", { count: 30, responseCode: 500, latencyMs: 60 }, `response_code="500"`);
            const report = await analyse("model-v2-burst-only");
            assert.strictEqual(num(report.measurement.canary.requests), 30);
            assert.strictEqual(num(report.measurement.canary.successRate), 0);
            assert.strictEqual(get(report.results, CHECK_NAMES.successRate).status, "fail");
            assert.match(get(report.results, CHECK_NAMES.successRate).message, /^canary success rate 0\.00% < 99\.00%$/);
            const was = await judgedTheFormerWay("model-v2-burst-only", report.measurement.stable);
            assert.strictEqual(was.canary.requests, 0);
            assert.match(get(was.results, CHECK_NAMES.successRate).message, /^canary received 0 requests in the analysis window, fewer than minRequests 20; not judged$/);
        });

        it("a series that counted before the window is not new: stable's count stays what it served in the window, not its total", async () => {
            const measured = num(await client.query(requestCountQuery({ namespace: NS, workload: STABLE }, WINDOW)));
            assert.ok(Math.abs(measured - RPS * 10) / (RPS * 10) < 0.15, `measured ${measured}, expected about ${RPS * 10}`);
            assert.ok(exporter.totalRequests(STABLE) > 2 * measured, `total ${exporter.totalRequests(STABLE)}`);
        });
    });

    it("an invalid query is a PrometheusError carrying Prometheus' error text", async () => {
        await assert.rejects(client.query("sum(rate(istio_requests_total[10s]"), (err: unknown) => {
            assert.ok(err instanceof PrometheusError);
            assert.strictEqual(err.kind, "http");
            assert.strictEqual(err.status, 400);
            assert.strictEqual(err.errorType, "bad_data");
            assert.ok(err.message.startsWith(`Prometheus query to ${prom.url}/api/v1/query failed (HTTP 400): bad_data: `), err.message);
            assert.match(err.message, /parse error/);
            return true;
        });
    });

    describe("custom checks in an analysis", () => {
        let hook: http.Server;
        let hookUrl: string;
        let closedUrl: string;
        const payloads: Record<string, unknown>[] = [];

        before(async () => {
            hook = http.createServer((req, res) => {
                let raw = "";
                req.setEncoding("utf8");
                req.on("data", (d: string) => (raw += d));
                req.on("end", () => {
                    const body = JSON.parse(raw) as Record<string, unknown>;
                    payloads.push(body);
                    res.writeHead(200, { "Content-Type": "application/json" });
                    res.end(JSON.stringify({ pass: body.weight === 10, message: `top-1 agreement 0.97 at weight ${body.weight}` }));
                });
            });
            await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
            hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/verdict`;
            const probe = http.createServer();
            await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
            closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/verdict`;
            await new Promise((resolve) => probe.close(resolve));
        });

        after(async () => {
            hook.closeAllConnections();
            await new Promise((resolve) => hook.close(resolve));
        });

        it("webhook pass, command pass/fail and an unreachable webhook (error) appear after the metric checks", async () => {
            const report = await analyse("model-v2-healthy", {
                customChecks: [
                    { name: "prediction-agreement", webhook: { url: hookUrl, timeoutMs: 2000 } },
                    { name: "golden-set", command: [process.execPath, "-e", "console.log('golden set 50/50 correct')"] },
                    { name: "drift", command: 'echo "feature drift 0.31 > 0.20" >&2; exit 1' },
                    { name: "offline-evaluator", webhook: { url: closedUrl, timeoutMs: 2000 } },
                ],
            });
            assert.deepStrictEqual(
                report.results.map((r) => [r.name, r.status]),
                [
                    [CHECK_NAMES.successRate, "pass"],
                    [CHECK_NAMES.p99, "pass"],
                    [CHECK_NAMES.successRateVsStable, "pass"],
                    [CHECK_NAMES.p99VsStable, "pass"],
                    ["prediction-agreement", "pass"],
                    ["golden-set", "pass"],
                    ["drift", "fail"],
                    ["offline-evaluator", "error"],
                ],
            );
            assert.strictEqual(get(report.results, "prediction-agreement").message, "top-1 agreement 0.97 at weight 10");
            assert.strictEqual(get(report.results, "golden-set").message, "golden set 50/50 correct");
            assert.strictEqual(get(report.results, "drift").message, "feature drift 0.31 > 0.20 (exit 1)");
            assert.match(get(report.results, "offline-evaluator").message, /ECONNREFUSED/);
            assert.strictEqual(report.summary, "fail");
            assert.deepStrictEqual(payloads[payloads.length - 1], {
                name: "prediction-agreement",
                namespace: NS,
                canaryWorkload: "model-v2-healthy",
                stableWorkload: STABLE,
                window: WINDOW,
                canaryVersion: "v2",
                stableVersion: "v1",
                weight: 10,
            });
        });

        it("a check is sent the reporters the metric checks read, so that a query of its own can select the same series", async () => {
            const report = await analyse("model-v2-healthy", { namespace: AMBIENT, reporters: ["waypoint"], customChecks: [{ name: "prediction-agreement", webhook: { url: hookUrl, timeoutMs: 2000 } }] });
            assert.strictEqual(get(report.results, "prediction-agreement").status, "pass");
            assert.deepStrictEqual(payloads[payloads.length - 1], {
                name: "prediction-agreement", namespace: AMBIENT, canaryWorkload: "model-v2-healthy", stableWorkload: STABLE, window: WINDOW,
                reporters: ["waypoint"], canaryVersion: "v2", stableVersion: "v1", weight: 10,
            });
        });

        it("a webhook failing the canary fails an otherwise healthy analysis", async () => {
            const report = await analyse("model-v2-healthy", {
                context: { ...context, weight: 50 },
                customChecks: [{ name: "prediction-agreement", webhook: { url: hookUrl } }],
            });
            assert.strictEqual(get(report.results, "prediction-agreement").status, "fail");
            assert.strictEqual(get(report.results, "prediction-agreement").message, "top-1 agreement 0.97 at weight 50");
            assert.strictEqual(report.summary, "fail");
        });
    });

    it("rollout loop: a canary that degrades mid-step is rolled back after failureThreshold analyses", async () => {
        const outcomes: AnalysisSummary[] = [];
        const seen: number[] = [];
        const stepStart = Date.now();
        let decision = "wait";
        for (let tick = 0; tick < 15 && decision !== "rollback"; tick++) {
            if (tick === 2) exporter.set("model-v2-degrading", { rps: RPS, errorRatio: 0.3, latencyMs: 60 });
            const report = await analyse("model-v2-degrading");
            outcomes.push(report.summary);
            seen.push(num(report.measurement.canary.successRate));
            decision = decideStep({
                outcomes,
                elapsedMs: Date.now() - stepStart,
                intervalMs: 60_000,
                failureThreshold: thresholds.failureThreshold,
            }).decision;
            if (decision !== "rollback") await sleep(1000);
        }
        assert.strictEqual(decision, "rollback", `outcomes ${outcomes.join(",")}, success rates ${seen.join(",")}`);
        assert.deepStrictEqual(outcomes.slice(0, 2), ["pass", "pass"]);
        assert.deepStrictEqual(outcomes.slice(-2), ["fail", "fail"]);
        assert.ok(outcomes.length <= 8, `rollback took ${outcomes.length} analyses`);
        assert.ok(seen[seen.length - 1] < 99, `success rate ${seen[seen.length - 1]}`);
    });

    it("rollout loop: a healthy canary advances once the interval has elapsed", async () => {
        const outcomes: AnalysisSummary[] = [];
        const stepStart = Date.now();
        const decisions: string[] = [];
        for (let tick = 0; tick < 6; tick++) {
            outcomes.push((await analyse("model-v2-healthy")).summary);
            const d = decideStep({ outcomes, elapsedMs: Date.now() - stepStart, intervalMs: 1500, failureThreshold: 2 });
            decisions.push(d.decision);
            if (d.decision === "advance") break;
            await sleep(1000);
        }
        assert.strictEqual(decisions[0], "wait");
        assert.strictEqual(decisions[decisions.length - 1], "advance");
        assert.ok(decisions.length <= 4, decisions.join(","));
    });

    // Last: these tests take Prometheus down (mocha runs nested suites after the parent's tests).
    describe("when Prometheus fails", () => {
        it("Prometheus frozen: queries time out and every metric check is an error", async () => {
            const slowClient = new PrometheusClient({ url: prom.url, timeoutMs: 300 });
            await prom.pause();
            try {
                await assert.rejects(slowClient.query("up"), (err: unknown) => {
                    assert.ok(err instanceof PrometheusError);
                    assert.strictEqual(err.kind, "timeout");
                    assert.strictEqual(err.message, `Prometheus query to ${prom.url}/api/v1/query failed: no response within 300 ms`);
                    return true;
                });
                const report = await analyse("model-v2-healthy", { prometheus: slowClient });
                assert.deepStrictEqual(
                    report.results.map((r) => r.status),
                    ["error", "error", "error", "error"],
                );
                for (const r of report.results) assert.match(r.message, /no response within 300 ms/);
                assert.strictEqual(report.summary, "fail");
            } finally {
                prom.resume();
            }
            assert.strictEqual(await client.query('count(up{job="istio"})'), 1);
        });

        it("Prometheus down: PrometheusError from the client, error results, rollback; analysis recovers after restart", async () => {
            await prom.kill();
            await assert.rejects(client.query("up"), (err: unknown) => {
                assert.ok(err instanceof PrometheusError);
                assert.strictEqual(err.kind, "network");
                assert.strictEqual(err.status, undefined);
                assert.ok(err.message.startsWith(`Prometheus query to ${prom.url}/api/v1/query failed: `), err.message);
                assert.match(err.message, /ECONNREFUSED/);
                return true;
            });

            const outcomes: AnalysisSummary[] = [];
            for (let i = 0; i < 2; i++) {
                const report = await analyse("model-v2-healthy");
                assert.deepStrictEqual(
                    report.results.map((r) => r.status),
                    ["error", "error", "error", "error"],
                );
                for (const side of [report.measurement.canary, report.measurement.stable]) {
                    for (const v of Object.values(side)) assert.ok(isMetricError(v), JSON.stringify(v));
                }
                assert.match(report.results[0].message, /query failed: Prometheus query to .* ECONNREFUSED/);
                outcomes.push(report.summary);
            }
            const d = decideStep({ outcomes, elapsedMs: 0, intervalMs: 60_000, failureThreshold: thresholds.failureThreshold });
            assert.strictEqual(d.decision, "rollback");

            await prom.restart();
            const report = await analyse("model-v2-healthy");
            assert.strictEqual(report.summary, "pass", JSON.stringify(report.results));
            assert.strictEqual(num(report.measurement.canary.successRate), 100);
        });
    });
});

describe("fake Istio exporter", () => {
    it("labels gRPC requests with request_protocol and grpc_response_status; failures over HTTP 200 by default", async () => {
        let t = 1_000_000;
        const ex = await startIstioExporter({ now: () => t });
        try {
            ex.set("g", { rps: 10, errorRatio: 0.2, protocol: "grpc", grpcErrorStatus: 14 });
            t += 10_000;
            const lines = ex.render().split("\n").filter((l) => l.startsWith("istio_requests_total{") && l.includes('reporter="destination"'));
            const labels = (l: string) => Object.fromEntries([...l.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
            assert.deepStrictEqual(
                lines.map((l) => [labels(l).request_protocol, labels(l).response_code, labels(l).grpc_response_status, Number(l.slice(l.lastIndexOf(" ") + 1))]),
                [["grpc", "200", "0", 80], ["grpc", "200", "14", 20]],
            );
        } finally {
            await ex.close();
        }
    });

    it("exports a prediction histogram per version whose distribution shifts when set again", async () => {
        let t = 1_000_000;
        const ex = await startIstioExporter({ now: () => t, namespace: "ml" });
        try {
            const bucket = (text: string, le: string) => {
                const line = text.split("\n").find((l) => l.startsWith(`model_prediction_score_bucket{app="model",namespace="ml",version="v2",le="${le}"}`));
                return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
            };
            ex.set("model-v2", { rps: 100, errorRatio: 0.5, predictions: { version: "v2", mean: 0.25, sd: 0.1 } });
            t += 10_000;
            // 500 requests did not fail; N(0.25, 0.1): 6.68% below 0.1, 50% below 0.25 (the 0.2 and 0.3 bounds are 0.5 sd away).
            const a = ex.render();
            assert.match(a, /# TYPE model_prediction_score histogram\n/);
            assert.deepStrictEqual(["0.1", "0.2", "0.3", "1", "+Inf"].map((le) => bucket(a, le)), [33, 154, 345, 499, 500]);
            assert.match(a, /model_prediction_score_count\{app="model",namespace="ml",version="v2"\} 500\n/);
            ex.set("model-v2", { rps: 100, errorRatio: 0.5, predictions: { version: "v2", mean: 0.75, sd: 0.1 } });
            t += 10_000;
            const b = ex.render();
            // 500 more around 0.75: the low buckets do not move; 30.85% of them fall at or below 0.7.
            assert.deepStrictEqual(["0.1", "0.3", "0.7", "+Inf"].map((le) => bucket(b, le)), [33, 345, 654, 1000]);
        } finally {
            await ex.close();
        }
    });

    it("keeps counters monotonic and integer when the rate changes mid-run", async () => {
        let t = 1_000_000;
        const ex = await startIstioExporter({ now: () => t });
        try {
            const value = (text: string, code: string) => {
                const line = text
                    .split("\n")
                    .find(
                        (l) =>
                            l.startsWith("istio_requests_total{") &&
                            l.includes('reporter="destination"') &&
                            l.includes(`response_code="${code}"`),
                    );
                return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : undefined;
            };
            ex.set("w", { rps: 10, errorRatio: 0.1, latencyMs: 120 });
            assert.strictEqual(value(ex.render(), "200"), undefined, "no series before the first request");
            t += 10_000;
            const a = ex.render();
            assert.strictEqual(value(a, "200"), 90);
            assert.strictEqual(value(a, "503"), 10);
            ex.set("w", { rps: 1, errorRatio: 0, latencyMs: 3 });
            t += 5_000;
            const b = ex.render();
            assert.strictEqual(value(b, "200"), 95);
            assert.strictEqual(value(b, "503"), 10);
            ex.set("w", { rps: 0 });
            t += 60_000;
            assert.strictEqual(value(ex.render(), "200"), 95);
            // Histogram: 90 + 10 observations at 120 ms (le 250), then 5 at 3 ms (le 5); cumulative.
            const bucket = (le: string) => {
                const line = b
                    .split("\n")
                    .find((l) => l.includes('reporter="destination"') && l.includes('response_code="200"') && l.includes(`,le="${le}"}`));
                return Number(line!.slice(line!.lastIndexOf(" ") + 1));
            };
            assert.deepStrictEqual(["2", "5", "100", "250", "+Inf"].map(bucket), [0, 5, 5, 95, 95]);
            assert.match(b, /istio_request_duration_milliseconds_sum\{[^}]*reporter="destination"[^}]*response_code="200"[^}]*\} 10815\n/);
            assert.strictEqual(ex.totalRequests("w"), 105);
        } finally {
            await ex.close();
        }
    });

    it("reports mirrored requests (the shadow stage) at the destination only, merged into the served series, and predicts on them", async () => {
        let t = 1_000_000;
        const ex = await startIstioExporter({ now: () => t });
        try {
            const count = (text: string, reporter: string, code: string) => {
                const line = text.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes(`reporter="${reporter}"`) && l.includes(`response_code="${code}"`));
                return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : undefined;
            };
            // A canary that serves nobody and gets a 50 rps mirror, 10% of it failing.
            ex.set("v2", { rps: 0, mirroredRps: 50, errorRatio: 0.1, predictions: { version: "v2", mean: 0.5, sd: 0.1 } });
            t += 10_000;
            const a = ex.render();
            assert.deepStrictEqual([count(a, "destination", "200"), count(a, "destination", "503"), count(a, "source", "200"), count(a, "source", "503")], [450, 50, undefined, undefined]);
            assert.match(a, /model_prediction_score_count\{app="model",namespace="default",version="v2"\} 450\n/);
            // Serving 10 rps on top: the source proxy sees only those; the destination both, in one series.
            ex.set("v2", { rps: 10, mirroredRps: 50 });
            t += 10_000;
            const b = ex.render();
            assert.deepStrictEqual([count(b, "destination", "200"), count(b, "source", "200")], [1050, 100]);
            assert.strictEqual(b.split("\n").filter((l) => l.startsWith("istio_requests_total{") && l.includes('reporter="destination"') && l.includes('response_code="200"')).length, 1);
            assert.strictEqual(ex.totalRequests("v2"), 1100);
            assert.throws(() => ex.set("v2", { rps: 1, mirroredRps: -1 }), /mirroredRps must be >= 0, got -1/);
        } finally {
            await ex.close();
        }
    });
});

describe("a Prometheus that asks for credentials (basic auth, `--web.config.file`)", function () {
    this.timeout(60_000);
    // The bcrypt hash of "hunter2" (cost 4), as Prometheus' web config takes it.
    const user = { username: "canary", password: "hunter2", bcryptHash: "$2b$04$j7XUP3RrQfcmrbH/.IskX.qMJI3OIm6d9V1bsljoe6VeNgg0Xg3kq" };
    let exporter: IstioExporter;
    let prom: PrometheusHarness;
    const stable = { namespace: "secured", workload: "model-v1" };

    before(async () => {
        exporter = await startIstioExporter({ namespace: stable.namespace });
        exporter.set(stable.workload, { rps: 100, latencyMs: 40 });
        prom = await startPrometheus({ targets: [exporter.target], basicAuthUser: user });
    });
    after(async () => {
        await prom?.stop();
        await exporter?.close();
    });

    const preflight = (url: string, block: Record<string, unknown>) => {
        const plan = resolvePlan({ prometheus: url, ...block });
        return preflightPrometheus({ prometheus: new PrometheusClient({ url: plan.prometheusUrl, timeoutMs: 5000, headers: plan.prometheusHeaders }), url: plan.prometheusUrl, stable });
    };

    it("`rollout.prometheusAuth` with the user and password passes the preflight and reads the stable workload's series", async () => {
        await waitFor("the stable series", async () => ((await prom.client.query(`count(istio_requests_total{destination_workload="${stable.workload}"})`)) ?? 0) > 0 ? true : undefined, { timeoutMs: 30_000 });
        assert.strictEqual(await preflight(prom.url, { prometheusAuth: { username: user.username, password: user.password } }), undefined);
    });

    it("without credentials, or with a wrong password, the preflight names the 401 and never shows a password", async () => {
        const none = await preflight(prom.url, {});
        assert.strictEqual(none?.message, `Prometheus at ${prom.url} did not answer a query: request failed (HTTP 401): response body: Unauthorized`);
        const wrong = await preflight(prom.url, { prometheusAuth: { username: user.username, password: "not-hunter2" } });
        assert.strictEqual(wrong?.message, `Prometheus at ${prom.url} did not answer a query: request failed (HTTP 401): response body: Unauthorized`);
    });

    it("a URL carrying the user and password is refused with them hidden, by the plan and by the client", () => {
        const url = prom.url.replace("http://", `http://${user.username}:${user.password}@`);
        const problems = refusalProblems(() => resolvePlan({ prometheus: url }), "a URL with credentials is refused");
        assert.deepStrictEqual(problems.map((p) => p.includes(user.password)), [false]);
        assert.match(problems[0], new RegExp(`^\`rollout\\.prometheus\` must not carry credentials \\(user or password before \`@\`\\), got "http://\\[secret\\]@127\\.0\\.0\\.1:${prom.port}"`));
        assert.throws(() => new PrometheusClient({ url }), (e: Error) => !e.message.includes(user.password) && /must not carry credentials, got "http:\/\/\[secret\]@127\.0\.0\.1:\d+\/"/.test(e.message));
    });
});

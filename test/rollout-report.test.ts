// The end-of-run report: Markdown a reviewer reads and the SVG chart embedded in it, rendered
// from realistic rollout records whose check results come from the real `evaluate`.
import * as assert from "assert";
import { defaultThresholds, evaluate, summarize, type CheckResult, type WorkloadMeasurement } from "../analysis/verdict";
import type { AnalysisRecord, RolloutRecord, StepRecord } from "../rollout/record";
import { judgeMeasurement } from "../analysis/analyze";
import { defaultPredictionGate, type PredictionGate } from "../analysis/prediction-gate";
import { renderReportSvg } from "../rollout/report/chart-svg";
import { renderPredictionsSvg } from "../rollout/report/distribution-svg";
import { formatDuration } from "../rollout/report/format";
import { renderReportMarkdown } from "../rollout/report/markdown";
import { niceTicks } from "../rollout/report/ticks";
import { plotFrame, yGrid, yScale, type PlotArea } from "../rollout/report/plot";
import { svgDocument } from "../rollout/report/svg";
import { readRecord, recordRollback, writeRecord } from "../rollout/status";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const T0 = Date.parse("2025-03-01T12:00:00.000Z");
const PLAN = [1, 10, 50, 100];

/** ISO time `sec` seconds after the rollout started. */
function at(sec: number): string {
    return new Date(T0 + sec * 1000).toISOString();
}

const healthyCanary: WorkloadMeasurement = { requests: 640, successRate: 99.9, p99Ms: 182 };
const healthyStable: WorkloadMeasurement = { requests: 6100, successRate: 99.93, p99Ms: 171 };

/** One analysis tick; results come from the real verdict logic so the fixture stays honest. */
function analysis(sec: number, canary: Partial<WorkloadMeasurement> = {}, stable: Partial<WorkloadMeasurement> = {}, custom: CheckResult[] = []): AnalysisRecord {
    const measurement = { canary: { ...healthyCanary, ...canary }, stable: { ...healthyStable, ...stable } };
    const results = [...evaluate(measurement, defaultThresholds), ...custom];
    return { at: at(sec), summary: summarize(results), results, measurement };
}

function step(index: number, startSec: number, analyses: AnalysisRecord[], verdict: StepRecord["verdict"] = "passed", reason?: string): StepRecord {
    return {
        index,
        weight: PLAN[index - 1],
        startedAt: at(startSec),
        appliedAt: at(startSec + 4),
        applyMs: 3850,
        analyses,
        verdict,
        ...(reason ? { reason } : {}),
    };
}

function baseRecord(overrides: Partial<RolloutRecord>): RolloutRecord {
    return {
        stack: "dev",
        stableVersion: "v1",
        canaryVersion: "v2",
        plan: PLAN,
        startedAt: at(0),
        outcome: "running",
        message: "",
        steps: [],
        thresholds: { ...defaultThresholds },
        ...overrides,
    };
}

/** Four steps, three passing analyses each (at +24s, +44s, +64s of the step), then promotion. */
function healthyRun(): RolloutRecord {
    const steps = PLAN.map((_, i) =>
        step(
            i + 1,
            i * 70,
            [24, 44, 64].map((off, j) => analysis(i * 70 + off, { successRate: 99.85 + j * 0.05, p99Ms: 175 + ((i + j) % 4) * 6 })),
        ),
    );
    return baseRecord({
        outcome: "promoted",
        finishedAt: at(290),
        message: "Promoted v2 to stable after 4 steps; all 12 analyses passed.",
        steps,
    });
}

/** Step 1 passes (one tick exactly at the 99% threshold); step 2 serves 5% errors and rolls back. */
function rolledBackRun(): RolloutRecord {
    return baseRecord({
        outcome: "rolled-back",
        finishedAt: at(140),
        message: "Rolled back at step 2/4 (10%): canary success rate 95.10% < 99.00% in 2 consecutive analyses.",
        steps: [
            step(1, 0, [analysis(24, { successRate: 99.5 }), analysis(44, { successRate: 99 }, { successRate: 99.4 }), analysis(64, { successRate: 99.8 })]),
            step(
                2,
                70,
                [analysis(94), analysis(114, { successRate: 95, p99Ms: 240 }), analysis(134, { successRate: 95.1, p99Ms: 251 })],
                "failed",
                "2 consecutive analyses did not pass (failureThreshold 2)",
            ),
        ],
        rollback: {
            decidedAt: at(135),
            appliedAt: at(139.2),
            actionMs: 4200,
            reason: "canary success rate 95.10% < 99.00% (2 consecutive analyses did not pass, failureThreshold 2)",
        },
    });
}

const LONG_ERROR = "Prometheus query timed out after 10s: context deadline exceeded while evaluating histogram_quantile over 1m";

/** One interrupted step with a no-traffic tick, a failed P99 query, a failed stable query and custom checks. */
function troubledRun(): RolloutRecord {
    const noTraffic = { requests: null, successRate: null, p99Ms: null };
    return baseRecord({
        outcome: "interrupted",
        finishedAt: at(90),
        message: "Interrupted (SIGINT) during step 1/4; the canary keeps 1% of traffic.",
        steps: [
            step(
                1,
                0,
                [
                    analysis(24, noTraffic),
                    analysis(44, {}, {}, [{ name: "golden-set", status: "pass", message: "accuracy 0.97 >= 0.95" }]),
                    analysis(64, { p99Ms: { error: LONG_ERROR } }, {}, [{ name: "golden-set", status: "fail", message: "accuracy 0.91 | below 0.95" }]),
                    analysis(84, {}, { successRate: { error: "bad_data: parse error" } }),
                ],
                "interrupted",
                "interrupted by SIGINT",
            ),
        ],
    });
}

/** The first `pulumi up` failed: one step, no analyses. */
function noAnalysesRun(): RolloutRecord {
    return baseRecord({
        outcome: "error",
        finishedAt: at(12),
        message: "pulumi up failed at step 1/4 (1%); no traffic was shifted.",
        steps: [{ ...step(1, 0, [], "failed", "pulumi up failed: connection refused"), applyMs: 2100 }],
    });
}

// ---------------------------------------------------------------------------------------------
// A small XML parser: proves well-formedness and lets tests query the SVG's structure
// ---------------------------------------------------------------------------------------------

interface XmlElement {
    name: string;
    attrs: Record<string, string>;
    children: XmlElement[];
    text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes entity references, throwing on a bare "&" or an unknown entity (both are not XML). */
function decodeText(s: string): string {
    return s.replace(/&([^;&\s]*);?/g, (whole, name: string) => {
        if (!whole.endsWith(";")) throw new Error(`bare "&" in ${JSON.stringify(s)}`);
        if (name in ENTITIES) return ENTITIES[name];
        const num = /^#(\d+)$/.exec(name) ?? /^#x([0-9a-fA-F]+)$/.exec(name);
        if (num) return String.fromCodePoint(parseInt(num[1], name[1] === "x" ? 16 : 10));
        throw new Error(`unknown entity ${whole}`);
    });
}

/**
 * Parses the subset of XML the renderer emits (declaration, elements, double-quoted attributes,
 * text, comments) and throws on anything that is not well-formed: unbalanced or crossed tags,
 * a raw "<" or "&" in text or attributes, duplicate attributes, several roots or stray text.
 */
function parseXml(src: string): XmlElement {
    let i = 0;
    const decl = /^<\?xml\s[^?]*\?>/.exec(src);
    if (decl) i = decl[0].length;
    const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*"[^"<]*")*)\s*(\/?)>/y;
    const stack: XmlElement[] = [];
    let root: XmlElement | undefined;
    while (i < src.length) {
        const lt = src.indexOf("<", i);
        const chunk = src.slice(i, lt === -1 ? src.length : lt);
        const decoded = decodeText(chunk);
        if (stack.length > 0) stack[stack.length - 1].text += decoded;
        else if (chunk.trim() !== "") throw new Error(`text outside the root element: ${JSON.stringify(chunk.slice(0, 40))}`);
        if (lt === -1) break;
        if (src.startsWith("<!--", lt)) {
            const end = src.indexOf("-->", lt + 4);
            if (end === -1) throw new Error("unterminated comment");
            i = end + 3;
            continue;
        }
        tag.lastIndex = lt;
        const m = tag.exec(src);
        if (!m) throw new Error(`malformed tag at ${lt}: ${JSON.stringify(src.slice(lt, lt + 60))}`);
        i = tag.lastIndex;
        const [, closing, name, attrText, selfClosing] = m;
        if (closing) {
            if (attrText.trim() !== "" || selfClosing) throw new Error(`malformed closing tag </${name}>`);
            const open = stack.pop();
            if (!open || open.name !== name) throw new Error(`</${name}> closes ${open ? `<${open.name}>` : "nothing"}`);
            continue;
        }
        const attrs: Record<string, string> = {};
        for (const a of attrText.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*"([^"<]*)"/g)) {
            if (a[1] in attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
            attrs[a[1]] = decodeText(a[2]);
        }
        const el: XmlElement = { name, attrs, children: [], text: "" };
        if (stack.length > 0) stack[stack.length - 1].children.push(el);
        else if (root) throw new Error(`second root element <${name}>`);
        else root = el;
        if (!selfClosing) stack.push(el);
    }
    if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
    if (!root) throw new Error("no root element");
    return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
    const found: XmlElement[] = [];
    const walk = (e: XmlElement): void => {
        if (pred(e)) found.push(e);
        e.children.forEach(walk);
    };
    walk(el);
    return found;
}

function one(el: XmlElement, pred: (e: XmlElement) => boolean, what: string): XmlElement {
    const found = all(el, pred);
    assert.strictEqual(found.length, 1, `expected exactly one ${what}, found ${found.length}`);
    return found[0];
}

const hasClass = (cls: string) => (e: XmlElement): boolean => (e.attrs.class ?? "").split(" ").includes(cls);
const named = (name: string) => (e: XmlElement): boolean => e.name === name;

function chart(svg: XmlElement, id: "success-rate" | "p99-latency"): XmlElement {
    return one(svg, (e) => e.attrs["data-chart"] === id, `chart ${id}`);
}

function series(c: XmlElement, which: "canary" | "stable"): XmlElement {
    return one(c, (e) => e.name === "g" && hasClass("series")(e) && hasClass(which)(e), `${which} series`);
}

function points(polyline: XmlElement): [number, number][] {
    return polyline.attrs.points.split(" ").map((p) => p.split(",").map(Number) as [number, number]);
}

/** All text content, for "does the picture say X" checks. */
function texts(el: XmlElement): string[] {
    return all(el, named("text")).map((t) => t.text);
}

/** Every rendered fixture must be valid, self-contained and free of rendering accidents. */
function assertCleanSvg(svg: string): XmlElement {
    const root = parseXml(svg);
    assert.strictEqual(root.name, "svg");
    assert.strictEqual(root.attrs.xmlns, "http://www.w3.org/2000/svg");
    assert.match(root.attrs.width, /^\d+$/);
    assert.match(root.attrs.height, /^\d+$/);
    assert.strictEqual(root.attrs.viewBox, `0 0 ${root.attrs.width} ${root.attrs.height}`);
    for (const bad of ["NaN", "undefined", "Infinity", "<script", "href", "url("]) {
        assert.ok(!svg.includes(bad), `SVG contains ${JSON.stringify(bad)}`);
    }
    return root;
}

/** Prometheus' cumulative buckets for per-bucket counts at the bounds 0.25, 0.5, 0.75. */
function predictionBuckets(perBucket: number[], le = ["0.25", "0.5", "0.75", "+Inf"]) {
    let c = 0;
    return { buckets: perBucket.map((n, i) => ({ le: le[i], count: (c += n) })) };
}

const GATE: PredictionGate = { ...defaultPredictionGate, maxKs: 0.1, minSamples: 100 };

/** One analysis with the prediction gate on; results from the real verdicts. */
function predictionAnalysis(sec: number, canary: ReturnType<typeof predictionBuckets> | null, stable: ReturnType<typeof predictionBuckets> | null): AnalysisRecord {
    const measurement = { canary: { ...healthyCanary, predictions: canary }, stable: { ...healthyStable, predictions: stable } };
    const results = judgeMeasurement(measurement, defaultThresholds, GATE);
    return { at: at(sec), summary: summarize(results), results, measurement };
}

/** Rolled back at the shadow stage: healthy by HTTP, but its predictions moved to the high buckets. */
function shiftedPredictionsRun(): RolloutRecord {
    const stable = predictionBuckets([250, 250, 250, 250]);
    const shadow: StepRecord = {
        ...step(1, 0, [predictionAnalysis(24, null, stable), predictionAnalysis(44, predictionBuckets([100, 200, 300, 400]), stable)], "failed", "2 consecutive analyses did not pass (failureThreshold 2)"),
        weight: 0, mirrorPercent: 100,
    };
    return baseRecord({
        shadow: { percent: 100 }, outcome: "rolled-back", finishedAt: at(60), steps: [shadow],
        thresholds: { ...defaultThresholds, predictionMaxPsi: 0.2, predictionMaxKs: 0.1, predictionMinSamples: 100 },
    });
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("rollout/report", () => {
    describe("the test's XML checker", () => {
        it("accepts a well-formed document and rejects the usual ways of breaking one", () => {
            const ok = parseXml('<?xml version="1.0"?>\n<a x="1 &amp; 2"><b/><c>t &lt; u</c></a>');
            assert.strictEqual(ok.attrs.x, "1 & 2");
            assert.strictEqual(ok.children[1].text, "t < u");
            for (const bad of ["<a><b></a></b>", "<a>x < y</a>", "<a>x & y</a>", '<a x="1" x="2"/>', "<a/><b/>", "<a>", "<a>&nbsp;</a>", "text<a/>"]) {
                assert.throws(() => parseXml(bad), Error, bad);
            }
        });
    });

    describe("niceTicks", () => {
        it("covers the range with round steps of 1, 2 or 5 times a power of ten", () => {
            assert.deepStrictEqual(niceTicks(0, 87, 5), [0, 20, 40, 60, 80, 100]);
            assert.deepStrictEqual(niceTicks(94.5, 100, 5), [94, 95, 96, 97, 98, 99, 100]);
            assert.deepStrictEqual(niceTicks(98.9, 100, 5), [98.8, 99, 99.2, 99.4, 99.6, 99.8, 100]);
            assert.deepStrictEqual(niceTicks(0, 290, 8), [0, 50, 100, 150, 200, 250, 300]);
            assert.deepStrictEqual(niceTicks(0, 550, 5), [0, 100, 200, 300, 400, 500, 600]);
        });

        it("has no float noise and widens an empty range", () => {
            assert.deepStrictEqual(niceTicks(0, 1, 10), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
            assert.deepStrictEqual(niceTicks(0, 0, 4), [-1, -0.5, 0, 0.5, 1]);
            assert.deepStrictEqual(niceTicks(100, 0, 2), [0, 50, 100]);
        });
    });

    describe("the plot area both charts draw in (plot.ts) and the document around them", () => {
        const area: PlotArea = { left: 76, top: 78, width: 800, height: 180 };
        it("yScale runs from the first tick at the bottom to the last at the top", () => {
            const y = yScale(area, [94, 96, 98, 100]);
            assert.deepStrictEqual([y(94), y(97), y(100)], [258, 168, 78]);
            assert.deepStrictEqual([0, 2.5, 5].map(yScale({ ...area, height: 140 }, [0, 2.5, 5])), [218, 148, 78]);
        });
        it("yGrid: a grid line and a label per tick, with the decimals the ticks need and the unit", () => {
            assert.deepStrictEqual(yGrid(area, [98, 100], yScale(area, [98, 100])), [
                `<line x1="76" y1="258" x2="876" y2="258" stroke="#e6e6e6"/>`,
                `<text x="70" y="262" font-size="11" text-anchor="end" fill="#222222">98</text>`,
                `<line x1="76" y1="78" x2="876" y2="78" stroke="#e6e6e6"/>`,
                `<text x="70" y="82" font-size="11" text-anchor="end" fill="#222222">100</text>`,
            ]);
            const ticks = [0, 0.5, 1];
            assert.deepStrictEqual(yGrid(area, ticks, yScale(area, ticks), "%").filter((s) => s.startsWith("<text")).map((s) => s.replace(/<[^>]*>/g, "")), ["0.0%", "0.5%", "1.0%"]);
        });
        it("plotFrame: the frame and the y-axis title written upwards beside the middle", () => {
            assert.deepStrictEqual(plotFrame(area, "P99 latency (ms)", 12), [
                `<rect x="76" y="78" width="800" height="180" fill="none" stroke="#333333"/>`,
                `<text x="20" y="168" font-size="12" text-anchor="middle" fill="#222222" transform="rotate(-90 20 168)">P99 latency (ms)</text>`,
            ]);
        });
        it("svgDocument: the XML declaration, the escaped title, a white background, then the body", () => {
            assert.strictEqual(svgDocument(900, 300, "a < b", ["<g/>"]),
                `<?xml version="1.0" encoding="UTF-8"?>\n` +
                `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="300" viewBox="0 0 900 300" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n` +
                `<title>a &lt; b</title>\n<rect x="0" y="0" width="900" height="300" fill="#ffffff"/>\n<g/>\n</svg>\n`);
        });
    });

    describe("formatDuration", () => {
        it("reads like a person would write it", () => {
            assert.strictEqual(formatDuration(850), "850 ms");
            assert.strictEqual(formatDuration(42_000), "42s");
            assert.strictEqual(formatDuration(125_000), "2m 05s");
            assert.strictEqual(formatDuration(3_725_000), "1h 02m 05s");
            assert.strictEqual(formatDuration(-3_000), "-3s");
        });
    });

    describe("renderReportMarkdown", () => {
        it("names the reporter whose request metrics were read when it is not the default destination", () => {
            const line = (reporters?: string[]) => renderReportMarkdown(baseRecord(reporters ? { reporters } : {})).split("\n").filter((l) => l.startsWith("- **Request metrics:**"));
            assert.deepStrictEqual(line(["waypoint"]), ['- **Request metrics:** `reporter="waypoint"`']);
            assert.deepStrictEqual(line(["destination", "waypoint"]), ['- **Request metrics:** `reporter="destination"`, else `reporter="waypoint"` (per workload, the first with series in the window)']);
            // Sidecar meshes, and every record from before the setting, read `destination`: their report is as it was.
            assert.deepStrictEqual([line(["destination"]), line()], [[], []]);
        });

        it("replicas: auto: the second `up` of a step and of the rollback, after the traffic moved", () => {
            const run = rolledBackRun();
            run.steps[1] = { ...run.steps[1], restoreMs: 2100 };
            run.rollback = { ...run.rollback!, replicasRestoredAt: "2025-03-01T12:02:23.000Z", restoreMs: 3900 };
            const md = renderReportMarkdown(run);
            assert.ok(md.includes("`pulumi up` took 3850 ms, then a second one removed pods after the traffic moved (2100 ms); weight applied at"), md);
            assert.ok(md.includes("- **Replicas restored at:** 2025-03-01 12:02:23 UTC, by a second `pulumi up` (3900 ms) once no traffic reached the canary"), md);
        });

        it("a run rolled back at the shadow stage: the plan, the step heading and the chart marker name the shadow step; the weights are not reached", () => {
            const shadowStep: StepRecord = { ...step(1, 0, [analysis(24, { successRate: 90 }), analysis(44, { successRate: 90 })], "failed", "2 consecutive analyses did not pass (failureThreshold 2)"), weight: 0, mirrorPercent: 12.5 };
            const record = baseRecord({ shadow: { percent: 12.5 }, outcome: "rolled-back", finishedAt: at(60), steps: [shadowStep] });
            const md = renderReportMarkdown(record);
            const lines = md.split("\n");
            assert.ok(lines.includes("- **Plan:** shadow (mirror 12.5%) → 1% → 10% → 50% → 100%"), md);
            assert.deepStrictEqual(lines.filter((l) => l.startsWith("## Step")), ["## Step 1/5: shadow, 12.5% of default traffic mirrored to the canary (weight 0%: it served no user)"]);
            assert.ok(md.includes("**Not reached:** step 2/5 (1%), step 3/5 (10%), step 4/5 (50%), step 5/5 (100%)"), md);
            const svg = assertCleanSvg(renderReportSvg(record));
            assert.deepStrictEqual(all(svg, hasClass("step-marker")).flatMap(texts), ["shadow 12.5%"]);
        });

        it("a run a `rollback` command stopped: the record says rolled back, by whom and when, and the report shows it", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-report-"));
            try {
                const interrupted = baseRecord({ outcome: "interrupted", finishedAt: at(80), message: "interrupted at 10%; config and cluster both hold it, rerun `rollout` to resume",
                    steps: [step(1, 0, [analysis(24, { successRate: 99.9 })]), { ...step(2, 70, []), verdict: "interrupted" }] });
                writeRecord(dir, interrupted);
                const by = { user: "alice", host: "build-7", pid: 4242, command: "model-canary rollback" };
                const ref = { stack: "dev", workDir: dir, backendUrl: `file://${path.join(dir, "state")}` };
                const updated = (await recordRollback(ref, dir, "model", { by, decidedAt: at(85), appliedAt: at(90), actionMs: 3100, stableVersion: "v1", runState: () => "was interrupted" }))!;
                assert.deepStrictEqual(readRecord(dir, "dev"), updated);
                assert.deepStrictEqual([updated.outcome, updated.finishedAt, updated.rollback], ["rolled-back", at(80), { decidedAt: at(85), appliedAt: at(90), actionMs: 3100, reason: "manual rollback by `model-canary rollback` (user alice, pid 4242 on host build-7)", by }]);
                assert.strictEqual(updated.message, `rolled back by \`model-canary rollback\` (user alice, pid 4242 on host build-7) at ${at(90)}, after the run was interrupted at step 2/4 (10%): v1 serves 100%`);
                const md = renderReportMarkdown(updated);
                assert.match(md.split("\n")[0], /Rolled back/);
                assert.ok(md.includes("manual rollback by"), md);
                assert.ok(!md.includes("resume"), md);
                // A record that already ended rolled back or promoted is left as it is.
                assert.strictEqual(await recordRollback(ref, dir, "model", { by, decidedAt: at(95), appliedAt: at(96), actionMs: 1, stableVersion: "v1", runState: () => "x" }), undefined);
                assert.deepStrictEqual(readRecord(dir, "dev"), updated);
                // The shared copy, beside the run lock in the backend's directory, is the same record.
                assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(dir, "state", ".model-canary", "locks", "project", "dev.rollout.json"), "utf8")), updated);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("names the model of a `models` stack in the title (`stack/model`), and not the shorthand's `model`", () => {
            assert.strictEqual(renderReportMarkdown({ ...healthyRun(), model: "fraud" }).split("\n")[0], "# Rollout dev/fraud: v1 → v2: ✅ Promoted");
            assert.strictEqual(renderReportMarkdown({ ...healthyRun(), model: "model" }).split("\n")[0], "# Rollout dev: v1 → v2: ✅ Promoted");
            assert.ok(renderReportSvg({ ...healthyRun(), model: "fraud" }).includes("Rollout dev/fraud: v1 → v2"));
        });

        it("a promoted run: title, timing, thresholds and one table per step with every tick", () => {
            const md = renderReportMarkdown(healthyRun());
            const lines = md.split("\n");
            assert.strictEqual(lines[0], "# Rollout dev: v1 → v2: ✅ Promoted");
            assert.ok(md.includes("> Promoted v2 to stable after 4 steps; all 12 analyses passed."));
            assert.ok(md.includes("- **Started:** 2025-03-01 12:00:00 UTC"));
            assert.ok(md.includes("- **Finished:** 2025-03-01 12:04:50 UTC"));
            assert.ok(md.includes("- **Duration:** 4m 50s"));
            assert.ok(md.includes("- **Plan:** 1% → 10% → 50% → 100%"));
            assert.ok(md.includes("| Canary success rate at least | 99% |"));
            assert.ok(md.includes("| Canary P99 latency at most | 500 ms |"));
            assert.ok(md.includes("| P99 latency vs stable at most | 1.2× stable |"));

            const headings = lines.filter((l) => l.startsWith("## Step"));
            assert.deepStrictEqual(headings, ["## Step 1/4: weight 1%", "## Step 2/4: weight 10%", "## Step 3/4: weight 50%", "## Step 4/4: weight 100%"]);
            assert.strictEqual(lines.filter((l) => l.startsWith("**Verdict:** ✅ passed")).length, 4);
            assert.ok(md.includes("`pulumi up` took 3850 ms"));

            const rows = lines.filter((l) => /^\| [+-]\d/.test(l));
            assert.strictEqual(rows.length, 12);
            assert.deepStrictEqual(rows.slice(0, 3).map((r) => r.split(" | ")[0]), ["| +24s", "| +44s", "| +1m 04s"]);
            // Second tick of step 1: canary 99.90%, P99 181 ms; stable 99.93%, 171 ms.
            assert.strictEqual(
                rows[1],
                "| +44s | 99.90% / 99.93% | 181 / 171 | 640 / 6100 | " +
                    "✅ success-rate: 99.90% ≥ 99.00%<br>✅ p99-latency: 181 ms ≤ 500 ms<br>" +
                    "✅ success-rate-vs-stable: 99.90% ≥ 99.43%<br>✅ p99-latency-vs-stable: 181 ms ≤ 205.2 ms | ✅ pass |",
            );
            assert.ok(!md.includes("## ❌ Rollback"));
            assert.ok(!md.includes("Not reached"));
            assert.ok(!md.includes("!["), "no chart without chartFile");
        });

        it("embeds the chart near the top when chartFile is given", () => {
            const md = renderReportMarkdown(healthyRun(), { chartFile: "rollout-dev.svg" });
            const chart = md.indexOf("![canary vs stable](rollout-dev.svg)");
            assert.ok(chart > 0);
            assert.ok(chart < md.indexOf("## Thresholds") && chart < md.indexOf("## Step 1/4"));
            assert.ok(renderReportMarkdown(healthyRun(), { chartFile: "my charts/run (1).svg" }).includes("![canary vs stable](my%20charts/run%20%281%29.svg)"));
        });

        it("a rollback: loud title, the rollback section, the failing ticks and the steps never reached", () => {
            const md = renderReportMarkdown(rolledBackRun());
            const lines = md.split("\n");
            assert.strictEqual(lines[0], "# Rollout dev: v1 → v2: ❌ **Rolled back**");
            const section = md.slice(md.indexOf("## ❌ Rollback"), md.indexOf("## Thresholds"));
            assert.ok(md.indexOf("## ❌ Rollback") > 0);
            assert.ok(section.includes("- **Reason:** canary success rate 95.10% &lt; 99.00% (2 consecutive analyses did not pass, failureThreshold 2)"));
            assert.ok(section.includes("- **Decided at:** 2025-03-01 12:02:15 UTC (2m 15s after the start)"));
            assert.ok(section.includes("- **Applied at:** 2025-03-01 12:02:19 UTC (4s after the decision)"));
            assert.ok(section.includes("- **Rollback action:** 4200 ms"));

            assert.deepStrictEqual(lines.filter((l) => l.startsWith("## Step")), ["## Step 1/4: weight 1%", "## Step 2/4: weight 10%"]);
            assert.ok(md.includes("**Verdict:** ❌ **failed**: 2 consecutive analyses did not pass (failureThreshold 2)"));
            const step2 = md.slice(md.indexOf("## Step 2/4"));
            const failing = step2.split("\n").find((l) => l.startsWith("| +44s"));
            assert.ok(failing, "step 2 has a +44s row");
            assert.ok(failing.startsWith("| +44s | 95.00% / 99.93% | 240 / 171 |"), failing);
            assert.ok(failing.includes("❌ success-rate: 95.00% < 99.00%"), failing);
            assert.ok(failing.includes("✅ p99-latency: 240 ms ≤ 500 ms"), failing);
            assert.ok(failing.endsWith("| ❌ fail |"), failing);
            // The tick exactly at the threshold passes and says so.
            assert.ok(md.includes("✅ success-rate: 99.00% ≥ 99.00%"));
            assert.ok(md.includes("**Not reached:** step 3/4 (50%), step 4/4 (100%)"));
        });

        it("no data, query errors (shortened) and custom checks", () => {
            const md = renderReportMarkdown(troubledRun());
            const lines = md.split("\n");
            assert.strictEqual(lines[0], "# Rollout dev: v1 → v2: ⚠️ **Interrupted**");
            assert.ok(md.includes("**Verdict:** ⚠️ **interrupted**: interrupted by SIGINT"));
            const rows = lines.filter((l) => l.startsWith("| +"));
            assert.strictEqual(rows.length, 4);

            assert.ok(rows[0].startsWith("| +24s | no data / 99.93% | no data / 171 | no data / 6100 |"), rows[0]);
            assert.ok(rows[0].includes("⚠️ success-rate: no data<br>⚠️ p99-latency: no data"), rows[0]);

            assert.ok(rows[1].includes("✅ golden-set"), rows[1]);
            assert.ok(rows[1].endsWith("| ✅ pass |"), rows[1]);

            assert.ok(rows[2].includes("| 99.90% / 99.93% | error: Prometheus query timed out after 10s: context… / 171 |"), rows[2]);
            assert.ok(!md.includes("histogram\\_quantile"), "the long error is shortened");
            assert.ok(rows[2].includes("⚠️ p99-latency: error: canary P99 latency query failed: Prometheus…"), rows[2]);
            // The custom check's "|" is escaped, so the row keeps its six columns.
            assert.ok(rows[2].includes("❌ golden-set: accuracy 0.91 \\| below 0.95"), rows[2]);
            for (const row of rows) assert.strictEqual(row.split(/(?<!\\)\|/).length - 2, 6, row);

            assert.ok(rows[3].includes("| 99.90% / error: bad\\_data: parse error |"), rows[3]);
            assert.ok(rows[3].includes("✅ success-rate: 99.90% ≥ 99.00%"), rows[3]);
            assert.ok(rows[3].includes("⚠️ success-rate-vs-stable: error: stable success rate query failed: bad\\_data:"), rows[3]);
        });

        it("a pending tick (no data before the step's traffic could be scraped) reads as pending with its reason, not as a failure, and the step counts it", () => {
            const reason = "no data 1.0s after the step was applied, before the 60.0s window could hold two scrapes of its traffic; not counted (no data counts from 60.0s on)";
            const first = { ...analysis(5, { requests: null, successRate: null, p99Ms: null }), summary: "pending" as const, pendingReason: reason };
            const md = renderReportMarkdown(baseRecord({ outcome: "completed", plan: [1], steps: [step(1, 0, [first, analysis(24)])] }));
            const rows = md.split("\n").filter((l) => l.startsWith("| +"));
            assert.ok(rows[0].endsWith(`| ⏳ pending: ${reason.replace(/_/g, "\\_")} |`), rows[0]);
            assert.ok(rows[1].endsWith("| ✅ pass |"), rows[1]);
            assert.ok(md.includes("_1 pending analysis: no data before the step's traffic could have been scraped, counted neither as a pass nor toward `failureThreshold`._"));
            assert.ok(!md.includes("❌ fail"));
        });

        it("zero analyses: the step says so and the rest of the plan is listed as not reached", () => {
            const md = renderReportMarkdown(noAnalysesRun());
            assert.ok(md.startsWith("# Rollout dev: v1 → v2: ❌ **Error**\n"));
            assert.ok(md.includes("**Verdict:** ❌ **failed**: pulumi up failed: connection refused"));
            assert.ok(md.includes("**Started:** 2025-03-01 12:00:00 UTC (as the rollout started); `pulumi up` took 2100 ms"));
            assert.ok(md.includes("_No analyses recorded in this step._"));
            assert.ok(!md.includes("| Time |"));
            assert.ok(md.includes("**Not reached:** step 2/4 (10%), step 3/4 (50%), step 4/4 (100%)"));
            assert.ok(md.includes("- **Duration:** 12s"));
        });

        it("a running, resumed record without finish time, and disabled thresholds", () => {
            const healthy = healthyRun();
            const resumed = { ...healthy.steps[1], applyMs: 0 };
            const record = { ...healthy, outcome: "running" as const, finishedAt: undefined, steps: [healthy.steps[0], resumed], thresholds: { ...defaultThresholds, maxP99Ratio: null } };
            const md = renderReportMarkdown(record);
            assert.ok(md.startsWith("# Rollout dev: v1 → v2: ⏳ Running\n"));
            assert.ok(md.includes("- **Finished:** not finished"));
            assert.ok(md.includes("- **Duration:** unknown (not finished)"));
            assert.ok(md.includes("| P99 latency vs stable at most | disabled |"));
            assert.ok(md.includes("**Started:** 2025-03-01 12:01:10 UTC (1m 10s after the rollout started); weight was already applied (resumed), no `pulumi up`;"));
            assert.ok(md.includes("**Not reached:** step 3/4 (50%), step 4/4 (100%)"));
        });

        it("escapes Markdown and HTML in free text", () => {
            const record = { ...rolledBackRun(), stack: "dev<1>", message: "see *this* [link](x) `code`" };
            const md = renderReportMarkdown(record);
            assert.ok(md.startsWith("# Rollout dev&lt;1&gt;: v1 → v2: ❌ **Rolled back**\n"));
            assert.ok(!md.includes("dev<1>"));
            assert.ok(md.includes("> see \\*this\\* \\[link\\](x) \\`code\\`"));
            for (const bad of ["NaN", "undefined"]) assert.ok(!md.includes(bad));
        });
    });

    describe("predictions", () => {
        it("the Markdown names the gate's thresholds, embeds the chart, and tables both distributions of the step's last analysis that has both", () => {
            const md = renderReportMarkdown(shiftedPredictionsRun(), { chartFile: "r.svg", predictionChartFile: "r-predictions.svg" });
            assert.ok(md.includes("| Prediction PSI vs stable at most | 0.2 |\n| Prediction KS distance vs stable at most | 0.1 |\n| Predictions per side per analysis window at least | 100 |\n"), md);
            assert.ok(md.includes("## Predictions\n\n![canary vs stable predictions per step](r-predictions.svg)\n"), md);
            assert.ok(md.includes([
                "**Predictions** (analysis at +44s): ❌ prediction-psi: PSI 0.228 > 0.2; ❌ prediction-ks: KS 0.200 > 0.1",
                "",
                "| Prediction bucket | Stable (1000) | Canary (1000) |",
                "| --- | --- | --- |",
                "| ≤ 0.25 | 25.0% | 10.0% |",
                "| ≤ 0.5 | 25.0% | 20.0% |",
                "| ≤ 0.75 | 25.0% | 30.0% |",
                "| &gt; 0.75 | 25.0% | 40.0% |", // ">" escaped, as all free text
                "",
            ].join("\n")), md);
            // The first analysis (no canary predictions yet) is in the analyses table as no data.
            assert.match(md, /\| \+24s \|.*⚠️ prediction-psi: no data<br>⚠️ prediction-ks: no data \| ❌ fail \|/);
        });

        it("a step where one side made no predictions says so and tables the other", () => {
            const run = baseRecord({ steps: [step(4, 0, [predictionAnalysis(24, predictionBuckets([250, 250, 250, 250]), null)], "running")] });
            const md = renderReportMarkdown(run);
            assert.ok(md.includes("**Predictions** (analysis at +24s): ⚠️ prediction-psi: no data; ⚠️ prediction-ks: no data\n\n_stable: no predictions in the window_\n"), md);
            assert.ok(md.includes("| Prediction bucket | Stable (none) | Canary (1000) |"), md);
            assert.ok(md.includes("| ≤ 0.25 | none | 25.0% |"), md);
            assert.ok(!md.includes("## Predictions"), "no chart link without a chart file");
        });

        it("at 100%, where stable predicted nothing, the note says the checks compared with stable's last histogram", () => {
            const a = predictionAnalysis(24, predictionBuckets([250, 250, 250, 250]), null);
            // What the runner does at 100%: judge against stable's last histogram with enough predictions.
            a.results = judgeMeasurement({ canary: a.measurement.canary, stable: { ...a.measurement.stable, predictions: predictionBuckets([240, 260, 250, 250]) } }, defaultThresholds, GATE);
            a.summary = summarize(a.results);
            const md = renderReportMarkdown(baseRecord({ steps: [step(4, 0, [a], "running")] }));
            assert.ok(md.includes("_stable: no predictions in the window; the checks compared with its last histogram of this rollout_"), md);
            assert.ok(md.includes("**Predictions** (analysis at +24s): ✅ prediction-psi: PSI 0.001 ≤ 0.2; ✅ prediction-ks: KS 0.010 ≤ 0.1"), md);
        });

        it("no prediction chart and no Predictions section when the gate was off", () => {
            assert.strictEqual(renderPredictionsSvg(healthyRun()), undefined);
            assert.ok(!renderReportMarkdown(healthyRun()).includes("Predictions"));
        });

        it("the chart draws stable's and the canary's shares side by side per bucket, titled with the gate's verdicts", () => {
            const svg = assertCleanSvg(renderPredictionsSvg(shiftedPredictionsRun())!);
            const panel = one(svg, hasClass("step-predictions"), "the shadow step's panel");
            assert.strictEqual(panel.attrs["data-step"], "1");
            const heights = (which: string) => all(panel, (e) => e.name === "rect" && hasClass("bar")(e) && hasClass(which)(e)).map((r) => Number(r.attrs.height));
            const stable = heights("stable");
            const canary = heights("canary");
            assert.strictEqual(stable.length, 4);
            assert.strictEqual(canary.length, 4);
            // Shares 25/25/25/25 and 10/20/30/40: equal stable bars, canary bars growing 1:2:3:4.
            assert.ok(stable.every((h) => Math.abs(h - stable[0]) < 0.01), stable.join());
            for (let i = 1; i < 4; i++) assert.ok(Math.abs(canary[i] / canary[0] - (i + 1)) < 0.01, canary.join());
            assert.ok(Math.abs(canary[0] / stable[0] - 0.4) < 0.01);
            // Canary bars stand right of stable's in each group.
            const xs = (which: string) => all(panel, (e) => e.name === "rect" && hasClass(which)(e)).map((r) => Number(r.attrs.x));
            xs("canary").forEach((x, i) => assert.ok(x > xs("stable")[i]));
            const labels = texts(panel);
            for (const l of ["Step 1/5: shadow (mirror 100%, served no user)", "PSI 0.228 > 0.2", "KS 0.200 > 0.1", "≤ 0.25", "≤ 0.5", "≤ 0.75", "> 0.75"]) assert.ok(labels.includes(l), `${l} in ${labels.join(" | ")}`);
            assert.deepStrictEqual(all(panel, hasClass("verdict")).map((v) => v.attrs.class), ["verdict fail", "verdict fail"]);
            assert.strictEqual(one(svg, named("title"), "title").text, "Predictions, dev: stable v1 vs canary v2");
        });

        it("histograms with different bounds get a note, not bars", () => {
            const a = predictionAnalysis(24, predictionBuckets([250, 250, 250, 250], ["0.1", "0.5", "0.9", "+Inf"]), predictionBuckets([250, 250, 250, 250]));
            const svg = assertCleanSvg(renderPredictionsSvg(baseRecord({ steps: [step(1, 0, [a], "running")] }))!);
            assert.strictEqual(all(svg, hasClass("bar")).length, 0);
            assert.deepStrictEqual(all(svg, hasClass("note")).map((n) => n.text), ["different bucket bounds: not charted side by side"]);
            assert.ok(texts(svg).includes("PSI: error"));
        });
    });

    describe("renderReportSvg", () => {
        it("every fixture renders as well-formed, self-contained SVG", () => {
            for (const record of [healthyRun(), rolledBackRun(), troubledRun(), noAnalysesRun()]) {
                assertCleanSvg(renderReportSvg(record));
            }
        });

        it("a promoted run: one canary and one stable line per chart through all 12 ticks, no markers", () => {
            const svg = assertCleanSvg(renderReportSvg(healthyRun()));
            for (const id of ["success-rate", "p99-latency"] as const) {
                const c = chart(svg, id);
                assert.strictEqual(all(c, named("polyline")).length, 2, id);
                for (const which of ["canary", "stable"] as const) {
                    const lines = all(series(c, which), named("polyline"));
                    assert.strictEqual(lines.length, 1, `${id} ${which}`);
                    const xs = points(lines[0]).map(([x]) => x);
                    assert.strictEqual(xs.length, 12);
                    assert.ok(xs.every((x, i) => i === 0 || x > xs[i - 1]), "time increases left to right");
                }
                assert.strictEqual(all(c, hasClass("error-marker")).length, 0);
                assert.strictEqual(all(c, hasClass("nodata-marker")).length, 0);
                assert.strictEqual(one(c, hasClass("threshold"), "threshold").name, "line");
            }
            // Canary and stable differ in colour.
            const success = chart(svg, "success-rate");
            assert.notStrictEqual(all(series(success, "canary"), named("polyline"))[0].attrs.stroke, all(series(success, "stable"), named("polyline"))[0].attrs.stroke);
            // Step markers labelled with their weights, and no rollback anywhere.
            assert.deepStrictEqual(all(svg, hasClass("step-marker")).flatMap(texts), ["1%", "10%", "50%", "100%"]);
            assert.ok(!renderReportSvg(healthyRun()).includes("rollback"));
            // P99 axis: 0 .. max(values, 500 ms) * 1.1 = 550, rounded up to 600.
            const p99Labels = texts(chart(svg, "p99-latency")).filter((t) => /^\d+$/.test(t));
            assert.deepStrictEqual(p99Labels, ["0", "100", "200", "300", "400", "500", "600"]);
            const legend = texts(one(svg, hasClass("legend"), "legend"));
            assert.ok(legend.includes("canary") && legend.includes("stable"));
        });

        it("a success rate exactly at the threshold lands on the dashed threshold line; failures below it", () => {
            const svg = assertCleanSvg(renderReportSvg(rolledBackRun()));
            const success = chart(svg, "success-rate");
            const threshold = one(success, hasClass("threshold"), "threshold line");
            assert.ok(threshold.attrs["stroke-dasharray"], "threshold is dashed");
            assert.strictEqual(threshold.attrs.y1, threshold.attrs.y2);
            const ty = Number(threshold.attrs.y1);
            const canary = points(one(series(success, "canary"), named("polyline"), "canary line"));
            assert.strictEqual(canary.length, 6);
            // Ticks: 99.5, 99.0 (at threshold), 99.8, 99.9, 95.0, 95.1.
            assert.strictEqual(canary[1][1], ty);
            assert.ok(canary[0][1] < ty && canary[2][1] < ty, "above the threshold is higher on the chart");
            assert.ok(canary[4][1] > ty && canary[5][1] > ty, "the 5% error ticks are below the threshold");
            // Range includes the 95% values: 94.5 .. 100, as ticks 94 .. 100.
            assert.deepStrictEqual(texts(success).filter((t) => /^\d+$/.test(t)), ["94", "95", "96", "97", "98", "99", "100"]);
            // 100 is the top of the plot, 94 its bottom, so 99 sits 1/6 of the way down from the top.
            const frame = one(success, (e) => e.name === "rect", "plot frame");
            const top = Number(frame.attrs.y);
            const height = Number(frame.attrs.height);
            assert.ok(Math.abs(ty - (top + height / 6)) < 0.01, `threshold y ${ty}`);
        });

        it("a rollback: red vertical line labelled rollback at the decision, after the 10% step marker", () => {
            const svg = assertCleanSvg(renderReportSvg(rolledBackRun()));
            const marker = one(svg, hasClass("rollback-marker"), "rollback marker");
            assert.deepStrictEqual(texts(marker), ["rollback"]);
            const rline = one(marker, named("line"), "rollback line");
            assert.strictEqual(rline.attrs.x1, rline.attrs.x2);
            assert.match(rline.attrs.stroke, /^#d6/i);
            const steps = all(svg, hasClass("step-marker"));
            assert.deepStrictEqual(steps.flatMap(texts), ["1%", "10%"]);
            const step2x = Number(one(steps[1], named("line"), "step line").attrs.x1);
            const lastCanaryX = points(one(series(chart(svg, "success-rate"), "canary"), named("polyline"), "canary"))[5][0];
            assert.ok(Number(rline.attrs.x1) > lastCanaryX && lastCanaryX > step2x);
            // The decision is near the right edge, so the label sits left of the line, inside the plot.
            const label = one(marker, named("text"), "rollback label");
            assert.strictEqual(label.attrs["text-anchor"], "end");
            assert.ok(Number(label.attrs.x) < Number(rline.attrs.x1));
        });

        it("no data and errors break the lines and are marked on the axis", () => {
            const svg = assertCleanSvg(renderReportSvg(troubledRun()));
            const success = chart(svg, "success-rate");
            // Canary: no data at +24s, then 3 values; stable: 3 values, then an error at +84s.
            assert.deepStrictEqual(all(series(success, "canary"), named("polyline")).map((p) => points(p).length), [3]);
            assert.deepStrictEqual(all(series(success, "stable"), named("polyline")).map((p) => points(p).length), [3]);
            assert.strictEqual(all(success, hasClass("error-marker")).length, 1);
            assert.strictEqual(all(success, hasClass("nodata-marker")).length, 1);

            // P99: canary has no data, a value, an error, a value: no line, two lone dots.
            const p99 = chart(svg, "p99-latency");
            assert.strictEqual(all(series(p99, "canary"), named("polyline")).length, 0);
            assert.strictEqual(all(series(p99, "canary"), named("circle")).length, 2);
            assert.strictEqual(all(series(p99, "stable"), named("polyline")).length, 1);
            const errors = all(p99, hasClass("error-marker"));
            assert.strictEqual(errors.length, 1);
            // The x sits on the axis (the bottom of the plot), at the +64s tick's x.
            const frame = one(p99, (e) => e.name === "rect", "plot frame");
            const bottom = Number(frame.attrs.y) + Number(frame.attrs.height);
            const crossLines = all(errors[0], named("line"));
            assert.strictEqual(crossLines.length, 2);
            const midX = (Number(crossLines[0].attrs.x1) + Number(crossLines[0].attrs.x2)) / 2;
            const midY = (Number(crossLines[0].attrs.y1) + Number(crossLines[0].attrs.y2)) / 2;
            assert.strictEqual(midY, bottom);
            const stableXs = points(one(series(p99, "stable"), named("polyline"), "stable")).map(([xx]) => xx);
            assert.ok(Math.abs(midX - stableXs[2]) < 0.01);
            assert.ok(!renderReportSvg(troubledRun()).includes("rollback"));
        });

        it("zero analyses: axes, step marker and a note, no lines", () => {
            const svg = assertCleanSvg(renderReportSvg(noAnalysesRun()));
            for (const id of ["success-rate", "p99-latency"] as const) {
                const c = chart(svg, id);
                assert.strictEqual(all(c, named("polyline")).length, 0);
                assert.strictEqual(all(c, named("circle")).length, 0);
                assert.deepStrictEqual(all(c, hasClass("note")).map((n) => n.text), ["no analyses recorded"]);
                assert.ok(texts(c).filter((t) => /^\d/.test(t)).length >= 2, "y axis has labels");
            }
            assert.deepStrictEqual(all(svg, hasClass("step-marker")).flatMap(texts), ["1%"]);
            assert.ok(texts(svg).includes("Time since rollout start (s)"));
            // The time axis covers the run until it finished (12s).
            const xLabels = texts(svg).filter((t) => /^\d+$/.test(t)).map(Number);
            assert.ok(Math.max(...xLabels) >= 12);
        });

        it("a single point and all-null data render without lines or NaN", () => {
            const single = baseRecord({ steps: [step(1, 0, [analysis(0)], "running")] });
            const s = assertCleanSvg(renderReportSvg(single));
            for (const id of ["success-rate", "p99-latency"] as const) {
                assert.strictEqual(all(chart(s, id), named("polyline")).length, 0);
                assert.strictEqual(all(chart(s, id), named("circle")).length, 2, "one dot per series");
            }

            const nothing = { requests: null, successRate: null, p99Ms: null };
            const allNull = baseRecord({ thresholds: {}, steps: [step(1, 0, [analysis(20, nothing, nothing), analysis(40, nothing, nothing)], "failed")] });
            const n = assertCleanSvg(renderReportSvg(allNull));
            for (const id of ["success-rate", "p99-latency"] as const) {
                const c = chart(n, id);
                assert.strictEqual(all(c, named("polyline")).length, 0);
                assert.deepStrictEqual(all(c, hasClass("note")).map((e) => e.text), ["no data"]);
                assert.strictEqual(all(c, hasClass("nodata-marker")).length, 2);
                assert.strictEqual(all(c, hasClass("threshold")).length, 0, "no thresholds recorded, none drawn");
            }
        });

        it("a long run: lines without dots once ticks are dense, and round time ticks", () => {
            // One hour at 10% with an analysis every 15 s: 240 ticks.
            const ticks = Array.from({ length: 240 }, (_, i) => analysis(20 + i * 15, { p99Ms: 170 + (i % 7) * 5 }));
            const long = baseRecord({ outcome: "running", steps: [step(1, 0, ticks, "running")] });
            const svg = assertCleanSvg(renderReportSvg(long));
            for (const id of ["success-rate", "p99-latency"] as const) {
                const c = chart(svg, id);
                assert.deepStrictEqual(all(c, named("polyline")).map((p) => points(p).length), [240, 240]);
                assert.strictEqual(all(series(c, "canary"), named("circle")).length, 0);
            }
            // Last tick at 3605 s: the axis runs 0 .. 4000 in steps of 500.
            const xLabels = texts(svg).filter((t) => /^\d+$/.test(t)).map(Number).filter((n) => n >= 1000);
            assert.deepStrictEqual(xLabels, [1000, 1500, 2000, 2500, 3000, 3500, 4000]);
        });

        it("escapes text: a stack named dev<1>", () => {
            const raw = renderReportSvg({ ...rolledBackRun(), stack: "dev<1>", canaryVersion: "v2 & \"fast\"" });
            const svg = assertCleanSvg(raw);
            assert.ok(!raw.includes("dev<1>"));
            assert.ok(raw.includes("dev&lt;1&gt;"));
            assert.strictEqual(one(svg, named("title"), "title").text, 'Rollout dev<1>: v1 → v2 & "fast" (rolled back)');
        });
    });
});

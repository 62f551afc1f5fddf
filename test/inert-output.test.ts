// Text that comes from config, custom checks or webhooks (check names, messages, reasons) stays
// text wherever it is shown: the rollout report's Markdown and SVG, and the terminal.
import * as assert from "assert";
import MarkdownIt from "markdown-it";
import type { CheckResult } from "../analysis/verdict";
import { describeEvent } from "../cli/rollout";
import type { RolloutRecord, StepRecord } from "../rollout/record";
import { renderReportMarkdown } from "../rollout/report/markdown";
import { renderReportSvg } from "../rollout/report/chart-svg";
import { renderPredictionsSvg } from "../rollout/report/distribution-svg";

const hostileMessage = "# Approved by security\n- [x] reviewed\n1. signed\n\u001b[2J\u001b[32mCOMPLETED\u001b[0m\u0085 https://evil.example ![i](https://evil.example/i.png) <img src=x> ~~no~~";
const check: CheckResult = { name: "golden-set\u001b[8m", status: "fail", message: hostileMessage };
const step: StepRecord = {
    index: 1, weight: 10, startedAt: "2025-03-01T12:00:00.000Z", appliedAt: "2025-03-01T12:00:03.000Z", applyMs: 3000,
    analyses: [{
        at: "2025-03-01T12:00:13.000Z", summary: "fail", results: [check],
        measurement: { canary: { requests: 100, successRate: 99, p99Ms: 100 }, stable: { requests: 100, successRate: 99, p99Ms: 100 } },
    }],
    verdict: "failed", reason: hostileMessage,
};
const record: RolloutRecord = {
    stack: "dev", stableVersion: "v1", canaryVersion: "v2", plan: [10, 100], startedAt: "2025-03-01T12:00:00.000Z",
    finishedAt: "2025-03-01T12:00:20.000Z", outcome: "rolled-back", message: hostileMessage, steps: [step],
    rollback: { decidedAt: "2025-03-01T12:00:13.000Z", appliedAt: "2025-03-01T12:00:16.000Z", actionMs: 3000, reason: hostileMessage },
    thresholds: {},
};

describe("inert output", () => {
    it("the report's Markdown gets no heading, list, link, image or HTML from a message", () => {
        const html = new MarkdownIt({ html: true, linkify: true }).render(renderReportMarkdown({ ...record, message: `${hostileMessage} www.evil.example` }));
        assert.deepStrictEqual(html.match(/<h[1-6]>/g), ["<h1>", "<h2>", "<h2>", "<h2>"]);
        // Only the report's own lists: four facts at the top, four in the rollback section.
        assert.strictEqual(html.match(/<li>/g)?.length, 8);
        assert.doesNotMatch(html, /<a |<img|<ol|<s>|<del>|<input|\u001b|\u0085/);
        assert.strictEqual(html.match(/<blockquote>/g)?.length, 1);
        assert.ok(html.includes("\\u001b[2J"), "the escape is shown as text");
    });

    it("the report's SVG carries no control character and no injected element", () => {
        const svg = renderReportSvg({ ...record, stack: "dev\u001b<script>alert(1)</script>", canaryVersion: "v2\"/><image href=\"x\"" });
        assert.doesNotMatch(svg, /<script|<image|[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
        assert.ok(svg.includes("&lt;script&gt;"));
    });

    it("the prediction chart and table keep a hostile bucket label and version as text", () => {
        const hostileLe = "<script>alert(1)</script>\u001b[2J";
        const analysis = {
            ...step.analyses[0],
            measurement: {
                canary: { requests: 100, successRate: 99, p99Ms: 100, predictions: { buckets: [{ le: hostileLe, count: 5 }, { le: "+Inf", count: 10 }] } },
                stable: { requests: 100, successRate: 99, p99Ms: 100, predictions: { buckets: [{ le: "0.5", count: 5 }, { le: "+Inf", count: 10 }] } },
            },
        };
        const hostile = { ...record, canaryVersion: "v2<image href=\"x\"/>", steps: [{ ...step, analyses: [analysis] }] };
        const svg = renderPredictionsSvg(hostile)!;
        assert.doesNotMatch(svg, /<script|<image|[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
        assert.ok(svg.includes("canary: a bucket has le &quot;&lt;script&gt;alert(1)&lt;/script&gt;"), svg);
        const html = new MarkdownIt({ html: true, linkify: true }).render(renderReportMarkdown(hostile, { predictionChartFile: "p.svg" }));
        assert.doesNotMatch(html, /<script|<image|\u001b/);
        assert.ok(html.includes("canary: a bucket has le"), html);
    });

    it("the terminal gets no escape sequence and no line of a message's making", () => {
        const decision = { decision: "rollback", reason: "1 analysis did not pass" } as never;
        const lines = describeEvent({ type: "analysis", step, total: 2, analysis: step.analyses[0], decision, remainingMs: 0 }).split("\n");
        assert.strictEqual(lines.length, 2);
        assert.strictEqual(lines[1], "  FAIL    golden-set\\u001b[8m: # Approved by security\\n- [x] reviewed\\n1. signed\\n\\u001b[2J\\u001b[32mCOMPLETED\\u001b[0m\\u0085 https://evil.example ![i](https://evil.example/i.png) <img src=x> ~~no~~");
        for (const event of [{ type: "rollback-start", reason: hostileMessage }, { type: "finish", record }] as const) {
            const text = describeEvent(event);
            assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f]/, text);
        }
    });
});

// The pull-request comment stays under GitHub's 65,536-character limit for a comment body: a
// stack of many models keeps its models with changes first and in full, names the others, cuts
// the raw diff, and says so and where the whole comment is. Pure.
import * as assert from "assert";
import MarkdownIt from "markdown-it";
import { defaultCommentLength, githubCommentLimit, renderPreviewComment } from "../preview/limit";
import { PreviewReport, renderPreviewMarkdown, RoutingState } from "../preview/markdown";
import type { ResourceStep } from "../stacks/operations/automation";

const markdown = new MarkdownIt({ html: true, linkify: true });

const routes = (n: number, valueLength = 20) => Array.from({ length: n }, (_, i) => ({ header: `x-route-${i}`, exact: `${i}`.padEnd(valueLength, "v"), version: "v2" }));
const state = (weight: number, headerRoutes = routes(3)): RoutingState => ({
    stableVersion: "v1", canaryVersion: "v2", split: { v1: 100 - weight, v2: weight }, mirror: null, replicas: { v1: 2, v2: 1 }, headerRoutes,
});
const name = (i: number) => `model-with-a-rather-long-service-name-${String(i).padStart(3, "0")}`;
const vsStep = (model: string): ResourceStep => ({ op: "update", urn: `urn:pulumi:prod::p::model-canary:index:ModelCanary$kubernetes:networking.istio.io/v1:VirtualService::${model}-vs`, type: "kubernetes:networking.istio.io/v1:VirtualService", name: `${model}-vs`, diffs: ["spec"] });
/** A raw diff about as long as the engine prints for `lines` changed lines. */
const diff = (lines: number) => Array.from({ length: lines }, (_, i) => `    ~ spec.http[0].route[${i % 2}].weight: ${i} => ${i + 1}   # of a VirtualService ${name(i % 150)}`).join("\n");

/** `count` models; those for which `changed(i)` holds move from 10% to 20% (their VirtualService updates). */
function manyModels(count: number, changed: (i: number) => boolean, headerRoutes = routes(3), diffLines = 3_000): PreviewReport {
    const models = Array.from({ length: count }, (_, i) => ({ name: name(i), before: state(10, headerRoutes), after: state(changed(i) ? 20 : 10, headerRoutes) }));
    return {
        stack: "prod",
        before: models[0].before,
        after: models[0].after,
        models,
        steps: models.flatMap((m, i) => changed(i) ? [vsStep(m.name)] : []),
        changes: { update: models.filter((_, i) => changed(i)).length, same: 6 * count },
        diff: diff(diffLines),
    };
}

function headings(md: string): string[] {
    return [...md.matchAll(/^#### Model `([^`]+)`$/gm)].map((m) => m[1]);
}

describe("the pull-request comment's size cap", () => {
    it("150 models, 40 of them changed: under the cap, every changed model in full before the others, which are counted and named", () => {
        const changed = (i: number) => i % 4 === 1 && i < 160;
        const report = manyModels(150, changed);
        const whole = renderPreviewMarkdown(report);
        assert.ok(whole.length > githubCommentLimit, `the whole comment is ${whole.length} characters`);

        const comment = renderPreviewComment(report, { fullFile: "preview-prod.full.md" });
        assert.strictEqual(comment.shortened, true);
        assert.ok(comment.markdown.length <= defaultCommentLength && defaultCommentLength < githubCommentLimit, `${comment.markdown.length} characters`);
        const changedNames = report.models!.filter((_, i) => changed(i)).map((m) => m.name);
        assert.strictEqual(changedNames.length, 38);
        assert.deepStrictEqual(headings(comment.markdown), changedNames);
        // Each changed model's section is exactly its section in the whole comment.
        for (const n of changedNames) {
            const section = (md: string) => md.slice(md.indexOf(`#### Model \`${n}\``)).split(/\n(?=#### |\*\*)/)[0];
            assert.strictEqual(section(comment.markdown), section(whole), n);
        }
        const unchanged = report.models!.filter((_, i) => !changed(i)).map((m) => `\`${m.name}\``);
        const summary = comment.markdown.match(/^\*\*Without changes \((\d+) models\):\*\* (.*)$/m);
        assert.ok(summary, "the summary line");
        assert.deepStrictEqual([Number(summary[1]), summary[2]], [112, unchanged.join(", ")]);
        assert.ok(comment.markdown.indexOf(summary[0]) > comment.markdown.lastIndexOf("#### Model"), "changed models come first");

        assert.ok(comment.markdown.startsWith("<!-- model-canary-preview:prod -->\n### model-canary preview for stack `prod`\n\n> [!NOTE]\n"));
        assert.match(comment.markdown, /^> \*\*Shortened to stay under GitHub's limit of 65536 characters a comment:\*\* 112 models without changes are only named; the raw diff is cut\. The whole comment \(\d+ characters\) is in `preview-prod\.full\.md`, written beside this one; see one model's with `model-canary preview --stack prod --model NAME`\.$/m);
        assert.match(comment.markdown, /\n\.\.\. \d+ more lines of the diff left out \(this comment is capped below GitHub's limit\)\n`{3,}\n\n<\/details>\n$/);
        assert.match(comment.markdown, /^\*\*Resources:\*\* 38 to update, 900 unchanged$/m);
        // Still one comment heading, the diff still in its block.
        const html = markdown.render(comment.markdown);
        assert.deepStrictEqual(html.match(/<h[1-6]>/g), ["<h3>", ...changedNames.map(() => "<h4>")]);
        assert.strictEqual(html.match(/<details>/g)?.length, 1);
    });

    it("every model changed, each with 100 header routes: every one is still present, those that do not fit in one line each", () => {
        const report = manyModels(120, () => true, routes(100, 60));
        const comment = renderPreviewComment(report);
        assert.ok(comment.markdown.length <= defaultCommentLength, `${comment.markdown.length} characters`);
        const full = headings(comment.markdown);
        const oneLine = [...comment.markdown.matchAll(/^- Model `([^`]+)`: `v1` 90% → 80%, `v2` 10% → 20%; 100 header routes$/gm)].map((m) => m[1]);
        assert.ok(full.length >= 1 && oneLine.length >= 1, `${full.length} in full, ${oneLine.length} in one line`);
        assert.deepStrictEqual([...full, ...oneLine], report.models!.map((m) => m.name));
        assert.match(comment.markdown, /^\*\*Models with changes, in one line each\*\* \(\d+\):$/m);
        assert.match(comment.markdown, new RegExp(`^> \\*\\*Shortened [^\\n]*:\\*\\* ${oneLine.length} models with changes are shown in one line; the raw diff is cut\\. To get the whole comment, write it to a file with \`--markdown FILE\`: then it is also written to \`FILE\\.full\\.md\``, "m"));
        assert.doesNotMatch(comment.markdown, /Without changes/);
    });

    it("one model whose header routes alone pass the limit, and a diff full of escapes: bounded, the split shown", () => {
        const long = routes(100, 1024);
        const report: PreviewReport = { stack: "dev", model: "fraud", before: state(10, long), after: state(50, long), steps: [], changes: { update: 1 }, diff: "\u001b".repeat(100_000) };
        assert.ok(renderPreviewMarkdown(report).length > 100_000);
        const comment = renderPreviewComment(report);
        assert.ok(comment.markdown.length <= defaultCommentLength, `${comment.markdown.length} characters`);
        assert.match(comment.markdown, /^- routing: `v1` 90% → 50%, `v2` 10% → 50%; 100 header routes$/m);
        assert.match(comment.markdown, /^> \*\*Shortened [^\n]*:\*\* the routing is shown in one line \(its header routes are left out\); the raw diff is cut\. /m);
        assert.ok(comment.markdown.startsWith("<!-- model-canary-preview:dev model=fraud -->\n"));
    });

    it("a comment under the cap is the whole comment, unchanged", () => {
        const report = manyModels(5, (i) => i === 2, routes(3), 20);
        const comment = renderPreviewComment(report, { fullFile: "x.full.md" });
        assert.deepStrictEqual(comment, { markdown: renderPreviewMarkdown(report), shortened: false });
        assert.deepStrictEqual(renderPreviewComment(report, { maxLength: 5_000 }).markdown.length <= 5_000, true);
    });
});

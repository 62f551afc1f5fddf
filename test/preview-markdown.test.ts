// The pull-request comment renders every config-derived string inertly: hostile header names and
// values, versions, resource names, property names and the raw diff cannot add headings, links,
// images, HTML, table cells, or close the code block or the <details>. Checked by rendering the
// comment with a real Markdown parser (markdown-it with HTML and bare-URL links on, as GitHub).
import * as assert from "assert";
import MarkdownIt from "markdown-it";
import { code, commentMarker, fencedBlock, PreviewReport, renderPreviewMarkdown } from "../preview/markdown";

const markdown = new MarkdownIt({ html: true, linkify: true });

const hostile = [
    "# Approved by security",
    "[click here](https://evil.example/)",
    "![badge](https://evil.example/ok.png)",
    "https://evil.example/bare",
    "</details><h1>Approved</h1>",
    "<img src=x onerror=alert(1)>",
    "a|b|c",
    "```",
    "`` ` ``",
    "**bold** _em_ ~~gone~~",
    "ok\n\n# Approved by security\n",
    "\u001b[31mred\u001b[0m",
];

function report(): PreviewReport {
    return {
        stack: "dev",
        before: { stableVersion: "v1", canaryVersion: "v2|<b>x</b>", split: { v1: 90, "v2|<b>x</b>": 10 }, headerRoutes: [] },
        after: {
            stableVersion: "v1",
            canaryVersion: "v2|<b>x</b>",
            split: { v1: 50, "v2|<b>x</b>": 50 },
            headerRoutes: hostile.map((value, i) => ({ header: i % 2 ? `x-${value}` : "x-canary-version", exact: value, version: "v2|<b>x</b>" })),
        },
        steps: [{
            op: "replace",
            urn: "urn:pulumi:dev::model-canary::kubernetes:apps/v1:Deployment::model-`v2`</details>",
            type: "kubernetes:apps/v1:Deployment",
            name: "model-`v2`</details># Approved",
            diffs: ["spec`](https://evil.example)", "<img src=y>"],
        }],
        changes: { update: 1, replace: 1, "<img src=z>": 1 },
        diff: "  ~ kubernetes:apps/v1:Deployment\n      image: \"a\" => \"b\"\n```\n</details>\n# Approved by security\n<img src=x>\n````\nend",
    };
}

describe("pull-request comment", () => {
    const md = renderPreviewMarkdown(report());
    const html = markdown.render(md);

    it("has only its own heading: a header value cannot add one", () => {
        assert.deepStrictEqual(html.match(/<h[1-6]>/g), ["<h3>"]);
        assert.ok(!/Approved/.test(html.replace(/<code[^>]*>[^]*?<\/code>/g, "")), "the words appear only inside code");
    });

    it("has no links and no images, not even autolinked bare URLs", () => {
        assert.doesNotMatch(html, /<a |<img/);
    });

    it("has exactly one <details> and the hostile `</details>` stays text", () => {
        assert.strictEqual(html.match(/<details>/g)?.length, 1);
        assert.strictEqual(html.match(/<\/details>/g)?.length, 1);
        assert.ok(html.trimEnd().endsWith("</details>"), "the block closes where the comment ends");
        assert.doesNotMatch(html, /<b>|<h1>|onerror=alert\(1\)>/);
    });

    it("keeps the split table at five cells a row, whatever the version names contain", () => {
        const rows = html.match(/<tr>[^]*?<\/tr>/g) ?? [];
        assert.strictEqual(rows.length, 3);
        for (const row of rows) assert.strictEqual(row.match(/<t[hd][ >]/g)?.length, 5, row);
        assert.ok(rows[2].includes("<code>v2|&lt;b&gt;x&lt;/b&gt;</code>"), rows[2]);
    });

    it("lists every header route as one item, its values shown literally in code", () => {
        const items = html.slice(html.indexOf("<ol>"), html.indexOf("</ol>")).match(/<li>/g) ?? [];
        assert.strictEqual(items.length, hostile.length);
        assert.ok(html.includes("<code>ok\\n\\n# Approved by security\\n</code>"), "newlines are shown as \\n, on one line");
        assert.ok(html.includes("<code>\\u001b[31mred\\u001b[0m</code>"), "escape characters are shown, not passed on");
        assert.ok(html.includes("<code>`` ` ``</code>"), "backtick runs stay inside the code span");
    });

    it("keeps the whole raw diff inside one code block", () => {
        const blocks = html.match(/<pre><code[^>]*>([^]*?)<\/code><\/pre>/g) ?? [];
        assert.strictEqual(blocks.length, 1);
        const decoded = blocks[0].replace(/^<pre><code[^>]*>/, "").replace(/<\/code><\/pre>$/, "")
            .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&amp;/g, "&");
        assert.strictEqual(decoded, `${report().diff}\n`);
    });

    it("warns about the Deployment with its name and changed properties as code", () => {
        assert.match(md, /> - ``model-`v2`<\/details># Approved``: replace \(changed: ``spec`\]\(https:\/\/evil\.example\)``, `<img src=y>`\)/);
    });

    it("writes op names it does not know as code", () => {
        assert.match(md, /\*\*Resources:\*\* 1 to update, 1 to replace, 1 `<img src=z>`/);
    });
});

describe("inert Markdown pieces", () => {
    it("picks a code-span delimiter longer than any backtick run, padding text that touches one", () => {
        assert.strictEqual(code("v2"), "`v2`");
        assert.strictEqual(code("a``b"), "```a``b```");
        assert.strictEqual(code("`x"), "`` `x ``");
        assert.strictEqual(code("a|b", true), "`a\\|b`");
        assert.strictEqual(code("a|b"), "`a|b`");
        assert.strictEqual(code("line\nnext\u0085"), "`line\\nnext\\u0085`");
    });

    it("fences a block with more backticks than any run inside it, and at least three", () => {
        assert.deepStrictEqual(fencedBlock("plain", "diff"), ["```diff", "plain", "```"]);
        assert.deepStrictEqual(fencedBlock("a\n`````\nb\u0007\tc"), ["``````", "a\n`````\nb\\u0007\tc", "``````"]);
    });

    it("keeps the marker an HTML comment whatever the stack is called", () => {
        assert.strictEqual(commentMarker("dev"), "<!-- model-canary-preview:dev -->");
        assert.strictEqual(commentMarker("acme/model-canary/prod"), "<!-- model-canary-preview:acme/model-canary/prod -->");
        assert.strictEqual(commentMarker("x --><img src=x>"), "<!-- model-canary-preview:x%20--%3E%3Cimg%20src%3Dx%3E -->");
    });
});

describe("preview comment: the shadow stage", () => {
    const base = { stack: "dev", steps: [], changes: { update: 1, same: 4 }, diff: "" };
    const noShadow = { stableVersion: "v1", canaryVersion: "v2", split: { v1: 100 }, headerRoutes: [] };
    const shadow = { ...noShadow, mirror: { version: "v2", percent: 100 } };

    it("entering the shadow stage says what is mirrored and that the canary serves no users", () => {
        const md = renderPreviewMarkdown({ ...base, before: noShadow, after: shadow });
        assert.ok(md.includes("**Shadow:** the default route mirrors 100% of default traffic to `v2`; `v2` serves no users (its answers are discarded)."), md);
        // The served split is unchanged: stable keeps every user.
        assert.ok(md.includes("| `v1` | stable | 100% | 100% | unchanged |"), md);
    });

    it("leaving it for the first weight says the mirror is removed", () => {
        const md = renderPreviewMarkdown({ ...base, before: shadow, after: { ...noShadow, split: { v1: 99, v2: 1 } } });
        assert.ok(md.includes("**Shadow ends:** the mirror is removed (it mirrored 100% of default traffic to `v2`; `v2` serves no users (its answers are discarded))."), md);
        assert.ok(md.includes("| `v2` | canary | 0% | 1% | 0% → 1% |"), md);
    });

    it("a changed percentage shows both; no mirror on either side adds nothing", () => {
        const md = renderPreviewMarkdown({ ...base, before: { ...shadow, mirror: { version: "v2", percent: 10 } }, after: shadow });
        assert.ok(md.includes("**Shadow:** the default route mirrors 100% of default traffic to `v2`; `v2` serves no users (its answers are discarded). Before: mirrors 10% of default traffic to `v2`"), md);
        assert.ok(!renderPreviewMarkdown({ ...base, before: noShadow, after: noShadow }).includes("Shadow"));
    });
});

describe("preview comment: replicas that follow the weight", () => {
    const base = { stack: "dev", steps: [], changes: { update: 2, same: 3 }, diff: "" };
    it("a weight step that scales the canary says so, and that running pods are not restarted", () => {
        const md = renderPreviewMarkdown({
            ...base,
            before: { stableVersion: "v1", canaryVersion: "v2", split: { v1: 90, v2: 10 }, headerRoutes: [], replicas: { v1: 5, v2: 1 } },
            after: { stableVersion: "v1", canaryVersion: "v2", split: { v1: 50, v2: 50 }, headerRoutes: [], replicas: { v1: 5, v2: 3 }, autoReplicas: true },
        });
        assert.ok(md.includes("**Replicas:** `v2` 1 → 3 (`canary.replicas: auto`: the canary's pods follow its traffic). This step also updates that Deployment's `replicas`: pods are added or removed, and a change of `replicas` alone restarts no running pod."), md);
    });
    it("unchanged counts, or a stack deployed before counts were recorded, add no line", () => {
        const state = { stableVersion: "v1", canaryVersion: "v2", split: { v1: 100 }, headerRoutes: [], replicas: { v1: 5, v2: 1 } };
        assert.ok(!renderPreviewMarkdown({ ...base, before: state, after: state }).includes("Replicas"));
        assert.ok(!renderPreviewMarkdown({ ...base, before: { ...state, replicas: undefined }, after: { ...state, replicas: { v1: 5, v2: 2 } } }).includes("Replicas"));
    });
});

describe("preview comment: switching routers", () => {
    const state = { stableVersion: "v1", canaryVersion: "v2", split: { v1: 90, v2: 10 }, headerRoutes: [] };
    const service = (name: string) => ({ apiVersion: "v1", kind: "Service", namespace: "default", name });
    const routerSwitch = {
        model: "model", from: "istio" as const, to: "gateway-api" as const,
        created: [service("model-service-v1"), service("model-service-v2"), { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespace: "default", name: "model-service" }],
        removed: [{ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", namespace: "default", name: "model-destination" }, { apiVersion: "networking.istio.io/v1", kind: "VirtualService", namespace: "default", name: "model-virtual-service" }],
    };
    const base = { stack: "dev", steps: [], changes: { create: 3, delete: 2, same: 4 }, diff: "" };

    it("says the router changes and that the new route objects are created before the old ones are deleted", () => {
        const md = renderPreviewMarkdown({ ...base, before: state, after: { ...state, routerSwitch } });
        assert.ok(md.includes("**Router changes:** `istio` → `gateway-api`. This update first creates the Service `default/model-service-v1`, the Service `default/model-service-v2` and the HTTPRoute `default/model-service`, "
            + "and deletes the DestinationRule `default/model-destination` and the VirtualService `default/model-virtual-service` only after they exist: the host always has a route, and while both exist Istio follows the HTTPRoute."), md);
        assert.ok(md.includes("| `v2` | canary | 10% | 10% | unchanged |"), md);
        assert.ok(!renderPreviewMarkdown({ ...base, before: state, after: state }).includes("Router changes"));
    });
});

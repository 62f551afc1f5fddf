// The README and docs/ cannot drift apart: every relative link points at a file that exists, and
// every `#anchor` at a heading of that file (as GitHub names headings).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..");

/** The Markdown pages a reader can reach: the README and every page of docs/. */
export function pages(): string[] {
    return ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
}

/** Lines outside fenced code blocks, with their numbers. */
function prose(text: string): [number, string][] {
    let fenced = false;
    const out: [number, string][] = [];
    text.split("\n").forEach((line, i) => {
        if (/^\s*```/.test(line)) fenced = !fenced;
        else if (!fenced) out.push([i + 1, line]);
    });
    return out;
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
    return heading.trim().toLowerCase().replace(/`/g, "").replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors a page's headings give, with GitHub's `-1`, `-2` suffixes for repeats. */
export function anchors(file: string): Set<string> {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    for (const [, line] of prose(fs.readFileSync(path.join(root, file), "utf8"))) {
        const m = /^#{1,6} (.+)$/.exec(line);
        if (!m) continue;
        const base = slug(m[1]);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        out.add(n === 0 ? base : `${base}-${n}`);
    }
    return out;
}

/** Every relative link of a page (inline links and images), with its line. */
function links(file: string): { line: number; target: string }[] {
    const out: { line: number; target: string }[] = [];
    for (const [line, text] of prose(fs.readFileSync(path.join(root, file), "utf8"))) {
        // Inline code is not a link.
        const bare = text.replace(/`[^`]*`/g, "");
        for (const m of bare.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
            if (!/^[a-z][a-z0-9+.-]*:/i.test(m[1])) out.push({ line, target: m[1] });
        }
    }
    return out;
}

describe("docs: links", () => {
    it("every page of docs/ is linked from the README", () => {
        const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
        const missing = pages().filter((p) => p !== "README.md" && !readme.includes(`](${p})`));
        assert.deepStrictEqual(missing, []);
    });

    it("every relative link and anchor of the README and docs/ resolves", () => {
        const broken: string[] = [];
        for (const page of pages()) {
            for (const { line, target } of links(page)) {
                const [file, anchor] = target.split("#", 2);
                const resolved = file === "" ? page : path.relative(root, path.resolve(path.dirname(path.join(root, page)), file));
                if (!fs.existsSync(path.join(root, resolved))) {
                    broken.push(`${page}:${line}: ${target} (no file ${resolved})`);
                } else if (anchor !== undefined && !(resolved.endsWith(".md") && anchors(resolved).has(anchor))) {
                    broken.push(`${page}:${line}: ${target} (no heading #${anchor} in ${resolved})`);
                }
            }
        }
        assert.deepStrictEqual(broken, []);
    });

    it("the README stays a front door: at most 250 lines", () => {
        const lines = fs.readFileSync(path.join(root, "README.md"), "utf8").split("\n").length;
        assert.ok(lines <= 250, `README.md has ${lines} lines`);
    });

    it("slug names headings as GitHub does", () => {
        assert.strictEqual(slug("Walkthrough: the seed rollout"), "walkthrough-the-seed-rollout");
        assert.strictEqual(slug("GPU-aware canary scaling"), "gpu-aware-canary-scaling");
        assert.strictEqual(slug("Where a step's time went with many models"), "where-a-steps-time-went-with-many-models");
        assert.strictEqual(slug("`canary.replicas: auto`"), "canaryreplicas-auto");
    });
});

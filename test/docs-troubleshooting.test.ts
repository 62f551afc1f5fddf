// docs/troubleshooting.md quotes messages the code writes: each fixed part of a quoted message
// (the text between its `<placeholders>`) is in the source of the code that refuses.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { root } from "./support/doc-tables";

/** The source of every folder that writes messages, with template escapes undone (\` -> `). */
function source(): string {
    const dirs = ["analysis", "cli", "components", "preview", "rollout", "stacks", "toolchain"];
    const files = dirs.flatMap((d) => (fs.readdirSync(path.join(root, d), { recursive: true }) as string[])
        .filter((f) => /\.(ts|sh)$/.test(f)).map((f) => path.join(root, d, f)));
    return files.map((f) => fs.readFileSync(f, "utf8")).join("\n").replace(/\\`/g, "`");
}

describe("docs/troubleshooting.md", () => {
    it("quotes only messages the code writes", () => {
        const page = fs.readFileSync(path.join(root, "docs", "troubleshooting.md"), "utf8");
        const quoted = [...page.matchAll(/```text\n([\s\S]*?)\n```/g)].map((m) => m[1]);
        assert.ok(quoted.length >= 30, `${quoted.length} messages quoted`);
        const code = source();
        const missing: string[] = [];
        for (const message of quoted) {
            // The code builds lists and values at the placeholders; an example value ("150") is not a placeholder.
            const parts = message.split(/<[^>\n]+>|"150"/).map((p) => p.trim()).filter((p) => p.length >= 12);
            for (const part of parts) if (!code.includes(part)) missing.push(part);
        }
        assert.deepStrictEqual(missing, []);
    });
});

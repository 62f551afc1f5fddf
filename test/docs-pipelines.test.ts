// docs/pipelines.md's commands are ones the command line takes: every `model-canary` command in
// its shell blocks (the worked example with two runners included) names a real command, and
// each of its flags is one that command's --help lists.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { commands, helpText } from "../cli/main";
import { root } from "./support/doc-tables";

/** The long and short flags an options block of help text lists. */
function helpFlags(text: string): Set<string> {
    const options = text.split("\nOptions:\n")[1] ?? "";
    return new Set(options.split("\n").flatMap((line) => {
        const m = /^\s+(?:(-[a-z]), )?(--[a-z][a-z-]*)/.exec(line);
        return m ? [m[2], ...(m[1] ? [m[1]] : [])] : [];
    }));
}

/** Each `model-canary ...` command of the page: its `sh` blocks' lines (without comments), and its inline code. */
function commandLines(page: string): string[] {
    const blocks = [...page.matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    const shell = blocks.flatMap((b) => b.split("\n"))
        .map((line) => line.replace(/\s+#.*$/, "").trim())
        .flatMap((line) => /(?:^|\s)(?:npx )?model-canary\s+(.*)$/.exec(line)?.[1] ?? []);
    const prose = page.replace(/```[\s\S]*?```/g, "");
    const inline = [...prose.matchAll(/`(?:npx )?model-canary ([a-z][^`]*)`/g)].map((m) => m[1].trim());
    return [...shell, ...inline];
}

/** What is wrong with one command line (its command and flags), or nothing. */
function commandProblems(args: string): string[] {
    const [name, ...rest] = args.split(/\s+/);
    if (!(name in commands)) return [`\`model-canary ${args}\`: no command \`${name}\``];
    const flags = helpFlags(helpText(name));
    return rest.map((a) => a.replace(/^\[|\]$/g, "")).filter((a) => a.startsWith("-"))
        .filter((f) => !flags.has(f.split("=")[0]))
        .map((f) => `\`model-canary ${args}\`: \`${name}\` takes no flag \`${f}\``);
}

describe("docs/pipelines.md", () => {
    const page = fs.readFileSync(path.join(root, "docs", "pipelines.md"), "utf8");

    it("runs only commands and flags the command line takes, in its worked example with two runners too", () => {
        const lines = commandLines(page);
        assert.ok(lines.length >= 8, `${lines.length} commands found`);
        for (const name of ["up", "adopt", "rollout", "status", "rollback"]) assert.ok(lines.some((l) => l.startsWith(`${name} `)), `the page runs \`model-canary ${name}\``);
        assert.deepStrictEqual(lines.flatMap(commandProblems), []);
    });

    it("would catch a command or flag that does not exist", () => {
        assert.deepStrictEqual(commandProblems("adopt --stack prod --force"), ["`model-canary adopt --stack prod --force`: `adopt` takes no flag `--force`"]);
        assert.deepStrictEqual(commandProblems("adopt --stack prod [--model fraud]"), []);
        assert.deepStrictEqual(commandProblems("takeover --stack prod"), ["`model-canary takeover --stack prod`: no command `takeover`"]);
    });
});

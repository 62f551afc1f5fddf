// docs/commands.md documents every flag each command's `--help` prints, and no flag a command
// does not take: its tables are compared with the help text the command line prints.
import * as assert from "assert";
import { commands, helpText } from "../cli/main";
import * as fs from "fs";
import * as path from "path";
import { markedTables, root } from "./support/doc-tables";

/** The flags an options block of help text lists, long names without the dashes. */
function helpFlags(text: string): string[] {
    const options = text.split("\nOptions:\n")[1] ?? "";
    return options.split("\n").flatMap((line) => /^\s+(?:-[a-z], )?--([a-z][a-z-]*)/.exec(line)?.[1] ?? []);
}

/** The long flags of a docs table's first column. */
function tableFlags(rows: string[][]): string[] {
    return rows.map((r) => /^`--([a-z][a-z-]*)/.exec(r[0])?.[1] ?? `(no flag in ${JSON.stringify(r[0])})`);
}

describe("docs/commands.md", () => {
    const tables = new Map(markedTables("docs/commands.md", "flags").map((t) => [t.name, t]));

    it("has a table of the flags every command takes, and one per command", () => {
        assert.deepStrictEqual([...tables.keys()].sort(), ["every command", ...Object.keys(commands)].sort());
    });

    it("documents every flag each command's --help prints, and only those", () => {
        const common = tableFlags(tables.get("every command")!.rows);
        const everywhere = Object.keys(commands).map((name) => helpFlags(helpText(name)));
        // The flags every help text lists are the common ones.
        const inAll = everywhere[0].filter((f) => everywhere.every((flags) => flags.includes(f)));
        assert.deepStrictEqual([...common].sort(), [...inAll].sort());
        for (const name of Object.keys(commands)) {
            const help = helpFlags(helpText(name)).filter((f) => !common.includes(f));
            assert.deepStrictEqual([...tableFlags(tables.get(name)!.rows)].sort(), [...help].sort(), `\`${name}\`'s flags`);
        }
        // Concrete: a lost help text cannot pass as no flags.
        assert.deepStrictEqual(helpFlags(helpText("up")), ["no-create", "override-stale", "stack", "model", "backend", "cwd", "help"]);
    });

    it("the README's table of commands names every command, and only those", () => {
        const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
        const section = readme.split(/^## /m).find((s) => s.startsWith("Commands"))!;
        const named = [...section.matchAll(/^\| `([a-z]+)` \|/gm)].map((m) => m[1]);
        assert.deepStrictEqual(named.sort(), Object.keys(commands).sort());
    });

    it("gives each short flag as --help does", () => {
        for (const name of Object.keys(commands)) {
            const shorts = [...helpText(name).matchAll(/^\s+-([a-z]), --([a-z-]+)/gm)].map((m) => `--${m[2]} -${m[1]}`);
            const rows = [...tables.get(name)!.rows, ...tables.get("every command")!.rows];
            for (const pair of shorts) {
                const [long, short] = pair.split(" ");
                const row = rows.find((r) => r[0].startsWith(`\`${long}`));
                assert.ok(row && row[0].includes(`\`${short}\``), `${name}: ${long} is also ${short}`);
            }
        }
    });
});

// docs/api.md lists every public export of the package's three entry points, values and types,
// and nothing else: the list is compared with what TypeScript says each module exports.
import * as assert from "assert";
import * as path from "path";
import * as ts from "typescript";
import { code, markedTables, root } from "./support/doc-tables";

const entryPoints: Record<string, string> = {
    "model-canary": "api/index.ts",
    "model-canary/program": "api/program.ts",
    "model-canary/automation": "api/automation.ts",
};

type Kind = "class" | "function" | "constant" | "type";

/** Each entry point's exports by name, with their kind, as the compiler resolves the re-exports. */
function actualExports(): Record<string, Map<string, Kind>> {
    const files = Object.values(entryPoints).map((f) => path.join(root, f));
    // No lib and no type-check: only the module graph's symbols are needed.
    const program = ts.createProgram(files, { noLib: true, types: [], module: ts.ModuleKind.CommonJS, esModuleInterop: true });
    const checker = program.getTypeChecker();
    const out: Record<string, Map<string, Kind>> = {};
    for (const [entry, file] of Object.entries(entryPoints)) {
        const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(path.join(root, file))!)!;
        const names = new Map<string, Kind>();
        for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
            const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
            const f = target.flags;
            names.set(symbol.name, f & ts.SymbolFlags.Class ? "class" : f & ts.SymbolFlags.Function ? "function" : f & ts.SymbolFlags.Variable ? "constant" : "type");
        }
        out[entry] = names;
    }
    return out;
}

describe("docs/api.md", function () {
    this.timeout(120_000);
    const tables = markedTables("docs/api.md", "api");

    it("has one reference table per entry point", () => {
        assert.deepStrictEqual(tables.map((t) => t.name), Object.keys(entryPoints));
        for (const t of tables) assert.deepStrictEqual(t.header, ["Export", "Kind", "What it is"]);
    });

    it("lists every export of each entry point with its kind and a description, and nothing it does not export", () => {
        const actual = actualExports();
        for (const table of tables) {
            const documented = new Map(table.rows.map((r) => [code(r[0]) ?? r[0], r[1]]));
            const exported = actual[table.name];
            const missing = [...exported.keys()].filter((n) => !documented.has(n));
            const extra = [...documented.keys()].filter((n) => !exported.has(n));
            assert.deepStrictEqual({ missing, extra }, { missing: [], extra: [] }, `${table.name}: exports missing from docs/api.md, or listed but not exported`);
            for (const [name, kind] of exported) assert.strictEqual(documented.get(name), kind, `${table.name}: \`${name}\` is a ${kind}`);
            for (const row of table.rows) assert.ok(row[2] && row[2].length >= 10, `${table.name}: \`${row[0]}\` has a description`);
            // Sorted as the compiler lists them is not required, but one row per name is.
            assert.strictEqual(documented.size, table.rows.length, `${table.name}: a name listed twice`);
        }
        // The counts at the time of writing, so that a lost entry point table cannot pass as empty.
        assert.ok(actual["model-canary/automation"].size > 50);
    });
});

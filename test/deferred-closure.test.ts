// The command defers the SDK's function-serialization modules (cli/deferred-closure.ts): loading
// the command does not load them, nor npm's @npmcli/arborist that they need, and they still work
// when called; nor the PostgreSQL driver, which only a postgres:// store loads when it connects.
// In a process of its own, as the command starts.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

describe("the command's start defers the SDK's function serialization", () => {
    it("loads the command without @npmcli/arborist or the PostgreSQL driver, and serializeFunction still serializes", () => {
        const script = `
            require("./cli/main");
            const loaded = (part) => Object.keys(require.cache).some((f) => f.includes(part));
            const before = { arborist: loaded("/@npmcli/arborist/"), parseFunction: loaded("/runtime/closure/parseFunction"), pg: loaded("/node_modules/pg/") };
            require("@pulumi/pulumi").runtime.serializeFunction(() => 6 * 7).then((f) => {
                console.log(JSON.stringify({ before, text: f.text.includes("6 * 7"), after: loaded("/runtime/closure/parseFunction") }));
            });`;
        const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
        assert.deepStrictEqual(JSON.parse(out.trim().split("\n").pop()!), { before: { arborist: false, parseFunction: false, pg: false }, text: true, after: true });
    });
});

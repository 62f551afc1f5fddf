// The command defers the SDK's function-serialization modules (cli/deferred-closure.ts): loading
// the command does not load them, nor npm's @npmcli/arborist that they need, and they still work
// when called; nor the PostgreSQL driver, which only a postgres:// store loads when it connects;
// nor @pulumi/kubernetes, which only the program loads (the command's modules import the
// components' pure files, and name the routers' objects through components/routers/object-names.ts).
// In a process of its own, as the command starts.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

describe("the command's start defers what only some of its work needs", () => {
    it("loads the command without @npmcli/arborist, the PostgreSQL driver or @pulumi/kubernetes, and serializeFunction still serializes", () => {
        const script = `
            require("./cli/main");
            const loaded = (part) => Object.keys(require.cache).some((f) => f.includes(part));
            const before = { arborist: loaded("/@npmcli/arborist/"), parseFunction: loaded("/runtime/closure/parseFunction"), pg: loaded("/node_modules/pg/"), kubernetes: loaded("/node_modules/@pulumi/kubernetes/") };
            require("@pulumi/pulumi").runtime.serializeFunction(() => 6 * 7).then((f) => {
                console.log(JSON.stringify({ before, text: f.text.includes("6 * 7"), after: loaded("/runtime/closure/parseFunction") }));
            });`;
        const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
        assert.deepStrictEqual(JSON.parse(out.trim().split("\n").pop()!), { before: { arborist: false, parseFunction: false, pg: false, kubernetes: false }, text: true, after: true });
    });
});

// .ci/run fetches beforehand what the tests read offline: the Go modules whose CRD schemas the
// schema and cluster tests use must be the versions test/support/schemas.ts names.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { gatewayApiModule } from "./support/schemas";

describe(".ci/run", () => {
    const script = fs.readFileSync(path.join(__dirname, "..", ".ci", "run"), "utf8");

    it("downloads the Gateway API module the schema tests read from the module cache", () => {
        assert.ok(script.includes(`go mod download ${gatewayApiModule})`), `.ci/run does not download ${gatewayApiModule}`);
    });

    it("ends by running exactly the README's test command", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
        assert.ok(/^npm test(\s|$)/m.test(readme), "the README's quick start runs `npm test`");
        assert.strictEqual(script.trimEnd().split("\n").at(-1), "npm test");
    });
});

import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ValidationError } from "../components";
import { editProjectConfig, readProjectConfig } from "../stacks/config/settings";

const original = `# Rollout of the ranking model.
encryptionsalt: v1:abc
config:
  model-canary:canaryWeight: 1 # first step
  model-canary:stable:
    version: v1
    image: registry/ranker:v1
  model-canary:canary:
    version: v2
    image: registry/ranker:v2
  kubernetes:namespace: ml
`;

describe("stack settings edits", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-settings-"));
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), original);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("changes only the edited key and keeps comments, other namespaces and the salt", () => {
        const checked = editProjectConfig(dir, "dev", (c) => { c.canaryWeight = 10; });
        assert.strictEqual(checked.models.model.resolved.canaryWeight, 10);
        assert.strictEqual(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), original.replace("canaryWeight: 1 #", "canaryWeight: 10 #"));
    });

    it("removes keys set to undefined and writes structured values", () => {
        editProjectConfig(dir, "dev", (c) => {
            c.stable = c.canary;
            c.canary = undefined;
            c.canaryWeight = 0;
        });
        assert.deepStrictEqual(readProjectConfig(dir, "dev"), { canaryWeight: 0, stable: { version: "v2", image: "registry/ranker:v2" } });
        assert.match(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), /kubernetes:namespace: ml/);
    });

    it("refuses an edit the program would refuse, leaving the file untouched", () => {
        assert.throws(() => editProjectConfig(dir, "dev", (c) => { c.canaryWeight = 150; }),
            (e: ValidationError) => e instanceof ValidationError && e.message === "`canaryWeight` must be an integer from 0 to 100, got \"150\"");
        assert.strictEqual(fs.readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8"), original);
    });

    it("finds a fully qualified stack's settings under its short name", () => {
        assert.deepStrictEqual(readProjectConfig(dir, "acme/model-canary/dev").canaryWeight, 1);
    });
});

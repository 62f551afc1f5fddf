// The project's config as the user wrote it: YAML's own number forms (`0x10`, `1e1`, `10.0`...)
// are refused in the settings file, where the text is still seen, by the program and every command.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ValidationError, yamlNumberForm } from "../components";
import { checkProjectConfig, editProjectConfig } from "../stacks/config/settings";
import { projectKeyReader, writtenFormProblems } from "../stacks/config/settings-written";

const accepted = "write numbers in plain decimal digits, such as 10 or 12.5 (a quoted \"10\" reads the same), and quote a value meant as text";
const written = (key: string, text: string, form: string) => `\`${key}\` is written ${text}, ${form}, which YAML reads as another value than the text shows: ${accepted}`;

const bare = (key: string) => `\`${key}\` is written without its namespace: write it as \`model-canary:${key}\` (the engine reads both, but model-canary's commands read and edit only the namespaced key)`;

function problemsOf(config: string, projectName = "model-canary"): string[] {
    return writtenFormProblems(YAML.parseDocument(`config:\n${config}`), projectKeyReader("model-canary", projectName));
}

describe("config as written in Pulumi.<stack>.yaml", () => {
    describe("YAML number forms", () => {
        const refused: [string, string][] = [
            ["0x10", "a hexadecimal number"],
            ["0X10", "a hexadecimal number"],
            ["0o12", "an octal number"],
            ["0O12", "an octal number"],
            ["0b1", "a binary number"],
            ["010", "a number with a leading zero (YAML 1.1 and the engine read 010 as the octal 8)"],
            ["1e1", "a number with an exponent"],
            ["1E+2", "a number with an exponent"],
            ["10.0", "a number with a trailing zero after the point (YAML reads 10.0 as 10)"],
            ["12.50", "a number with a trailing zero after the point (YAML reads 10.0 as 10)"],
            ["+5", "a number with a plus sign"],
            [".5", "a number with no digit before the point"],
            ["5.", "a number with no digit after the point"],
            [".inf", "infinity"],
            ["-.Inf", "infinity"],
            [".nan", "not a number"],
            ["1_000", "a number with underscores"],
            ["1:30", "a base-60 number (YAML 1.1 reads 1:30 as 90)"],
            ["-0", "negative zero"],
            ["12345678901234567890", "a number with more digits than YAML reads exactly"],
        ];
        for (const [text, form] of refused) {
            it(`refuses canaryWeight: ${text} as ${form}`, () => {
                assert.strictEqual(yamlNumberForm(text), form);
                assert.deepStrictEqual(problemsOf(`  model-canary:canaryWeight: ${text}\n`), [written("canaryWeight", text, form)]);
            });
        }

        it("accepts plain decimal numbers as they read back, quoted numbers and text that no YAML reader takes as a number", () => {
            for (const text of ["0", "10", "-1", "12.5", "0.25", "100"]) assert.strictEqual(yamlNumberForm(text), undefined, text);
            for (const text of ["v2", "1.2.3", "2024-01-01", "x1", "10m", "1e", "e1"]) assert.strictEqual(yamlNumberForm(text), undefined, text);
            assert.deepStrictEqual(problemsOf([
                "  model-canary:canaryWeight: 10",
                "  model-canary:mirrorPercent: 12.5",
                "  model-canary:servicePort: \"0x50\"", // text, refused by the value check as text
                "  model-canary:containerPort: '8080'",
                "  model-canary:stable: {version: v1, image: !!str 0x10}",
                "  model-canary:canary:",
                "    env:",
                "      NOTE: |",
                "        0x10",
                "  kubernetes:replicas: 0x10", // another namespace: not the project's to judge
                "",
            ].join("\n")), []);
        });

        it("finds the forms in every place: block and flow maps and lists, models, rollout steps, tags, aliases, keys without the namespace", () => {
            assert.deepStrictEqual(problemsOf([
                "  model-canary:servicePort: 0x50",
                "  model-canary:stable: {version: v1, replicas: 0o17}",
                "  model-canary:rollout:",
                "    steps: [0x1, 0xa, 100]",
                "    analysis:",
                "      minSuccessRate: .inf",
                "  model-canary:models:",
                "    fraud:",
                "      canaryWeight: !!int 0x10",
                "      mirrorPercent: !!float \"1e1\"",
                "      rollout:",
                "        steps:",
                "          - 1",
                "          - &big 1_000",
                "      containerPort: *big",
                "  canaryWeight: 10.0",
                "",
            ].join("\n")), [
                written("servicePort", "0x50", "a hexadecimal number"),
                written("stable.replicas", "0o17", "an octal number"),
                written("rollout.steps[0]", "0x1", "a hexadecimal number"),
                written("rollout.steps[1]", "0xa", "a hexadecimal number"),
                written("rollout.analysis.minSuccessRate", ".inf", "infinity"),
                written("models.fraud.canaryWeight", "0x10", "a hexadecimal number"),
                written("models.fraud.mirrorPercent", "1e1", "a number with an exponent"),
                written("models.fraud.rollout.steps[1]", "1_000", "a number with underscores"),
                written("models.fraud.containerPort", "1_000", "a number with underscores"),
                bare("canaryWeight"),
                written("canaryWeight", "10.0", "a number with a trailing zero after the point (YAML reads 10.0 as 10)"),
            ]);
        });

        it("reads a key without a namespace as the project's own only in a project named model-canary, and refuses it there (the commands read only namespaced keys)", () => {
            assert.deepStrictEqual(problemsOf("  canaryWeight: 0x10\n", "fraud-service"), []);
            assert.deepStrictEqual(problemsOf("  canaryWeight: 0x10\n", "model-canary"), [bare("canaryWeight"), written("canaryWeight", "0x10", "a hexadecimal number")]);
            assert.deepStrictEqual(problemsOf("  canaryWeight: 10\n", "model-canary"), [bare("canaryWeight")]);
        });

        it("names a number-like key and an anchor used outside the project's keys", () => {
            assert.deepStrictEqual(writtenFormProblems(YAML.parseDocument([
                "weights: &w 0x10",
                "config:",
                "  model-canary:canaryWeight: *w",
                "  model-canary:stable:",
                "    env: {0x1: a}",
                "",
            ].join("\n")), projectKeyReader("model-canary", "model-canary")), [
                written("canaryWeight", "0x10", "a hexadecimal number"),
                `a key of \`stable.env\` is written 0x1, a hexadecimal number, which YAML reads as another value than the text shows: ${accepted}`,
            ]);
        });
    });

    it("refuses YAML merge keys and tags it does not read, naming the key", () => {
        assert.deepStrictEqual(problemsOf([
            "  model-canary:stable: &base {version: v1, image: registry/m:v1}",
            "  model-canary:canary:",
            "    <<: *base",
            "    version: v2",
            "  model-canary:app: !custom model",
            "  model-canary:namespace: !!binary ZGVmYXVsdA==",
            "",
        ].join("\n")), [
            "`canary.<<` is a YAML merge key, which model-canary does not read (its config reader and the engine's would not see the same keys): write the keys out in full",
            "`app` has the YAML tag !custom, which model-canary does not read: remove it (and quote a value meant as text)",
            "`namespace` has the YAML tag !!binary, which model-canary does not read: remove it (and quote a value meant as text)",
        ]);
    });

    describe("through the commands' config check and edits", () => {
        let dir: string;
        const settings = () => path.join(dir, "Pulumi.dev.yaml");
        const base = [
            "config:",
            "  model-canary:stable: {version: v1, image: registry/m:v1}",
            "  model-canary:canary:",
            "    version: v2",
            "    image: registry/m:v2",
            "    env: {BATCH: \"1_000\"}",
        ];
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-written-"));
            fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: model-canary\nruntime: nodejs\n");
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        const refusal = (attempt: () => unknown): string[] => {
            try {
                attempt();
            } catch (e) {
                assert.ok(e instanceof ValidationError, String(e));
                return e.problems;
            }
            assert.fail("expected a refusal");
        };

        it("checkProjectConfig refuses canaryWeight: 0x10 with only that problem (no value check of the 16 it reads as)", () => {
            fs.writeFileSync(settings(), [...base, "  model-canary:canaryWeight: 0x10", ""].join("\n"));
            assert.deepStrictEqual(refusal(() => checkProjectConfig(dir, "dev")), [written("canaryWeight", "0x10", "a hexadecimal number")]);
            fs.writeFileSync(settings(), [...base, "  model-canary:canaryWeight: 10", ""].join("\n"));
            assert.strictEqual(checkProjectConfig(dir, "dev").models.model.resolved.canaryWeight, 10);
        });

        it("shows what was written: `version: 0x2`, `minSuccessRate: .inf` and a merge key, each once, with no follow-on problem", () => {
            fs.writeFileSync(settings(), [
                "config:",
                "  model-canary:stable: &base {version: v1, image: registry/m:v1}",
                "  model-canary:canary: {version: 0x2, image: registry/m:v2}",
                "  model-canary:rollout: {analysis: {minSuccessRate: .inf}}",
                "  model-canary:models:",
                "    fraud:",
                "      stable:",
                "        <<: *base",
                "",
            ].join("\n"));
            assert.deepStrictEqual(refusal(() => checkProjectConfig(dir, "dev")), [
                written("canary.version", "0x2", "a hexadecimal number"),
                written("rollout.analysis.minSuccessRate", ".inf", "infinity"),
                "`models.fraud.stable.<<` is a YAML merge key, which model-canary does not read (its config reader and the engine's would not see the same keys): write the keys out in full",
            ]);
        });

        it("an edit is refused, the file untouched, while a key it does not change is still written 0x50", () => {
            const text = [...base, "  model-canary:canaryWeight: 10", "  model-canary:servicePort: 0x50", ""].join("\n");
            fs.writeFileSync(settings(), text);
            assert.deepStrictEqual(refusal(() => editProjectConfig(dir, "dev", (c) => { c.canaryWeight = 0; })), [written("servicePort", "0x50", "a hexadecimal number")]);
            assert.strictEqual(fs.readFileSync(settings(), "utf8"), text);
        });

        it("a promotion moves quoted text that another YAML reader takes as a number still quoted", () => {
            fs.writeFileSync(settings(), [...base, "  model-canary:canaryWeight: 100", ""].join("\n"));
            const checked = editProjectConfig(dir, "dev", (c) => { c.stable = c.canary; c.canary = undefined; c.canaryWeight = 0; });
            assert.deepStrictEqual(checked.models.model.resolved.stable.env, { BATCH: "1_000" });
            assert.match(fs.readFileSync(settings(), "utf8"), /BATCH: "1_000"/);
        });
    });
});

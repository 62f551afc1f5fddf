// Format characters (Unicode category Cf, e.g. U+202E RIGHT-TO-LEFT OVERRIDE) in config text are
// refused, named as U+XXXX and never printed: a pull-request comment or a terminal would show
// other text than the text applied.
import * as assert from "assert";
import { codePoint, formatCharacterProblems, show, validateModelCanaryArgs } from "../components";
import { code, fencedBlock } from "../preview/markdown";
import { parseStackConfig } from "../stacks/config/config";
import { refusalProblems } from "./support/refusal";

const rlo = "\u202e";
const reason = "it makes the text shown in a pull-request comment or a terminal differ from the text applied";
const refused = (where: string, ch: string, at: number) => `${where} must not contain invisible format characters (Unicode category Cf), got ${ch} at character ${at}: ${reason}`;
const stable = { version: "v1", image: "registry/m:v1" };
const canary = { version: "v2", image: "registry/m:v2" };

describe("format characters in config text", () => {
    it("names the character as U+XXXX", () => {
        assert.deepStrictEqual([codePoint(rlo), codePoint("\u200b"), codePoint("\u00ad"), codePoint("\u{e0001}")], ["U+202E", "U+200B", "U+00AD", "U+E0001"]);
    });

    it("are refused in a header value, a version, an image, a host, a gateway and a key, and no message holds the character", () => {
        const problems = refusalProblems(() => validateModelCanaryArgs({
            stable,
            canary: { ...canary, version: `v2${rlo}`, image: `registry/m:v2${rlo}`, podAnnotations: { [`note${rlo}`]: "x" } },
            canaryWeight: 10,
            headerRoutes: [{ header: "x-canary-version", exact: `v2${rlo}1v`, version: "v1" }],
            hosts: [`a${rlo}.example.com`],
            gateways: [`edge/pub\u200blic`],
        }), "expected a refusal");
        for (const expected of [
            refused("`canary.version`", "U+202E", 3),
            refused("`canary.image`", "U+202E", 14),
            refused("a key of `canary.podAnnotations`", "U+202E", 5),
            refused("`headerRoutes[0].exact`", "U+202E", 3),
            refused("`hosts[0]`", "U+202E", 2),
            refused("`gateways[0]`", "U+200B", 9),
        ]) assert.ok(problems.includes(expected), `${expected}\nnot in\n${problems.join("\n")}`);
        for (const p of problems) assert.doesNotMatch(p, /\p{Cf}/u, p);
    });

    it("are refused anywhere in the stack config: the rollout block (query templates, check names) and the `models` map", () => {
        const problems = refusalProblems(() => parseStackConfig({
            "model-canary:models": JSON.stringify({
                fraud: {
                    stable, canary, canaryWeight: 10,
                    rollout: { checks: [{ name: `eval${rlo}`, command: ["true"] }], predictions: { metric: `model_predictions${rlo}` } },
                    headerRoutes: [{ header: "x-canary-version", exact: `v2${rlo}`, version: "v2" }],
                },
            }),
        }, "dev"), "expected a refusal");
        for (const expected of [
            refused("`models.fraud.rollout.checks[0].name`", "U+202E", 5),
            refused("`models.fraud.rollout.predictions.metric`", "U+202E", 18),
            refused("`models.fraud.headerRoutes[0].exact`", "U+202E", 3),
        ]) assert.ok(problems.includes(expected), `${expected}\nnot in\n${problems.join("\n")}`);
        for (const p of problems) assert.doesNotMatch(p, /\p{Cf}/u, p);
    });

    it("plain text passes; a value shown in any message has the character escaped", () => {
        assert.deepStrictEqual(formatCharacterProblems({ a: "plain", b: ["x-canary-version", "é ü 漢字"], c: 1 }), []);
        assert.strictEqual(show(`v2${rlo}1v`), "\"v2\\u202e1v\"");
    });

    it("the pull-request comment shows the character escaped in code spans and blocks", () => {
        assert.strictEqual(code(`v2${rlo}1v`), "`v2\\u202e1v`");
        assert.deepStrictEqual(fencedBlock(`+ exact: v2${rlo}1v`), ["```", "+ exact: v2\\u202e1v", "```"]);
    });
});

// The stack's outputs taken from an update's engine event log (stacks/operations/automation.ts
// stackOutputsFromEventLog), so `upStack` need not run `pulumi stack output` afterwards: the root
// Stack's last outputs event, and nothing when a secret is among them. The lines are in the form
// the CLI 3.248 writes (`pulumi up --event-log`), shortened.
import * as assert from "assert";
import { stackOutputsFromEventLog } from "../stacks/operations/automation";

const stackUrn = "urn:pulumi:dev::model-canary::pulumi:pulumi:Stack::model-canary-dev";
const outputsEvent = (type: string, urn: string, outputs: Record<string, unknown>) => JSON.stringify({
    sequence: 1, timestamp: 1796537532,
    resOutputsEvent: { metadata: { op: "same", urn, type, new: { type, urn, outputs }, old: { type, urn, outputs: {} }, provider: "" } },
});
const secret = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "[secret]" };

describe("the stack's outputs from an update's event log", () => {
    it("are the root Stack's outputs, not a component's", () => {
        const log = [
            outputsEvent("model-canary:index:ModelCanary", "urn:pulumi:dev::model-canary::model-canary:index:ModelCanary::model", { split: { v1: 60, v2: 40 } }),
            outputsEvent("pulumi:pulumi:Stack", stackUrn, { split: { v1: 50, v2: 50 }, target: { mode: "render" } }),
            JSON.stringify({ sequence: 2, summaryEvent: { resourceChanges: { same: 7, update: 1 } } }),
        ].join("\n");
        assert.deepStrictEqual(stackOutputsFromEventLog(log), { split: { v1: 50, v2: 50 }, target: { mode: "render" } });
    });

    it("are none when a secret is among them, or the log has no Stack outputs", () => {
        assert.strictEqual(stackOutputsFromEventLog(outputsEvent("pulumi:pulumi:Stack", stackUrn, { appliedConfig: { "model-canary:token": secret }, plain: "p" })), undefined);
        assert.strictEqual(stackOutputsFromEventLog(outputsEvent("model-canary:index:ModelCanary", "urn:pulumi:dev::model-canary::model-canary:index:ModelCanary::model", { split: {} })), undefined);
        assert.strictEqual(stackOutputsFromEventLog(""), undefined);
    });
});

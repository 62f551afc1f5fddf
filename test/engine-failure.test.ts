// The cause of a failed engine command, as the commands print it last (stacks/operations/engine-failure.ts).
import * as assert from "assert";
import { engineFailureCause } from "../stacks/operations/engine-failure";

const failedUp = [
    "Updating (test):",
    " ~  kubernetes:networking.istio.io/v1:VirtualService model-vs updating (0s) [diff: ~spec]",
    " ~  kubernetes:networking.istio.io/v1:VirtualService model-vs **updating failed** [diff: ~spec]; error: Patch \"https://127.0.0.1:40001/apis\": dial tcp 127.0.0.1:40001: connect: connection refused",
    "    pulumi:pulumi:Stack model-canary-test running error: update failed",
    "    pulumi:pulumi:Stack model-canary-test **failed** 1 error",
    "Diagnostics:",
    "  kubernetes:networking.istio.io/v1:VirtualService (model-vs):",
    "    error: update of resource \"urn:pulumi:test::model-canary::model-canary:index:ModelCanary$kubernetes:networking.istio.io/v1:VirtualService::model-vs\" failed:",
    "    Patch \"https://127.0.0.1:40001/apis\": dial tcp 127.0.0.1:40001: connect: connection refused",
    "",
    "  pulumi:pulumi:Stack (model-canary-test):",
    "    error: update failed",
    "",
    "Resources:",
    "    8 unchanged",
    "",
    "Duration: 2s",
].join("\n");

describe("engineFailureCause: a failed command's cause in one line", () => {
    it("is the failing resource's error with its resource, not the stack's closing `error: update failed`", () => {
        assert.strictEqual(engineFailureCause(failedUp),
            "kubernetes:networking.istio.io/v1:VirtualService (model-vs): update of resource \"urn:pulumi:test::model-canary::model-canary:index:ModelCanary$kubernetes:networking.istio.io/v1:VirtualService::model-vs\" failed: Patch \"https://127.0.0.1:40001/apis\": dial tcp 127.0.0.1:40001: connect: connection refused");
    });

    it("is the stack's own error when the program failed (no resource named)", () => {
        const out = ["Diagnostics:", "  pulumi:pulumi:Stack (model-canary-test):", "    error: namespace \"x\" does not exist", "", "    error: update failed", "", "Resources:", "    1 unchanged"].join("\n");
        assert.strictEqual(engineFailureCause(out), "namespace \"x\" does not exist");
    });

    it("is undefined when the only errors are the engine's summaries", () => {
        assert.strictEqual(engineFailureCause(["Diagnostics:", "  pulumi:pulumi:Stack (p-s):", "    error: update failed", ""].join("\n")), undefined);
        assert.strictEqual(engineFailureCause("error: preview failed\n"), undefined);
    });

    it("without a Diagnostics section, is the first error line that is not a summary", () => {
        assert.strictEqual(engineFailureCause("error: could not read plugin: no such file\nerror: update failed\n"), "could not read plugin: no such file");
    });
});

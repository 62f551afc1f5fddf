// The engine is started before the inline program is made ready (stacks/operations/inline-program.ts
// `servingProgram`): the CLI's start and the program's TypeScript registration share the wall
// time. Pinned here by order, with the command's timing lines (MODEL_CANARY_TIMING=1), not by time.
import * as assert from "assert";
import { commandSdkDir, decideInline, servingProgram } from "../stacks/operations/inline-program";
import { projectDir } from "../stacks/operations/automation";

describe("the inline program is made ready once the engine has been started", () => {
    it("starts the operation first, then registers TypeScript and loads the SDKs, before the operation's result is used", async () => {
        const decision = decideInline(projectDir, commandSdkDir, {});
        assert.ok("program" in decision, JSON.stringify(decision));
        const events: string[] = [];
        const write = process.stderr.write;
        const saved = process.env.MODEL_CANARY_TIMING;
        process.env.MODEL_CANARY_TIMING = "1";
        process.stderr.write = ((chunk: string | Uint8Array) => {
            const line = String(chunk);
            if (line.startsWith("model-canary timing: ")) events.push(line.replace(/^model-canary timing: \+[\d.]+s /, "").trim());
            return true;
        }) as typeof process.stderr.write;
        let args: string[] = [];
        try {
            const result = await servingProgram(decision.program, (a) => {
                args = a;
                events.push("operation started");
                // The engine's answer comes later, through the event loop.
                return new Promise<string>((resolve) => setImmediate(() => {
                    events.push("operation ended");
                    resolve("done");
                }));
            });
            assert.strictEqual(result, "done");
        } finally {
            process.stderr.write = write;
            if (saved === undefined) delete process.env.MODEL_CANARY_TIMING;
            else process.env.MODEL_CANARY_TIMING = saved;
        }
        assert.deepStrictEqual(events, ["operation started", "program's TypeScript registered", "program's SDKs loaded", "operation ended"]);
        assert.match(args.join(" "), /^--client=127\.0\.0\.1:\d+ --exec-kind auto\.inline$/);
        assert.ok(Object.keys(require.cache).some((f) => f.includes("/node_modules/@pulumi/kubernetes/index.js")));
        assert.ok(require.extensions[".ts"] !== undefined);
    });
});

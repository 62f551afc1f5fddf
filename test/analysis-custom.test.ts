import assert from "assert";
import fs from "fs";
import http from "http";
import type { AddressInfo } from "net";
import os from "os";
import path from "path";
import { runCustomCheck, validateCustomCheck, type CheckContext } from "../analysis/custom";

const context: CheckContext = { canaryVersion: "v2", stableVersion: "v1", weight: 10, step: 1 };

/** Resolves once the process is gone; a zombie waiting for init to reap it counts as gone. */
async function waitGone(pid: number): Promise<void> {
    const alive = () => {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
        } catch {
            return false;
        }
    };
    while (alive()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("analysis/custom checks", () => {
    describe("webhook", () => {
        let server: http.Server;
        let base: string;
        const received: { path?: string; body: unknown; contentType?: string }[] = [];
        const hanging = new Set<import("net").Socket>();

        before(async () => {
            server = http.createServer((req, res) => {
                let raw = "";
                req.setEncoding("utf8");
                req.on("data", (d: string) => (raw += d));
                req.on("end", () => {
                    received.push({ path: req.url, body: raw ? JSON.parse(raw) : undefined, contentType: req.headers["content-type"] });
                    const json = (status: number, body: string) => {
                        res.writeHead(status, { "Content-Type": "application/json" });
                        res.end(body);
                    };
                    switch (req.url) {
                        case "/pass":
                            return json(200, JSON.stringify({ pass: true, message: "accuracy 0.94 >= 0.90" }));
                        case "/pass-bare":
                            return json(200, JSON.stringify({ pass: true }));
                        case "/fail":
                            return json(200, JSON.stringify({ pass: false, message: "accuracy 0.71 < 0.90 on 500 labelled samples" }));
                        case "/500":
                            return json(500, "evaluator crashed");
                        case "/controls":
                            return json(200, JSON.stringify({ pass: false, message: "drift\u001b[2J\u001b]0;x\u0007 high" }));
                        case "/not-json":
                            return json(200, "yes");
                        case "/no-pass":
                            return json(200, JSON.stringify({ ok: true }));
                        case "/string-pass":
                            return json(200, JSON.stringify({ pass: "true" }));
                        case "/hang":
                            hanging.add(req.socket);
                            req.socket.on("close", () => hanging.delete(req.socket));
                            return;
                        case "/slow":
                            setTimeout(() => json(200, JSON.stringify({ pass: true })), 2000).unref();
                            return;
                        default:
                            return json(404, "{}");
                    }
                });
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });

        after(async () => {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        });

        it("POSTs the JSON payload and passes on {pass: true}", async () => {
            received.length = 0;
            const r = await runCustomCheck({ name: "accuracy", webhook: { url: `${base}/pass` } }, context);
            assert.deepStrictEqual(r, { name: "accuracy", status: "pass", message: "accuracy 0.94 >= 0.90" });
            assert.strictEqual(received.length, 1);
            assert.strictEqual(received[0].contentType, "application/json");
            assert.deepStrictEqual(received[0].body, { name: "accuracy", canaryVersion: "v2", stableVersion: "v1", weight: 10, step: 1 });
        });

        const cases: [string, string, "pass" | "fail" | "error", RegExp][] = [
            ["without a message", "/pass-bare", "pass", /reported pass$/],
            ["{pass: false} fails with the webhook's message", "/fail", "fail", /^accuracy 0\.71 < 0\.90 on 500 labelled samples$/],
            ["HTTP 500 is an error", "/500", "error", /answered HTTP 500: evaluator crashed$/],
            ["HTTP 404 is an error", "/missing", "error", /answered HTTP 404/],
            ["invalid JSON is an error", "/not-json", "error", /invalid JSON: yes$/],
            ["a missing pass field is an error", "/no-pass", "error", /without a boolean "pass" field/],
            ["a string pass field is an error", "/string-pass", "error", /without a boolean "pass" field/],
        ];
        for (const [title, p, status, re] of cases) {
            it(title, async () => {
                const r = await runCustomCheck({ name: "quality", webhook: { url: `${base}${p}` } }, context);
                assert.strictEqual(r.status, status, r.message);
                assert.strictEqual(r.name, "quality");
                assert.match(r.message, re);
            });
        }

        it("control characters in a webhook's message come back as visible escapes", async () => {
            const hook = await runCustomCheck({ name: "quality", webhook: { url: `${base}/controls` } }, context);
            assert.deepStrictEqual(hook, { name: "quality", status: "fail", message: "drift\\u001b[2J\\u001b]0;x\\u0007 high" });
        });

        it("a timeout is an error", async () => {
            const started = Date.now();
            const r = await runCustomCheck({ name: "quality", webhook: { url: `${base}/slow`, timeoutMs: 200 } }, context);
            assert.strictEqual(r.status, "error");
            assert.match(r.message, /\/slow failed: no response within 200 ms$/);
            assert.ok(Date.now() - started < 1500);
        });

        it("an abort ends a pending webhook call at once: an error, and the connection is closed", async () => {
            const controller = new AbortController();
            const running = runCustomCheck({ name: "quality", webhook: { url: `${base}/hang`, timeoutMs: 30_000 } }, context, { signal: controller.signal });
            while (hanging.size === 0) await new Promise((resolve) => setTimeout(resolve, 10));
            controller.abort();
            const r = await running;
            assert.deepStrictEqual([r.status, r.message], ["error", `webhook ${base}/hang was stopped: the rollout was interrupted`]);
            const [socket] = hanging;
            while (!socket.destroyed) await new Promise((resolve) => setTimeout(resolve, 10));
        });

        it("connection refused is an error", async () => {
            const probe = http.createServer();
            await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
            const port = (probe.address() as AddressInfo).port;
            await new Promise((resolve) => probe.close(resolve));
            const r = await runCustomCheck({ name: "quality", webhook: { url: `http://127.0.0.1:${port}/x` } }, context);
            assert.strictEqual(r.status, "error");
            assert.match(r.message, /ECONNREFUSED/);
        });
    });

    describe("command", () => {
        let dir: string;
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-custom-"));
        });
        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("argv form, exit 0 passes with the last stdout line", async () => {
            const r = await runCustomCheck(
                { name: "eval", command: [process.execPath, "-e", "console.log('loading'); console.log('f1 0.93 ok')"] },
                context,
            );
            assert.deepStrictEqual(r, { name: "eval", status: "pass", message: "f1 0.93 ok" });
        });

        it("argv form gets the context in its environment, without a shell", async () => {
            const out = path.join(dir, "env.json");
            const script = `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({n: process.env.CHECK_NAME, c: process.env.CANARY_VERSION, s: process.env.STABLE_VERSION, w: process.env.CANARY_WEIGHT, ctx: JSON.parse(process.env.MODEL_CANARY_CONTEXT), arg: process.argv[1]}))`;
            const r = await runCustomCheck({ name: "env", command: [process.execPath, "-e", script, "$HOME;*"] }, context);
            assert.strictEqual(r.status, "pass", r.message);
            assert.deepStrictEqual(JSON.parse(fs.readFileSync(out, "utf8")), {
                n: "env",
                c: "v2",
                s: "v1",
                w: "10",
                ctx: { canaryVersion: "v2", stableVersion: "v1", weight: 10, step: 1, name: "env" },
                arg: "$HOME;*",
            });
        });

        it("shell string form, non-zero exit fails with the last stderr line", async () => {
            const r = await runCustomCheck(
                { name: "eval", command: 'echo "scored 500 rows"; echo "warming up" >&2; echo "accuracy 0.71 < 0.90" >&2; exit 3' },
                context,
            );
            assert.deepStrictEqual(r, { name: "eval", status: "fail", message: "accuracy 0.71 < 0.90 (exit 3)" });
        });

        it("non-zero exit with only stdout uses the last stdout line", async () => {
            const r = await runCustomCheck({ name: "eval", command: "echo first; echo 'drift 0.4 > 0.2'; exit 1" }, context);
            assert.deepStrictEqual(r, { name: "eval", status: "fail", message: "drift 0.4 > 0.2 (exit 1)" });
        });

        it("control characters in a command's output come back as visible escapes", async () => {
            const r = await runCustomCheck({ name: "eval", command: "printf 'drift\\033[2J\\000 high\\n'; exit 1" }, context);
            assert.deepStrictEqual(r, { name: "eval", status: "fail", message: "drift\\u001b[2J\\u0000 high (exit 1)" });
        });

        it("shell string form expands the context variables", async () => {
            const r = await runCustomCheck(
                { name: "eval", command: 'test "$CANARY_VERSION" = v2 && test "$CANARY_WEIGHT" = 10 && echo "checked $CHECK_NAME"' },
                context,
            );
            assert.deepStrictEqual(r, { name: "eval", status: "pass", message: "checked eval" });
        });

        it("a missing executable is an error, not a fail", async () => {
            const r = await runCustomCheck({ name: "eval", command: [path.join(dir, "does-not-exist"), "--x"] }, context);
            assert.strictEqual(r.status, "error");
            assert.match(r.message, /could not be started: .*ENOENT/);
        });

        it("a timeout kills the whole process group and is an error", async () => {
            const pidFile = path.join(dir, "grandchild.pid");
            const started = Date.now();
            const r = await runCustomCheck({ name: "slow", command: `sleep 30 & echo $! > ${pidFile}; wait`, timeoutMs: 300 }, context);
            assert.strictEqual(r.status, "error");
            assert.match(r.message, /timed out after 300 ms and was killed$/);
            assert.ok(Date.now() - started < 3000);
            const grandchild = Number(fs.readFileSync(pidFile, "utf8").trim());
            assert.ok(grandchild > 0);
            // The background `sleep` was in the killed group: it must be gone (allow the kernel a moment).
            // A killed orphan may linger as a zombie until init reaps it: that counts as dead.
            const isAlive = () => {
                try {
                    const stat = fs.readFileSync(`/proc/${grandchild}/stat`, "utf8");
                    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
                } catch {
                    return false;
                }
            };
            let alive = isAlive();
            for (let i = 0; i < 50 && alive; i++) {
                await new Promise((resolve) => setTimeout(resolve, 20));
                alive = isAlive();
            }
            assert.strictEqual(alive, false, `sleep ${grandchild} survived the timeout`);
        });

        it("an abort ends a running command at once: an error, and its whole process group is gone", async () => {
            const pidFile = path.join(dir, "aborted.pid");
            const controller = new AbortController();
            const running = runCustomCheck({ name: "offline-eval", command: `sleep 30 & echo $! > ${pidFile}; wait`, timeoutMs: 60_000 }, context, { signal: controller.signal });
            while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, "utf8").trim() === "") await new Promise((resolve) => setTimeout(resolve, 20));
            controller.abort();
            const r = await running;
            assert.deepStrictEqual([r.status, r.message], ["error", "command `sleep 30 & echo $! > " + pidFile + "; wait` was stopped: the rollout was interrupted"]);
            const sleeper = Number(fs.readFileSync(pidFile, "utf8").trim());
            await waitGone(sleeper);
        });

        it("a check started after the abort does not run at all", async () => {
            const marker = path.join(dir, "ran");
            const r = await runCustomCheck({ name: "late", command: ["touch", marker] }, context, { signal: AbortSignal.abort() });
            assert.deepStrictEqual([r.status, fs.existsSync(marker)], ["error", false]);
        });

        it("death by a signal is an error", async () => {
            const r = await runCustomCheck({ name: "crash", command: "kill -SEGV $$" }, context);
            assert.strictEqual(r.status, "error");
            assert.match(r.message, /was killed by SIGSEGV/);
        });
    });

    describe("definitions", () => {
        it("an invalid definition yields an error result instead of throwing", async () => {
            const r = await runCustomCheck({ name: "bad", command: [] }, context);
            assert.strictEqual(r.status, "error");
            assert.match(r.message, /`custom check "bad".command` must be a non-empty string/);
        });

        const invalid: [unknown, RegExp][] = [
            [{ name: "x" }, /exactly one of `webhook` or `command`/],
            [{ name: "x", command: "true", webhook: { url: "http://a" } }, /exactly one of `webhook` or `command`/],
            [{ name: "", command: "true" }, /`c\.name` must be a non-empty string, got ""/],
            [{ name: "x", webhook: { url: "ftp://a" } }, /`c\.webhook\.url` must be an http\(s\) URL, got "ftp:\/\/a"/],
            [
                { name: "x", webhook: { url: "http://a", timeoutMs: -1 } },
                /`c\.webhook\.timeoutMs` must be a positive number of milliseconds, got -1/,
            ],
            [
                { name: "x", command: ["ok", 1] },
                /`c\.command` must be a non-empty string \(run by \/bin\/sh\) or a non-empty array of strings/,
            ],
            [{ name: "x", command: "true", timeoutMs: "5s" }, /`c\.timeoutMs` must be a positive number of milliseconds, got "5s"/],
            [
                { name: "x", webhook: { url: "http://a", headers: { Authorization: { secure: "v1:abc" } } } },
                /`c\.webhook\.headers\.Authorization` must be a string, got \{"secure":"v1:abc"\}/,
            ],
            [{ name: "x", webhook: { url: "http://a", headers: ["a"] } }, /`c\.webhook\.headers` must be a map of header names to strings, got \["a"\]/],
            [{ name: "x", command: "true", env: { LEVEL: 3 } }, /`c\.env\.LEVEL` must be a string, got 3/],
            // A misspelt key was ignored: the check ran with the default timeout.
            [{ name: "x", command: "true", timeoutMS: 5000 }, /unknown key `c\.timeoutMS` \(did you mean `timeoutMs`\?\); accepted keys are `name`, `command`, `timeoutMs`, `cwd`, `env`/],
            [{ name: "x", webhook: { url: "http://a", header: { a: "b" } } }, /unknown key `c\.webhook\.header` \(did you mean `headers`\?\); accepted keys are `url`, `timeoutMs`, `headers`/],
            // A webhook's timeout is the webhook's: at the check's level it did nothing.
            [{ name: "x", webhook: { url: "http://a" }, timeoutMs: 5000 }, /`c\.timeoutMs` is a command check's key: a webhook's timeout is `c\.webhook\.timeoutMs`/],
            [{ name: "x", command: "true", cwd: 3 }, /`c\.cwd` must be a directory path, got 3/],
        ];
        for (const [def, re] of invalid) {
            it(`rejects ${JSON.stringify(def)}`, () => {
                const problems = validateCustomCheck(def, "c");
                assert.ok(
                    problems.some((p) => re.test(p)),
                    problems.join("\n"),
                );
            });
        }

        it("accepts valid definitions", () => {
            assert.deepStrictEqual(
                validateCustomCheck({ name: "a", webhook: { url: "https://eval.internal/check", timeoutMs: 5000 } }),
                [],
            );
            assert.deepStrictEqual(validateCustomCheck({ name: "b", command: ["python3", "eval.py"], timeoutMs: 1000 }), []);
            assert.deepStrictEqual(validateCustomCheck({ name: "c", command: "./eval.sh" }), []);
        });
    });
});

// The pure parts of the data-plane tests: the binomial tolerance of a measured split, and the
// loopback check that gates every request.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dataplaneToolchainDir, startBackend } from "../cluster/dataplane";
import { isLoopback } from "../cluster/istiod";
import { binomialBound, SPLIT_TOLERANCE_SIGMAS } from "./support/binomial";

describe("data-plane test support", () => {
    it("a split's tolerance is 4.5 binomial standard deviations around n*p", () => {
        assert.strictEqual(SPLIT_TOLERANCE_SIGMAS, 4.5);
        assert.deepStrictEqual(binomialBound(10_000, 0.01), { mean: 100, sigma: Math.sqrt(99), low: 56, high: 144 });
        const ten = binomialBound(2_000, 0.1);
        assert.deepStrictEqual([ten.low, ten.high], [140, 260]);
        const half = binomialBound(2_000, 0.5);
        assert.deepStrictEqual([half.low, half.high], [900, 1_100]);
        // The neighbouring weights fall outside: 0% and 2% at 1%, 5% and 15% at 10%.
        const one = binomialBound(10_000, 0.01);
        assert.ok(one.low > 0 && one.high < 10_000 * 0.02);
        assert.ok(ten.low > 2_000 * 0.05 && ten.high < 2_000 * 0.15);
        // Certain outcomes have no slack.
        assert.deepStrictEqual(binomialBound(1_000, 1), { mean: 1_000, sigma: 0, low: 1_000, high: 1_000 });
        assert.deepStrictEqual(binomialBound(1_000, 0), { mean: 0, sigma: 0, low: 0, high: 0 });
    });

    it("refuses a request count or probability it cannot bound", () => {
        assert.throws(() => binomialBound(0, 0.5), /n must be a positive integer, got 0/);
        assert.throws(() => binomialBound(10.5, 0.5), /n must be a positive integer, got 10\.5/);
        assert.throws(() => binomialBound(10, 1.5), /p must be from 0 to 1, got 1\.5/);
        assert.throws(() => binomialBound(10, NaN), /p must be from 0 to 1, got NaN/);
    });

    it("only 127.0.0.0/8 counts as loopback", () => {
        for (const a of ["127.0.0.1", "127.0.0.2", "127.255.255.254"]) assert.ok(isLoopback(a), a);
        for (const a of ["10.244.0.9", "128.0.0.1", "127.0.0.256", "0.0.0.0", "::1", "localhost", "127.0.0.1.example.com", " 127.0.0.1", ""]) assert.ok(!isLoopback(a), a);
    });

    describe("the model server and client (the built programs)", function () {
        this.timeout(600_000); // may build the data plane
        const run = (bin: string, args: string[]) => spawnSync(path.join(dataplaneToolchainDir(), bin), args, { encoding: "utf8", timeout: 20_000 });

        it("model-server refuses to listen outside 127.0.0.0/8, or on a name, before it opens a socket", () => {
            for (const [flag, address] of [["--grpc", "10.244.0.9:0"], ["--http", "0.0.0.0:0"], ["--grpc", "localhost:0"]]) {
                const r = run("model-server", ["--version", "v1", "--service", "s", ...(flag === "--http" ? ["--grpc", "127.0.0.2:0"] : []), flag, address]);
                assert.strictEqual(r.status, 1, r.stderr);
                assert.match(r.stderr, new RegExp(`^model-server: ${flag}: address "${address.replace(/\./g, "\\.")}" is (outside 127\\.0\\.0\\.0/8; traffic must stay on this machine|not an IP address; only 127\\.0\\.0\\.0/8 is allowed)\n$`));
            }
        });

        it("model-client refuses an xDS server outside 127.0.0.0/8 before it connects", () => {
            const r = run("model-client", ["--xds", "10.244.0.9:15010", "--target", "xds:///model-service.default.svc.cluster.local:80"]);
            assert.strictEqual(r.status, 1, r.stderr);
            assert.strictEqual(r.stderr, 'model-client: --xds: address "10.244.0.9:15010" is outside 127.0.0.0/8; traffic must stay on this machine\n');
        });

        /** Starts `bin`, reads its ready line, sends `signal` and resolves with the line and how it ended. */
        function readyThenSignal(bin: string, args: string[], signal: NodeJS.Signals): Promise<{ ready: Record<string, string>; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
            return new Promise((resolve, reject) => {
                const child = spawn(path.join(dataplaneToolchainDir(), bin), args, { stdio: ["ignore", "pipe", "pipe"] });
                let out = "";
                let stderr = "";
                let ready: Record<string, string> | undefined;
                child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
                child.stdout.setEncoding("utf8").on("data", (c: string) => {
                    out += c;
                    if (ready || !out.includes("\n")) return;
                    try {
                        ready = JSON.parse(out.slice(0, out.indexOf("\n")));
                    } catch (e) {
                        child.kill("SIGKILL");
                        reject(new Error(`${bin} printed ${JSON.stringify(out)} instead of its ready line`));
                        return;
                    }
                    child.kill(signal);
                });
                child.on("error", reject);
                child.on("exit", (code, sig) => (ready ? resolve({ ready, code, signal: sig, stderr }) : reject(new Error(`${bin} exited (${code ?? sig}) before it was ready: ${stderr}`))));
            });
        }

        it("model-server and model-client print their addresses once they listen and exit 0 on SIGTERM or SIGINT", async () => {
            for (const sig of ["SIGTERM", "SIGINT"] as const) {
                const server = await readyThenSignal("model-server", ["--version", "v1", "--service", "s", "--grpc", "127.0.0.2:0"], sig);
                assert.deepStrictEqual(Object.keys(server.ready), ["grpc", "http"]);
                for (const a of Object.values(server.ready)) assert.match(a, /^127\.0\.0\.2:\d+$/);
                assert.deepStrictEqual([server.code, server.signal, server.stderr], [0, null, ""]);

                const client = await readyThenSignal("model-client", ["--target", "xds:///model-service.default.svc.cluster.local:80", "--admin", "127.0.0.1:0"], sig);
                assert.deepStrictEqual(Object.keys(client.ready), ["admin"]);
                assert.match(client.ready.admin, /^127\.0\.0\.1:\d+$/);
                assert.deepStrictEqual([client.code, client.signal], [0, null], client.stderr);
            }
        });

        it("a backend's behaviour is checked: a bad value is refused naming the key, and nothing changes", async () => {
            const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-backend-"));
            const b = await startBackend({ binDir: dataplaneToolchainDir(), app: "model", version: "v1", address: "127.0.0.2", service: "model-service", logDir });
            try {
                assert.deepStrictEqual(await b.setBehaviour({ errorRatio: 0.25, latencyMs: 5 }), { errorRatio: 0.25, latencyMs: 5, predictionShift: 0, errorCode: 14 });
                await assert.rejects(b.setBehaviour({ errorRatio: 1.5 }), /answered 400: \{"error":"`errorRatio` must be a number from 0 to 1, got 1\.5"\}/);
                await assert.rejects(b.setBehaviour({ errorCode: 0 }), /`errorCode` must be a gRPC status code from 1 to 16, got 0/);
                await assert.rejects(b.setBehaviour({ errors: 1 } as never), /answered 400: .*unknown field .*errors/);
                assert.deepStrictEqual(await b.setBehaviour({}), { errorRatio: 0.25, latencyMs: 5, predictionShift: 0, errorCode: 14 });
            } finally {
                await b.stop();
                fs.rmSync(logDir, { recursive: true, force: true });
            }
        });
    });
});

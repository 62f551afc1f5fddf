/**
 * PrometheusClient against a scripted HTTP server, for the response shapes a healthy real
 * Prometheus rarely produces (the real server is exercised in analysis-prometheus.test.ts).
 */
import assert from "assert";
import http from "http";
import type { AddressInfo } from "net";
import { PrometheusClient, PrometheusError, requestDeadline } from "../analysis/prometheus";
import { resolvePlan } from "../stacks/config/rollout-plan";

type Reply = { status: number; body: string; delayMs?: number };

describe("analysis/prometheus client (scripted server)", () => {
    let server: http.Server;
    let base: string;
    let reply: Reply;
    let lastRequest: { method?: string; url?: string; body: string; contentType?: string; authorization?: string };

    before(async () => {
        server = http.createServer((req, res) => {
            let body = "";
            req.setEncoding("utf8");
            req.on("data", (d: string) => (body += d));
            req.on("end", () => {
                lastRequest = { method: req.method, url: req.url, body, contentType: req.headers["content-type"], authorization: req.headers.authorization };
                const send = () => {
                    res.writeHead(reply.status, { "Content-Type": "application/json" });
                    res.end(reply.body);
                };
                if (reply.delayMs) setTimeout(send, reply.delayMs).unref();
                else send();
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
    });

    const vector = (...values: string[]) =>
        JSON.stringify({
            status: "success",
            data: { resultType: "vector", result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000.123, v] })) },
        });

    async function rejection(p: Promise<unknown>): Promise<PrometheusError> {
        try {
            await p;
        } catch (err) {
            assert.ok(err instanceof PrometheusError, `expected PrometheusError, got ${String(err)}`);
            return err;
        }
        assert.fail("expected the query to reject");
    }

    it("POSTs the query form-encoded to /api/v1/query (trailing slash in the base URL tolerated)", async () => {
        reply = { status: 200, body: vector("42.5") };
        const c = new PrometheusClient({ url: `${base}/`, timeoutMs: 2000 });
        assert.strictEqual(await c.query('sum(rate(x{a="b c"}[1m]))'), 42.5);
        assert.strictEqual(lastRequest.method, "POST");
        assert.strictEqual(lastRequest.url, "/api/v1/query");
        assert.strictEqual(lastRequest.contentType, "application/x-www-form-urlencoded");
        assert.strictEqual(new URLSearchParams(lastRequest.body).get("query"), 'sum(rate(x{a="b c"}[1m]))');
    });

    const values: [string, string, number | null][] = [
        ["empty vector", vector(), null],
        ["NaN sample", vector("NaN"), NaN],
        ["-Inf", vector("-Inf"), -Infinity],
        ["zero", vector("0"), 0],
        ["+Inf", vector("+Inf"), Infinity],
        ["exponent", vector("1e3"), 1000],
        ["scalar result", JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "7"] } }), 7],
    ];
    for (const [title, body, want] of values) {
        it(`${title} -> ${want}`, async () => {
            reply = { status: 200, body };
            assert.strictEqual(await new PrometheusClient({ url: base }).query("q"), want);
        });
    }

    it("sends `rollout.prometheusAuth.bearerToken` as a Bearer Authorization header, and no header without it", async () => {
        reply = { status: 200, body: vector("1") };
        const plan = resolvePlan({ prometheus: base, prometheusAuth: { bearerToken: "s3cr3t-token" } });
        await new PrometheusClient({ url: plan.prometheusUrl, headers: plan.prometheusHeaders }).query("vector(1)");
        assert.strictEqual(lastRequest.authorization, "Bearer s3cr3t-token");
        await new PrometheusClient({ url: base }).query("vector(1)");
        assert.strictEqual(lastRequest.authorization, undefined);
    });

    it("status error with HTTP 400 -> PrometheusError kind http with Prometheus' error text", async () => {
        reply = { status: 400, body: JSON.stringify({ status: "error", errorType: "bad_data", error: 'parse error: unexpected "}"' }) };
        const err = await rejection(new PrometheusClient({ url: base }).query("sum(}"));
        assert.strictEqual(err.kind, "http");
        assert.strictEqual(err.status, 400);
        assert.strictEqual(err.errorType, "bad_data");
        assert.strictEqual(err.query, "sum(}");
        assert.strictEqual(
            err.message,
            `Prometheus query to ${base}/api/v1/query failed (HTTP 400): bad_data: parse error: unexpected "}"`,
        );
    });

    it("status error with HTTP 200 -> kind query", async () => {
        reply = { status: 200, body: JSON.stringify({ status: "error", errorType: "execution", error: "query timed out" }) };
        const err = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(err.kind, "query");
        assert.match(err.message, /\(HTTP 200\): execution: query timed out$/);
    });

    it("non-JSON 502 from a proxy -> kind http with the body", async () => {
        reply = { status: 502, body: "<html>Bad Gateway</html>" };
        const err = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(err.kind, "http");
        assert.strictEqual(err.status, 502);
        assert.match(err.message, /\(HTTP 502\): response body: <html>Bad Gateway<\/html>$/);
    });

    it("a body or an error text with control characters is quoted with them as visible escapes, on one line", async () => {
        reply = { status: 500, body: "boom\u0000\u001b[2J\u001b]0;owned\u0007\nmodel-canary: COMPLETED" };
        const http500 = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(http500.message, `Prometheus query to ${base}/api/v1/query failed (HTTP 500): response body: boom\\u0000\\u001b[2J\\u001b]0;owned\\u0007 model-canary: COMPLETED`);
        reply = { status: 400, body: JSON.stringify({ status: "error", errorType: "bad_data", error: "bad\u001b[31m\nred" }) };
        const query = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(query.message, `Prometheus query to ${base}/api/v1/query failed (HTTP 400): bad_data: bad\\u001b[31m red`);
    });

    it("non-JSON 200 -> kind invalid-response", async () => {
        reply = { status: 200, body: "OK" };
        const err = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(err.kind, "invalid-response");
        assert.match(err.message, /response is not JSON: OK$/);
    });

    it("several series -> kind unexpected-result (never silently picks one)", async () => {
        reply = { status: 200, body: vector("1", "2") };
        const err = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(err.kind, "unexpected-result");
        assert.match(err.message, /expected at most one series, got 2 \(\{"i":"0"\}, \{"i":"1"\}\)/);
    });

    it("matrix result -> kind unexpected-result", async () => {
        reply = { status: 200, body: JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }) };
        const err = await rejection(new PrometheusClient({ url: base }).query("q[1m]"));
        assert.strictEqual(err.kind, "unexpected-result");
    });

    it("garbage sample value -> kind invalid-response", async () => {
        reply = { status: 200, body: vector("fast") };
        const err = await rejection(new PrometheusClient({ url: base }).query("q"));
        assert.strictEqual(err.kind, "invalid-response");
        assert.match(err.message, /sample value is not a number: "fast"/);
    });

    it("slow server -> kind timeout after timeoutMs", async () => {
        reply = { status: 200, body: vector("1"), delayMs: 2000 };
        const started = Date.now();
        const err = await rejection(new PrometheusClient({ url: base, timeoutMs: 200 }).query("q"));
        const took = Date.now() - started;
        assert.strictEqual(err.kind, "timeout");
        assert.match(err.message, /no response within 200 ms$/);
        assert.ok(took >= 190 && took < 1500, `took ${took} ms`);
    });

    it("nothing listening -> kind network naming ECONNREFUSED and the URL", async () => {
        const probe = http.createServer();
        await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
        const port = (probe.address() as AddressInfo).port;
        await new Promise((resolve) => probe.close(resolve));
        const err = await rejection(new PrometheusClient({ url: `http://127.0.0.1:${port}` }).query("q"));
        assert.strictEqual(err.kind, "network");
        assert.match(err.message, new RegExp(`^Prometheus query to http://127\\.0\\.0\\.1:${port}/api/v1/query failed: .*ECONNREFUSED`));
    });

    it("a caller's signal aborted before the request -> kind aborted, and the server is not asked", async () => {
        reply = { status: 200, body: vector("1") };
        lastRequest = { body: "" };
        const caller = new AbortController();
        caller.abort();
        const err = await rejection(new PrometheusClient({ url: base }).query("q", caller.signal));
        assert.strictEqual(err.kind, "aborted");
        assert.match(err.message, /the query was cancelled$/);
        assert.strictEqual(lastRequest.method, undefined);
    });

    it("validates its options", () => {
        assert.throws(() => new PrometheusClient({ url: "" }), /needs a url/);
        assert.throws(() => new PrometheusClient({ url: "localhost:9090" }), /must be http\(s\)/);
        assert.throws(() => new PrometheusClient({ url: "http://x", timeoutMs: 0 }), /timeoutMs must be a positive number, got 0/);
    });
    describe("queryVector", () => {
        it("returns every series with its labels, NaN and infinities kept, and [] for an empty vector", async () => {
            const c = new PrometheusClient({ url: base, timeoutMs: 2000 });
            reply = { status: 200, body: JSON.stringify({ status: "success", data: { resultType: "vector", result: [
                { metric: { le: "0.5" }, value: [1, "12"] }, { metric: { le: "+Inf" }, value: [1, "NaN"] }, { metric: {}, value: [1, "+Inf"] },
            ] } }) };
            assert.deepStrictEqual(await c.queryVector("sum by (le) (x)"), [{ labels: { le: "0.5" }, value: 12 }, { labels: { le: "+Inf" }, value: NaN }, { labels: {}, value: Infinity }]);
            reply = { status: 200, body: vector() };
            assert.deepStrictEqual(await c.queryVector("x"), []);
        });

        it("refuses a result that is not an instant vector, and a sample without a number", async () => {
            const c = new PrometheusClient({ url: base, timeoutMs: 2000 });
            reply = { status: 200, body: JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "1"] } }) };
            const scalar = await rejection(c.queryVector("vector(1)[1m]"));
            assert.strictEqual(scalar.kind, "unexpected-result");
            assert.match(scalar.message, /expected an instant vector, got result type "scalar"$/);
            reply = { status: 200, body: JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: { le: "1" }, value: [1, "many"] }] } }) };
            const bad = await rejection(c.queryVector("x"));
            assert.strictEqual(bad.kind, "invalid-response");
            assert.match(bad.message, /sample value is not a number: "many"$/);
        });
    });

    describe("requestDeadline (the Prometheus client's and the webhook checks' request signal)", () => {
        it("fires on its timer and says so", async () => {
            const d = requestDeadline(20);
            await new Promise((resolve) => d.signal.addEventListener("abort", resolve));
            assert.strictEqual(d.timedOut(), true);
            d.release();
        });
        it("follows the caller's signal, at once when it has already fired, without calling that a timeout", () => {
            const caller = new AbortController();
            const d = requestDeadline(60_000, caller.signal);
            assert.strictEqual(d.signal.aborted, false);
            caller.abort();
            assert.deepStrictEqual([d.signal.aborted, d.timedOut()], [true, false]);
            d.release();
            const early = requestDeadline(60_000, caller.signal);
            assert.deepStrictEqual([early.signal.aborted, early.timedOut()], [true, false]);
            early.release();
        });
        it("after release, neither the timer nor the caller's signal fires it", async () => {
            const caller = new AbortController();
            const d = requestDeadline(10, caller.signal);
            d.release();
            caller.abort();
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.deepStrictEqual([d.signal.aborted, d.timedOut()], [false, false]);
        });
    });
});

import assert from "assert";
import {
    escapeLabelValue,
    latencyQuantileQuery,
    p99LatencyQuery,
    parseDurationMs,
    requestCountQuery,
    seriesCountQuery,
    successRateQuery,
    workloadQueries,
} from "../analysis/queries";
import { resolveReporters } from "../analysis/reporter";
import { seriesCountInWindow } from "../analysis/window-count";

const sel = { namespace: "default", workload: "model-v2" };
const M = 'reporter="destination",destination_workload_namespace="default",destination_workload="model-v2"';
/** Prometheus was scraping the namespace's requests before the window (see window-count.ts). */
const W = 'istio_requests_total{reporter="destination",destination_workload_namespace="default"}';
const count = (selector: string, w: string) => `sum(${seriesCountInWindow(selector, w, W)})`;

describe("analysis/queries", () => {
    it("builds the success-rate query from window counts (neither 5xx nor a gRPC status other than 0, over all; destination reporter, literal match)", () => {
        assert.strictEqual(
            successRateQuery(sel, "1m"),
            `((${count(`istio_requests_total{${M},response_code!~"5..",request_protocol!="grpc"}`, "1m")} or vector(0))` +
                ` + (${count(`istio_requests_total{${M},response_code!~"5..",request_protocol="grpc",grpc_response_status="0"}`, "1m")} or vector(0)))` +
                ` / ${count(`istio_requests_total{${M}}`, "1m")} * 100`,
        );
    });

    it("builds the P99 latency query over the duration histogram's window counts", () => {
        assert.strictEqual(
            p99LatencyQuery(sel, "30s"),
            `histogram_quantile(0.99, sum by (le) (${seriesCountInWindow(`istio_request_duration_milliseconds_bucket{${M}}`, "30s", W)}))`,
        );
        assert.match(latencyQuantileQuery(sel, "1m", 0.5), /^histogram_quantile\(0\.5, /);
    });

    it("builds the request-count query: increase(), plus the first value of a series born inside the window", () => {
        const S = `istio_requests_total{${M}}`;
        assert.strictEqual(
            requestCountQuery(sel, "10s"),
            `sum((increase(${S}[10s]) or min_over_time(${S}[10s]) * 0) + (((min_over_time(${S}[10s]) unless count_over_time(${S}[1h] offset 10s)) and on() count(count_over_time(${W}[10s] offset 10s))) or min_over_time(${S}[10s]) * 0))`,
        );
    });

    it("the success rate's denominator is the request count (minRequests judges the requests the rate counts)", () => {
        assert.ok(successRateQuery(sel, "1m").endsWith(` / ${requestCountQuery(sel, "1m")} * 100`));
    });

    it("workloadQueries bundles the three queries", () => {
        assert.deepStrictEqual(workloadQueries(sel, "1m"), {
            requests: requestCountQuery(sel, "1m"),
            successRate: successRateQuery(sel, "1m"),
            p99Ms: p99LatencyQuery(sel, "1m"),
        });
    });

    it("never uses regex matching on the workload", () => {
        for (const q of Object.values(workloadQueries(sel, "1m"))) {
            assert.ok(!q.includes("destination_workload=~"), q);
            assert.ok(!q.includes("destination_workload_namespace=~"), q);
        }
    });

    describe("escapeLabelValue", () => {
        const cases: [string, string][] = [
            ["model-v2", "model-v2"],
            ['a"b', 'a\\"b'],
            ["a\\b", "a\\\\b"],
            ['x"} or vector(1) or {a="', 'x\\"} or vector(1) or {a=\\"'],
            ["line\nbreak", "line\\nbreak"],
            ["tab\there", "tab\\there"],
            ["bell\u0007", "bell\\x07"],
            ["ünïcode", "ünïcode"],
        ];
        for (const [input, want] of cases) {
            it(`${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () => {
                assert.strictEqual(escapeLabelValue(input), want);
            });
        }

        it("keeps a hostile workload name inside the string literal", () => {
            const q = requestCountQuery({ namespace: "default", workload: 'x"}) or vector(1) #' }, "1m");
            assert.strictEqual(
                q,
                count('istio_requests_total{reporter="destination",destination_workload_namespace="default",destination_workload="x\\"}) or vector(1) #"}', "1m"),
            );
        });

        it("keeps a hostile namespace inside the witness's string literal too", () => {
            const q = requestCountQuery({ namespace: 'a"}) or vector(1) #', workload: "w" }, "1m");
            assert.ok(q.includes('count_over_time(istio_requests_total{reporter="destination",destination_workload_namespace="a\\"}) or vector(1) #"}[1m] offset 1m)'), q);
        });
    });

    describe("parseDurationMs", () => {
        const ok: [string, number][] = [
            ["30s", 30_000],
            ["1m", 60_000],
            ["1m30s", 90_000],
            ["500ms", 500],
            ["2h", 7_200_000],
            ["1d", 86_400_000],
            ["1h5m10s250ms", 3_910_250],
        ];
        for (const [input, want] of ok) {
            it(`${input} = ${want} ms`, () => assert.strictEqual(parseDurationMs(input), want));
        }
        const bad = ["", "0s", "1", "1.5m", "-1m", "30s1m", "1 m", "1M", "5m]", "abc"];
        for (const input of bad) {
            it(`rejects ${JSON.stringify(input)}`, () => {
                assert.throws(
                    () => parseDurationMs(input),
                    (err: Error) => err.message.includes(JSON.stringify(input)),
                );
            });
        }
        it("query builders reject a bad window before building anything", () => {
            assert.throws(() => successRateQuery(sel, "1m] or vector(1) #"), /window must be a Prometheus duration/);
        });
    });

    it("rejects empty namespace or workload", () => {
        assert.throws(() => requestCountQuery({ namespace: "", workload: "w" }, "1m"), /namespace must be a non-empty string, got ""/);
        assert.throws(() => requestCountQuery({ namespace: "ns", workload: " " }, "1m"), /workload must be a non-empty string, got " "/);
    });

    it("rejects a quantile outside (0, 1)", () => {
        assert.throws(() => latencyQuantileQuery(sel, "1m", 99), /quantile must be a number between 0 and 1 \(exclusive\), got 99/);
    });

    describe("the reporter (rollout.analysis.reporter)", () => {
        // The waypoint's series carry the workload it forwarded to in the same destination labels.
        const MW = 'reporter="waypoint",destination_workload_namespace="default",destination_workload="model-v2"';
        const WW = 'istio_requests_total{reporter="waypoint",destination_workload_namespace="default"}';
        const countBy = (selector: string, w: string, witness: string) => `sum(${seriesCountInWindow(selector, w, witness)})`;
        const rate = (m: string, witness: string, w: string) =>
            `((${countBy(`istio_requests_total{${m},response_code!~"5..",request_protocol!="grpc"}`, w, witness)} or vector(0))` +
            ` + (${countBy(`istio_requests_total{${m},response_code!~"5..",request_protocol="grpc",grpc_response_status="0"}`, w, witness)} or vector(0)))` +
            ` / ${countBy(`istio_requests_total{${m}}`, w, witness)} * 100`;
        const p99 = (m: string, witness: string, w: string) =>
            `histogram_quantile(0.99, sum by (le) (${seriesCountInWindow(`istio_request_duration_milliseconds_bucket{${m}}`, w, witness)}))`;

        it("reads destination by default and with [destination]: the queries of today, unchanged", () => {
            for (const s of [sel, { ...sel, reporters: ["destination" as const] }]) {
                assert.strictEqual(requestCountQuery(s, "1m"), countBy(`istio_requests_total{${M}}`, "1m", W));
                assert.strictEqual(successRateQuery(s, "1m"), rate(M, W, "1m"));
                assert.strictEqual(p99LatencyQuery(s, "1m"), p99(M, W, "1m"));
                assert.strictEqual(seriesCountQuery(s), `count(istio_requests_total{${M}})`);
            }
        });

        it("with waypoint reads only reporter=\"waypoint\", its witness the namespace's waypoint series", () => {
            const s = { ...sel, reporters: ["waypoint" as const] };
            assert.strictEqual(requestCountQuery(s, "1m"), countBy(`istio_requests_total{${MW}}`, "1m", WW));
            assert.strictEqual(successRateQuery(s, "1m"), rate(MW, WW, "1m"));
            assert.strictEqual(p99LatencyQuery(s, "1m"), p99(MW, WW, "1m"));
            assert.strictEqual(seriesCountQuery(s), `count(istio_requests_total{${MW}})`);
            for (const q of Object.values(workloadQueries(s, "1m"))) assert.ok(!q.includes('reporter="destination"'), q);
        });

        it("with [destination, waypoint] reads the first that has series of the workload in the window, never their sum", () => {
            const s = { ...sel, reporters: ["destination" as const, "waypoint" as const] };
            const has = `count(count_over_time(istio_requests_total{${M}}[1m]))`;
            assert.strictEqual(requestCountQuery(s, "1m"),
                `${countBy(`istio_requests_total{${M}}`, "1m", W)} or (${countBy(`istio_requests_total{${MW}}`, "1m", WW)} unless on() (${has}))`);
            assert.strictEqual(successRateQuery(s, "1m"), `${rate(M, W, "1m")} or (${rate(MW, WW, "1m")} unless on() (${has}))`);
            assert.strictEqual(p99LatencyQuery(s, "1m"), `${p99(M, W, "1m")} or (${p99(MW, WW, "1m")} unless on() (${has}))`);
            // The preflight: a series of either is enough.
            assert.strictEqual(seriesCountQuery(s), `count(istio_requests_total{${M}}) or count(istio_requests_total{${MW}})`);
            // The other order prefers the waypoint.
            const hasW = `count(count_over_time(istio_requests_total{${MW}}[30s]))`;
            assert.strictEqual(requestCountQuery({ ...sel, reporters: ["waypoint", "destination"] }, "30s"),
                `${countBy(`istio_requests_total{${MW}}`, "30s", WW)} or (${countBy(`istio_requests_total{${M}}`, "30s", W)} unless on() (${hasW}))`);
            for (const q of [...Object.values(workloadQueries(s, "1m")), seriesCountQuery(s)]) assert.ok(!q.includes("reporter=~"), q);
        });

        it("refuses reporters that are not a list of distinct known names", () => {
            for (const reporters of [[], ["source"], ["destination", "destination"], "waypoint"] as unknown[]) {
                assert.throws(() => requestCountQuery({ ...sel, reporters } as never, "1m"),
                    (e: Error) => e.message === `workload selector reporters must be a non-empty list of distinct reporters (destination, waypoint), got ${JSON.stringify(reporters)}`);
            }
        });

        describe("resolveReporters", () => {
            const key = "rollout.analysis.reporter";
            const accepted = "`destination` (sidecars), `waypoint` (ambient mode with a waypoint), or both as a list in order of preference, e.g. [destination, waypoint] (each workload is read from the first that has series in the window)";
            it("accepts a name or a list of distinct names, in the order given; nothing is destination", () => {
                assert.deepStrictEqual(resolveReporters(undefined, key), { reporters: ["destination"], problems: [] });
                assert.deepStrictEqual(resolveReporters("destination", key), { reporters: ["destination"], problems: [] });
                assert.deepStrictEqual(resolveReporters("waypoint", key), { reporters: ["waypoint"], problems: [] });
                assert.deepStrictEqual(resolveReporters(["waypoint"], key), { reporters: ["waypoint"], problems: [] });
                assert.deepStrictEqual(resolveReporters(["waypoint", "destination"], key), { reporters: ["waypoint", "destination"], problems: [] });
                assert.deepStrictEqual(resolveReporters(["destination", "waypoint"], key), { reporters: ["destination", "waypoint"], problems: [] });
            });
            it("refuses anything else, naming the key, the value as written and what is accepted", () => {
                const cases: [unknown, string][] = [
                    ["source", '"source"'], ["Waypoint", '"Waypoint"'], ["destination|waypoint", '"destination|waypoint"'], ["", '""'], [null, "null"], [1, "1"],
                    [[], "[]"], [["destination", "destination"], '["destination","destination"]'], [["waypoint", "ztunnel"], '["waypoint","ztunnel"]'],
                    [{ name: "waypoint" }, '{"name":"waypoint"}'],
                ];
                for (const [value, shown] of cases) {
                    assert.deepStrictEqual(resolveReporters(value, key), { problems: [`\`${key}\` must be ${accepted}, got ${shown}`] }, shown);
                }
            });
            it("refuses both, saying why: a request reported by a waypoint and a sidecar would count twice", () => {
                assert.deepStrictEqual(resolveReporters("both", key), {
                    problems: [`\`${key}\` must be ${accepted}, got "both": summing both reporters would count a request twice where a waypoint and the pod's sidecar both report it; list them instead`],
                });
            });
        });
    });
});

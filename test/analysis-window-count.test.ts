/**
 * The window count (`analysis/window-count.ts`) evaluated by Prometheus' own engine: `promtool
 * test rules` (Debian's `prometheus` package, 2.42) loads synthetic series sample by sample and
 * evaluates the expression at a given time, so births, resets and gaps fall exactly where each
 * case puts them.
 *
 * Samples every 10 s, index i at i × 10 s; evaluated at 10m5s with a 1m window, so the window
 * holds the samples at indexes 55 to 60 and none sits on its edges.
 */
import assert from "assert";
import { execFileSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { NEW_SERIES_LOOKBACK, seriesCountInWindow } from "../analysis/window-count";

const PROMTOOL = process.env.PROMTOOL_BIN ?? "/usr/bin/promtool";
const LAST = 60;

/** A sample per index from `from` to `LAST` (values from `at(i)`), none before. */
function series(from: number, at: (i: number) => number, last = LAST): string {
    return Array.from({ length: last + 1 }, (_, i) => (i < from ? "_" : String(at(i)))).join(" ");
}

interface Case {
    labels: string;
    values: string;
}

/** What `expr` evaluates to at `evalTime` over `input`: checked by promtool, which fails (non-zero) on any other value. */
function promtoolEquals(input: Case[], expr: string, expected: number | null, { interval = "10s", evalTime = "10m5s" } = {}): void {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-promtool-"));
    try {
        const file = path.join(dir, "test.yml");
        const yaml = [
            "tests:",
            `  - interval: ${interval}`,
            "    input_series:",
            ...input.flatMap((c) => [`      - series: ${JSON.stringify(c.labels)}`, `        values: ${JSON.stringify(c.values)}`]),
            "    promql_expr_test:",
            `      - expr: ${JSON.stringify(expr)}`,
            `        eval_time: ${evalTime}`,
            ...(expected === null ? ["        exp_samples: []"] : ["        exp_samples:", "          - labels: '{}'", `            value: ${expected}`]),
            "",
        ].join("\n");
        fs.writeFileSync(file, yaml);
        try {
            execFileSync(PROMTOOL, ["test", "rules", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        } catch (err) {
            const e = err as { stdout?: string; stderr?: string };
            assert.fail(`promtool: ${expr} at ${evalTime} is not ${expected}:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The namespace's other series, scraped all along: Prometheus was scraping before the window. */
const WITNESS_SERIES: Case = { labels: 'c{ns="default",case="witness"}', values: series(0, (i) => i) };
const count = (caseName: string, ns = "default") => `sum(${seriesCountInWindow(`c{ns="${ns}",case="${caseName}"}`, "1m", `c{ns="${ns}"}`)})`;
const oldIncrease = (caseName: string) => `sum(increase(c{ns="default",case="${caseName}"}[1m]))`;

describe("analysis/window-count: a counter's count over the window, new series from zero (promtool)", () => {
    before(function () {
        if (!fs.existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} not found: install Debian's prometheus package (apt-get install -y --no-install-recommends prometheus)`);
    });

    it("builds increase, plus the first value of a series with no sample in the hour before the window while the witness had one", () => {
        const first = 'min_over_time(c{a="b"}[1m])';
        assert.strictEqual(NEW_SERIES_LOOKBACK, "1h");
        assert.strictEqual(
            seriesCountInWindow('c{a="b"}', "1m", 'c{ns="x"}'),
            `(increase(c{a="b"}[1m]) or ${first} * 0) + (((${first} unless count_over_time(c{a="b"}[1h] offset 1m)) and on() count(count_over_time(c{ns="x"}[1m] offset 1m))) or ${first} * 0)`,
        );
    });

    it("a series born inside the window with 5 and no further increment counts 5 (increase alone reads 0)", () => {
        const input = [WITNESS_SERIES, { labels: 'c{ns="default",case="born"}', values: series(57, () => 5) }];
        promtoolEquals(input, count("born"), 5);
        promtoolEquals(input, oldIncrease("born"), 0);
    });

    it("a series born at the last scrape (one sample in the window) counts its value; increase has nothing", () => {
        const input = [WITNESS_SERIES, { labels: 'c{ns="default",case="last"}', values: series(60, () => 3) }];
        promtoolEquals(input, count("last"), 3);
        promtoolEquals(input, oldIncrease("last"), null);
    });

    it("a series born with 5 that then counts 3 more reads 9: its 8, plus half a scrape interval's extrapolation at each edge", () => {
        const input = [WITNESS_SERIES, { labels: 'c{ns="default",case="growing"}', values: series(57, (i) => 5 + (i - 57)) }];
        promtoolEquals(input, count("growing"), 9);
        promtoolEquals(input, oldIncrease("growing"), 4);
    });

    it("a series counting since long before the window is not new: its increase alone (1 a scrape over 1m: 6)", () => {
        promtoolEquals([WITNESS_SERIES, { labels: 'c{ns="default",case="old"}', values: series(0, (i) => 1000 + i) }], count("old"), 6);
    });

    it("a counter reset inside the window is increase's to handle: 55 56 57 0 1 2 counts 4 (extrapolated 4.8), where c - c offset 1m reads -52", () => {
        const input = [WITNESS_SERIES, { labels: 'c{ns="default",case="reset"}', values: series(0, (i) => (i <= 57 ? i : i - 58)) }];
        promtoolEquals(input, count("reset"), 4.8);
        promtoolEquals(input, 'sum(c{ns="default",case="reset"} - c{ns="default",case="reset"} offset 1m)', -52);
    });

    it("without a witness (Prometheus' data begins inside the window) nothing is added: increase alone", () => {
        // Nothing in namespace `fresh` had a sample before the window: a Prometheus that just started.
        const input = [{ labels: 'c{ns="fresh",case="a"}', values: series(57, (i) => 1000 + i) }];
        promtoolEquals(input, count("a", "fresh"), 4);
    });

    it("no series in the window: empty (no data), not 0", () => {
        promtoolEquals([WITNESS_SERIES], count("none"), null);
    });

    it("the trade-off: a series back after more than an hour without samples is read as new (its first value counts what it gained before)", () => {
        // Samples every minute: 10 at minutes 0-10, none for two hours, 10 again at minute 132 (in the window).
        const values = Array.from({ length: 133 }, (_, i) => (i <= 10 || i === 132 ? "10" : "_")).join(" ");
        const witness = { labels: 'c{ns="default",case="witness"}', values: Array.from({ length: 133 }, (_, i) => String(i)).join(" ") };
        promtoolEquals([witness, { labels: 'c{ns="default",case="gap"}', values }], count("gap"), 10, { interval: "1m", evalTime: "132m30s" });
    });
});

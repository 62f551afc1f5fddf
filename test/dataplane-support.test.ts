// The pure parts of the data-plane tests: the binomial tolerance of a measured split, and the
// loopback check that gates every request.
import * as assert from "assert";
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
});

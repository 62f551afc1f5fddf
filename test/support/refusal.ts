// The problems a refusal lists: what the validation tests compare against.
import * as assert from "assert";
import { ValidationError } from "../../components";

/** The problems of the ValidationError `attempt` throws; the test fails with `expected` when it throws none (or another error). */
export function refusalProblems(attempt: () => unknown, expected: string): string[] {
    try {
        attempt();
    } catch (e) {
        assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
        return e.problems;
    }
    assert.fail(expected);
}

/** A run lock's refusal or takeover message without its holder's last renewal time, which moves while the holder runs. */
export function unrenewed(message: string): string {
    return message.replace(/, last renewed [^);,]+/g, "");
}

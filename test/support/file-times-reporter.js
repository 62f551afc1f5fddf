// A mocha reporter for measuring the suite: the spec reporter's output, then each test file's
// wall time from its first suite's start to its last suite's end (hooks included), longest first.
// Serial runs only (in `--parallel` mode a worker's events arrive together when its file ends).
//   npx mocha --reporter test/support/file-times-reporter.js test/a.test.ts test/b.test.ts
"use strict";
const Mocha = require("mocha");
const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_RUN_END } = Mocha.Runner.constants;

class FileTimes extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        const files = new Map();
        runner.on(EVENT_SUITE_BEGIN, (suite) => {
            if (!suite.file || !suite.parent || !suite.parent.root) return;
            const t = files.get(suite.file) ?? { start: Date.now(), end: Date.now() };
            files.set(suite.file, t);
        });
        runner.on(EVENT_SUITE_END, (suite) => {
            if (suite.file && files.has(suite.file) && suite.parent && suite.parent.root) files.get(suite.file).end = Date.now();
        });
        runner.once(EVENT_RUN_END, () => {
            const rows = [...files].map(([file, t]) => [((t.end - t.start) / 1000).toFixed(1), file.replace(`${process.cwd()}/`, "")]);
            rows.sort((a, b) => Number(b[0]) - Number(a[0]));
            console.log("\n  file wall times (s, hooks included):");
            for (const [s, f] of rows) console.log(`  ${s.padStart(8)}  ${f}`);
        });
    }
}
module.exports = FileTimes;

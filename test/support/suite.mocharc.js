// The whole suite as `npm test` runs it (`mocha --config test/support/suite.mocharc.js`):
// .mocharc.json's settings and every test file, longest first (one at a time by default; see below).
// A file run alone keeps about one core busy (the Pulumi engine, its language host and provider,
// a control plane, Prometheus take turns: cli.test.ts used 1.2 CPU-seconds a second). With
// workers, each file runs alone in its worker, with its own temp projects, control planes and
// Prometheus on free ports.
// `npx mocha test/<file>.test.ts` (one file, in process) still reads .mocharc.json alone; do not
// pass files with this config, as mocha adds them to its `spec` instead of replacing it.
"use strict";
const fs = require("fs");
const path = require("path");

/**
 * Seconds each long file took in a serial run (CI, December 2026; tests only, hooks left out):
 * the longest start first, so that none of them starts last and runs on alone. A file missing
 * here runs after these, in name order.
 */
const serialSeconds = {
    "rollout.test.ts": 676,
    "cli.test.ts": 325,
    "models-engine.test.ts": 249,
    "dataplane.test.ts": 199,
    "engine-cluster.test.ts": 139,
    "live-convergence.test.ts": 121,
    "stack-per-model.test.ts": 94,
    "local-cluster-walkthrough.test.ts": 93,
    "rollout-cluster.test.ts": 91,
    "package.test.ts": 82,
    "secrets-engine.test.ts": 82,
    "cluster-failures.test.ts": 81,
    "notifications.test.ts": 75,
    "cluster-binding.test.ts": 64,
    "scoped-up.test.ts": 62,
    "readme-walkthrough.test.ts": 58,
    "up-model.test.ts": 53,
    "cluster-ownership.test.ts": 51,
    "gateway-api-cluster.test.ts": 46,
    "cluster-controlplane.test.ts": 43,
    "engine.test.ts": 35,
    "routing-revision-engine.test.ts": 35,
    "portable-state.test.ts": 32,
    "backend-lock.test.ts": 26,
    "written-engine.test.ts": 25,
};

const testDir = path.join(__dirname, "..");
const files = fs.readdirSync(testDir, { recursive: true })
    .filter((f) => f.endsWith(".test.ts") && !f.startsWith(`fixtures${path.sep}`))
    .sort()
    .sort((a, b) => (serialSeconds[b] ?? 0) - (serialSeconds[a] ?? 0));

// One file at a time unless MODEL_CANARY_TEST_JOBS asks for more workers. The automated rollout
// tests judge analyses that are seconds long (3 s steps, 1 s ticks, 5 s windows): with two workers
// on CI's two cores they failed for want of CPU (three of them in one clean run, each passing
// alone), so CI runs the suite serially. On a machine with cores to spare, e.g.
// `MODEL_CANARY_TEST_JOBS=2 npm test` runs two files at once, longest first.
const jobs = process.env.MODEL_CANARY_TEST_JOBS === undefined ? 1 : Number(process.env.MODEL_CANARY_TEST_JOBS);
if (!Number.isInteger(jobs) || jobs < 1) {
    throw new Error(`MODEL_CANARY_TEST_JOBS must be a whole number of workers, 1 or more, got ${JSON.stringify(process.env.MODEL_CANARY_TEST_JOBS)}`);
}

module.exports = {
    ...require("../../.mocharc.json"),
    ...(jobs > 1 ? { parallel: true, jobs } : {}),
    spec: files.map((f) => path.join(testDir, f)),
};

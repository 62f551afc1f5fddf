#!/usr/bin/env node
// The `model-canary` command run from the TypeScript sources (ts-node, transpile only), for tests:
// they exercise the code as it is in the checkout, not the last compiled dist/. The packaged
// command (cli/model-canary.js, compiled) is tested by test/package.test.ts.
const path = require("path");
require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "..", "tsconfig.json") });
require("../../cli/main").run(process.argv.slice(2));

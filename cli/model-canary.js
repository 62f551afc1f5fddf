#!/usr/bin/env node
// Entry point of the `model-canary` command: runs the TypeScript CLI without a build step.
const path = require("path");
require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
require("./main").run(process.argv.slice(2));

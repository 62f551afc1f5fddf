#!/usr/bin/env node
// Entry point of the `model-canary` command: the compiled CLI in dist/ (built by `npm run compile`,
// which `npm ci` runs through the `prepare` script, and shipped in the npm package).
"use strict";
const path = require("path");
const compiled = path.join(__dirname, "..", "dist", "cli", "main.js");
let cli;
try {
    cli = require(compiled);
} catch (e) {
    // Only a missing build is explained here; any other failure is a bug and keeps its stack trace.
    if (e && e.code === "MODULE_NOT_FOUND" && String(e.message).includes(compiled)) {
        process.stderr.write(`model-canary: ${compiled} is missing: run \`npm run compile\` in ${path.join(__dirname, "..")} (\`npm ci\` does it)\n`);
        process.exit(1);
    }
    throw e;
}
cli.run(process.argv.slice(2));

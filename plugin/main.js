// The plugin's entry (package.json `main`): the compiled components of index.ts. The CLI runs it
// through the Node.js language host (@pulumi/pulumi/cmd/run-plugin), which serves every component
// class it exports. What stops it from starting is said here, with the fix, rather than as a
// stack trace from the module loader.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..");
const major = Number(process.versions.node.split(".")[0]);
if (major < 20) {
    fail(`model-canary's component plugin needs Node.js 20 or later, and \`node\` here is ${process.version} (${process.execPath}): install Node.js 20 or later and put it first on PATH`);
}
const compiled = path.join(root, "dist", "plugin", "index.js");
if (!fs.existsSync(compiled)) {
    fail(`model-canary's component plugin is not compiled: ${compiled} is missing. In a checkout of model-canary run \`npm ci\` (or \`npm run compile\`) in ${root}; the package from npm ships it compiled`);
}
for (const dependency of ["@pulumi/pulumi", "@pulumi/kubernetes"]) {
    try {
        require.resolve(`${dependency}/package.json`, { paths: [root] });
    } catch {
        fail(`model-canary's component plugin cannot find ${dependency} from ${root}: install model-canary with its peer dependencies (\`npm install model-canary @pulumi/pulumi @pulumi/kubernetes\`), or run \`npm ci\` in a checkout of model-canary`);
    }
}
module.exports = require(compiled);

function fail(message) {
    process.stderr.write(`error: ${message}\n`);
    // run-plugin's convention: the error is reported, the host adds nothing but the exit code.
    process.exit(32);
}

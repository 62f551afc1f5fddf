// The package as `npm pack` builds it (its `prepare` script compiles dist/ first), for the package test.
// It packs a copy of the checkout, so the `compile` it runs empties and rebuilds the copy's dist/,
// never the checkout's, which other test files run (`npm run preview`) while this one packs.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { packageDir } from "../../stacks/operations/automation";

/** A module that `compile` must not ship: planted in the copy's dist/ as an earlier build of a removed file would leave it. */
export const staleModule = "dist/removed-module.js";

/** `npm pack` of a copy of this repository (in `destination`/checkout) into `destination`: the tarball's files and its path. */
export function packRepo(destination: string): { files: string[]; tarball: string } {
    const copy = path.join(destination, "checkout");
    const tracked = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: packageDir, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const f of tracked) {
        if (!fs.existsSync(path.join(packageDir, f))) continue; // deleted in the working tree
        fs.mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
        fs.copyFileSync(path.join(packageDir, f), path.join(copy, f));
    }
    // The checkout's last build as it is, and a module of a removed source: `compile` starts from an empty dist/.
    if (fs.existsSync(path.join(packageDir, "dist"))) fs.cpSync(path.join(packageDir, "dist"), path.join(copy, "dist"), { recursive: true });
    fs.mkdirSync(path.dirname(path.join(copy, staleModule)), { recursive: true });
    fs.writeFileSync(path.join(copy, staleModule), "exports.removed = true;\n");
    fs.symlinkSync(path.join(packageDir, "node_modules"), path.join(copy, "node_modules"));
    const r = spawnSync("npm", ["pack", "--json", "--pack-destination", destination], { cwd: copy, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "error" } });
    assert.strictEqual(r.status, 0, `npm pack failed:\n${r.stdout}\n${r.stderr}`);
    const [result] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    return { files: result.files.map((f) => f.path).sort(), tarball: path.join(destination, result.filename) };
}

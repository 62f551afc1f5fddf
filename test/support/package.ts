// The package as `npm pack` builds it (its `prepare` script compiles dist/ first), for the package test.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { packageDir } from "../../stacks/operations/automation";

/** `npm pack` of this repository into `destination`: the tarball's files and its path. */
export function packRepo(destination: string): { files: string[]; tarball: string } {
    const r = spawnSync("npm", ["pack", "--json", "--pack-destination", destination], { cwd: packageDir, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "error" } });
    assert.strictEqual(r.status, 0, `npm pack failed:\n${r.stdout}\n${r.stderr}`);
    const [result] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    return { files: result.files.map((f) => f.path).sort(), tarball: path.join(destination, result.filename) };
}

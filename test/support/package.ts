// The package as `npm pack` builds it, for the package and consumer tests.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { packageDir } from "../../stacks/automation";

/** `npm pack` of this repository (its `prepare` script compiles dist/ first); the tarball's files and path. */
export function packRepo(destination?: string): { files: string[]; tarball?: string } {
    const args = ["pack", "--json", ...(destination ? ["--pack-destination", destination] : ["--dry-run"])];
    const r = spawnSync("npm", args, { cwd: packageDir, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "error" } });
    assert.strictEqual(r.status, 0, `npm pack failed:\n${r.stdout}\n${r.stderr}`);
    const [result] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    return { files: result.files.map((f) => f.path).sort(), tarball: destination ? path.join(destination, result.filename) : undefined };
}


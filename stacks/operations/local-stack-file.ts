// Whether a stack exists, read from a local (`file://`) backend's folder without running the CLI:
// opening a stack (`pulumi stack --show-name`) costs the CLI's start, 0.3-0.5 s with the machine
// quiet, in every command. Only a positive answer is trusted: a stack's checkpoint file in the
// folder's project layout (`.pulumi/meta.yaml` at version 1, `.pulumi/stacks/<project>/<stack>.json`,
// `.json.gz` when the backend compresses) means the stack exists; anything else (another backend,
// the older layout, a qualified stack name, no file) is asked of the CLI as before.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

/** The folder of a `file://` backend URL, relative paths resolved against `workDir`; undefined for other backends. */
export function localBackendDir(backendUrl: string | undefined, workDir: string): string | undefined {
    if (backendUrl === undefined || !backendUrl.startsWith("file://")) return undefined;
    const dir = backendUrl.slice("file://".length).replace(/\?.*$/, "").replace(/^~(?=\/|$)/, os.homedir());
    return dir === "" ? undefined : path.resolve(workDir, dir);
}

function readYaml(file: string): unknown {
    try {
        return YAML.parse(fs.readFileSync(file, "utf8"));
    } catch {
        return undefined;
    }
}

/**
 * The checkpoint file of `stack` of the project in `workDir` (its Pulumi.yaml names it) on the
 * local backend `backendUrl`, when one exists in the project layout; else undefined (which says
 * nothing about whether the stack exists).
 */
export function localStackFile(backendUrl: string | undefined, workDir: string, stack: string): string | undefined {
    const dir = localBackendDir(backendUrl, workDir);
    if (dir === undefined || !/^[A-Za-z0-9_.-]+$/.test(stack)) return undefined;
    const meta = readYaml(path.join(dir, ".pulumi", "meta.yaml")) as { version?: unknown } | undefined;
    const project = (readYaml(path.join(workDir, "Pulumi.yaml")) as { name?: unknown } | undefined)?.name;
    if (meta?.version !== 1 || typeof project !== "string" || !/^[A-Za-z0-9_.-]+$/.test(project)) return undefined;
    return [".json", ".json.gz"].map((ext) => path.join(dir, ".pulumi", "stacks", project, `${stack}${ext}`)).find((f) => fs.existsSync(f));
}

// Whether a stack exists, read from a local (`file://`) backend's folder without running the CLI:
// opening a stack (`pulumi stack --show-name`) costs the CLI's start, 0.3-0.5 s with the machine
// quiet, in every command. Only a positive answer is trusted: a stack's checkpoint file in the
// folder's project layout (`.pulumi/meta.yaml` at version 1, `.pulumi/stacks/<project>/<stack>.json`,
// `.json.gz` when the backend compresses) means the stack exists; anything else (another backend,
// the older layout, a qualified stack name, no file) is asked of the CLI as before. Its outputs
// are read from the same file when they are plain values (`localStackOutputs`), by the commands
// and by the program under a plain `pulumi up` (`currentBackendUrl` says which backend the CLI uses).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as zlib from "zlib";

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

/** The key Pulumi's state marks a special value with (a secret, an asset, a resource reference). */
const specialValueKey = "4dabf18193072939515e22adb298388d";

/**
 * The stack's outputs read from its checkpoint file on a local backend, as `pulumi stack output
 * --json --show-secrets` prints them, without the CLI's start (0.3-0.7 s of every command that
 * reads them): the outputs of the root `pulumi:pulumi:Stack` resource of the last update, `{}` when
 * there is none. Undefined, for the CLI to answer, whenever the file is not that plain case: no
 * checkpoint file in the project layout, both a `.json` and a `.json.gz` (the CLI picks one), a
 * file it cannot parse or of another version, or a special value anywhere in it (a secret needs
 * the secrets provider, and the CLI checks the passphrase when the state holds one).
 */
export function localStackOutputs(backendUrl: string | undefined, workDir: string, stack: string): Record<string, unknown> | undefined {
    const file = localStackFile(backendUrl, workDir, stack);
    if (file === undefined || fs.existsSync(file.endsWith(".gz") ? file.slice(0, -".gz".length) : `${file}.gz`)) return undefined;
    let text: string;
    let checkpoint: { version?: unknown; checkpoint?: { latest?: { resources?: { type?: unknown; parent?: unknown; outputs?: unknown }[] } | null } };
    try {
        const bytes = fs.readFileSync(file);
        text = (file.endsWith(".gz") ? zlib.gunzipSync(bytes) : bytes).toString("utf8");
        if (text.includes(specialValueKey)) return undefined;
        checkpoint = JSON.parse(text) as typeof checkpoint;
    } catch {
        return undefined;
    }
    if (checkpoint.version !== 3 || typeof checkpoint.checkpoint !== "object" || checkpoint.checkpoint === null) return undefined;
    const root = (checkpoint.checkpoint.latest?.resources ?? []).find((r) => r.type === "pulumi:pulumi:Stack" && !r.parent);
    const outputs = root?.outputs ?? {};
    return typeof outputs === "object" && outputs !== null && !Array.isArray(outputs) ? outputs as Record<string, unknown> : undefined;
}

/**
 * The backend URL the `pulumi` CLI picks for the project in `workDir`, in its order:
 * `PULUMI_BACKEND_URL`, else Pulumi.yaml's `backend.url`, else the current login of its
 * credentials file (`credentials.json` in `PULUMI_CREDENTIALS_PATH`, else `PULUMI_HOME`, else
 * `~/.pulumi`). Undefined when none is set or a file cannot be read.
 */
export function currentBackendUrl(workDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
    if (env.PULUMI_BACKEND_URL) return env.PULUMI_BACKEND_URL;
    const project = readYaml(path.join(workDir, "Pulumi.yaml")) as { backend?: { url?: unknown } } | undefined;
    if (project === undefined) return undefined;
    const url = project.backend?.url;
    if (typeof url === "string" && url !== "") return url;
    const folder = env.PULUMI_CREDENTIALS_PATH || env.PULUMI_HOME || path.join(os.homedir(), ".pulumi");
    try {
        const current = (JSON.parse(fs.readFileSync(path.join(folder, "credentials.json"), "utf8")) as { current?: unknown }).current;
        return typeof current === "string" && current !== "" ? current : undefined;
    } catch {
        return undefined;
    }
}

/** Whether `url` is a `file://` backend with an absolute folder (`file:///...`, `file://~`), which means the same folder from any working directory. */
export function isAbsoluteLocalBackend(url: string): boolean {
    return /^file:\/\/(\/|~(\/|$|\?))/.test(url);
}

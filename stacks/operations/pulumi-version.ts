// The `pulumi` a workspace runs, with its version. The Automation API learns the version by running
// `pulumi version` (`PulumiCommand.get`), which costs the CLI's start, 0.2-0.4 s with the machine
// quiet, in every command. The version of a binary does not change while the file does not: it is
// read once, and kept in a small file under the cache directory (MODEL_CANARY_CACHE, as the
// toolchain's) keyed by the binary's path, size, modification time and inode and by the SDK's
// version, whose minimum CLI version it was checked against. A cache that cannot be read or
// written is only a cost: the version is then read as before.
import * as auto from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as semver from "semver";
import { timed } from "./timing";

/** The file holding the versions read, by binary key: `$MODEL_CANARY_CACHE/pulumi-versions.json`. */
export function versionCacheFile(env: NodeJS.ProcessEnv = process.env): string {
    const root = env.MODEL_CANARY_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "model-canary");
    return path.join(root, "pulumi-versions.json");
}

/** What identifies a binary's version: its path, size, modification time, inode, and the SDK that checked it. */
export function binaryKey(binary: string, stat: fs.Stats, sdkVersion: string): string {
    return [binary, stat.size, stat.mtimeMs, stat.ino, `sdk ${sdkVersion}`].join("\0");
}

function readCache(file: string): Record<string, string> {
    try {
        const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
        return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, string> : {};
    } catch {
        return {};
    }
}

function writeCache(file: string, key: string, version: string): void {
    try {
        // Only this binary's entry is added; a rebuilt binary's old entries are dropped with it.
        const binary = key.split("\0")[0];
        const kept = Object.entries(readCache(file)).filter(([k]) => k.split("\0")[0] !== binary);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries([...kept, [key, version]])));
        fs.renameSync(tmp, file);
    } catch {
        // Not kept: the next command reads the version again.
    }
}

/** The `semver` the SDK itself uses (a dependency of @pulumi/pulumi, not of this package). */
function sdkSemver(): typeof semver {
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(require.resolve("semver", { paths: [sdk] })) as typeof semver;
}

/** The SDK's `PulumiCommand`, made with a version already read and checked (its constructor is not public). */
const PulumiCommandOf = auto.PulumiCommand as unknown as new (command: string, version: semver.SemVer | null) => auto.PulumiCommand;

/** The `pulumi` of each binary seen by this process, by its key. */
const inProcess = new Map<string, Promise<auto.PulumiCommand>>();

/**
 * The `pulumi` under `root`/bin: its version read and checked by `PulumiCommand.get` once per
 * binary (see the top of the file), then taken from the cache. A binary rebuilt or replaced in
 * place (another size, time or inode) is read again; a failure is not kept.
 */
export function pulumiCommandOf(root: string, cacheFile = versionCacheFile()): Promise<auto.PulumiCommand> {
    const binary = path.resolve(root, "bin", "pulumi");
    let stat: fs.Stats;
    try {
        stat = fs.statSync(binary);
    } catch {
        return auto.PulumiCommand.get({ root, skipVersionCheck: false }); // reports the missing binary
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const key = binaryKey(binary, stat, (require("@pulumi/pulumi/version") as { version: string }).version);
    const kept = inProcess.get(key);
    if (kept !== undefined) return kept;
    const known = sdkSemver().parse(readCache(cacheFile)[key] ?? "");
    const command: Promise<auto.PulumiCommand> = known !== null
        ? Promise.resolve(new PulumiCommandOf(binary, known))
        : timed("pulumi version", () => auto.PulumiCommand.get({ root, skipVersionCheck: false })).then((c) => {
            if (c.version) writeCache(cacheFile, key, c.version.raw);
            return c;
        });
    inProcess.set(key, command);
    command.catch(() => inProcess.delete(key));
    return command;
}

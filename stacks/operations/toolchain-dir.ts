// Finding a toolchain directory: an environment variable naming it, or what one of the
// toolchain/ ensure scripts prints (it builds what is missing first). The Pulumi toolchain
// (stacks/operations/automation.ts), the local control plane and the test data plane (cluster/) are found
// this way.
import { execFileSync } from "child_process";

export interface ToolchainSource {
    /** Used as is when set and not empty. */
    envVar: string;
    /** The ensure script; its last line of stdout is the directory. */
    script: string;
    /** What it provides, for errors: "the Pulumi toolchain". */
    what: string;
    /** Makes the caller's error from a message. */
    fail: (message: string) => Error;
    /** Appended to the error when the script fails: how else to provide it. */
    advice?: string;
}

/**
 * A function that returns the directory: `$envVar` when set, else the script's answer, run once
 * per process (its progress and errors go to this process's stderr). A script that fails, or
 * prints nothing, is an error naming it and its exit code.
 */
export function toolchainLocator(source: ToolchainSource): () => string {
    let found: string | undefined;
    return () => {
        const fromEnv = process.env[source.envVar];
        if (fromEnv) return fromEnv;
        found ??= runEnsureScript(source);
        return found;
    };
}

function runEnsureScript({ script, what, fail, advice = "" }: ToolchainSource): string {
    let out: string;
    try {
        out = execFileSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    } catch (e) {
        const status = (e as { status?: number }).status;
        throw fail(`${what} is not available: ${script} failed${status ? ` with exit code ${status}` : ""} (its messages are above)${advice}`);
    }
    const dir = out.trim().split("\n").pop();
    if (!dir) throw fail(`${script} printed no directory`);
    return dir;
}

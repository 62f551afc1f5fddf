// Runs the stack workspace's `pulumi` for the commands this project calls itself rather than
// through the Automation API's Stack methods: the same executable, environment and
// non-interactive mode as the Automation API, output streamed to the caller. `up` runs here because
// the Automation API's `stack.up` streams every engine event into this process and then reads the
// stack outputs twice and the update's summary; `readOutputs` because `stack.outputs()` runs
// `pulumi stack output` twice (see automation.ts).
import type * as auto from "@pulumi/pulumi/automation";
import { spawn } from "child_process";
import * as path from "path";
import { timed } from "./timing";

/** A `pulumi` command that did not exit 0; the message holds its exit code, stdout and stderr. */
export class PulumiCommandFailure extends Error {
    constructor(public readonly code: number | null, public readonly stdout: string, public readonly stderr: string, public readonly args: string[], cause?: Error) {
        super(`\`pulumi ${args.join(" ")}\` failed\ncode: ${code}\n stdout: ${stdout}\n stderr: ${stderr}${cause ? `\n err: ${cause.message}` : ""}\n`);
        this.name = "PulumiCommandFailure";
    }

    /** What the Automation API would have made of the failure: its texts for a locked and a missing stack. */
    get reason(): "locked" | "no-stack" | undefined {
        if (this.stderr.includes("[409] Conflict: Another update is currently in progress.") || this.stderr.includes("the stack is currently locked by")) return "locked";
        if (/no stack named.*found/.test(this.stderr)) return "no-stack";
        return undefined;
    }
}

/** Runs `pulumi ARGS --stack NAME --non-interactive` in the stack's project directory, with `env` added to the workspace's. */
export function runStackCommand(stack: Pick<auto.Stack, "name" | "workspace">, args: string[], options: { env?: Record<string, string>; onOutput?: (out: string) => void } = {}): Promise<{ stdout: string; stderr: string }> {
    return runWorkspaceCommand(stack.workspace, [...args, "--stack", stack.name], options);
}

/**
 * Runs `pulumi ARGS --non-interactive` in the workspace's project directory, with `env` added to
 * the workspace's (for the commands that take no `--stack`, or name stacks otherwise).
 */
export function runWorkspaceCommand(workspace: auto.Workspace, args: string[], options: { env?: Record<string, string>; onOutput?: (out: string) => void } = {}): Promise<{ stdout: string; stderr: string }> {
    const local = workspace as auto.LocalWorkspace;
    const command = local.pulumiCommand.command;
    const fullArgs = [...args, "--non-interactive"];
    const base: Record<string, string> = { PULUMI_DEBUG_COMMANDS: "true", ...(local.pulumiHome ? { PULUMI_HOME: local.pulumiHome } : {}), ...local.envVars, ...options.env };
    const env = {
        ...process.env,
        ...base,
        // As the Automation API: the plugins beside this `pulumi` come first.
        ...(path.isAbsolute(command) ? { PATH: `${path.dirname(command)}${path.delimiter}${base.PATH ?? process.env.PATH ?? ""}` } : {}),
        PULUMI_AUTOMATION_API: "true",
    };
    return timed(`pulumi ${args.filter((a) => !a.startsWith("/")).slice(0, 3).join(" ")}`, () => new Promise((resolve, reject) => {
        const child = spawn(command, fullArgs, { cwd: local.workDir, env, stdio: ["ignore", "pipe", "pipe"] });
        const out: string[] = [];
        const err: string[] = [];
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            out.push(chunk);
            options.onOutput?.(chunk);
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => err.push(chunk));
        child.on("error", (e) => reject(new PulumiCommandFailure(null, out.join(""), err.join(""), fullArgs, e)));
        child.on("close", (code) => {
            if (code === 0) resolve({ stdout: out.join(""), stderr: err.join("") });
            else reject(new PulumiCommandFailure(code, out.join(""), err.join(""), fullArgs));
        });
    }));
}

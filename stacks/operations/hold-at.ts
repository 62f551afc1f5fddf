// A test hook that stops a command at a named point until a file appears, so that a test can send
// it a signal, or start another command, at that point and not at whatever point timing gives
// (`MODEL_CANARY_KILL_AT` in rollback-write.ts kills the process at a point instead). Without the
// variables set it does nothing.
import * as fs from "fs";
import { terminalText } from "../../components/syntax";

/** The point to hold at: `inline-program-run` (each run of the program in this process, before its entry file loads) or `rollback-route-written`. */
export const holdAtEnvVar = "MODEL_CANARY_HOLD_AT";
/** The file whose existence ends the hold. */
export const holdUntilEnvVar = "MODEL_CANARY_HOLD_UNTIL";

export type HoldPoint = "inline-program-run" | "rollback-route-written";

/**
 * When `MODEL_CANARY_HOLD_AT` names `point` and `MODEL_CANARY_HOLD_UNTIL` a file that does not
 * exist yet: says so on stderr (one line) and waits until the file exists. Signals are handled
 * meanwhile as anywhere else (the event loop runs).
 */
export async function holdAt(point: HoldPoint, env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const until = env[holdUntilEnvVar];
    if (env[holdAtEnvVar] !== point || !until || fs.existsSync(until)) return;
    process.stderr.write(terminalText(`model-canary: held at ${point} until ${until} exists (${holdAtEnvVar})\n`));
    while (!fs.existsSync(until)) await new Promise((resolve) => setTimeout(resolve, 20));
}

// A rollback's two writes, the first of them here: the live route set to the rolled-back routing
// (stacks/cluster-client/rollback-route.ts) before the `up` that records it, and what is told
// when that write could not be made.
import { ModelConfig, StackConfig } from "../config/config";
import { clearRollbackWrite, RouteWrite, writeRollbackRoute } from "../cluster-client/rollback-route";
import { holdAt } from "./hold-at";

/**
 * For tests of a process that dies between the two writes: `MODEL_CANARY_KILL_AT=rollback-route-written`
 * makes the process kill itself (SIGKILL) right after the route write, before the `up`;
 * `MODEL_CANARY_HOLD_AT=rollback-route-written` holds it there (see hold-at.ts).
 */
export const killAtEnvVar = "MODEL_CANARY_KILL_AT";

/**
 * Writes the live route of `model` (its config rolled back already) before the rollback's `up`;
 * undefined for a stack that renders. A write that is refused (RBAC, an admission webhook) or
 * cannot be made is told in one line through `onMessage`: the `up` alone then moves the traffic.
 */
export async function writeRouteBeforeUp(config: StackConfig, model: ModelConfig, onMessage: (message: string) => void): Promise<RouteWrite | undefined> {
    const write = await writeRollbackRoute(config, model);
    if (write && "failed" in write) onMessage(`model-canary: the rollback's route write failed, so the \`up\` alone moves the traffic to ${model.resolved.stable.version}: ${write.failed.split("\n")[0]}`);
    if (write && "skipped" in write) onMessage(`model-canary: no route write before the rollback's \`up\`: ${write.skipped}`);
    if (write && "written" in write && process.env[killAtEnvVar] === "rollback-route-written") process.kill(process.pid, "SIGKILL");
    if (write && "written" in write) await holdAt("rollback-route-written");
    return write;
}

/**
 * After the rollback's `up`, when the route was written first: the route's mark of an unrecorded
 * write removed if that `up` changed nothing on it (see clearRollbackWrite); a failure is told
 * in one line (`status` would go on showing the write as not recorded until the next `up`).
 */
export async function markRouteRecorded(config: StackConfig, model: ModelConfig, write: RouteWrite | undefined, onMessage: (message: string) => void): Promise<void> {
    if (!write || !("written" in write)) return;
    const failed = await clearRollbackWrite(config, model);
    if (failed !== undefined) onMessage(`model-canary: the rollback's \`up\` recorded the route, but its mark of an unrecorded write could not be removed (the next \`up\` removes it): ${failed.split("\n")[0]}`);
}

// `npm run -s cluster:up` / `npm run -s cluster:down`: one local control plane per user, remembered
// in a small pointer file so that `down` finds what `up` started.
//
//   up     start it (or find it running, or restart it in place if any of its processes died) and
//          print the admin kubeconfig's path as the last line
//   down   stop it and remove its temp directory
//   env    print `export KUBECONFIG=...` and `export PATH=<kubectl's dir>:$PATH` for a shell
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ControlPlane, ControlPlaneError, isReady, isRunning, load, notRunning, restart, start, stop } from "./controlplane";

/** Where the running control plane's directory is recorded. */
export function pointerFile(): string {
    return process.env.MODEL_CANARY_CLUSTER_POINTER
        ?? path.join(os.tmpdir(), `model-canary-cluster-${typeof process.getuid === "function" ? process.getuid() : "user"}.current`);
}

function current(log?: (m: string) => void): ControlPlane | undefined {
    const file = pointerFile();
    if (!fs.existsSync(file)) return undefined;
    const dir = fs.readFileSync(file, "utf8").trim();
    try {
        return load(dir);
    } catch {
        log?.(`the control plane recorded in ${file} (${dir}) is gone; its data cannot be restored`);
        return undefined;
    }
}

/** Polls the API server's /readyz (a control plane whose processes all run may still be starting). */
async function readyWithin(cp: ControlPlane, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
        if (await isReady(cp)) return true;
        if (Date.now() > deadline || !isRunning(cp)) return false;
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}

async function main(command: string | undefined): Promise<void> {
    const log = (m: string): void => void process.stderr.write(`cluster: ${m}\n`);
    switch (command) {
        case "up": {
            const existing = current(log);
            if (existing && isRunning(existing) && await readyWithin(existing, 10_000)) {
                log(`already running at ${existing.server} (${existing.dir}); \`npm run -s cluster:down\` stops it`);
                process.stdout.write(`${existing.kubeconfig}\n`);
                return;
            }
            if (existing) {
                // Same data, ports and kubeconfig: a stack's `kubeconfig` keeps working. Only `down` discards it.
                const dead = notRunning(existing);
                log(`the control plane in ${existing.dir} is not serving (${dead.length > 0 ? `not running: ${dead.join(", ")}` : "its API server is not ready"}); restarting it with the same data at ${existing.server}`);
                const cp = await restart(existing, { log });
                log(`restarted at ${cp.server} (${cp.dir}); \`npm run -s cluster:down\` stops it`);
                process.stdout.write(`${cp.kubeconfig}\n`);
                return;
            }
            // The local cluster users start serves both routers' kinds: Istio's and the Gateway API's.
            const cp = await start({ log, gatewayApiCrds: true });
            fs.writeFileSync(pointerFile(), `${cp.dir}\n`);
            log(`kubectl: ${path.join(cp.binDir, "kubectl")}`);
            log("stop it with: npm run -s cluster:down");
            process.stdout.write(`${cp.kubeconfig}\n`);
            return;
        }
        case "down": {
            const existing = current();
            if (!existing) {
                log("no local control plane is recorded as running; nothing to stop");
                return;
            }
            await stop(existing);
            fs.rmSync(pointerFile(), { force: true });
            log(`stopped and removed ${existing.dir}`);
            return;
        }
        case "env": {
            const existing = current();
            if (!existing || !isRunning(existing)) throw new ControlPlaneError("no local control plane is running; start one with `npm run -s cluster:up`");
            process.stdout.write(`export KUBECONFIG=${existing.kubeconfig}\nexport PATH=${existing.binDir}:$PATH\n`);
            return;
        }
        default:
            process.stderr.write("usage: ts-node cluster/main.ts up|down|env\n");
            process.exitCode = 2;
    }
}

main(process.argv[2]).catch((e) => {
    process.stderr.write(`cluster: error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
});

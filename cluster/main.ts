// `npm run -s cluster:up` / `npm run -s cluster:down`: one local control plane per user, remembered
// in a small pointer file so that `down` finds what `up` started.
//
//   up     start it (or find it running) and print the admin kubeconfig's path as the last line
//   down   stop it and remove its temp directory
//   env    print `export KUBECONFIG=...` and `export PATH=<kubectl's dir>:$PATH` for a shell
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ControlPlane, ControlPlaneError, isRunning, load, start, stop } from "./controlplane";

/** Where the running control plane's directory is recorded. */
export function pointerFile(): string {
    return process.env.MODEL_CANARY_CLUSTER_POINTER
        ?? path.join(os.tmpdir(), `model-canary-cluster-${typeof process.getuid === "function" ? process.getuid() : "user"}.current`);
}

function current(): ControlPlane | undefined {
    const file = pointerFile();
    if (!fs.existsSync(file)) return undefined;
    const dir = fs.readFileSync(file, "utf8").trim();
    try {
        return load(dir);
    } catch {
        return undefined;
    }
}

async function main(command: string | undefined): Promise<void> {
    const log = (m: string): void => void process.stderr.write(`cluster: ${m}\n`);
    switch (command) {
        case "up": {
            const existing = current();
            if (existing && isRunning(existing)) {
                log(`already running at ${existing.server} (${existing.dir}); \`npm run -s cluster:down\` stops it`);
                process.stdout.write(`${existing.kubeconfig}\n`);
                return;
            }
            if (existing) {
                log(`a previous control plane (${existing.dir}) is partly stopped; cleaning it up`);
                await stop(existing);
            }
            const cp = await start({ log });
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

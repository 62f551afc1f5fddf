/**
 * Runs a real PostgreSQL server (Debian's `postgresql` 15: /usr/lib/postgresql/15/bin) for tests:
 * `initdb` into a temporary directory, then the server on a free loopback port with its unix
 * socket in that directory, trust authentication, durability off (a test's data need not survive
 * a power cut). The server refuses to run as root, so as root (CI) the directory belongs to the
 * `postgres` OS user and both programs run as that user (`setpriv`, which execs without a
 * session process in between, so the server is this process's own child).
 *
 *   const pg = await startPostgres();
 *   pg.url                      // postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable
 *   await pg.query("SELECT 1")  // as the superuser `postgres`, or { user, database }
 *   await pg.stop()             // fast shutdown, directory removed
 *
 * The server cannot outlive the test run: it is stopped on Node's `exit`, and a tiny watchdog
 * shell (holding a pipe from Node) stops it when Node dies in any other way, even SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { Client } from "pg";
import { freePort } from "../../cluster/controlplane";

export const POSTGRES_BIN_DIR = process.env.POSTGRES_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export interface PostgresHarness {
    /** The superuser's URL over TCP, as a Pulumi backend URL is written. */
    readonly url: string;
    readonly port: number;
    /** The temporary directory: `data/`, the server's socket, its log. */
    readonly dir: string;
    /** Runs one statement on a fresh connection (superuser `postgres`, database `postgres` unless given) and closes it. */
    query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: { user?: string; database?: string }): Promise<T[]>;
    /** Last lines the server logged, for failure messages. */
    logs(): string;
    /** Stops the server (fast shutdown) and removes the directory. Idempotent. */
    stop(): Promise<void>;
}

const live = new Set<{ kill(): void; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    process.on("exit", () => {
        for (const p of live) {
            p.kill();
            try {
                fs.rmSync(p.dir, { recursive: true, force: true });
            } catch {
                // best effort at exit
            }
        }
    });
}

/** The command prefix that runs a program as the `postgres` OS user when this process is root. */
function asServerUser(): { prefix: string[]; uid?: number; gid?: number } {
    if (process.getuid?.() !== 0) return { prefix: [] };
    const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
    const uid = id("-u");
    const gid = id("-g");
    if (!Number.isInteger(uid) || uid <= 0) throw new Error("running as root, and there is no `postgres` OS user to run the server as: install Debian's `postgresql` package");
    return { prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"], uid, gid };
}

export async function startPostgres(options: { readyTimeoutMs?: number } = {}): Promise<PostgresHarness> {
    const initdb = path.join(POSTGRES_BIN_DIR, "initdb");
    if (!fs.existsSync(initdb)) throw new Error(`${initdb} not found: install it with \`apt-get install -y --no-install-recommends postgresql\``);
    installExitHook();
    const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    const as = asServerUser();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-pg-"));
    if (as.uid !== undefined) fs.chownSync(dir, as.uid, as.gid!);
    const dataDir = path.join(dir, "data");
    const logFile = path.join(dir, "server.log");

    const init = spawnSync(as.prefix[0] ?? initdb, [...as.prefix.slice(1), ...(as.prefix.length ? [initdb] : []),
        "-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], { encoding: "utf8", cwd: dir });
    if (init.status !== 0) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`initdb failed (exit ${init.status}): ${init.stderr}${init.error?.message ?? ""}`);
    }

    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    let watchdog: ChildProcess | undefined;
    let port = 0;
    const logs = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-15).join("\n") : "");
    const entry = {
        dir,
        // SIGQUIT: immediate shutdown, the server's children go with it.
        kill: () => child?.kill("SIGQUIT"),
    };
    live.add(entry);

    const launch = (listenPort: number) => {
        const server = path.join(POSTGRES_BIN_DIR, "postgres");
        const args = ["-D", dataDir, "-c", "listen_addresses=127.0.0.1", "-p", String(listenPort), "-k", dir,
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=60",
            "-c", "shared_buffers=16MB", "-c", "log_min_messages=warning"];
        const log = fs.openSync(logFile, "a");
        if (as.uid !== undefined) fs.fchownSync(log, as.uid, as.gid!);
        const c = spawn(as.prefix[0] ?? server, [...as.prefix.slice(1), ...(as.prefix.length ? [server] : []), ...args], { cwd: dir, stdio: ["ignore", log, log] });
        fs.closeSync(log);
        exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
        c.once("error", () => undefined);
        // `read` returns when Node's end of the pipe closes, i.e. when Node is gone.
        const w = spawn("/bin/sh", ["-c", 'read _unused; kill -QUIT "$1" 2>/dev/null; sleep 2; rm -rf -- "$2"', "watchdog", String(c.pid), dir], { stdio: ["pipe", "ignore", "ignore"] });
        w.on("error", () => undefined);
        void exited.then(() => w.kill("SIGKILL"));
        for (const h of [c, w]) h.unref();
        (w.stdin as unknown as { unref?: () => void } | null)?.unref?.();
        child = c;
        watchdog = w;
    };

    const query = async <T>(sql: string, params: unknown[] = [], o: { user?: string; database?: string } = {}): Promise<T[]> => {
        const client = new Client({ host: "127.0.0.1", port, user: o.user ?? "postgres", database: o.database ?? "postgres", connectionTimeoutMillis: 2000 });
        client.on("error", () => undefined);
        await client.connect();
        try {
            return (await client.query(sql, params)).rows as T[];
        } finally {
            await client.end();
        }
    };

    const waitReady = async () => {
        let gone = false;
        void exited.then(() => { gone = true; });
        const deadline = Date.now() + readyTimeoutMs;
        let last = "not ready";
        for (;;) {
            if (gone) throw new Error(`postgres exited during startup: ${logs()}`);
            try {
                await query("SELECT 1");
                return;
            } catch (e) {
                last = e instanceof Error ? e.message : String(e);
            }
            if (Date.now() > deadline) throw new Error(`postgres not ready after ${readyTimeoutMs} ms (${last}): ${logs()}`);
            await new Promise((r) => setTimeout(r, 100));
        }
    };

    try {
        // A free port can be taken between probing and binding; retry a few times on a fresh one.
        for (let attempt = 1; ; attempt++) {
            port = await freePort();
            launch(port);
            try {
                await waitReady();
                break;
            } catch (e) {
                entry.kill();
                await exited;
                if (attempt < 3 && /already in use/.test(logs())) continue;
                throw e;
            }
        }
    } catch (e) {
        live.delete(entry);
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
    }

    let stopped = false;
    return {
        url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
        port,
        dir,
        query,
        logs,
        async stop() {
            if (stopped) return;
            stopped = true;
            // SIGINT: fast shutdown (open sessions are ended, the server stops cleanly).
            child?.kill("SIGINT");
            // A timer of its own keeps Node running until the server has gone (the child is unref'd).
            let timer: NodeJS.Timeout | undefined;
            const clean = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 10_000); })]);
            clearTimeout(timer);
            if (!clean) {
                child?.kill("SIGQUIT");
                await exited;
            }
            watchdog?.kill("SIGKILL");
            live.delete(entry);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

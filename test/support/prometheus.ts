/**
 * Runs a real Prometheus server (Debian package `prometheus`, /usr/bin/prometheus) for tests:
 * its own process on a free loopback port, with a temporary config and TSDB directory. It does
 * not use (or care about) a system-wide Prometheus service on :9090.
 *
 *   const prom = await startPrometheus({ targets: [exporter.target] });
 *   prom.url             // http://127.0.0.1:<port>
 *   await prom.kill()    // simulate "Prometheus down" (connection refused); data is kept
 *   await prom.restart() // same port and data directory, waits until ready and scraping
 *   await prom.pause()   // SIGSTOP: connections are accepted but never answered (timeouts)
 *   prom.resume()        // SIGCONT
 *   await prom.stop()    // terminate and delete the temporary directory
 *
 * The process cannot outlive the test run: it is killed on Node's `exit`, and a tiny watchdog
 * shell (holding a pipe from Node) kills it when Node dies in any other way, even SIGKILL.
 */
import { spawn, type ChildProcess } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { PrometheusClient } from "../../analysis/prometheus";
import { freePort } from "../../cluster/controlplane";
import { IstioExporter, startIstioExporter } from "./istio-exporter";

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";

export interface StartPrometheusOptions {
    /** Scrape targets as `host:port`. */
    targets: string[];
    /** Scrape (and evaluation) interval. Default "1s". */
    scrapeInterval?: string;
    /** Job name of the targets. Default "istio". */
    job?: string;
    /** How long to wait for readiness and the first successful scrape. Default 30000. */
    readyTimeoutMs?: number;
    /** Basic auth on every request (`--web.config.file` with `basic_auth_users`): the user and the bcrypt hash of its password. */
    basicAuthUser?: { username: string; bcryptHash: string; password: string };
}

export interface PrometheusHarness {
    readonly url: string;
    readonly port: number;
    readonly dataDir: string;
    readonly job: string;
    /** A client bound to this server (5 s timeout). */
    readonly client: PrometheusClient;
    /** Whether the process is currently running (it may be paused). */
    readonly running: boolean;
    /** Kills the process (SIGKILL) and waits for it to exit. Keeps port and data for `restart`. */
    kill(): Promise<void>;
    /** Starts again on the same port with the same data; resolves when ready and scraping. */
    restart(): Promise<void>;
    /** Freezes the process (SIGSTOP); resolves once every thread is stopped. */
    pause(): Promise<void>;
    /** Unfreezes it (SIGCONT). */
    resume(): void;
    /** Last lines Prometheus logged, for failure messages. */
    logs(): string;
    /** Terminates the process and removes the temporary directory. Idempotent. */
    stop(): Promise<void>;
}

interface Running {
    child: ChildProcess;
    watchdog: ChildProcess;
    exited: Promise<void>;
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

export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusHarness> {
    if (!fs.existsSync(PROMETHEUS_BIN)) {
        throw new Error(`${PROMETHEUS_BIN} not found: install it with \`apt-get install -y --no-install-recommends prometheus\``);
    }
    installExitHook();
    const job = opts.job ?? "istio";
    const scrapeInterval = opts.scrapeInterval ?? "1s";
    const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-prom-"));
    const dataDir = path.join(dir, "data");
    const configFile = path.join(dir, "prometheus.yml");
    fs.mkdirSync(dataDir);
    const webConfigFile = path.join(dir, "web.yml");
    const auth = opts.basicAuthUser;
    if (auth) fs.writeFileSync(webConfigFile, `basic_auth_users:\n  ${JSON.stringify(auth.username)}: ${JSON.stringify(auth.bcryptHash)}\n`);
    const authHeaders: Record<string, string> = auth ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` } : {};
    fs.writeFileSync(
        configFile,
        [
            "global:",
            `  scrape_interval: ${scrapeInterval}`,
            `  scrape_timeout: ${scrapeInterval}`,
            `  evaluation_interval: ${scrapeInterval}`,
            "scrape_configs:",
            `  - job_name: ${JSON.stringify(job)}`,
            "    static_configs:",
            `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(", ")}]`,
            "",
        ].join("\n"),
    );

    let logTail: string[] = [];
    const appendLog = (chunk: string) => {
        logTail.push(...chunk.split("\n").filter((l) => l !== ""));
        if (logTail.length > 200) logTail = logTail.slice(-200);
    };

    let port = 0;
    let running: Running | undefined;
    let paused = false;
    let stopped = false;

    const spawnOnce = (listenPort: number): Running => {
        const child = spawn(
            PROMETHEUS_BIN,
            [
                `--config.file=${configFile}`,
                `--storage.tsdb.path=${dataDir}`,
                `--web.listen-address=127.0.0.1:${listenPort}`,
                "--storage.tsdb.retention.time=1d",
                "--log.level=info",
                ...(auth ? [`--web.config.file=${webConfigFile}`] : []),
            ],
            { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
        );
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.once("error", (err) => appendLog(`spawn error: ${err.message}`));
        child.stdout!.setEncoding("utf8").on("data", appendLog);
        child.stderr!.setEncoding("utf8").on("data", appendLog);
        // Watchdog: `read` returns when Node's end of the pipe closes, i.e. when Node is gone.
        // It then also removes the temporary directory (the `exit` hook cannot run after a SIGKILL).
        const watchdog = spawn(
            "/bin/sh",
            ["-c", 'read _unused; kill -KILL "$1" 2>/dev/null; sleep 1; rm -rf -- "$2"', "watchdog", String(child.pid), dir],
            {
                stdio: ["pipe", "ignore", "ignore"],
            },
        );
        watchdog.on("error", () => undefined);
        // Once Prometheus has exited its pid may be reused: the watchdog must not outlive it.
        void exited.then(() => watchdog.kill("SIGKILL"));
        // Neither process may keep the test run alive by itself.
        for (const h of [child, watchdog]) h.unref();
        for (const s of [child.stdout, child.stderr, watchdog.stdin]) (s as unknown as { unref?: () => void } | null)?.unref?.();
        return { child, watchdog, exited };
    };

    const entry = {
        dir,
        kill: () => {
            if (!running) return;
            try {
                running.child.kill("SIGKILL");
            } catch {
                // gone
            }
            try {
                running.watchdog.kill("SIGKILL");
            } catch {
                // gone
            }
        },
    };
    live.add(entry);

    const url = () => `http://127.0.0.1:${port}`;
    const client = () => new PrometheusClient({ url: url(), timeoutMs: 5000, headers: authHeaders });

    const waitReady = async (r: Running, launchedAt: number) => {
        let exited = false;
        void r.exited.then(() => {
            exited = true;
        });
        const deadline = Date.now() + readyTimeoutMs;
        let lastProblem = "not ready";
        // 1. HTTP readiness.
        for (;;) {
            if (exited) throw new Error(`prometheus exited during startup: ${lastLogs()}`);
            try {
                const res = await fetch(`${url()}/-/ready`, { signal: AbortSignal.timeout(1000), headers: authHeaders });
                await res.text();
                if (res.ok) break;
                lastProblem = `/-/ready answered ${res.status}`;
            } catch (err) {
                lastProblem = err instanceof Error ? err.message : String(err);
            }
            if (Date.now() > deadline) throw new Error(`prometheus not ready after ${readyTimeoutMs} ms (${lastProblem}): ${lastLogs()}`);
            await sleep(100);
        }
        // 2. A successful scrape of every target by this process. (Querying `up` is not enough after
        //    a restart: the samples scraped before the kill are still within the lookback window.)
        for (;;) {
            if (exited) throw new Error(`prometheus exited: ${lastLogs()}`);
            try {
                const res = await fetch(`${url()}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2000), headers: authHeaders });
                const body = (await res.json()) as {
                    data?: { activeTargets?: { health?: string; lastScrape?: string; lastError?: string }[] };
                };
                const targets = body.data?.activeTargets ?? [];
                const scraped = targets.filter(
                    (t) => t.health === "up" && t.lastScrape !== undefined && Date.parse(t.lastScrape) >= launchedAt - 1000,
                );
                if (targets.length >= opts.targets.length && scraped.length === targets.length) return;
                const errors = targets.map((t) => t.lastError).filter((e) => e);
                lastProblem = `${scraped.length} of ${opts.targets.length} targets scraped${errors.length ? ` (${errors.join("; ")})` : ""}`;
            } catch (err) {
                lastProblem = err instanceof Error ? err.message : String(err);
            }
            if (Date.now() > deadline)
                throw new Error(`prometheus did not scrape its targets within ${readyTimeoutMs} ms (${lastProblem}): ${lastLogs()}`);
            await sleep(200);
        }
    };

    const lastLogs = () => logTail.slice(-15).join("\n");

    const launch = async (fixedPort?: number) => {
        // A free port can be taken between probing and binding; retry a few times on a fresh one.
        for (let attempt = 1; ; attempt++) {
            port = fixedPort ?? (await freePort());
            const launchedAt = Date.now();
            const r = spawnOnce(port);
            running = r;
            paused = false;
            try {
                await waitReady(r, launchedAt);
                return;
            } catch (err) {
                entry.kill();
                await r.exited;
                running = undefined;
                const inUse = logTail.some((l) => l.includes("address already in use"));
                if (fixedPort === undefined && inUse && attempt < 3) {
                    logTail = [];
                    continue;
                }
                throw err;
            }
        }
    };

    try {
        await launch();
    } catch (err) {
        live.delete(entry);
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
    }

    const harness: PrometheusHarness = {
        get url() {
            return url();
        },
        get port() {
            return port;
        },
        dataDir,
        job,
        get client() {
            return client();
        },
        get running() {
            return running !== undefined;
        },
        async kill() {
            const r = running;
            if (!r) return;
            entry.kill();
            await r.exited;
            running = undefined;
            paused = false;
        },
        async restart() {
            if (stopped) throw new Error("prometheus harness was stopped");
            await harness.kill();
            await launch(port);
        },
        async pause() {
            if (!running) throw new Error("prometheus is not running");
            const pid = running.child.pid!;
            running.child.kill("SIGSTOP");
            paused = true;
            // SIGSTOP takes effect asynchronously, thread by thread: wait until all are stopped.
            await waitFor(`prometheus (pid ${pid}) to stop`, async () => (allThreadsStopped(pid) ? true : undefined), {
                timeoutMs: 5000,
                intervalMs: 10,
            });
        },
        resume() {
            if (!running) throw new Error("prometheus is not running");
            running.child.kill("SIGCONT");
            paused = false;
        },
        logs: lastLogs,
        async stop() {
            if (stopped) return;
            stopped = true;
            const r = running;
            if (r) {
                if (paused) r.child.kill("SIGCONT");
                r.child.kill("SIGTERM");
                const graceful = await Promise.race([r.exited.then(() => true), sleep(5000).then(() => false)]);
                if (!graceful) r.child.kill("SIGKILL");
                await r.exited;
                try {
                    r.watchdog.kill("SIGKILL");
                } catch {
                    // gone
                }
                running = undefined;
            }
            live.delete(entry);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    return harness;
}

/** Polls `probe` until it returns a value other than `undefined`, or throws after `timeoutMs`. */
export async function waitFor<T>(
    description: string,
    probe: () => Promise<T | undefined>,
    { timeoutMs = 20_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
        try {
            const v = await probe();
            if (v !== undefined) return v;
        } catch (err) {
            lastError = err;
        }
        if (Date.now() > deadline) {
            const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${why}`);
        }
        await sleep(intervalMs);
    }
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when every thread of `pid` is in state T (stopped). Linux /proc. */
function allThreadsStopped(pid: number): boolean {
    const tasks = fs.readdirSync(`/proc/${pid}/task`);
    return tasks.every((tid) => {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
            const state = stat.slice(stat.lastIndexOf(")") + 2)[0];
            return state === "T" || state === "t";
        } catch {
            return true; // thread exited
        }
    });
}

/**
 * The simulated Istio exporter and a Prometheus scraping it every second: the metrics every
 * rollout test analyses. Stop them with `prometheus.stop()` and `exporter.close()`.
 */
export async function startScrapedExporter(): Promise<{ exporter: IstioExporter; prometheus: PrometheusHarness }> {
    const exporter = await startIstioExporter();
    try {
        return { exporter, prometheus: await startPrometheus({ targets: [exporter.target], scrapeInterval: "1s" }) };
    } catch (e) {
        await exporter.close();
        throw e;
    }
}


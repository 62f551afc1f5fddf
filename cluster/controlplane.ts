// A local Kubernetes control plane on loopback: etcd, kube-apiserver (client-certificate auth),
// kube-controller-manager, kube-scheduler and kwok (one fake node that marks pods Running and
// Ready), with Istio's CRDs installed. Built by toolchain/cluster/ensure.sh; started and stopped
// here, by `npm run cluster:up` / `cluster:down` and by the cluster tests.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { toolchainLocator } from "../stacks/toolchain-dir";

const projectDir = path.resolve(__dirname, "..");

/** The processes of a control plane, in start order (stopped in reverse). */
export const components = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"] as const;
export type Component = (typeof components)[number];

/** What `start` leaves in `<dir>/cluster.json`, enough to stop it from another process. */
export interface ControlPlane {
    /** Temp directory holding the data, certificates, kubeconfigs and logs. */
    dir: string;
    /** Admin kubeconfig (`O=system:masters` client certificate). */
    kubeconfig: string;
    /** https://127.0.0.1:<port> */
    server: string;
    /** Directory of the binaries (kubectl among them). */
    binDir: string;
    pids: Partial<Record<Component, number>>;
    /** Name of the kwok node. */
    node: string;
}

export class ControlPlaneError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ControlPlaneError";
    }
}

/** The control plane's binaries: `$MODEL_CANARY_CLUSTER_TOOLCHAIN`, or what toolchain/cluster/ensure.sh prints last. */
export const clusterToolchainDir = toolchainLocator({
    envVar: "MODEL_CANARY_CLUSTER_TOOLCHAIN",
    script: path.join(projectDir, "toolchain", "cluster", "ensure.sh"),
    what: "the local control plane",
    fail: (message) => new ControlPlaneError(message),
});

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

function openssl(args: string[], cwd: string): void {
    try {
        execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
        throw new ControlPlaneError(`openssl ${args.join(" ")} failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
    }
}

/** A CA, the API server's serving certificate, client certificates and the service-account key. */
function makeCertificates(pki: string, clients: Record<string, string>): void {
    fs.mkdirSync(pki, { recursive: true });
    const days = "30";
    const key = (name: string): void => openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`], pki);
    key("ca");
    openssl(["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=model-canary-local-ca", "-days", days, "-out", "ca.crt"], pki);
    const sign = (name: string, subject: string, extensions: string): void => {
        key(name);
        openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], pki);
        fs.writeFileSync(path.join(pki, `${name}.ext`), extensions);
        openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", days, "-extfile", `${name}.ext`, "-out", `${name}.crt`], pki);
    };
    sign("apiserver", "/CN=kube-apiserver", [
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
    ].join("\n"));
    for (const [name, subject] of Object.entries(clients)) {
        sign(name, subject, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth");
    }
    key("service-account");
    openssl(["pkey", "-in", "service-account.key", "-pubout", "-out", "service-account.pub"], pki);
}

function writeKubeconfig(file: string, server: string, pki: string, user: string): void {
    const b64 = (f: string): string => fs.readFileSync(path.join(pki, f)).toString("base64");
    fs.writeFileSync(file, [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: model-canary-local",
        "  cluster:",
        `    server: ${server}`,
        `    certificate-authority-data: ${b64("ca.crt")}`,
        "users:",
        `- name: ${user}`,
        "  user:",
        `    client-certificate-data: ${b64(`${user}.crt`)}`,
        `    client-key-data: ${b64(`${user}.key`)}`,
        "contexts:",
        "- name: model-canary-local",
        "  context:",
        "    cluster: model-canary-local",
        `    user: ${user}`,
        "current-context: model-canary-local",
        "",
    ].join("\n"), { mode: 0o600 });
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

/** The last lines of a log file, or `(no log)`. */
export function logTail(file: string, lines = 15): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** A GET with the admin certificate; resolves with the status code and body. */
function adminGet(cp: { dir: string; server: string }, urlPath: string): Promise<{ status: number; body: string }> {
    const pki = path.join(cp.dir, "pki");
    return new Promise((resolve, reject) => {
        const req = https.get(`${cp.server}${urlPath}`, {
            ca: fs.readFileSync(path.join(pki, "ca.crt")),
            cert: fs.readFileSync(path.join(pki, "admin.crt")),
            key: fs.readFileSync(path.join(pki, "admin.key")),
            timeout: 5000,
        }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", reject);
    });
}

/** Polls `check` every 100 ms until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, onFail: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            if (await check()) return;
        } catch {
            // not yet
        }
        if (Date.now() > deadline) throw new ControlPlaneError(`${what} did not happen within ${timeoutMs / 1000} s\n${onFail()}`);
        await sleep(100);
    }
}

/** Runs the toolchain's kubectl against the control plane's admin kubeconfig. */
export function kubectl(cp: Pick<ControlPlane, "binDir" | "kubeconfig">, args: string[], input?: string): string {
    try {
        return execFileSync(path.join(cp.binDir, "kubectl"), ["--kubeconfig", cp.kubeconfig, ...args], {
            encoding: "utf8",
            input,
            stdio: ["pipe", "pipe", "pipe"],
            maxBuffer: 64 * 1024 * 1024,
            env: { ...process.env, KUBECONFIG: cp.kubeconfig },
        });
    } catch (e) {
        const err = e as { stderr?: string; status?: number };
        throw new ControlPlaneError(`kubectl ${args.join(" ")} failed (exit ${err.status}): ${(err.stderr ?? String(e)).trim()}`);
    }
}

const owned = new Set<number>();

/** Kills `pid` when this process exits, including on SIGINT/SIGTERM (then re-raised). */
export function stopOnExit(pid: number): void {
    if (owned.size === 0) {
        const killAll = (): void => {
            for (const p of owned) {
                try {
                    process.kill(p, "SIGKILL");
                } catch {
                    // already gone
                }
            }
            owned.clear();
        };
        process.once("exit", killAll);
        for (const signal of ["SIGINT", "SIGTERM"] as const) {
            process.once(signal, () => {
                killAll();
                process.kill(process.pid, signal);
            });
        }
    }
    owned.add(pid);
}

/** Undoes `stopOnExit` for a process that has been stopped. */
export function forgetOnExit(pid: number): void {
    owned.delete(pid);
}

export interface StartOptions {
    /** Binaries; default clusterToolchainDir(). */
    binDir?: string;
    /** Progress messages. */
    log?: (message: string) => void;
    /**
     * Kill the processes when this Node.js process exits (tests), so an interrupted test run
     * leaves nothing behind. Without it they outlive this process (`npm run cluster:up`).
     */
    stopOnExit?: boolean;
}

/**
 * Starts a control plane in a new temp directory and returns once the API server is ready, the
 * Istio CRDs are Established, the kwok node is Ready and the `default` ServiceAccount exists.
 * The processes are detached (they outlive this process); `stop` ends them. On a failure
 * everything started so far is stopped and the error carries the failing component's log.
 */
export async function start(options: StartOptions = {}): Promise<ControlPlane> {
    const binDir = options.binDir ?? clusterToolchainDir();
    const log = options.log ?? (() => undefined);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-cluster-"));
    const pki = path.join(dir, "pki");
    const logs = path.join(dir, "logs");
    fs.mkdirSync(logs);
    const [etcdPort, etcdPeerPort, apiPort, cmPort, schedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;
    const node = "kwok-node-0";
    const cp: ControlPlane = { dir, kubeconfig: path.join(dir, "admin.kubeconfig"), server, binDir, pids: {}, node };
    const save = (): void => fs.writeFileSync(path.join(dir, "cluster.json"), JSON.stringify(cp, null, 2) + "\n");

    try {
        makeCertificates(pki, {
            admin: "/O=system:masters/CN=model-canary-admin",
            "controller-manager": "/CN=system:kube-controller-manager",
            scheduler: "/CN=system:kube-scheduler",
        });
        writeKubeconfig(cp.kubeconfig, server, pki, "admin");
        writeKubeconfig(path.join(dir, "controller-manager.kubeconfig"), server, pki, "controller-manager");
        writeKubeconfig(path.join(dir, "scheduler.kubeconfig"), server, pki, "scheduler");

        const run = (name: Component, args: string[]): ChildProcess => {
            const out = fs.openSync(path.join(logs, `${name}.log`), "a");
            const child = spawn(path.join(binDir, name), args, { cwd: dir, detached: true, stdio: ["ignore", out, out] });
            fs.closeSync(out);
            if (child.pid === undefined) throw new ControlPlaneError(`${name} did not start (${path.join(binDir, name)})`);
            child.unref();
            cp.pids[name] = child.pid;
            if (options.stopOnExit) stopOnExit(child.pid);
            save();
            return child;
        };
        const running = (name: Component): boolean => {
            const pid = cp.pids[name];
            if (pid === undefined || !alive(pid)) throw new ControlPlaneError(`${name} exited; the end of ${path.join(logs, `${name}.log`)}:\n${logTail(path.join(logs, `${name}.log`))}`);
            return true;
        };
        const started = Date.now();

        const etcdUrl = `http://127.0.0.1:${etcdPort}`;
        const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
        run("etcd", [
            "--name", "default", "--data-dir", path.join(dir, "etcd"),
            "--listen-client-urls", etcdUrl, "--advertise-client-urls", etcdUrl,
            "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", `default=${peerUrl}`,
            // A throwaway test store: no fsync, which costs seconds on a loaded disk.
            "--unsafe-no-fsync",
            "--log-level", "warn",
        ]);
        run("kube-apiserver", [
            "--etcd-servers", etcdUrl,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String(apiPort),
            "--tls-cert-file", path.join(pki, "apiserver.crt"), "--tls-private-key-file", path.join(pki, "apiserver.key"),
            "--client-ca-file", path.join(pki, "ca.crt"),
            "--service-account-key-file", path.join(pki, "service-account.pub"),
            "--service-account-signing-key-file", path.join(pki, "service-account.key"),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range", "10.96.0.0/16",
            "--authorization-mode", "Node,RBAC",
            // With a loopback advertise address the default reconciler logs an error every 10 s.
            "--endpoint-reconciler-type", "none",
            "--profiling=false",
        ]);
        await waitFor("kube-apiserver /readyz", 90_000, async () => running("etcd") && running("kube-apiserver") && (await adminGet(cp, "/readyz")).status === 200,
            () => logTail(path.join(logs, "kube-apiserver.log")));
        log(`kube-apiserver ready at ${server} after ${((Date.now() - started) / 1000).toFixed(1)} s`);

        run("kube-controller-manager", [
            "--kubeconfig", path.join(dir, "controller-manager.kubeconfig"),
            "--authentication-kubeconfig", path.join(dir, "controller-manager.kubeconfig"),
            "--authorization-kubeconfig", path.join(dir, "controller-manager.kubeconfig"),
            "--bind-address", "127.0.0.1", "--secure-port", String(cmPort),
            "--leader-elect=false",
            // A fake node on a loaded machine: do not mark it NotReady (and its pods unready) over a late heartbeat.
            "--node-monitor-grace-period", "5m",
            "--service-account-private-key-file", path.join(pki, "service-account.key"),
            "--root-ca-file", path.join(pki, "ca.crt"),
            "--use-service-account-credentials=true",
            "--profiling=false",
        ]);
        run("kube-scheduler", [
            "--kubeconfig", path.join(dir, "scheduler.kubeconfig"),
            "--authentication-kubeconfig", path.join(dir, "scheduler.kubeconfig"),
            "--authorization-kubeconfig", path.join(dir, "scheduler.kubeconfig"),
            "--bind-address", "127.0.0.1", "--secure-port", String(schedPort),
            "--leader-elect=false",
            "--profiling=false",
        ]);
        run("kwok", [
            "--kubeconfig", cp.kubeconfig,
            "--config", path.join(binDir, "kwok-stages.yaml"),
            "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
            "--cidr", "10.244.0.0/16",
            // The heartbeat stage leaves node health to a Lease that kwok renews; without one the
            // node goes NotReady after 40 s and its pods lose Ready.
            "--node-lease-duration-seconds", "40",
        ]);

        kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-cluster", "-f", path.join(binDir, "istio-crds.yaml")]);
        kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-cluster", "-f", "-"], [
            "apiVersion: v1",
            "kind: Node",
            "metadata:",
            `  name: ${node}`,
            "  annotations:",
            "    kwok.x-k8s.io/node: fake",
            "    node.alpha.kubernetes.io/ttl: \"0\"",
            "  labels:",
            "    type: kwok",
            `    kubernetes.io/hostname: ${node}`,
            "    kubernetes.io/os: linux",
            "    kubernetes.io/arch: amd64",
            "",
        ].join("\n"));
        kubectl(cp, ["wait", "--for", "condition=Established", "crd", "--all", "--timeout", "60s"]);
        await waitFor(`node ${node} Ready`, 60_000, () => {
            for (const name of components) running(name);
            const n = JSON.parse(kubectl(cp, ["get", "node", node, "-o", "json"]));
            return n.status?.conditions?.some((x: any) => x.type === "Ready" && x.status === "True") ?? false;
        }, () => logTail(path.join(logs, "kwok.log")));
        // Pods are refused until the ServiceAccount controller has made `default`.
        await waitFor("the default ServiceAccount", 60_000, () => {
            kubectl(cp, ["get", "serviceaccount", "default", "-n", "default", "-o", "name"]);
            return true;
        }, () => logTail(path.join(logs, "kube-controller-manager.log")));
        log(`control plane ready after ${((Date.now() - started) / 1000).toFixed(1)} s (${dir})`);
        return cp;
    } catch (e) {
        await stop(cp, { keepDir: true });
        throw e instanceof ControlPlaneError ? new ControlPlaneError(`${e.message}\n(logs kept in ${logs})`) : e;
    }
}

/** Reads the record `start` wrote in a control plane's directory. */
export function load(dir: string): ControlPlane {
    const file = path.join(dir, "cluster.json");
    if (!fs.existsSync(file)) throw new ControlPlaneError(`${dir} holds no control plane (no cluster.json)`);
    return JSON.parse(fs.readFileSync(file, "utf8")) as ControlPlane;
}

/**
 * Stops every process of the control plane (SIGTERM to all, SIGKILL to what still runs after
 * 3 s: the data is thrown away) and removes its directory unless `keepDir`. Only the recorded
 * process ids are signalled.
 */
export async function stop(cp: ControlPlane, options: { keepDir?: boolean } = {}): Promise<void> {
    const pids = components.map((name) => cp.pids[name]).filter((pid): pid is number => pid !== undefined && alive(pid));
    const signal = (pid: number, sig: NodeJS.Signals): void => {
        try {
            process.kill(pid, sig);
        } catch {
            // already gone
        }
    };
    for (const pid of pids) {
        signal(pid, "SIGTERM");
        owned.delete(pid);
    }
    const deadline = Date.now() + 3_000;
    while (pids.some(alive) && Date.now() < deadline) await sleep(50);
    for (const pid of pids.filter(alive)) signal(pid, "SIGKILL");
    while (pids.some(alive)) await sleep(20);
    if (!options.keepDir) fs.rmSync(cp.dir, { recursive: true, force: true });
}

/** True when every process of the control plane is still running. */
export function isRunning(cp: ControlPlane): boolean {
    return components.every((name) => cp.pids[name] !== undefined && alive(cp.pids[name]!));
}

/**
 * The TCP addresses a process listens on (`127.0.0.1:6443`, `[::]:10250`, ...), read from
 * /proc: its socket inodes matched against the kernel's tables. Linux only.
 */
export function listeningAddresses(pid: number): string[] {
    const inodes = new Set<string>();
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
            const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
            if (m) inodes.add(m[1]);
        } catch {
            // closed meanwhile
        }
    }
    const out: string[] = [];
    for (const [table, v6] of [["tcp", false], ["tcp6", true]] as const) {
        let text: string;
        try {
            text = fs.readFileSync(`/proc/${pid}/net/${table}`, "utf8");
        } catch {
            continue;
        }
        for (const line of text.trim().split("\n").slice(1)) {
            const f = line.trim().split(/\s+/);
            // f[1] local address, f[3] state (0A = LISTEN), f[9] inode
            if (f[3] !== "0A" || !inodes.has(f[9])) continue;
            const [hex, portHex] = f[1].split(":");
            const port = parseInt(portHex, 16);
            if (!v6) {
                const b = Buffer.from(hex, "hex");
                out.push(`${[b[3], b[2], b[1], b[0]].join(".")}:${port}`);
            } else {
                // Four little-endian 32-bit words.
                const words = hex.match(/.{8}/g)!.map((w) => Buffer.from(w, "hex").reverse().toString("hex"));
                const groups = words.join("").match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ""));
                const text6 = groups.join(":");
                out.push(`[${text6 === "0:0:0:0:0:0:0:0" ? "::" : text6 === "0:0:0:0:0:0:0:1" ? "::1" : text6}]:${port}`);
            }
        }
    }
    return out.sort();
}

// A local Kubernetes control plane on loopback: etcd, kube-apiserver (client-certificate auth),
// kube-controller-manager, kube-scheduler and kwok (one fake node that marks pods Running and
// Ready), with Istio's CRDs and the Gateway API's standard-channel CRDs installed. Built by toolchain/cluster/ensure.sh; started and stopped
// here, by `npm run cluster:up` / `cluster:down` and by the cluster tests.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { processStartTicks } from "../stacks/operations/process";
import { toolchainLocator } from "../stacks/operations/toolchain-dir";

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
    /** The loopback ports it listens on, kept so that a restart uses the same ones (absent in records written before they were kept). */
    ports?: Ports;
}

/** The 127.0.0.1 ports of a control plane's processes. */
export interface Ports {
    etcd: number;
    etcdPeer: number;
    apiserver: number;
    controllerManager: number;
    scheduler: number;
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

/**
 * True while a process with this pid exists and has not exited: a process killed after its parent
 * went (the control plane's processes outlive `cluster:up`) can stay a zombie until something
 * reaps it, and a zombie still answers signal 0.
 */
export function alive(pid: number): boolean {
    if (fs.existsSync("/proc/self/stat")) return processStartTicks(pid) !== undefined;
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
    /**
     * Install the Gateway API's standard-channel CRDs beside Istio's (`cluster:up` does; default
     * false: they add seconds to a start, and most tests route with Istio's objects only). Without
     * them the cluster does not serve HTTPRoute or GRPCRoute (what the preflight refuses `router:
     * gateway-api` on); `installGatewayApiCrds` adds them later.
     */
    gatewayApiCrds?: boolean;
}

/** The CRD files toolchain/cluster/ensure.sh writes beside the binaries. */
export const istioCrdsFile = "istio-crds.yaml";
export const gatewayApiCrdsFile = "gateway-api-crds.yaml";

/**
 * Installs the Gateway API's standard-channel CRDs (HTTPRoute, GRPCRoute, Gateway, ...: the
 * `config/crd/standard` folder of the sigs.k8s.io/gateway-api module that ensure.sh copies) and
 * waits until HTTPRoute and GRPCRoute are served. istiod takes them up best when they exist
 * before it starts. `start` does this when asked (`gatewayApiCrds`).
 */
export function installGatewayApiCrds(cp: Pick<ControlPlane, "binDir" | "kubeconfig">): void {
    kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-cluster", "-f", path.join(cp.binDir, gatewayApiCrdsFile)]);
    kubectl(cp, ["wait", "--for", "condition=Established", "crd/httproutes.gateway.networking.k8s.io", "crd/grpcroutes.gateway.networking.k8s.io", "--timeout", "60s"]);
}

/**
 * Starts a control plane in a new temp directory and returns once the API server is ready, the
 * Istio CRDs (and the Gateway API's, with `gatewayApiCrds`) are Established, the kwok node is Ready and the `default` ServiceAccount exists.
 * The processes are detached (they outlive this process); `stop` ends them. On a failure
 * everything started so far is stopped and the error carries the failing component's log.
 */
export async function start(options: StartOptions = {}): Promise<ControlPlane> {
    const binDir = options.binDir ?? clusterToolchainDir();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-cluster-"));
    const pki = path.join(dir, "pki");
    fs.mkdirSync(path.join(dir, "logs"));
    const [etcd, etcdPeer, apiserver, controllerManager, scheduler] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiserver}`;
    const cp: ControlPlane = {
        dir, kubeconfig: path.join(dir, "admin.kubeconfig"), server, binDir, pids: {}, node: "kwok-node-0",
        ports: { etcd, etcdPeer, apiserver, controllerManager, scheduler },
    };
    try {
        makeCertificates(pki, {
            admin: "/O=system:masters/CN=model-canary-admin",
            "controller-manager": "/CN=system:kube-controller-manager",
            scheduler: "/CN=system:kube-scheduler",
        });
        writeKubeconfig(cp.kubeconfig, server, pki, "admin");
        writeKubeconfig(path.join(dir, "controller-manager.kubeconfig"), server, pki, "controller-manager");
        writeKubeconfig(path.join(dir, "scheduler.kubeconfig"), server, pki, "scheduler");
    } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
    }
    try {
        return await launch(cp, options);
    } catch (e) {
        // A cluster that never started has no data to keep: its logs stay, its keys do not.
        for (const f of ["pki", "admin.kubeconfig", "controller-manager.kubeconfig", "scheduler.kubeconfig"]) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
        throw e;
    }
}

/**
 * True while the recorded process of a component runs: alive, and (where /proc tells) still the
 * component's binary, not another process that was given the pid of a dead one.
 */
export function runs(cp: Pick<ControlPlane, "pids" | "binDir">, name: Component): boolean {
    const pid = cp.pids[name];
    if (pid === undefined || !alive(pid)) return false;
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] === path.join(cp.binDir, name);
    } catch {
        return alive(pid);
    }
}

/** The components of a control plane that are not running (all of them for a stopped one). */
export function notRunning(cp: ControlPlane): Component[] {
    return components.filter((name) => !runs(cp, name));
}

/**
 * Starts again a control plane one or more of whose processes died: what still runs is stopped,
 * and every process starts again in the same directory, on the same ports, with the same
 * certificates and etcd data, so the kubeconfig (same path) and every object stay as they were.
 * Refuses, changing nothing, when the port of a process that died is now taken by another process.
 */
export async function restart(cp: ControlPlane, options: StartOptions = {}): Promise<ControlPlane> {
    if (!fs.existsSync(path.join(cp.dir, "etcd"))) throw new ControlPlaneError(`cannot restart the control plane in ${cp.dir}: its etcd data (${path.join(cp.dir, "etcd")}) is gone`);
    const apiserver = Number(new URL(cp.server).port);
    // Records written before the ports were kept name only the API server's (in the kubeconfig).
    const [etcd, etcdPeer, controllerManager, scheduler] = cp.ports
        ? [cp.ports.etcd, cp.ports.etcdPeer, cp.ports.controllerManager, cp.ports.scheduler]
        : await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const ports: Ports = { etcd, etcdPeer, apiserver, controllerManager, scheduler };
    // The ports of the processes that died must be free; those of the survivors are theirs until they are stopped.
    const owners: Record<keyof Ports, Component> = { etcd: "etcd", etcdPeer: "etcd", apiserver: "kube-apiserver", controllerManager: "kube-controller-manager", scheduler: "kube-scheduler" };
    const dead = notRunning(cp);
    for (const [what, port] of Object.entries(ports) as [keyof Ports, number][]) {
        if (!dead.includes(owners[what])) continue;
        const holder = await portTaken(port);
        if (holder !== false) {
            const who = holder === undefined ? "another process" : `another process (pid ${holder.pid}, ${holder.command})`;
            throw new ControlPlaneError(`cannot restart the local control plane in ${cp.dir}: 127.0.0.1:${port}, its ${what === "apiserver" ? `API server's port (the one in ${cp.kubeconfig})` : `${owners[what]} port`}, is in use by ${who}. `
                + "Its data is kept: stop that process and run `npm run -s cluster:up` again, or `npm run -s cluster:down` to remove it (its objects are lost) and `cluster:up` for a new one.");
        }
    }
    await stop(cp, { keepDir: true });
    return launch({ ...cp, binDir: options.binDir ?? cp.binDir, pids: {}, ports }, options);
}

/** False when 127.0.0.1:port can be listened on; else the process listening there if it can be found. */
async function portTaken(port: number): Promise<false | { pid: number; command: string } | undefined> {
    const free = await new Promise<boolean>((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return false;
    for (const name of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
        try {
            if (listeningAddresses(Number(name)).some((a) => a.endsWith(`:${port}`))) {
                return { pid: Number(name), command: fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0")[0] };
            }
        } catch {
            // gone, or not ours to read
        }
    }
    return undefined;
}

/** Starts the processes of a control plane whose directory is ready (certificates, kubeconfigs) and waits until it serves. */
async function launch(cp: ControlPlane, options: StartOptions): Promise<ControlPlane> {
    const { dir, binDir, node } = cp;
    const ports = cp.ports!;
    const log = options.log ?? (() => undefined);
    const pki = path.join(dir, "pki");
    const logs = path.join(dir, "logs");
    const save = (): void => fs.writeFileSync(path.join(dir, "cluster.json"), JSON.stringify(cp, null, 2) + "\n");
    save();

    try {
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

        const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
        const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
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
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", String(ports.apiserver),
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
        log(`kube-apiserver ready at ${cp.server} after ${((Date.now() - started) / 1000).toFixed(1)} s`);

        run("kube-controller-manager", [
            "--kubeconfig", path.join(dir, "controller-manager.kubeconfig"),
            "--authentication-kubeconfig", path.join(dir, "controller-manager.kubeconfig"),
            "--authorization-kubeconfig", path.join(dir, "controller-manager.kubeconfig"),
            "--bind-address", "127.0.0.1", "--secure-port", String(ports.controllerManager),
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
            "--bind-address", "127.0.0.1", "--secure-port", String(ports.scheduler),
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

        // One apply for both sets of CRDs: Istio's, and the Gateway API's when asked.
        const crdFiles = [istioCrdsFile, ...(options.gatewayApiCrds ? [gatewayApiCrdsFile] : [])];
        kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-cluster", ...crdFiles.flatMap((f) => ["-f", path.join(binDir, f)])]);
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
    const pids = components.filter((name) => runs(cp, name)).map((name) => cp.pids[name]!);
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
    return notRunning(cp).length === 0;
}

/** True when the API server answers /readyz with 200 within 5 s. */
export async function isReady(cp: Pick<ControlPlane, "dir" | "server">): Promise<boolean> {
    try {
        return (await adminGet(cp, "/readyz")).status === 200;
    } catch {
        return false;
    }
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

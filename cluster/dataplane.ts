// The test data plane on loopback: gRPC model backends (model-server) registered with the mesh as
// WorkloadEntries, and a proxyless gRPC client (model-client) that istiod routes over xDS.
// Built by toolchain/dataplane/ensure.sh (Go sources in toolchain/dataplane/go). Every address
// is in 127.0.0.0/8; the Go programs refuse any other, and `assertLoopbackEndpoints` (istiod.ts)
// checks what istiod serves before a request is sent.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { alive, ControlPlane, ControlPlaneError, forgetOnExit, kubectl, logTail, sleep, stopOnExit } from "./controlplane";
import { Istiod, isLoopback } from "./istiod";
import { toolchainLocator } from "../stacks/operations/toolchain-dir";

const projectDir = path.resolve(__dirname, "..");

/** The data plane's binaries: `$MODEL_CANARY_DATAPLANE_TOOLCHAIN`, or what toolchain/dataplane/ensure.sh prints last. */
export const dataplaneToolchainDir = toolchainLocator({
    envVar: "MODEL_CANARY_DATAPLANE_TOOLCHAIN",
    script: path.join(projectDir, "toolchain", "dataplane", "ensure.sh"),
    what: "the test data plane",
    fail: (message) => new ControlPlaneError(message),
});

/** A child process that prints one JSON line when it is ready. */
interface Started {
    pid: number;
    ready: Record<string, string>;
    log: string;
}

/** Starts `bin` with `args`, waits for its JSON ready line on stdout, and kills it when Node exits. */
async function startReporting(bin: string, args: string[], logFile: string, timeoutMs = 30_000): Promise<Started> {
    const err = fs.openSync(logFile, "a");
    const child: ChildProcess = spawn(bin, args, { detached: true, stdio: ["ignore", "pipe", err] });
    fs.closeSync(err);
    if (child.pid === undefined) throw new ControlPlaneError(`${bin} did not start`);
    const pid = child.pid;
    stopOnExit(pid);
    child.unref();
    try {
        const ready = await new Promise<Record<string, string>>((resolve, reject) => {
            let buffered = "";
            const timer = setTimeout(() => reject(new ControlPlaneError(`${path.basename(bin)} did not report ready within ${timeoutMs / 1000} s\n${logTail(logFile)}`)), timeoutMs);
            child.stdout!.setEncoding("utf8");
            child.stdout!.on("data", (chunk: string) => {
                buffered += chunk;
                const nl = buffered.indexOf("\n");
                if (nl < 0) return;
                clearTimeout(timer);
                try {
                    resolve(JSON.parse(buffered.slice(0, nl)));
                } catch (e) {
                    reject(new ControlPlaneError(`${path.basename(bin)} printed ${JSON.stringify(buffered.slice(0, nl))} instead of its ready line`));
                }
            });
            child.on("exit", (code) => {
                clearTimeout(timer);
                reject(new ControlPlaneError(`${path.basename(bin)} exited with code ${code} before it was ready\n${logTail(logFile)}`));
            });
        });
        // Keep reading (and discarding) stdout so the child never blocks on a full pipe.
        child.stdout!.resume();
        (child.stdout as unknown as { unref?: () => void }).unref?.();
        return { pid, ready, log: logFile };
    } catch (e) {
        await stopProcess(pid);
        throw e;
    }
}

async function stopProcess(pid: number): Promise<void> {
    const signal = (sig: NodeJS.Signals): void => {
        try {
            process.kill(pid, sig);
        } catch {
            // already gone
        }
    };
    signal("SIGTERM");
    const deadline = Date.now() + 3_000;
    while (alive(pid) && Date.now() < deadline) await sleep(20);
    if (alive(pid)) signal("SIGKILL");
    while (alive(pid)) await sleep(20);
    forgetOnExit(pid);
}

/** A JSON request on loopback; rejects on a non-2xx answer with its body. */
function requestJson(url: string, method: string, body?: unknown, timeoutMs = 120_000): Promise<any> {
    const u = new URL(url);
    if (!isLoopback(u.hostname)) return Promise.reject(new ControlPlaneError(`refusing to contact ${url}: not in 127.0.0.0/8`));
    return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(url, { method, timeout: timeoutMs, headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {} }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (text += c));
            res.on("end", () => {
                if ((res.statusCode ?? 0) >= 300) return reject(new ControlPlaneError(`${method} ${url} answered ${res.statusCode}: ${text.trim()}`));
                try {
                    resolve(JSON.parse(text));
                } catch {
                    reject(new ControlPlaneError(`${method} ${url} answered something other than JSON: ${text.slice(0, 200)}`));
                }
            });
        });
        req.on("timeout", () => req.destroy(new ControlPlaneError(`${method} ${url} timed out`)));
        req.on("error", reject);
        req.end(payload);
    });
}

export interface Behaviour {
    /** Share of requests answered with a gRPC error (exact, not random), 0-1. */
    errorRatio?: number;
    /** Added to every request's handling time (ms). */
    latencyMs?: number;
    /** Added to every prediction score (0-1 scale). */
    predictionShift?: number;
    /** gRPC status code of failing requests; default 14 (UNAVAILABLE). */
    errorCode?: number;
}

export interface Backend {
    app: string;
    version: string;
    /** `127.0.0.x` */
    address: string;
    grpcPort: number;
    /** `127.0.0.x:<port>` of /metrics, for a Prometheus scrape target. */
    metricsTarget: string;
    pid: number;
    setBehaviour(b: Behaviour): Promise<Behaviour>;
    /** Requests it answered, OK and failed, and when Prometheus last read its /metrics (Unix ms, 0 before). */
    counts(): Promise<{ ok: number; failed: number; scrapes: number; lastScrapeMs: number }>;
    stop(): Promise<void>;
}

export interface BackendOptions {
    binDir: string;
    app: string;
    version: string;
    /** A loopback address, e.g. `127.0.0.2`. */
    address: string;
    namespace?: string;
    /** The Service's name (`destination_service_name`). */
    service: string;
    /** Directory for its log. */
    logDir: string;
    seed?: number;
}

/** Starts a model-server on a free port of `address`. */
export async function startBackend(o: BackendOptions): Promise<Backend> {
    if (!isLoopback(o.address)) throw new ControlPlaneError(`a backend address must be in 127.0.0.0/8, got ${o.address}`);
    const namespace = o.namespace ?? "default";
    const s = await startReporting(path.join(o.binDir, "model-server"), [
        "--grpc", `${o.address}:0`, "--http", `${o.address}:0`,
        "--app", o.app, "--version", o.version, "--workload", `${o.app}-${o.version}`,
        "--namespace", namespace, "--service", o.service, "--seed", String(o.seed ?? 1),
    ], path.join(o.logDir, `model-server-${o.app}-${o.version}-${o.address}.log`));
    const admin = `http://${s.ready.http}`;
    return {
        app: o.app,
        version: o.version,
        address: o.address,
        grpcPort: Number(s.ready.grpc.split(":").pop()),
        metricsTarget: s.ready.http,
        pid: s.pid,
        setBehaviour: (b) => requestJson(`${admin}/behaviour`, "PUT", b),
        counts: () => requestJson(`${admin}/counts`, "GET"),
        stop: () => stopProcess(s.pid),
    };
}

/**
 * Registers backends with the mesh: one WorkloadEntry each, labelled `app` and `version` as the
 * Deployments' pods are, so the Service's selector and the DestinationRule's subsets select them.
 * Kubernetes refuses 127.x addresses in EndpointSlices; istiod takes WorkloadEntries as they are.
 * The port map sends the Service's `http` port to the backend's own gRPC port.
 */
export function registerBackends(cp: ControlPlane, backends: Backend[], namespace = "default"): void {
    const docs = backends.map((b) => [
        "apiVersion: networking.istio.io/v1",
        "kind: WorkloadEntry",
        "metadata:",
        `  name: ${b.app}-${b.version}-${b.address.replace(/\./g, "-")}`,
        `  namespace: ${namespace}`,
        "spec:",
        `  address: ${b.address}`,
        "  labels:",
        `    app: ${b.app}`,
        `    version: ${b.version}`,
        "  ports:",
        `    http: ${b.grpcPort}`,
    ].join("\n"));
    kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-dataplane", "-f", "-"], docs.join("\n---\n") + "\n");
}

export interface SendResult {
    sent: number;
    /** Answers by the version that gave them. */
    versions: Record<string, number>;
    /** Failed requests by gRPC status name. */
    errors: Record<string, number>;
    /** Requests by backend address. */
    peers: Record<string, number>;
    /** Unix time (ms) of the last successful answer from each version. */
    lastSeenMs: Record<string, number>;
    /** Unix time (ms) of the last answer, successful or not, from each backend address (`127.0.0.x:port`). */
    lastPeerMs: Record<string, number>;
}

export interface LoadOptions {
    rps: number;
    headers?: Record<string, string>;
}

export interface Client {
    pid: number;
    /** Matches it in istiod's /debug/syncz (`<name>.<namespace>`), for `routeNonces` and `waitForRoutePush`. */
    proxy: RegExp;
    /** `xds:///<host>:<port>` */
    target: string;
    /** Sends `count` requests at `rps` and resolves with what answered them. */
    send(count: number, options: LoadOptions): Promise<SendResult>;
    /** Starts a steady background stream. */
    startStream(options: LoadOptions): Promise<void>;
    /** What the running (or last) stream has seen so far. */
    readStream(): Promise<SendResult>;
    /** Stops the stream; resolves with its final counts. */
    stopStream(): Promise<SendResult>;
    stop(): Promise<void>;
}

export interface ClientOptions {
    binDir: string;
    istiod: Istiod;
    /** `model-service.default.svc.cluster.local:80` */
    authority: string;
    namespace?: string;
    /** The name it presents to istiod (unique per client: istiod's debug pages are keyed by it). */
    name: string;
    logDir: string;
}

/** Starts a model-client that gets its routes from istiod. */
export async function startClient(o: ClientOptions): Promise<Client> {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.name)) throw new ControlPlaneError(`a client name must be a DNS label, got ${JSON.stringify(o.name)}`);
    const target = `xds:///${o.authority}`;
    const s = await startReporting(path.join(o.binDir, "model-client"), [
        "--xds", o.istiod.xdsAddress, "--target", target, "--admin", "127.0.0.1:0", "--namespace", o.namespace ?? "default", "--name", o.name,
    ], path.join(o.logDir, `${o.name}.log`));
    const admin = `http://${s.ready.admin}`;
    const body = (count: number | undefined, l: LoadOptions) => ({ ...(count === undefined ? {} : { count }), rps: l.rps, headers: l.headers ?? {} });
    return {
        pid: s.pid,
        proxy: new RegExp(`^${o.name}\\.${o.namespace ?? "default"}$`),
        target,
        send: (count, l) => requestJson(`${admin}/send`, "POST", body(count, l), Math.max(120_000, (count / l.rps) * 1000 + 60_000)),
        startStream: async (l) => void (await requestJson(`${admin}/stream`, "POST", body(undefined, l))),
        readStream: () => requestJson(`${admin}/stream`, "GET"),
        stopStream: () => requestJson(`${admin}/stream`, "DELETE"),
        stop: () => stopProcess(s.pid),
    };
}

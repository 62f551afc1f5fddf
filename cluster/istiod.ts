// Istio's control plane (istiod, `pilot-discovery discovery`) outside a cluster, against the local
// control plane (cluster/controlplane.ts): it watches the API server through the admin kubeconfig
// and serves xDS to proxyless gRPC clients. Every listener is on 127.0.0.1 with a free port.
// Built by toolchain/dataplane/ensure.sh; started and stopped by the data-plane tests and the
// rollback-traffic benchmark.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { alive, ControlPlane, ControlPlaneError, forgetOnExit, freePort, kubectl, logTail, sleep, stopOnExit, waitFor } from "./controlplane";

export interface Istiod {
    pid: number;
    /** Plaintext xDS (gRPC), `127.0.0.1:<port>`. */
    xdsAddress: string;
    /** Readiness and debug endpoints, `http://127.0.0.1:<port>`. */
    httpUrl: string;
    log: string;
}

export interface IstiodOptions {
    /** The data plane's binaries (pilot-discovery among them). */
    binDir: string;
    /**
     * PILOT_DEBOUNCE_AFTER: how long istiod waits for more changes before pushing. Istio's
     * default is 100ms; tests use 10ms so that a change reaches the clients sooner.
     */
    debounceAfter?: string;
    log?: (message: string) => void;
}

/** GET on istiod's HTTP port; resolves with the status and body. */
export function istiodGet(istiod: Pick<Istiod, "httpUrl">, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(`${istiod.httpUrl}${urlPath}`, { timeout: 5000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${istiod.httpUrl}${urlPath} timed out`)));
        req.on("error", reject);
    });
}

/**
 * Starts istiod against `cp` (creating the `istio-system` namespace it lives in) and returns once
 * `/ready` answers 200. Killed when this Node.js process exits; `stopIstiod` ends it sooner.
 */
export async function startIstiod(cp: ControlPlane, options: IstiodOptions): Promise<Istiod> {
    const log = options.log ?? (() => undefined);
    kubectl(cp, ["apply", "--server-side", "--field-manager", "model-canary-cluster", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n");
    const dir = path.join(cp.dir, "istiod");
    fs.mkdirSync(dir, { recursive: true });
    const meshConfig = path.join(dir, "mesh.yaml");
    fs.writeFileSync(meshConfig, ["rootNamespace: istio-system", "trustDomain: cluster.local", "enableTracing: false", ""].join("\n"));
    const [httpPort, grpcPort, secureGrpcPort, httpsPort, monitoringPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const logFile = path.join(cp.dir, "logs", "istiod.log");
    const out = fs.openSync(logFile, "a");
    const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        POD_NAME: "istiod-local",
        POD_NAMESPACE: "istio-system",
        REVISION: "default",
        PILOT_DEBOUNCE_AFTER: options.debounceAfter ?? "100ms",
        // No webhooks or gateways here: istiod serves xDS for the mesh's VirtualServices, and for
        // its Gateway API routes (HTTPRoute and GRPCRoute attached to a Service, GAMMA), which it
        // turns into internal VirtualServices; without this it ignores them silently. It neither
        // writes their status nor deploys gateways.
        PILOT_ENABLE_GATEWAY_API: "true",
        PILOT_ENABLE_GATEWAY_API_STATUS: "false",
        PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: "false",
        PILOT_ENABLE_GATEWAY_API_GATEWAYCLASS_CONTROLLER: "false",
        VALIDATION_WEBHOOK_CONFIG_NAME: "",
        INJECTION_WEBHOOK_CONFIG_NAME: "",
    };
    const child: ChildProcess = spawn(path.join(options.binDir, "pilot-discovery"), [
        "discovery",
        "--kubeconfig", cp.kubeconfig,
        "--meshConfig", meshConfig,
        "--networksConfig", path.join(dir, "mesh-networks.yaml"),
        "--httpAddr", `127.0.0.1:${httpPort}`,
        "--grpcAddr", `127.0.0.1:${grpcPort}`,
        "--secureGRPCAddr", `127.0.0.1:${secureGrpcPort}`,
        "--httpsAddr", `127.0.0.1:${httpsPort}`,
        "--monitoringAddr", `127.0.0.1:${monitoringPort}`,
        "--ctrlz_address", "127.0.0.1", "--ctrlz_port", "0",
        "--domain", "cluster.local",
        "--shutdownDuration", "1s",
        "--log_output_level", "default:warn",
    ], { cwd: dir, detached: true, stdio: ["ignore", out, out], env });
    fs.closeSync(out);
    if (child.pid === undefined) throw new ControlPlaneError(`pilot-discovery did not start (${path.join(options.binDir, "pilot-discovery")})`);
    child.unref();
    stopOnExit(child.pid);
    const istiod: Istiod = { pid: child.pid, xdsAddress: `127.0.0.1:${grpcPort}`, httpUrl: `http://127.0.0.1:${httpPort}`, log: logFile };
    const started = Date.now();
    try {
        await waitFor("istiod /ready", 60_000, async () => {
            if (!alive(istiod.pid)) throw new ControlPlaneError(`istiod exited; the end of ${logFile}:\n${logTail(logFile)}`);
            return (await istiodGet(istiod, "/ready")).status === 200;
        }, () => logTail(logFile));
    } catch (e) {
        await stopIstiod(istiod);
        throw e;
    }
    log(`istiod ready after ${((Date.now() - started) / 1000).toFixed(1)} s (xDS ${istiod.xdsAddress})`);
    return istiod;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
export async function stopIstiod(istiod: Istiod): Promise<void> {
    const signal = (sig: NodeJS.Signals): void => {
        try {
            process.kill(istiod.pid, sig);
        } catch {
            // already gone
        }
    };
    signal("SIGTERM");
    const deadline = Date.now() + 3_000;
    while (alive(istiod.pid) && Date.now() < deadline) await sleep(50);
    if (alive(istiod.pid)) signal("SIGKILL");
    while (alive(istiod.pid)) await sleep(20);
    forgetOnExit(istiod.pid);
}

/** Every endpoint address istiod holds for a Service host (`model-service.default.svc.cluster.local`). */
export async function serviceEndpoints(istiod: Istiod, host: string): Promise<string[]> {
    const r = await istiodGet(istiod, "/debug/endpointShardz");
    if (r.status !== 200) throw new ControlPlaneError(`istiod /debug/endpointShardz answered ${r.status}: ${r.body.slice(0, 200)}`);
    const shards = JSON.parse(r.body)[host];
    const addresses: string[] = [];
    const walk = (v: unknown, key = ""): void => {
        if (Array.isArray(v)) {
            for (const x of v) {
                if (/^addresses$/i.test(key) && typeof x === "string") addresses.push(x);
                else walk(x);
            }
        } else if (v && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) walk(x, k);
        } else if (/^address$/i.test(key) && typeof v === "string" && v !== "") {
            addresses.push(v);
        }
    };
    walk(shards);
    return [...new Set(addresses)].sort();
}

/** True for an IPv4 address in 127.0.0.0/8. */
export function isLoopback(address: string): boolean {
    const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
    return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

/**
 * Refuses (throws) unless istiod serves at least `expected` endpoints for the Service and every
 * one is in 127.0.0.0/8: a kwok pod's address (10.244.x) would send requests off the machine.
 * Waits up to `timeoutMs` for the endpoints to appear.
 */
export async function assertLoopbackEndpoints(istiod: Istiod, host: string, expected: number, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const endpoints = await serviceEndpoints(istiod, host);
        const outside = endpoints.filter((a) => !isLoopback(a));
        if (outside.length > 0) {
            throw new ControlPlaneError(`istiod serves endpoints outside 127.0.0.0/8 for ${host}: ${outside.join(", ")}; refusing to send requests (traffic must stay on this machine)`);
        }
        if (endpoints.length >= expected) return endpoints;
        if (Date.now() > deadline) throw new ControlPlaneError(`istiod serves ${endpoints.length} endpoints for ${host} (${endpoints.join(", ") || "none"}), expected ${expected}, after ${timeoutMs / 1000} s`);
        await sleep(100);
    }
}

/** The route configuration (RDS) istiod last sent to one client, and what the client acknowledged. */
export async function routeNonces(istiod: Istiod, proxy: RegExp): Promise<{ sent: string; acked: string }> {
    const r = await istiodGet(istiod, "/debug/syncz");
    if (r.status !== 200) throw new ControlPlaneError(`istiod /debug/syncz answered ${r.status}: ${r.body.slice(0, 200)}`);
    const matching = (JSON.parse(r.body) as { proxy?: string; route_sent?: string; route_acked?: string }[]).filter((s) => proxy.test(s.proxy ?? ""));
    if (matching.length !== 1) throw new ControlPlaneError(`istiod has ${matching.length} clients matching ${proxy} (${r.body.slice(0, 300)}), expected 1`);
    return { sent: matching[0].route_sent ?? "", acked: matching[0].route_acked ?? "" };
}

/**
 * Waits until istiod has sent the client routes newer than `previous` (a nonce from
 * `routeNonces`) and the client has acknowledged them: from then on it routes by the new
 * VirtualService. Resolves with the new nonce.
 */
export async function waitForRoutePush(istiod: Istiod, proxy: RegExp, previous: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const n = await routeNonces(istiod, proxy);
        if (n.sent !== previous && n.acked === n.sent) return n.acked;
        if (Date.now() > deadline) throw new ControlPlaneError(`istiod pushed no new routes to ${proxy} that it acknowledged within ${timeoutMs / 1000} s (route nonce sent ${n.sent}, acked ${n.acked}, before ${previous})`);
        await sleep(10);
    }
}

// Reading objects back from the local control plane (cluster/controlplane.ts) in tests, and a user of it without rights.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ControlPlane, kubectl } from "../../cluster/controlplane";

export interface ClusterReader {
    /** The live object, or undefined when the API server answers NotFound. */
    get(kind: string, name: string, namespace?: string): any | undefined;
    /** UIDs of the pods of one model version, sorted. */
    podUids(version: string, app?: string): string[];
    /** The live VirtualService's default-route weights by subset. */
    split(name?: string): Record<string, number>;
    /** Waits until the Deployment reports Available (kwok marks its pods Ready). */
    waitAvailable(name: string): void;
}

export function clusterReader(cp: ControlPlane): ClusterReader {
    return {
        get(kind, name, namespace = "default") {
            try {
                return JSON.parse(kubectl(cp, ["get", kind, name, "-n", namespace, "-o", "json"]));
            } catch (e) {
                if (/NotFound/.test((e as Error).message)) return undefined;
                throw e;
            }
        },
        podUids(version, app = "model") {
            const pods = JSON.parse(kubectl(cp, ["get", "pods", "-n", "default", "-l", `app=${app},version=${version}`, "-o", "json"])).items as any[];
            return pods.map((p) => p.metadata.uid as string).sort();
        },
        split(name = "model-virtual-service") {
            const vs = this.get("virtualservices.networking.istio.io", name);
            return Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
        },
        waitAvailable(name) {
            kubectl(cp, ["wait", "-n", "default", "--for", "condition=Available", `deployment/${name}`, "--timeout", "60s"]);
        },
    };
}

const seedStable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 2 };
const seedCanary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 2 };
/** One model at 10% with the seed's names and two replicas a version: the stack the cluster tests bind and own. */
export const clusterSeed = { serviceName: "model-service", virtualServiceName: "model-virtual-service", destinationRuleName: "model-destination", stable: seedStable, canary: seedCanary, canaryWeight: 10 };

/** The objects `clusterSeed`'s stack holds in the cluster, as [kind, name] for kubectl. */
export const clusterSeedObjects = [
    ["deployment", "model-v1"], ["deployment", "model-v2"], ["service", "model-service"],
    ["destinationrules.networking.istio.io", "model-destination"], ["virtualservices.networking.istio.io", "model-virtual-service"],
] as const;

/** Each of `clusterSeedObjects` as `uid@resourceVersion` (or `missing`), read live: what an update that changed nothing leaves as it was. */
export function objectIdentities(reader: ClusterReader): Record<string, string> {
    return Object.fromEntries(clusterSeedObjects.map(([kind, name]) => {
        const o = reader.get(kind, name);
        return [`${kind}/${name}`, o ? `${o.metadata.uid}@${o.metadata.resourceVersion}` : "missing"];
    }));
}

/** Each of `clusterSeedObjects`' UID (or `missing`), read live: what a replacement or a deletion changes. */
export function objectUids(reader: ClusterReader): Record<string, string> {
    return Object.fromEntries(clusterSeedObjects.map(([kind, name]) => [`${kind}/${name}`, reader.get(kind, name)?.metadata.uid ?? "missing"]));
}

/** The steps of an update or preview that changed something, as `op name`. */
export const changedSteps = (steps: { op: string; name: string }[]): string[] => steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`);

/**
 * A kubeconfig for a new ServiceAccount `name` in `namespace` that has no rights yet (a runner
 * whose RBAC the test grants, or not), written beside the control plane's, and its token.
 */
export function serviceAccountKubeconfig(cp: ControlPlane, name: string, namespace: string): { kubeconfig: string; token: string } {
    kubectl(cp, ["create", "serviceaccount", name, "-n", namespace]);
    const token = kubectl(cp, ["create", "token", name, "-n", namespace]).trim();
    const admins = YAML.parse(fs.readFileSync(cp.kubeconfig, "utf8"));
    const kubeconfig = path.join(cp.dir, `${name}.kubeconfig`);
    fs.writeFileSync(kubeconfig, YAML.stringify({
        apiVersion: "v1", kind: "Config", "current-context": name,
        clusters: [{ name: "local", cluster: admins.clusters[0].cluster }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: "local", user: name } }],
    }));
    return { kubeconfig, token };
}

/** One event of a Kubernetes watch: what happened to which object, at which resourceVersion. */
export interface WatchEvent {
    type: "ADDED" | "MODIFIED" | "DELETED";
    /** `HTTPRoute/model-service`. */
    object: string;
    resourceVersion: number;
}

export interface Watcher {
    /** Resolves once each watch has delivered the objects that existed when it started. */
    ready: Promise<void>;
    /**
     * Once `until` holds for the events received (say, the deletion the update ends with has
     * arrived; at most 30 s), stops the watches and returns every event of all of them, ordered
     * by resourceVersion (one etcd orders them all).
     */
    stop(until: (events: WatchEvent[]) => boolean): Promise<WatchEvent[]>;
}

/**
 * Watches the collections at `paths` (API paths, e.g. `/apis/networking.istio.io/v1/namespaces/default/virtualservices`)
 * with `kubectl get --raw ...?watch=true`, which streams one JSON event a line: first an ADDED for
 * each object that exists, then each change as the API server commits it.
 */
export function watchCollections(cp: ControlPlane, paths: string[]): Watcher {
    const events: WatchEvent[] = [];
    const children: ChildProcess[] = [];
    const readies: Promise<void>[] = [];
    for (const p of paths) {
        // The initial ADDED events are sent before the first change; a list tells how many to expect.
        const existing = (JSON.parse(kubectl(cp, ["get", "--raw", p])).items as unknown[]).length;
        const child = spawn(path.join(cp.binDir, "kubectl"), ["--kubeconfig", cp.kubeconfig, "get", "--raw", `${p}?watch=true`], { stdio: ["ignore", "pipe", "pipe"] });
        children.push(child);
        let seen = 0;
        let buffered = "";
        readies.push(new Promise((resolve, reject) => {
            if (existing === 0) resolve();
            child.on("exit", (code, signal) => { if (signal === null) reject(new Error(`the watch of ${p} ended (exit ${code})`)); });
            child.stdout!.setEncoding("utf8");
            child.stdout!.on("data", (chunk: string) => {
                buffered += chunk;
                const lines = buffered.split("\n");
                buffered = lines.pop()!;
                for (const line of lines.filter((l) => l.trim() !== "")) {
                    const e = JSON.parse(line);
                    events.push({ type: e.type, object: `${e.object.kind}/${e.object.metadata.name}`, resourceVersion: Number(e.object.metadata.resourceVersion) });
                    if (++seen === existing) resolve();
                }
            });
        }));
    }
    return {
        ready: Promise.all(readies).then(() => undefined),
        async stop(until) {
            for (let waited = 0; !until(events) && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
            for (const child of children) child.kill("SIGTERM");
            return [...events].sort((a, b) => a.resourceVersion - b.resourceVersion);
        },
    };
}

/** The objects present after each event (replayed in order), as sorted lists. */
export function presentAfterEach(events: WatchEvent[]): string[][] {
    const present = new Set<string>();
    return events.map((e) => {
        if (e.type === "DELETED") present.delete(e.object);
        else present.add(e.object);
        return [...present].sort();
    });
}

// Reading objects back from the local control plane (cluster/controlplane.ts) in tests, and a user of it without rights.
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

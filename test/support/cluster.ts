// Reading objects back from the local control plane (cluster/controlplane.ts) in tests.
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

// Which coordination store holds a stack's run locks and rollout records (see
// stacks/coordination/store.ts and docs/pipelines.md#what-is-locked-where):
// - a stack with a cluster (not render mode): a Lease per model in the model's namespace,
//   whatever the backend;
// - else a `file://` backend: its directory, which every checkout sharing that state reaches;
// - a `postgres://` backend: a table beside Pulumi's in that database;
// - any other backend: the checkout itself, which other runners cannot see (a one-line warning
//   says so).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { backendFor, StackRef, workDirOf } from "./automation";
import { shorthandModel } from "../config/models";
import { BackendDirectoryStore } from "../coordination/backend-directory";
import { PostgresStore } from "../coordination/postgres";
import { kubernetesLeaseStore } from "../coordination/kubernetes-lease";
import type { StackConfig } from "../config/config";
import type { CoordinationStore, RunKey } from "../coordination/store";

export interface RunStore {
    store: CoordinationStore;
    key: RunKey;
    /** Whether runners in other checkouts see this store. */
    shared: boolean;
    /** Said once per command when the store is not shared. */
    warning?: string;
}

/** The environment variable that sets a run lock's lease, in seconds (default 60). */
export const leaseSecondsVariable = "MODEL_CANARY_LEASE_SECONDS";

/** A run lock's lease in seconds: `MODEL_CANARY_LEASE_SECONDS`, else 60. */
export function leaseSeconds(env: NodeJS.ProcessEnv = process.env): number {
    const raw = env[leaseSecondsVariable];
    if (raw === undefined || raw === "") return 60;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 3600) {
        throw new Error(`\`${leaseSecondsVariable}\` must be a whole number of seconds from 1 to 3600, got ${JSON.stringify(raw)}`);
    }
    return n;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");

/** The directory of a `file://` backend URL, or undefined for any other backend. */
export function fileBackendDir(ref: StackRef): string | undefined {
    const url = backendFor(ref).url;
    if (!url.startsWith("file://")) return undefined;
    const dir = url.slice("file://".length).replace(/\?.*$/, "").replace(/^~(?=\/|$)/, os.homedir());
    return path.resolve(workDirOf(ref), dir);
}

/** The project's name (Pulumi.yaml), which keys its stacks' runs in a shared store. */
export function projectName(workDir: string): string {
    try {
        const name = YAML.parse(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"))?.name;
        return typeof name === "string" && name !== "" ? name : "project";
    } catch {
        return "project";
    }
}

/** The run key of a stack's model (`model` for the stack's own). */
export function runKey(ref: StackRef, model?: string): RunKey {
    return { project: projectName(workDirOf(ref)), stack: ref.stack, model: model ?? shorthandModel };
}

/** Whether a stack's config applies to a cluster (a `kubeconfig`, or the provider's own settings), not render mode. */
export function hasCluster(config: Pick<StackConfig, "kubeconfig" | "kubernetesProviderConfigured">): boolean {
    return config.kubeconfig !== undefined || config.kubernetesProviderConfigured;
}

/**
 * The store of a stack's run locks and records, and the key of `model`'s run in it. `config`, when
 * the stack's config could be read: a stack with a cluster keeps them there. Every command that
 * takes a stack's lock passes it, so that all choose the same store.
 */
export function runStoreFor(ref: StackRef, model?: string, config?: StackConfig): RunStore {
    const key = runKey(ref, model);
    if (config && hasCluster(config)) {
        const store = kubernetesLeaseStore({
            cluster: { kubeconfig: config.kubeconfig ?? config.kubernetesKubeconfig, context: config.kubernetesContext, configKey: config.kubeconfig !== undefined ? "kubeconfig" : "kubernetes:kubeconfig" },
            namespace: (m) => config.models[m]?.resolved.namespace ?? "",
        });
        return { store, key, shared: true };
    }
    const backendDir = fileBackendDir(ref);
    if (backendDir !== undefined) {
        return { store: new BackendDirectoryStore(path.join(backendDir, ".model-canary", "locks"), { label: `the backend directory ${backendDir}` }), key, shared: true };
    }
    const url = backendFor(ref).url;
    if (/^postgres(ql)?:\/\//i.test(url)) return { store: new PostgresStore({ url, env: { ...process.env, ...ref.env } }), key, shared: true };
    const workDir = workDirOf(ref);
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(backendFor(ref).url)?.[0] ?? "this";
    return {
        store: new BackendDirectoryStore(path.join(workDir, ".model-canary"), {
            leaseFile: (k) => path.join(workDir, ".model-canary", safe(k.stack), `run${k.model === shorthandModel ? "" : `@${k.model}`}.lock.json`),
            records: false,
            label: "this checkout",
        }),
        key,
        shared: false,
        // The URL may hold credentials: only its scheme is named.
        warning: `model-canary: warning: the run lock and rollout record of stack \`${ref.stack}\` stay in this checkout (its ${scheme} backend cannot hold them), so runners elsewhere do not see them; shared: a cluster, a file:// or postgres:// backend (docs/pipelines.md#what-is-locked-where)`,
    };
}

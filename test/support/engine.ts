// A throwaway copy of the project for tests through the real engine: the program's files are
// symlinked from the repo, while the stack settings, the state backend and the rendered
// manifests live in a temp dir of their own. With `kubeconfig`, the stack applies to that
// cluster instead of rendering.
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { projectDir, StackRef, toolchainDir } from "../../stacks/operations/automation";

const programFiles = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "api", "components", "stacks", "node_modules"];

export interface TestProject {
    dir: string;
    renderDir: string;
    ref: StackRef;
    /** The cluster the stack applies to, if any. */
    kubeconfig?: string;
    /** Writes Pulumi.<stack>.yaml with the given project keys (`renderDir`, relative to `dir`, or `kubeconfig` for a cluster project, is added). */
    writeConfig(config: Record<string, unknown>): void;
    /** Every rendered object, keyed `Kind/name`. */
    rendered(): Map<string, any>;
    /** The rendered VirtualService's default-route weights by subset (or the HTTPRoute's by version); empty before the first render. */
    renderedSplit(): Record<string, number>;
    /** A digest of every rendered file, to show nothing was written. */
    renderedDigest(): string;
    remove(): void;
}

export function makeProject(stack = "test", options: { kubeconfig?: string } = {}): TestProject {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-engine-"));
    for (const f of programFiles) fs.symlinkSync(path.join(projectDir, f), path.join(dir, f));
    const renderDir = path.join(dir, "rendered");
    const ref: StackRef = { stack, workDir: dir, backendUrl: `file://${path.join(dir, "state")}`, toolchainDir: toolchainDir() };
    fs.mkdirSync(path.join(dir, "state"));

    const files = (): string[] => fs.existsSync(renderDir)
        ? (fs.readdirSync(renderDir, { recursive: true }) as string[]).map((f) => path.join(renderDir, f)).filter((f) => fs.statSync(f).isFile()).sort()
        : [];
    return {
        dir,
        renderDir,
        ref,
        kubeconfig: options.kubeconfig,
        writeConfig(config) {
            // Keeps what the engine wrote there (the secrets salt) and replaces only the config.
            const file = path.join(dir, `Pulumi.${stack}.yaml`);
            const settings = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8")) ?? {} : {};
            // As an edit of the file in place would: the routing revisions the commands wrote there
            // stay unless the test sets its own (see stacks/config/routing-revision.ts).
            config = keepRoutingRevisions(settings.config ?? {}, config);
            // Relative, as the program requires: resolved against the project directory.
            settings.config = Object.fromEntries(Object.entries({ ...config, ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : { renderDir: path.relative(dir, renderDir) }) }).map(([k, v]) => [`model-canary:${k}`, v]));
            fs.writeFileSync(file, YAML.stringify(settings));
        },
        rendered() {
            const objects = new Map<string, any>();
            for (const f of files()) {
                for (const doc of YAML.parseAllDocuments(fs.readFileSync(f, "utf8"))) {
                    const o = doc.toJS();
                    if (o) objects.set(`${o.kind}/${o.metadata.name}`, o);
                }
            }
            return objects;
        },
        renderedSplit() {
            const objects = this.rendered();
            const vs = objects.get("VirtualService/model-virtual-service");
            if (vs) return Object.fromEntries(vs.spec.http.at(-1).route.map((r: any) => [r.destination.subset, r.weight]));
            // `router: gateway-api`: the HTTPRoute's default rule, its backends named `<service>-<version>`.
            const route = [...objects.values()].find((o) => o.kind === "HTTPRoute");
            const service = route?.spec.parentRefs.find((p: any) => p.kind === "Service")?.name;
            return route ? Object.fromEntries(route.spec.rules.at(-1).backendRefs.map((b: any) => [b.name.slice(service.length + 1), b.weight])) : {};
        },
        renderedDigest() {
            const h = crypto.createHash("sha256");
            for (const f of files()) h.update(f).update(fs.readFileSync(f));
            return h.digest("hex");
        },
        remove() {
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/** `config` with the `routingRevision` of each model the old settings' `config` map held and `config` does not set. */
function keepRoutingRevisions(old: Record<string, any>, config: Record<string, unknown>): Record<string, unknown> {
    const kept = { ...config };
    const models = config.models;
    if (models === undefined) {
        if (kept.routingRevision === undefined && old["model-canary:routingRevision"] !== undefined) kept.routingRevision = old["model-canary:routingRevision"];
        return kept;
    }
    const oldModels = old["model-canary:models"];
    if (typeof models !== "object" || models === null || typeof oldModels !== "object" || oldModels === null) return kept;
    kept.models = Object.fromEntries(Object.entries(models as Record<string, any>).map(([name, entry]) => {
        const revision = oldModels[name]?.routingRevision;
        return [name, typeof entry === "object" && entry !== null && entry.routingRevision === undefined && revision !== undefined ? { ...entry, routingRevision: revision } : entry];
    }));
    return kept;
}

/** Runs the real `pulumi` CLI in the project, as a user would, on the project's stack or `stack`, with `env` added. */
export function runPulumi(project: TestProject, args: string[], stack = project.ref.stack, options: { env?: Record<string, string> } = {}): { status: number | null; output: string } {
    const bin = project.ref.toolchainDir!;
    // Always `--stack`: the tools never select a stack, so nothing is selected in a fresh project.
    const r = spawnSync(path.join(bin, "pulumi"), [...args, "--stack", stack], {
        cwd: project.dir,
        encoding: "utf8",
        env: pulumiCliEnv(bin, project.ref.backendUrl!, { PULUMI_NODEJS_TRANSPILE_ONLY: "true", ...options.env }),
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The environment the tests give the real `pulumi` CLI: the toolchain first on PATH, a backend, the empty passphrase of local state, no update check; `env` added. */
export function pulumiCliEnv(bin: string, backendUrl: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        PULUMI_BACKEND_URL: backendUrl,
        PULUMI_CONFIG_PASSPHRASE: "",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        ...env,
    };
}

/** The `model-canary` command from the TypeScript sources (tests exercise the checkout, not dist/). */
export const sourceCli = path.join(__dirname, "model-canary-source.js");

/**
 * SIGKILLs what a killed engine leaves running in the project: the engine starts its plugins (the
 * Kubernetes provider) in process groups of their own, in the project directory, so killing the
 * update's group orphans them, idle but alive.
 */
export function killLeftoversIn(dir: string): number[] {
    const killed: number[] = [];
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        let cwd: string;
        try {
            cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
        } catch {
            continue; // gone, or not ours to read
        }
        if (cwd === dir || cwd.startsWith(`${dir}/`) || cwd === `${dir} (deleted)`) {
            try {
                process.kill(Number(pid), "SIGKILL");
                killed.push(Number(pid));
            } catch {
                // ended meanwhile
            }
        }
    }
    return killed;
}

/**
 * Runs `upStack` for the project's stack in a node process of its own, in a process group of its
 * own (so the engine it starts goes with it), and SIGKILLs that whole group as soon as `ready()`
 * holds (polled every `pollMs`): an `up` killed mid-way, as by `kill -9`. Rejects if the `up` ends
 * by itself first. `create` opens the stack with `{ create: true }` (a first `up`).
 */
export function killedUp(project: TestProject, ready: () => boolean, options: { create?: boolean; pollMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
    const automation = JSON.stringify(path.join(projectDir, "stacks", "operations", "automation"));
    const open = options.create ? `, { create: true }` : "";
    const script = `const a = require(${automation}); a.openStack(${JSON.stringify(project.ref)}${open}).then((s) => a.upStack(s))`;
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: projectDir, detached: true, stdio: "ignore", env: { ...process.env, ...options.env } });
    return new Promise((resolve, reject) => {
        const poll = setInterval(() => {
            if (ready()) {
                clearInterval(poll);
                process.kill(-child.pid!, "SIGKILL");
            }
        }, options.pollMs ?? 20);
        child.on("exit", (code, signal) => {
            clearInterval(poll);
            if (signal === "SIGKILL") resolve();
            else reject(new Error(`the up ended by itself (exit code ${code}) before it could be killed`));
        });
    });
}

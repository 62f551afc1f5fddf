// The stack's program run in the command's own process (an Automation API inline program) instead
// of a Node.js language host of its own: the SDKs are loaded and the program transpiled once per
// process, not at every `up` of a rollout. Only a program that says it can run so (its entry file
// exports its program through `inlineProgram(...)`, see stacks/program/inline.ts) runs here;
// anything else runs through the language host as before, and the command says why once.
// What a run sees is what the language host gives it: the project directory as the working
// directory, the engine's environment, the config and secrets through the engine, the entry file
// evaluated afresh at each run.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { holdAt } from "./hold-at";
import { timing } from "./timing";

/** `false` runs every program through the language host (a comparison, or a program that misbehaves inline). */
export const inlineEnvVar = "MODEL_CANARY_INLINE";

/** A program that can run in this process: its entry file, and the @pulumi/pulumi both it and the command load. */
export interface InlineProgram {
    workDir: string;
    entry: string;
    sdkDir: string;
    typescript: boolean;
}

/** Why not, and the language host that runs the program instead when it is not Node.js's (`yaml`, say). */
export type InlineDecision = { program: InlineProgram } | { reason: string; runtime?: string };

/** Runtime options of Pulumi.yaml that only change how the language host starts Node: none of them can be had in this process. */
const hostOnlyOptions = ["nodeargs", "binary"];

function readJson(file: string): Record<string, unknown> | undefined {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch {
        return undefined;
    }
}

/** The file `require` loads for `target` (a file, or a folder's index), or undefined. */
function entryFile(target: string): string | undefined {
    const candidates = [target, `${target}.ts`, `${target}.js`, path.join(target, "index.ts"), path.join(target, "index.js")];
    return candidates.find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

/**
 * Whether the program of the project in `workDir` can run in this process, and if not, why (one
 * line). `commandSdk` is the @pulumi/pulumi this process loaded: the program must load the same
 * one, or its resources would go to an SDK the engine does not talk to.
 */
export function decideInline(workDir: string, commandSdk: string, env: NodeJS.ProcessEnv = process.env): InlineDecision {
    let project: { main?: unknown; runtime?: unknown };
    try {
        project = (YAML.parse(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8")) ?? {}) as typeof project;
    } catch {
        return { reason: "its Pulumi.yaml cannot be read" };
    }
    const runtime = typeof project.runtime === "string" ? { name: project.runtime } : (project.runtime ?? {}) as { name?: unknown; options?: Record<string, unknown> };
    // A program in another language (a YAML program, say) always runs through its own language host.
    if (runtime.name !== "nodejs") return { reason: `its runtime is \`${String(runtime.name)}\`, not nodejs`, runtime: String(runtime.name) };
    if (env[inlineEnvVar] === "false") return { reason: `${inlineEnvVar} is false` };
    const options = runtime.options ?? {};
    const hostOnly = hostOnlyOptions.find((o) => options[o] !== undefined);
    if (hostOnly) return { reason: `Pulumi.yaml sets the runtime option \`${hostOnly}\`, which only a Node.js process of its own takes` };
    const pkg = readJson(path.join(workDir, "package.json")) ?? {};
    if (pkg.type === "module") return { reason: "it is an ES module (package.json `type: module`)" };
    // As the language host finds the entry: Pulumi.yaml's `main`, else package.json's `main`, else the folder.
    const main = typeof project.main === "string" ? project.main : typeof pkg.main === "string" && pkg.exports === undefined ? pkg.main : ".";
    const entry = entryFile(path.resolve(workDir, main));
    if (entry === undefined) return { reason: `its entry \`${main}\` was not found` };
    const source = fs.readFileSync(entry, "utf8");
    if (/\bprocess\.argv\b/.test(source)) return { reason: `its entry file ${path.basename(entry)} reads \`process.argv\`` };
    if (!/\binlineProgram\s*\(/.test(source)) return { reason: `its entry file ${path.basename(entry)} does not export its program through \`inlineProgram(...)\` (see docs/how-commands-run-the-program.md)` };
    let sdk: string;
    try {
        sdk = path.dirname(fs.realpathSync(require.resolve("@pulumi/pulumi/package.json", { paths: [path.dirname(entry)] })));
    } catch {
        return { reason: "its @pulumi/pulumi cannot be found from its entry file" };
    }
    if (sdk !== commandSdk) return { reason: `it loads @pulumi/pulumi from ${sdk}, and the command from ${commandSdk}` };
    return { program: { workDir, entry, sdkDir: sdk, typescript: options.typescript !== false } };
}

/** The folder of the @pulumi/pulumi this process loads. */
export const commandSdkDir = path.dirname(fs.realpathSync(require.resolve("@pulumi/pulumi/package.json")));

const decisions = new Map<string, InlineDecision>();

/**
 * `decideInline` for `workDir`, once per process: the reason a program cannot run inline goes to
 * `say` the first time only.
 */
export function inlineProgramOf(workDir: string, say: (line: string) => void, env: NodeJS.ProcessEnv = process.env): InlineProgram | undefined {
    let decision = decisions.get(workDir);
    if (decision === undefined) {
        decision = decideInline(workDir, commandSdkDir, env);
        decisions.set(workDir, decision);
        if ("reason" in decision) say(`model-canary: the program runs through the ${decision.runtime === undefined ? "Node.js" : `\`${decision.runtime}\``} language host, not in this process: ${decision.reason}`);
    }
    return "program" in decision ? decision.program : undefined;
}

/** Registers ts-node for `.ts` files as the language host does (the project's tsconfig), unless something already handles them. */
function registerTypeScript(program: InlineProgram): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (!program.typescript || require.extensions[".ts"] !== undefined) return;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tsutils = require(path.join(program.sdkDir, "tsutils")) as { loadTypeScriptCompilerOptions(p: string): Record<string, unknown>; typeScriptRequireStrings(): { tsnodeRequire: string; typescriptRequire: string } };
    const tsconfig = path.join(program.workDir, process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json");
    const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsconfig);
    const transpileOnlyEnv = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
    const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require(typescriptRequire) as { version: string };
    const [major, minor] = ts.version.split(".").map(Number);
    const nodeNext = major > 4 || (major === 4 && minor >= 7);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require(tsnodeRequire) as { register(o: unknown): void }).register({
        compiler: typescriptRequire,
        transpileOnly: transpileOnlyEnv ? transpileOnlyEnv === "true" : compilerOptions.noCheck,
        project: tsconfig,
        skipProject: !fs.existsSync(tsconfig),
        compilerOptions: { target: "ES2020", module: nodeNext ? "nodenext" : "commonjs", moduleResolution: nodeNext ? "nodenext" : "node", sourceMap: "true", ...compilerOptions },
    });
}

/**
 * The program as a function of one run: the entry file evaluated afresh (so what it reads at its
 * top level is read at every run, as under the language host), then its export called.
 */
export function programFunction(program: InlineProgram): () => Promise<unknown> {
    return async () => {
        await holdAt("inline-program-run");
        // The cache holds the file under its real path (a symlinked entry too), read afresh: the
        // entry may have been replaced since the last run.
        const file = fs.realpathSync(program.entry);
        delete require.cache[file];
        timing("program run started");
        try {
            // Done already when the engine was started by `servingProgram`; here for any other caller.
            registerTypeScript(program);
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const exported = require(file) as unknown;
            timing("program's entry loaded");
            // As the language host: an exported function is called, anything else is the outputs.
            return exported instanceof Function ? await (exported as () => unknown)() : await exported;
        } catch (e) {
            throw asHostReportsIt(program, e);
        }
    };
}

/**
 * What the program threw, as the language host reports it (@pulumi/pulumi's cmd/run/run.ts): a
 * RunError or ResourceError as it is, anything else as "Running program '<entry>' failed with an
 * unhandled exception:" and the error with its stack, the frames of this process's machinery left
 * out (the language host's own differ anyway).
 */
function asHostReportsIt(program: InlineProgram, e: unknown): unknown {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const errors = require(path.join(program.sdkDir, "errors")) as { RunError: (new (m: string) => Error) & { isInstance(o: unknown): boolean }; ResourceError: { isInstance(o: unknown): boolean } };
    if (!(e instanceof Error) || errors.RunError.isInstance(e) || errors.ResourceError.isInstance(e)) return e;
    const head = `Running program '${program.entry}' failed with an unhandled exception:\n`;
    if (e.name === "TSError" || e.name === SyntaxError.name) {
        // The message says where; the stack would repeat it.
        const parts = (e.stack ?? "").split(e.message);
        return new errors.RunError(head + (parts.length === 2 ? parts[0] + e.message : e.message));
    }
    if (e.stack) e.stack = e.stack.split("\n").filter((line) => !line.includes(__filename)).join("\n");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { defaultErrorMessage } = require(path.join(program.sdkDir, "cmd", "run", "error")) as { defaultErrorMessage(e: unknown): string };
    return new errors.RunError(head + defaultErrorMessage(e));
}

/**
 * What the program's first run would load first, loaded ahead of it: TypeScript registered, and
 * the SDKs the entry file's own folder resolves (@pulumi/pulumi, @pulumi/kubernetes), libraries
 * that read no config and register nothing when they load. A failure here is left to the run,
 * which does the same again and reports it as the program's.
 */
export function prepareProgram(program: InlineProgram): void {
    try {
        registerTypeScript(program);
        timing("program's TypeScript registered");
        for (const sdk of ["@pulumi/pulumi", "@pulumi/kubernetes"]) {
            let file: string;
            try {
                file = require.resolve(sdk, { paths: [path.dirname(program.entry)] });
            } catch {
                continue;
            }
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            require(file);
        }
        timing("program's SDKs loaded");
    } catch {
        // The run registers TypeScript again and fails there, as the program's failure.
    }
}

/** Runs in this process hold its working directory and environment: one at a time. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `operation` (a `pulumi up` or `preview` that drives the program through `--client`) with
 * the process set up as the language host would set up the program's: the working directory the
 * project's, `env` (the engine's environment) in `process.env` (TypeScript is registered before the
 * program's first run, see `programFunction` and `servingProgram`). Both are put back afterwards.
 * Runs are serialised: the directory and environment are the process's.
 */
export function withProgramProcess<T>(program: InlineProgram, env: Record<string, string>, operation: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
        const cwd = process.cwd();
        const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
        try {
            Object.assign(process.env, env);
            process.chdir(program.workDir);
            return await operation();
        } finally {
            process.chdir(cwd);
            for (const [k, v] of Object.entries(saved)) {
                if (v === undefined) delete process.env[k];
                else process.env[k] = v;
            }
        }
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
}

interface LanguageServerLike {
    onPulumiExit(hasError: boolean): void;
}

/**
 * Serves `program` to the engine on loopback (the SDK's own LanguageRuntime for inline programs)
 * for the duration of `operation`, which gets the arguments that point `pulumi` at it.
 */
export async function servingProgram<T>(program: InlineProgram, operation: (args: string[]) => Promise<T>): Promise<T> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const grpc = require(require.resolve("@grpc/grpc-js", { paths: [program.sdkDir] })) as typeof import("@grpc/grpc-js");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LanguageServer } = require(path.join(program.sdkDir, "automation", "server")) as { LanguageServer: new (p: () => Promise<unknown>) => LanguageServerLike };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const langrpc = require(path.join(program.sdkDir, "proto", "language_grpc_pb")) as { LanguageRuntimeService: import("@grpc/grpc-js").ServiceDefinition };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { grpcChannelOptions } = require(path.join(program.sdkDir, "runtime", "settings")) as { grpcChannelOptions: Record<string, unknown> };
    const server = new grpc.Server(grpcChannelOptions);
    const languageServer = new LanguageServer(programFunction(program));
    server.addService(langrpc.LanguageRuntimeService, languageServer as unknown as import("@grpc/grpc-js").UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    let failed = false;
    try {
        // `pulumi` is started (synchronously, by the operation) before the program's modules are
        // made ready: the CLI's start (reading the state, loading plugins) and this work then share
        // the wall time, which with TypeScript to load was 0.3-0.5 s of every command's `up`. The
        // engine calls the program only once this has returned (the event loop answers it).
        const pending = operation([`--client=127.0.0.1:${port}`, "--exec-kind", "auto.inline"]);
        prepareProgram(program);
        return await pending;
    } catch (e) {
        failed = true;
        throw e;
    } finally {
        server.forceShutdown();
        // As the Automation API: promises the program left unresolved are an error of a run that succeeded.
        if (!failed) languageServer.onPulumiExit(false);
    }
}

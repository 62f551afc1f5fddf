// The `model-canary` command line: each subcommand is a thin layer over a typed API.
// First, before anything loads @pulumi/pulumi (see the file).
import "./deferred-closure";
import { terminalText } from "../components/syntax";
import { parseArgs } from "util";
import { ValidationError } from "../components/validation";
import { writePreviewMarkdown } from "../preview/command";
import { checkConfig, configuredModelNames, defaultWorkDir, openStack, StackOperationError, StackRef, toolchainDir, upStack } from "../stacks/operations/automation";
import { acquireStackLock, StackLock, withApplyLock } from "../stacks/operations/lock";
import { adoptRouting } from "../stacks/operations/adopt";
import { ModelSelectionError, modelOutputsOf, selectModelName, shorthandModel } from "../stacks/config/models";
import type { StackConfig } from "../stacks/config/config";
import { Command, InputError, Options, Values } from "./command";
import { requireWritableFile } from "./files";
import { rolloutCommands } from "./rollout";
import { versionText } from "./version";
import { timing } from "../stacks/operations/timing";

/** An error whose message is the whole story: printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

export const commonOptions: Options = {
    stack: { type: "string", short: "s" },
    model: { type: "string", short: "m" },
    backend: { type: "string" },
    cwd: { type: "string" },
    help: { type: "boolean", short: "h" },
};

const commonHelp: [string, string][] = [
    ["-s, --stack NAME", "stack to act on (required)"],
    ["-m, --model NAME", "model of the stack to act on (required when the stack has several)"],
    ["    --backend URL", "state backend (default $PULUMI_BACKEND_URL, else file://<project>/.pulumi-state)"],
    ["    --cwd DIR", "project directory (default: the nearest one holding Pulumi.yaml, from here up)"],
    ["-h, --help", "this help"],
];

const helpLine = (flag: string, text: string) => `  ${flag.padEnd(29)} ${text}`.trimEnd();

export const commands: Record<string, Command> = {
    up: {
        summary: "deploy the stack's config (creates the stack on first use)",
        usage: "up --stack dev [--model NAME] [--no-create]",
        help: [
            "A missing stack is created only once Pulumi.<stack>.yaml exists and validates: a refusal",
            "creates nothing. No command changes which stack `pulumi stack select` chose. Without",
            "`--model`, `up` applies every model of the stack, and is refused while a rollout runs on",
            "any of them. With `--model NAME`, in a stack of several models, it is a scoped update:",
            "it applies that model's entry only (every other model stays as applied, an edit not yet",
            "applied too), and is refused only while a rollout runs on that model. When the update",
            "cannot be scoped (the model is new, config outside `models` changed) it says so on",
            "stderr and applies every model, refused then while a rollout runs on any of them.",
            "On a cluster it reads the objects it applies live first (`pulumi up --refresh`): a route",
            "edited or deleted by hand is taken back or created again, a Deployment scaled by hand",
            "stops it with a field conflict naming the fix.",
            "With `stackPerModel: true` each model has a stack of its own (`<stack>.<model>`):",
            "`--model NAME` updates that model's stack, and `up` without it every model's stack,",
            "moving models the stack held itself there first (`pulumi state move`); a TypeScript",
            "program only: refused for a YAML program before anything is applied.",
            "On a cluster, refused before anything is applied when the cluster cannot be reached,",
            "when the kubeconfig reaches another cluster than the stack's (the `kube-system` UIDs",
            "differ), or when an object it would",
            "create is another stack's or another tool's (the message names the owner and the",
            "`kubectl annotate` command that adopts it on purpose).",
            "Refused, before anything is applied, when it would change a model's routing (weights,",
            "mirror, header routes) from settings written before another runner's routing change",
            "(their `routingRevision` is older than the stack's): the message names both revisions,",
            "who applied the newer one and when; `adopt` takes the stack's routing into the settings,",
            "`--override-stale` applies them anyway.",
        ],
        options: { "no-create": { type: "boolean" }, "override-stale": { type: "boolean" } },
        optionHelp: {
            "no-create": "fail instead of creating a missing stack",
            "override-stale": "apply settings written from an older routing revision than the stack's, on purpose",
        },
        async run(values, ref) {
            const onMessage = (m: string) => process.stderr.write(terminalText(`${m}\n`));
            const names = modelNamesFromFile(ref);
            const model = typeof values.model === "string" ? selectModelName(names, values.model, ref.stack) : undefined;
            // A whole update applies every model's config, and would move a weight under another
            // rollout's analysis: it takes every model's run lock. A scoped one (`--model`) acts on
            // its model's resources only, and takes that model's lock alone.
            const locks: StackLock[] = [];
            // The config says where the locks are (a cluster's Leases, else the backend): read
            // here without refusing it, which `up` does itself once it holds them.
            let config: StackConfig | undefined;
            const hold = async (list: readonly string[]) => {
                for (const name of list) locks.push(await acquireStackLock(ref, "up", { model: name, onMessage, config }));
            };
            // Called, holding the apply lock, when `--model` cannot be scoped (see stacks/operations/scope.ts).
            const beforeWhole = async (reason: string) => {
                if (names.length > 1) onMessage(`model-canary: updating every model of stack \`${ref.stack}\`, not only \`${model}\`: ${reason}`);
                await hold(names.filter((n) => n !== model));
            };
            let result;
            try {
                const stack = await openStack(ref, { create: !values["no-create"] });
                try {
                    config = checkConfig(stack);
                } catch {
                    config = undefined;
                }
                await hold(model !== undefined ? [model] : names);
                const onOutput = (out: string) => process.stdout.write(terminalText(out));
                const overrideStale = values["override-stale"] === true;
                result = await withApplyLock(stack, "up", () => upStack(stack, model !== undefined ? { onOutput, model, beforeWhole, overrideStale } : { onOutput, overrideStale }), { onMessage });
                for (const name of model !== undefined ? [model] : Object.keys(checkConfig(stack).models)) {
                    const split = modelOutputsOf(result.outputs, name).split as Record<string, number> | undefined;
                    const who = names.length === 1 && model === undefined ? `stack ${ref.stack}` : `stack ${ref.stack} model ${name}`;
                    process.stdout.write(terminalText(`${name === (model ?? names[0]) ? "\n" : ""}model-canary: ${who} serves ${Object.entries(split ?? {}).map(([v, w]) => `${v} ${w}%`).join(", ")}\n`));
                }
            } finally {
                for (const lock of locks) await lock.release();
            }
            return 0;
        },
    },
    adopt: {
        summary: "write the stack's applied routing and routing revision into Pulumi.<stack>.yaml",
        usage: "adopt --stack dev [--model NAME]",
        help: [
            "For a checkout whose settings are older than the stack's last routing change (another",
            "runner's step, rollback or promotion): copies what the stack applied to each model's",
            "routing (`canaryWeight`, `mirrorPercent`, `headerRoutes`, and `stable`/`canary` when a",
            "promotion changed the versions) and its `routingRevision` from the stack's outputs into",
            "the settings file. The cluster is not touched; an `up` afterwards changes no routing.",
            "Without `--model`, every model of the stack.",
        ],
        options: {},
        async run(values, ref) {
            const onMessage = (m: string) => process.stderr.write(terminalText(`${m}\n`));
            const names = modelNamesFromFile(ref);
            const model = typeof values.model === "string" ? selectModelName(names, values.model, ref.stack) : undefined;
            const locks: StackLock[] = [];
            try {
                const stack = await openStack(ref);
                // Where the locks are (a cluster's Leases, else the backend); adopt checks the config itself.
                let config: StackConfig | undefined;
                try {
                    config = checkConfig(stack);
                } catch {
                    config = undefined;
                }
                for (const name of model !== undefined ? [model] : names) locks.push(await acquireStackLock(ref, "adopt", { model: name, onMessage, config }));
                for (const a of await adoptRouting(stack, model)) {
                    const who = names.length === 1 ? `stack ${ref.stack}` : `stack ${ref.stack} model ${a.model}`;
                    const at = a.record ? `routing revision ${a.record.revision} (applied by ${a.record.appliedBy} at ${a.record.appliedAt})` : "the applied routing (the stack has recorded no revision yet)";
                    process.stdout.write(terminalText(`model-canary: ${who}: adopted ${at}${a.changed.length > 0 ? `; changed ${a.changed.map((k) => `\`${k}\``).join(", ")}` : "; the settings already held it"}\n`));
                }
            } finally {
                for (const lock of locks) lock.release();
            }
            return 0;
        },
    },
    preview: {
        summary: "preview the next step and write a pull-request comment in Markdown",
        usage: "preview --stack dev [--model NAME] --markdown out.md   (use - for standard output)",
        help: [
            "Without `--model`, previews the whole stack and the comment shows every model's routing.",
            "With `--model NAME`, previews what `up --model NAME` would apply (that model only in a",
            "stack of several, or every model when it cannot be scoped, said on stderr) and the comment",
            "shows that model's routing. A comment longer than 60,000 characters (GitHub",
            "refuses comments over 65,536) is shortened: models with changes first and in full, the",
            "others named, the raw diff cut; the whole comment is then written beside the file as",
            "NAME.full.md (for out.md) and the comment says so.",
        ],
        options: { markdown: { type: "string" } },
        optionHelp: { markdown: "file to write the comment to (default -, standard output)" },
        async run(values, ref) {
            const file = typeof values.markdown === "string" ? values.markdown : "-";
            if (file === "-" && npmBannerOnStdout()) {
                throw new UsageError("npm printed its `> model-canary preview` banner on standard output before this command started, so the Markdown would not be clean: run `npm run -s preview -- ...` (`-s` silences npm), `npx model-canary preview ...`, or write to a file with `--markdown FILE`");
            }
            if (file !== "-") requireWritableFile(file, "--markdown");
            await writePreviewMarkdown(ref, file, typeof values.model === "string" ? values.model : undefined, (m) => process.stderr.write(terminalText(`${m}\n`)));
            if (file !== "-") process.stderr.write(terminalText(`model-canary: preview comment written to ${file}\n`));
            return 0;
        },
    },
    ...rolloutCommands,
};

/**
 * The model names the stack's settings file has (the `models` keys, else the shorthand's
 * `model`), read without validating it: `up` validates it itself, after taking the locks.
 */
function modelNamesFromFile(ref: StackRef): string[] {
    return configuredModelNames(ref.workDir ?? defaultWorkDir(), ref.stack) ?? [shorthandModel];
}

/**
 * True when npm started this process as the project's `preview` script and wrote its banner to
 * our standard output (it does unless silenced with `-s`/`--loglevel silent`, or in `--json` mode,
 * which moves it to standard error). A terminal shows it harmlessly; a pipe or file would get it
 * mixed in. Only that script counts: a command started from inside another npm script (a
 * pipeline's `npm run deploy`, `npm test`) inherits `npm_lifecycle_event` but no banner.
 */
export function npmBannerOnStdout(env: NodeJS.ProcessEnv = process.env, stdoutIsTTY = process.stdout.isTTY === true): boolean {
    const ownPreviewScript = env.npm_lifecycle_event === "preview" && /\bmodel-canary(\.js)? preview\b/.test(env.npm_lifecycle_script ?? "");
    return ownPreviewScript && env.npm_config_loglevel !== "silent" && env.npm_config_json !== "true" && !stdoutIsTTY;
}

export function helpText(name?: string): string {
    if (name && commands[name]) {
        const c = commands[name];
        const own = Object.entries(c.options).map(([k, o]) =>
            helpLine(`${o.short ? `-${o.short}, ` : "    "}--${k}${o.type === "string" ? " VALUE" : ""}`, c.optionHelp?.[k] ?? ""));
        return [`model-canary ${c.usage}`, "", c.summary, ...(c.help ? ["", ...c.help] : []), "", "Options:", ...own, ...commonHelp.map(([flag, text]) => helpLine(flag, text)), ""].join("\n");
    }
    return [
        "model-canary: gradual, previewable rollouts of ML models on Kubernetes with Istio",
        "",
        "Usage: model-canary <command> --stack NAME [options]",
        "",
        "Commands:",
        ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`),
        `  ${"toolchain".padEnd(10)} print the directory of the pulumi CLI and plugins the commands run (built on first use):`,
        `  ${"".padEnd(10)} put it on PATH to run \`pulumi\` by hand, e.g. export PATH="$(npx model-canary toolchain):$PATH"`,
        "",
        "Run `model-canary <command> --help` for a command's options; `model-canary --version` for versions.",
        "",
        "Exit codes: 0 success; 1 a failure or refusal (reason on stderr); 2 a usage error; 130/143 interrupted.",
        "",
    ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === "--version" || name === "-V" || name === "version") {
        process.stdout.write(versionText());
        return 0;
    }
    if (!name || name === "--help" || name === "-h" || name === "help") {
        process.stdout.write(helpText(rest[0]));
        return name ? 0 : 2;
    }
    if (name === "toolchain") {
        if (rest.length > 0) throw new UsageError(`\`toolchain\` takes no options, got ${rest.map((a) => `\`${a}\``).join(" ")}`);
        // The toolchain's progress goes to stderr; stdout is the directory alone, for `$(...)`.
        process.stdout.write(`${toolchainDir()}\n`);
        return 0;
    }
    const command = commands[name];
    if (!command) throw new UsageError(`unknown command \`${name}\`; commands are ${Object.keys(commands).map((c) => `\`${c}\``).join(", ")}`);
    let values: Values;
    try {
        values = parseArgs({ args: rest, options: { ...commonOptions, ...command.options }, strict: true, allowPositionals: false }).values as Values;
    } catch (e) {
        throw new UsageError(`${(e as Error).message}\n\n${helpText(name)}`);
    }
    if (values.help) {
        process.stdout.write(helpText(name));
        return 0;
    }
    if (typeof values.stack !== "string" || values.stack === "") throw new UsageError(`\`--stack\` is required, e.g. \`model-canary ${name} --stack dev\``);
    const ref: StackRef = { stack: values.stack, backendUrl: values.backend as string | undefined, workDir: typeof values.cwd === "string" ? values.cwd : defaultWorkDir() };
    // The first SIGINT/SIGTERM asks the command to stop at a consistent point; a second one exits at once.
    const controller = new AbortController();
    let received: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
        if (received) process.exit(signal === "SIGINT" ? 130 : 143);
        received = signal;
        process.stderr.write(terminalText(`model-canary: ${signal} received, stopping once the current operation is consistent (send it again to exit now)\n`));
        controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    timing(`${name} started (modules loaded)`);
    try {
        const code = await command.run(values, ref, controller.signal);
        return received ? (received === "SIGINT" ? 130 : 143) : code;
    } finally {
        timing(`${name} ended`);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

/**
 * What to print for a failure, and the exit code. Refusals and ordinary failures (bad input, a
 * stack error, a file that cannot be written) are their message alone; only an unexpected error,
 * a bug, carries its stack trace.
 */
export function describeFailure(e: unknown): { text: string; code: number } {
    if (e instanceof UsageError || e instanceof ModelSelectionError) return { text: e.message, code: 2 };
    if (e instanceof InputError || e instanceof StackOperationError || e instanceof ValidationError) return { text: e.message, code: 1 };
    const system = e as NodeJS.ErrnoException;
    if (e instanceof Error && typeof system.code === "string" && typeof system.syscall === "string") return { text: e.message, code: 1 };
    return { text: e instanceof Error ? e.stack ?? e.message : String(e), code: 1 };
}

/** Runs the CLI and sets the exit code; every failure exits non-zero with its message. */
export function run(argv: string[]): void {
    main(argv).then(
        (code) => { process.exitCode = code; },
        (e: unknown) => {
            const failure = describeFailure(e);
            process.stderr.write(terminalText(`model-canary: ${failure.text}\n`));
            process.exitCode = failure.code;
        },
    );
}

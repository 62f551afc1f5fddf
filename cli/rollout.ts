// `rollout`, `rollback`, `promote` and `status`: the pipeline-facing commands.
import { terminalText } from "../components/syntax";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CheckResult } from "../analysis/verdict";
import { visibleControls } from "../components/syntax";
import { describeRoute } from "../preview/markdown";
import { PlanFlags, resolvePlan } from "../stacks/config/rollout-plan";
import { reportBaseName, RolloutRecord, StepRecord } from "../rollout/record";
import { describeMirror } from "../components/routing";
import { renderReportMarkdown } from "../rollout/report/markdown";
import { renderReportSvg } from "../rollout/report/chart-svg";
import { renderPredictionsSvg } from "../rollout/report/distribution-svg";
import { confirmRolledBack, promoteStack, rollbackStack, RolloutEvent, runRollout } from "../rollout/runner";
import { readRecord, readSharedRecord, recordRollback, recordWriter, stateDir } from "../rollout/status";
import { runStoreFor } from "../stacks/operations/run-store";
import { modelNotifier, notificationEvent, notificationFailureLines, notifyContext, rolloutNotifications } from "../rollout/notify";
import type { Notifier } from "../notifications/notifier";
import { resolvePlan as resolveRolloutPlan } from "../stacks/config/rollout-plan";
import type { StackConfig, ModelConfig } from "../stacks/config/config";
import { collectStackStatus, ModelStatus, ModelStatusDetails, readConfigLeniently, runState } from "../rollout/stack-status";
import type { LiveReplicas } from "../stacks/cluster-client/live";
import { isDestinationRuleDifference } from "../stacks/cluster-client/live-destination-rule";
import { checkConfig, openStack, StackRef } from "../stacks/operations/automation";
import { selectModel } from "../stacks/config/config";
import { acquireStackLock, describeHolder, lockHolder, preemptStackLock, RunHolder, StackLock } from "../stacks/operations/lock";
import { selectModelName, shorthandModel } from "../stacks/config/models";
import { liveness } from "../stacks/operations/process";
import { lastAppliedStackConfig, rollbackFromLastApplied } from "../stacks/operations/recovery";
import { stackSettingsPath } from "../stacks/config/settings";
import { Command, Values } from "./command";
import { requireWritableDir } from "./files";

const mark: Record<CheckResult["status"], string> = { pass: "ok", fail: "FAIL", nodata: "NO DATA", error: "ERROR" };

/** Text from config, checks or webhooks, printed with control characters as escapes: it cannot recolour the terminal or forge a line. */
function plain(text: unknown): string {
    return visibleControls(String(text));
}

/** `shadow (mirror 100%)` for the shadow step, `10%` for a weight. */
function stepName(step: StepRecord): string {
    return step.mirrorPercent !== undefined ? `shadow (mirror ${step.mirrorPercent}%)` : `${step.weight}%`;
}

function seconds(ms: number): string {
    return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/** One human line per event; the `analysis` line carries every check against its threshold. */
export function describeEvent(event: RolloutEvent): string {
    switch (event.type) {
        case "step-start":
            return event.step.mirrorPercent !== undefined
                ? `[step ${event.step.index}/${event.total}] shadow: mirroring ${event.step.mirrorPercent}% of default traffic to the canary, which serves no user`
                : `[step ${event.step.index}/${event.total}] setting canary weight to ${event.step.weight}%`;
        case "step-applied":
            return `[step ${event.step.index}/${event.total}] ${stepName(event.step)} applied${event.step.applyMs ? ` in ${seconds(event.step.applyMs)}` : " (already applied)"}`
                + (event.step.restoreMs !== undefined ? `; pods no longer needed removed after the traffic moved, in ${seconds(event.step.restoreMs)}` : "")
                + (event.step.restoreError ? `; ${plain(event.step.restoreError)}` : "");
        case "analysis": {
            const checks = event.analysis.results.map((r) => `  ${mark[r.status].padEnd(7)} ${plain(r.name)}: ${plain(r.message)}`);
            const left = event.remainingMs > 0 ? `, ${seconds(event.remainingMs)} left in the interval` : "";
            return [`[step ${event.step.index}/${event.total}] ${stepName(event.step)} analysis ${event.step.analyses.length}: ${event.analysis.summary}${event.analysis.pendingReason ? ` (${plain(event.analysis.pendingReason)})` : ""}${left}; ${event.decision.decision} (${event.decision.reason})`, ...checks].join("\n");
        }
        case "rollback-start":
            return `ROLLING BACK: ${plain(event.reason)}`;
        case "rollback-done":
            return event.routeWriteMs !== undefined
                ? `rolled back to 0%: the live route sent everything to stable ${event.routeWriteMs} ms into the rollback, and its \`up\` recorded it in ${seconds(event.actionMs)}`
                : `rolled back to 0% in ${seconds(event.actionMs)}`;
        case "promote-start":
            return "promoting the canary to stable";
        case "finish":
            return `${event.record.outcome.toUpperCase()}: ${plain(event.record.message)}`;
        case "lease-taken-over":
            return `took over the run left by \`${plain(event.from.command)}\` (pid ${event.from.pid} on host ${plain(event.from.host)})`;
    }
}

/** Writes the Markdown report and its SVG chart; returns the Markdown's path. */
export function writeReport(record: RolloutRecord, dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const base = reportBaseName(record);
    fs.writeFileSync(path.join(dir, `${base}.svg`), renderReportSvg(record));
    // The prediction chart exists only when the prediction gate measured something.
    const predictions = renderPredictionsSvg(record);
    if (predictions !== undefined) fs.writeFileSync(path.join(dir, `${base}-predictions.svg`), predictions);
    const file = path.join(dir, `${base}.md`);
    fs.writeFileSync(file, renderReportMarkdown(record, { chartFile: `${base}.svg`, ...(predictions !== undefined ? { predictionChartFile: `${base}-predictions.svg` } : {}) }));
    return file;
}

const outputOptions = {
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
} as const;

const outputHelp = {
    json: "one JSON object per event or result, for machines",
    quiet: "print only the outcome",
};

const notice = (message: string) => { process.stderr.write(terminalText(`${message}\n`)); };

/** The user running the command, for the record of a rollback. */
function userName(): string {
    try {
        return os.userInfo().username;
    } catch {
        return process.env.USER ?? "unknown";
    }
}

/** The model's last rollout record, or undefined when there is none or it cannot be read. */
function readRecordQuietly(workDir: string, stack: string, model: string): RolloutRecord | undefined {
    try {
        return readRecord(workDir, stack, model);
    } catch {
        return undefined;
    }
}

/**
 * Waits (bounded) for the notifications still on their way, prints each that failed, and hands
 * the summary to `keep` (the run's record). Nothing here fails the command: a webhook is told, not asked.
 */
async function settle(notifier: Notifier, values: Values, keep?: (summary: NonNullable<RolloutRecord["notifications"]>) => void | Promise<void>): Promise<void> {
    if (!notifier.active) return;
    const summary = await notifier.settle();
    try {
        await keep?.(summary);
    } catch (e) {
        notice(`model-canary: the notifications' outcome could not be added to the rollout record: ${(e as Error).message}`);
    }
    for (const line of notificationFailureLines(summary)) {
        process.stdout.write(terminalText(values.json ? `${JSON.stringify({ type: "notification-failed", line })}\n` : `${plain(line)}\n`));
    }
}

/**
 * The notifier of a `rollback` or `promote` of `model`: the webhooks of its `rollout` block (none
 * when that block cannot be read: the command's own work comes first) and, on a cluster, Events.
 */
function commandNotifier(config: StackConfig, model: ModelConfig): { notifier: Notifier; webhooks: NonNullable<ReturnType<typeof resolveRolloutPlan>["notifications"]> } {
    let webhooks: NonNullable<ReturnType<typeof resolveRolloutPlan>["notifications"]> = [];
    try {
        webhooks = resolveRolloutPlan(model.rollout).notifications ?? [];
    } catch {
        // An invalid rollout block was refused by the config check already, or is the rollback's reason to run.
    }
    return { notifier: modelNotifier(config, model, webhooks), webhooks };
}

/** Runs `action` holding the stack's run lock, released afterwards whatever happens. */
async function holding<T>(lock: StackLock, action: () => Promise<T>): Promise<T> {
    try {
        return await action();
    } finally {
        await lock.release();
    }
}

export async function holderLine(ref: StackRef, model?: string): Promise<string | undefined> {
    const holder = await lockHolder(ref, model);
    return holder ? lockLine(holder) : undefined;
}

/** `lock: held by ...`, or left by a process that died. */
function lockLine(holder: RunHolder): string {
    const state = liveness(holder);
    return state.state === "dead"
        ? `lock: left by \`${holder.command}\` (${describeHolder(holder)}), which died (${state.reason}); the next command takes it over`
        : `lock: held by \`${holder.command}\` (${describeHolder(holder)})`;
}

function printer(values: Values) {
    return {
        event(event: RolloutEvent) {
            if (values.json) process.stdout.write(terminalText(`${JSON.stringify(event.type === "finish" ? { type: "finish", outcome: event.record.outcome, message: event.record.message } : event)}\n`));
            else if (!values.quiet || event.type === "finish") process.stdout.write(terminalText(`${describeEvent(event)}\n`));
        },
        result(object: object, line: string) {
            process.stdout.write(terminalText(values.json ? `${JSON.stringify(object)}\n` : `${line}\n`));
        },
    };
}

export const rolloutCommands: Record<string, Command> = {
    rollout: {
        summary: "walk the canary through the steps, analysing each; roll back by itself on failure",
        usage: "rollout --stack dev [--model NAME] [--steps shadow,1,10,50,100] [--shadow-percent 100] [--shadow-interval 60s] [--interval 60s] [--tick 10s] [--window 1m] [--prometheus URL] [--promote]",
        help: [
            "Defaults come from the model's `rollout` block; flags override it. A rerun resumes from",
            "the weight the model serves (refused when that weight is above the last step). The run",
            "holds the model: a second rollout of it, its `promote` or an `up` of the stack is refused;",
            "its `rollback` stops it. Other models of the stack may roll out at the same time (their",
            "steps' `up`s take turns). With several models, each step (and a rollback or promotion)",
            "acts on this model's resources only: another model's unapplied config edit stays",
            "unapplied until a plain `up`.",
            "On a cluster each step reads the objects live first; a canary scaled by hand stops the run",
            "before the step, naming its live count. Prometheus is checked before the first step.",
            "Its events go to the webhooks of `rollout.notifications` (and, on a cluster, to Kubernetes",
            "Events on the model's VirtualService) in the background; a failed delivery is printed and",
            "recorded, and never changes the exit code.",
            "SIGINT/SIGTERM stop at a consistent point (a",
            "running `up` finishes first; a running custom check is ended). Exit codes: 0 passed (or",
            "promoted), 1 rolled back, refused or failed, 2 usage, 130/143 interrupted.",
        ],
        options: {
            steps: { type: "string" }, "shadow-percent": { type: "string" }, "shadow-interval": { type: "string" }, interval: { type: "string" }, tick: { type: "string" }, window: { type: "string" },
            prometheus: { type: "string" }, promote: { type: "boolean" }, "failure-threshold": { type: "string" },
            report: { type: "string" }, ...outputOptions,
        },
        optionHelp: {
            steps: "canary weights to walk, e.g. 1,10,50,100, optionally after `shadow` (rollout.steps)",
            "shadow-percent": "share of default traffic mirrored to the canary in the shadow step, default 100 (rollout.shadowPercent)",
            "shadow-interval": "how long the shadow step is analysed, 1s to 24h, default the step interval (rollout.shadowInterval)",
            interval: "how long each step is analysed, e.g. 60s, 1s to 24h (rollout.interval)",
            tick: "how often the analysis runs, e.g. 10s, 1s to 24h (rollout.tick)",
            window: "range of each Prometheus query, e.g. 1m, 1s to 24h (rollout.window)",
            prometheus: "Prometheus URL (rollout.prometheus), without a user or password: credentials go in rollout.prometheusAuth as secrets",
            promote: "promote the canary after the last step passes (rollout.promote)",
            "failure-threshold": "consecutive failed analyses before rollback, 1 to 100 (rollout.analysis.failureThreshold)",
            report: "directory for the Markdown report and SVG charts (default .model-canary/<stack>/reports, .model-canary/<stack>/models/<model>/reports for a model other than `model`)",
            ...outputHelp,
        },
        async run(values, ref, signal) {
            const stack = await openStack(ref);
            const flags: PlanFlags = Object.fromEntries(["steps", "shadow-percent", "shadow-interval", "interval", "tick", "window", "prometheus", "promote", "failure-threshold"]
                .filter((k) => values[k] !== undefined).map((k) => [k, values[k]]));
            const model = selectModel(checkConfig(stack), requestedModel(values), ref.stack);
            const plan = resolvePlan(model.rollout, flags);
            const out = printer(values);
            const reportDir = typeof values.report === "string" ? values.report : path.join(stateDir(stack.workspace.workDir, ref.stack, model.name), "reports");
            requireWritableDir(reportDir, typeof values.report === "string" ? "--report" : "report directory");
            const began = new Date().toISOString();
            const configured = checkConfig(stack);
            const webhooks = plan.notifications ?? [];
            const notifier = modelNotifier(configured, model, webhooks);
            const notify = rolloutNotifications(notifier, notifyContext(ref, configured, model, webhooks, reportDir));
            let record: RolloutRecord;
            try {
                record = await runRollout({ ref, model: model.name, plan, signal, onEvent: (e) => { out.event(e); notify(e); } });
            } catch (e) {
                await settle(notifier, values, async (summary) => {
                    const failed = readRecordQuietly(stack.workspace.workDir, ref.stack, model.name);
                    // Where every runner reads it (the store), and this checkout's copy.
                    if (failed && failed.startedAt >= began) await recordWriter(stack.workspace.workDir, runStoreFor(ref, model.name, configured)).save({ ...failed, notifications: summary });
                });
                // A run that stopped on an error still leaves its report.
                let failed: RolloutRecord | undefined;
                try {
                    failed = (await readSharedRecord(ref, stack.workspace.workDir, model.name, runStoreFor(ref, model.name, checkConfig(stack)))).record;
                } catch {
                    // The run's own error below is the one to report.
                }
                if (failed?.outcome === "error" && failed.startedAt >= began) process.stderr.write(terminalText(`report: ${writeReport(failed, reportDir)}\n`));
                throw e;
            }
            const report = writeReport(record, reportDir);
            // The run has decided and applied everything; what is still on its way to a webhook gets a bounded wait.
            await settle(notifier, values, (summary) => recordWriter(stack.workspace.workDir, runStoreFor(ref, model.name, configured)).save({ ...record, notifications: summary }));
            if (!values.json) process.stdout.write(terminalText(`report: ${report}\n`));
            else process.stdout.write(terminalText(`${JSON.stringify({ type: "report", file: report })}\n`));
            return record.outcome === "completed" || record.outcome === "promoted" ? 0 : 1;
        },
    },
    rollback: {
        summary: "send all traffic back to stable now (weight 0, mirror and canary header routes removed)",
        usage: "rollback --stack dev [--model NAME]",
        help: [
            "A rollout running on the stack is asked to stop (SIGTERM on this machine) and waited for",
            "(up to 120 s, while it finishes a running `up`); it applies nothing more, then this applies.",
            "Works even when the stack's config is invalid: it then rolls back from the config the last",
            "`up` applied (recorded in the stack's outputs), writes that config with weight 0 to",
            "Pulumi.<stack>.yaml and saves the invalid file beside it as Pulumi.<stack>.yaml.invalid-<time>.",
            "On a cluster the live route is set to stable first, with one server-side apply as the",
            "provider's field manager, then the `up` records it (a refused write falls back to the",
            "`up` alone, saying so; `status` shows a write no `up` has recorded yet).",
            "On a cluster it ends by reading the live VirtualService back; one that still sends traffic",
            "off stable (a hand edit, a deleted route) is read live and applied again, and if it still",
            "does, the rollback exits 1 saying what is live.",
        ],
        options: { ...outputOptions },
        optionHelp: outputHelp,
        async run(values, ref) {
            const stack = await openStack(ref);
            const { config, problems, names } = await readConfigLeniently(stack, ref.stack);
            const model = selectModelName(names, requestedModel(values), ref.stack);
            const who = model === shorthandModel ? `stack ${ref.stack}` : `model ${model} of stack ${ref.stack}`;
            const decidedAt = new Date().toISOString();
            // Always gets through: a running rollout of this model is asked to stop (and has applied its last weight) before this applies.
            // With invalid settings, the locks are looked for where the last applied config keeps them (a
            // cluster's Leases), so a rollout another runner holds is still pre-empted.
            const lockConfig = config ?? await lastAppliedStackConfig(stack, model);
            if (config === undefined && lockConfig === undefined) notice(`model-canary: the config of stack ${ref.stack} is invalid and the stack recorded no applied config to read; its run lock is looked for in the backend only`);
            const runStore = runStoreFor(ref, model, lockConfig);
            const lock = await preemptStackLock(ref, "rollback", { model, onMessage: notice, runStore });
            // Who rolled back, in the stack's update history (a plain rollback has no rollout record to say it).
            const reason = `manual rollback by ${userName()} (pid ${lock.holder.pid} on host ${lock.holder.host})`;
            // The model's last rollout record says it was rolled back, by whom and when (status and the report read it).
            const record = (actionMs: number, stableVersion: string) => recordRollback(ref, stack.workspace.workDir, model, {
                by: { user: userName(), host: lock.holder.host, pid: lock.holder.pid, command: "model-canary rollback" },
                decidedAt, appliedAt: new Date().toISOString(), actionMs, stableVersion, runStore,
                runState: (r) => {
                    const state = runState(r);
                    return r.outcome === "interrupted" ? "was interrupted" : r.outcome === "completed" ? "had completed" : r.outcome === "error" ? "had stopped on an error"
                        : state.startsWith("died") ? state : `was ${state}`;
                },
            });
            if (config !== undefined) {
                const before = selectModel(checkConfig(stack), model, ref.stack);
                const { actionMs, restore, routeWrite } = await holding(lock, () => rollbackStack(stack, reason, model));
                await record(actionMs, selectModel(checkConfig(stack), model, ref.stack).resolved.stable.version);
                // Told once the traffic is back on stable: a webhook never delays a rollback.
                const { notifier, webhooks } = commandNotifier(checkConfig(stack), before);
                notifier.send(notificationEvent(notifyContext(ref, checkConfig(stack), before, webhooks), "rolled-back", { weight: 0, outcome: "rolled-back", reason: `${reason}: ${before.resolved.stable.version} serves 100%` }));
                await settle(notifier, values);
                const restored = !restore ? "" : "error" in restore ? `; ${restore.error}` : `; then the replica counts were restored (${seconds(restore.restoreMs)})`;
                const written = routeWrite && "written" in routeWrite ? routeWrite.written : undefined;
                const timing = written ? `the live ${written.route} in ${written.writeMs} ms, recorded by the \`up\` in ${seconds(actionMs)}` : seconds(actionMs);
                printer(values).result({ type: "rollback", stack: ref.stack, model, actionMs, ...(written ? { routeWriteMs: written.writeMs } : {}), ...(restore ? { restore } : {}) }, `rolled back: ${who} sends 100% to ${selectModel(checkConfig(stack), model, ref.stack).resolved.stable.version} (${timing})${restored}`);
                // Traffic is off the canary either way; pods held after a failed restore are reported as a failure to act on.
                return restore && "error" in restore ? 1 : 0;
            }
            // The config is invalid: roll back what is applied, from the config the last `up` recorded.
            const invalid = problems;
            const settings = path.basename(stackSettingsPath(stack.workspace.workDir, ref.stack));
            process.stderr.write(terminalText([`model-canary: the config of stack ${ref.stack} is invalid; rolling back from the last applied config instead:`, ...invalid.map((p) => `  - ${p}`), ""].join("\n")));
            const result = await holding(lock, async () => {
                const recovered = await rollbackFromLastApplied(stack, reason, invalid, model);
                // The last applied config, with weight 0, is the stack's now: valid again.
                await confirmRolledBack(stack, model, reason);
                return recovered;
            });
            await record(result.actionMs, result.stableVersion);
            const saved = !result.savedAs ? ""
                : result.savedDisarmed ? `; your invalid ${settings} is saved as ${path.basename(result.savedAs)} (with canaryWeight 0 there too): fix it and move it back before the next \`up\``
                    : `; your invalid ${settings} is saved as ${path.basename(result.savedAs)} as it was (it is not YAML, so its canaryWeight could not be set to 0): fix it, set canaryWeight to 0, and move it back before the next \`up\``;
            printer(values).result(
                { type: "rollback", stack: ref.stack, model, actionMs: result.actionMs, fromLastApplied: true, problems: invalid, savedAs: result.savedAs ?? null },
                `rolled back: ${who} sends 100% to ${result.stableVersion} (${seconds(result.actionMs)}), from the last applied config; ${settings} now holds that config${saved}`,
            );
            return 0;
        },
    },
    promote: {
        summary: "make the canary the stable version and remove the old one",
        usage: "promote --stack dev [--model NAME] [--force]",
        help: [
            "Refused below 100% unless --force, on a cluster while the canary's Deployment is not",
            "Available with its configured count of ready replicas (even with --force: the old stable",
            "is deleted), and while a rollout runs on the model. In a stack of",
            "several models it updates that model only (a scoped update); when that cannot be (config",
            "outside `models` changed since the last update), it says so on stderr and updates every",
            "model, refused then while a rollout runs on any of them, before the config is edited.",
        ],
        options: { force: { type: "boolean" }, ...outputOptions },
        optionHelp: { force: "promote even below 100%, moving all traffic at once", ...outputHelp },
        async run(values, ref) {
            const stack = await openStack(ref);
            const config = checkConfig(stack);
            const model = selectModel(config, requestedModel(values), ref.stack).name;
            const names = Object.keys(config.models);
            const lock = await acquireStackLock(ref, "promote", { model, onMessage: notice, config });
            // A promotion that cannot be scoped to its model applies every model's entry, and would
            // move a weight under another model's rollout: like `up`, it then needs every model.
            const others: StackLock[] = [];
            const beforeWhole = async (reason: string) => {
                if (names.length > 1) notice(`model-canary: promoting \`${model}\` updates every model of stack \`${ref.stack}\`: ${reason}`);
                for (const name of names) if (name !== model) others.push(await acquireStackLock(ref, "promote", { model: name, onMessage: notice, config }));
            };
            let actionMs: number;
            try {
                actionMs = await holding(lock, () => promoteStack(stack, { force: values.force === true, model, beforeWhole }));
            } finally {
                for (const other of others) await other.release();
            }
            const stable = selectModel(checkConfig(stack), model, ref.stack).resolved.stable.version;
            const promoted = selectModel(config, model, ref.stack);
            const { notifier, webhooks } = commandNotifier(config, promoted);
            notifier.send(notificationEvent(notifyContext(ref, config, promoted, webhooks), "promoted", { weight: 100, outcome: "promoted", reason: `${stable} is the stable version and serves 100% (promoted by ${userName()} with \`model-canary promote\`)` }));
            await settle(notifier, values);
            printer(values).result({ type: "promote", stack: ref.stack, model, stableVersion: stable, actionMs }, `promoted: ${model === shorthandModel ? "" : `model ${model}: `}${stable} is stable and serves 100% (${seconds(actionMs)})`);
            return 0;
        },
    },
    status: {
        summary: "the split, header routes, drift (against the live VirtualService and Deployments on a cluster), step and last analysis",
        usage: "status --stack dev [--model NAME] [--json]",
        help: [
            "Shows what is applied even when the config is invalid, with the config's problems. On a",
            "stack of several models, `--model` shows one; without it, every model in turn (with",
            "`--json`, one object whose `models` lists each).",
        ],
        options: { ...outputOptions },
        optionHelp: outputHelp,
        async run(values, ref) {
            const { status, details, settingsFile } = await collectStackStatus(ref, { model: requestedModel(values) });
            const invalid = !status.config.valid
                ? [`config ${plain(settingsFile)} is invalid, so \`up\`, \`rollout\` and \`promote\` refuse it (\`rollback\` still works, from the last applied config):`, ...status.config.problems.map((p) => `  - ${plain(p)}`)]
                : [];
            if (!("models" in status)) {
                // One model: the config's problems come after its routing, before its last rollout.
                const { head, tail } = modelLines(ref, status, details[0]);
                printer(values).result(status, [...head, ...invalid, ...tail].join("\n"));
                return 0;
            }
            printer(values).result(
                status,
                [`stack ${plain(ref.stack)}: ${status.models.length} models`, ...invalid, ...status.models.flatMap((m, i) => { const { head, tail } = modelLines(ref, m, details[i]); return [...head, ...tail]; })].join("\n"),
            );
            return 0;
        },
    },
};

/**
 * The Deployments as the cluster has them, and what differs from what is applied: a hand scale
 * stops the next `up` or step (a field conflict, or the step's own check), a deleted Deployment
 * is created again by the next `up`.
 */
function liveReplicaLines(live: Record<string, LiveReplicas>, applied: Record<string, number> | null, modelFlag: string): string[] {
    const versions = Object.keys(live);
    if (versions.length === 0) return [];
    const lines = [`  live replicas: ${versions.map((v) => { const d = live[v]; return d ? `${plain(v)} ${d.replicas} (${d.availableReplicas} available)` : `${plain(v)} no Deployment`; }).join(", ")}`];
    for (const v of versions) {
        const d = live[v];
        const want = applied?.[v];
        if (typeof want !== "number") continue;
        if (d === null) lines.push(`  ${plain(v)}'s Deployment does not exist in the cluster, ${want} replicas are applied: \`up${modelFlag}\` creates it again`);
        else if (d.replicas !== want) lines.push(`  ${plain(v)} runs ${d.replicas} replica${d.replicas === 1 ? "" : "s"} in the cluster, ${want} are applied (scaled outside model-canary): the next \`up\` or rollout step stops on it; scale it back, or set the count in config and \`up\` once with PULUMI_K8S_ENABLE_PATCH_FORCE=true`);
    }
    return lines;
}

/** `--model` as given, or undefined. */
function requestedModel(values: Values): string | undefined {
    return typeof values.model === "string" ? values.model : undefined;
}

/**
 * The text of one model's status, from its ModelStatus: `head`, its routing, drift, live
 * VirtualService and lock, comes before where the config's problems belong; `tail`, its last rollout.
 */
function modelLines(ref: StackRef, object: ModelStatus, details: ModelStatusDetails): { head: string[]; tail: string[] } {
    const { name, named, weightDrift, mirrorDrift, holder } = details;
    const { split, mirror: appliedMirror, replicas, headerRoutes } = object.applied;
    const configuredMirror = object.configuredMirror;
    const live = object.live && "differences" in object.live ? object.live : undefined;
    const routeKind = object.live?.route ?? "VirtualService";
    const liveError = object.live && "error" in object.live ? object.live.error : undefined;
    const modelKey = (key: string) => (details.configPath.length > 0 ? `${details.configPath.join(".")}.${key}` : key);
    const modelFlag = named ? ` --model ${name}` : "";
    const head = [
        `${named ? `model ${plain(name)} of ` : ""}stack ${plain(ref.stack)}: ${split ? Object.entries(split).map(([v, w]) => `${plain(v)} ${plain(w)}%`).join(", ") : "not deployed"}`,
        ...(appliedMirror ? [`  shadow: ${plain(describeMirror(appliedMirror))}`] : []),
        ...(replicas && typeof replicas === "object"
            ? [`  replicas: ${Object.entries(replicas).map(([v, n]) => `${plain(v)} ${plain(n)}`).join(", ")}${details.autoReplicas ? " (canary replicas: auto, following its traffic)" : ""}`]
            : []),
        ...headerRoutes.map((r, i) => `  header route ${i + 1}: ${describeRoute(r)}`),
        ...(weightDrift ? [`  config says ${modelKey("canaryWeight")} ${object.configuredWeight} but ${String(details.appliedWeight)} is applied: run \`pulumi up\` or \`rollout${modelFlag}\``] : []),
        ...(mirrorDrift ? [`  config says ${modelKey("mirrorPercent")} ${configuredMirror?.percent ?? 0} but ${appliedMirror ? `${appliedMirror.percent}% is mirrored` : "nothing is mirrored"}: run \`pulumi up\` or \`rollout${modelFlag}\``] : []),
        ...(live && live.differences.some((d) => !isDestinationRuleDifference(d))
            ? [`  the live ${routeKind} differs from the config (changed in the cluster, or config not applied yet): ${live.differences.filter((d) => !isDestinationRuleDifference(d)).join("; ")}; \`up\` takes it back (it reads the cluster first)`]
            : []),
        ...(live && live.differences.some(isDestinationRuleDifference)
            ? [`  the live DestinationRule differs from the config (changed in the cluster, or config not applied yet): ${live.differences.filter(isDestinationRuleDifference).join("; ")}; \`up\` takes it back (it reads the cluster first)`]
            : []),
        ...(live?.rollbackWrittenAt !== undefined
            ? [`  applied live: the ${routeKind} sends ${live.split ? Object.entries(live.split).map(([v, w]) => `${plain(v)} ${plain(w)}%`).join(", ") : "nothing"}, written by a rollback at ${plain(live.rollbackWrittenAt)}; recorded: ${split ? Object.entries(split).map(([v, w]) => `${plain(v)} ${plain(w)}%`).join(", ") : "nothing"}. The rollback's \`up\` did not finish: \`rollback${modelFlag}\` or \`up\` records it`]
            : []),
        ...(live ? liveReplicaLines(live.replicas, replicas, modelFlag) : []),
        ...(liveError ? [`  the live ${routeKind} could not be read: ${liveError}`] : []),
        ...(holder ? [lockLine(holder)] : []),
        ...(details.lockError !== undefined ? [`lock: cannot be read: ${plain(details.lockError)}`] : []),
    ];
    const rollout = object.rollout;
    const last = details.lastStep;
    const lastAnalysis = rollout && "outcome" in rollout ? rollout.lastAnalysis : null;
    const tail = [
        rollout && "error" in rollout ? `last rollout: ${plain(rollout.error)}` : rollout
            ? last ? `last rollout: ${rollout.state} at step ${rollout.step ?? ""} (${stepName(last)}): ${plain(rollout.message)}` : `last rollout: ${rollout.state} before its first step: ${plain(rollout.message)}`
            : "no rollout recorded here",
        ...(object.recordFrom ? [`  (this checkout's cached copy, ${plain(object.recordFrom.cache)}: the shared record cannot be read: ${plain(object.recordFrom.storeError)})`] : []),
        ...(lastAnalysis ? lastAnalysis.results.map((r) => `  ${mark[r.status].padEnd(7)} ${plain(r.name)}: ${plain(r.message)}`) : []),
        ...(rollout && "outcome" in rollout && rollout.notifications && rollout.notifications.failed.length > 0
            ? [`  notifications: ${rollout.notifications.delivered} delivered, ${rollout.notifications.failed.length} not:`, ...notificationFailureLines(rollout.notifications).map((l) => `    ${plain(l)}`)]
            : []),
    ];
    return { head, tail };
}

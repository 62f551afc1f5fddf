/**
 * Custom checks: judgements only the user can make (e.g. ML prediction quality against a
 * labelled sample). Two kinds:
 *
 * Webhook `{ name, webhook: { url, timeoutMs?, headers? } }`
 *   POSTs JSON `{ name, canaryVersion, stableVersion, weight, ...context }` to `url`.
 *   2xx with JSON `{ pass: boolean, message?: string }` -> "pass" / "fail".
 *   Non-2xx, timeout, connection failure, non-JSON or a missing boolean `pass` -> "error".
 *
 * Command `{ name, command: string[] | string, timeoutMs?, cwd?, env? }`
 *   An array is executed directly (no shell); a string is run by `/bin/sh -c`.
 *   The context is passed in the environment: CHECK_NAME, CANARY_VERSION, STABLE_VERSION,
 *   CANARY_WEIGHT and the whole payload as JSON in MODEL_CANARY_CONTEXT.
 *   Exit 0 -> "pass"; non-zero exit -> "fail" (message: last non-empty line of stderr, else
 *   stdout). Spawn failure (e.g. not found), timeout (the process group is killed) or death by a
 *   signal -> "error".
 *
 * An abort (the rollout was interrupted) ends a running check at once: the command's process group
 * is killed, a webhook call is cancelled, and the result is "error".
 *
 * `runCustomCheck` never rejects: every failure is reported as a CheckResult. Secret values
 * (a webhook's header or URL, a command's environment) are used as they are and never appear in
 * a result: every message is masked, including what a webhook or command echoes back.
 */
import { spawn } from "child_process";
import { redact } from "../components/secrets";
import { quotedText, visibleControls } from "../components/syntax";
import { show, unknownKeyProblem } from "../components/validation";
import { describeNetworkError, requestDeadline } from "./prometheus";
import type { CheckResult } from "./verdict";

export interface CheckContext {
    canaryVersion: string;
    stableVersion: string;
    /** Current canary traffic weight in percent. */
    weight: number;
    /** Further fields forwarded to webhooks/commands (namespace, workloads, step index...). */
    [key: string]: unknown;
}

export interface WebhookCheck {
    name: string;
    webhook: {
        url: string;
        /** Default 10000. */
        timeoutMs?: number;
        headers?: Record<string, string>;
    };
}

export interface CommandCheck {
    name: string;
    command: string[] | string;
    /** Default 60000. */
    timeoutMs?: number;
    cwd?: string;
    /** Added to the inherited environment. */
    env?: Record<string, string>;
}

export type CustomCheck = WebhookCheck | CommandCheck;

export interface RunCheckOptions {
    /** Plaintext secrets: replaced by `[secret]` in every message. */
    secrets?: readonly string[];
    /** Ends the check at once: the command's process group is killed, a webhook call cancelled. */
    signal?: AbortSignal;
}

/** The keys of a webhook check, of a command check, and of a webhook check's `webhook`. */
export const webhookCheckKeys = ["name", "webhook"] as const;
export const commandCheckKeys = ["name", "command", "timeoutMs", "cwd", "env"] as const;
export const webhookKeys = ["url", "timeoutMs", "headers"] as const;

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
const OUTPUT_CAP = 64 * 1024;

export function isWebhookCheck(c: CustomCheck): c is WebhookCheck {
    return typeof (c as WebhookCheck).webhook === "object" && (c as WebhookCheck).webhook !== null;
}

export function isCommandCheck(c: CustomCheck): c is CommandCheck {
    const cmd = (c as CommandCheck).command;
    return typeof cmd === "string" || Array.isArray(cmd);
}

/**
 * Validates a custom check definition; returns a list of problems (empty when valid).
 * `keyPrefix` names the check in messages, e.g. "rollout.analysis.customChecks[0]".
 */
export function validateCustomCheck(c: unknown, keyPrefix = "customCheck"): string[] {
    const problems: string[] = [];
    if (typeof c !== "object" || c === null || Array.isArray(c)) return [`\`${keyPrefix}\` must be an object, got ${show(c)}`];
    const o = c as Record<string, unknown>;
    if (typeof o.name !== "string" || o.name.trim() === "")
        problems.push(`\`${keyPrefix}.name\` must be a non-empty string, got ${show(o.name)}`);
    const hasWebhook = o.webhook !== undefined;
    const hasCommand = o.command !== undefined;
    if (hasWebhook === hasCommand) {
        problems.push(`\`${keyPrefix}\` must have exactly one of \`webhook\` or \`command\``);
        return problems;
    }
    // A misspelt key would be ignored, and the check run without it (a default timeout, no env).
    const accepted = hasWebhook ? webhookCheckKeys : commandCheckKeys;
    for (const key of Object.keys(o).filter((k) => !(accepted as readonly string[]).includes(k))) {
        problems.push(hasWebhook && (commandCheckKeys as readonly string[]).includes(key)
            ? `\`${keyPrefix}.${key}\` is a command check's key: ${key === "timeoutMs" ? `a webhook's timeout is \`${keyPrefix}.webhook.timeoutMs\`` : `a webhook check takes ${accepted.map((k) => `\`${k}\``).join(", ")}`}`
            : unknownKeyProblem(`${keyPrefix}.${key}`, key, accepted));
    }
    if (o.cwd !== undefined && (typeof o.cwd !== "string" || o.cwd === "")) problems.push(`\`${keyPrefix}.cwd\` must be a directory path, got ${show(o.cwd)}`);
    const checkTimeout = (v: unknown, key: string) => {
        if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v <= 0)) {
            problems.push(`\`${keyPrefix}.${key}\` must be a positive number of milliseconds, got ${show(v)}`);
        }
    };
    if (hasWebhook) {
        const w = o.webhook as Record<string, unknown> | null;
        if (typeof w !== "object" || w === null) {
            problems.push(`\`${keyPrefix}.webhook\` must be an object with a url, got ${show(w)}`);
        } else {
            let ok = false;
            if (typeof w.url === "string") {
                try {
                    const u = new URL(w.url);
                    ok = u.protocol === "http:" || u.protocol === "https:";
                } catch {
                    ok = false;
                }
            }
            for (const key of Object.keys(w).filter((k) => !(webhookKeys as readonly string[]).includes(k))) {
                problems.push(unknownKeyProblem(`${keyPrefix}.webhook.${key}`, key, webhookKeys));
            }
            if (!ok) problems.push(`\`${keyPrefix}.webhook.url\` must be an http(s) URL, got ${show(w.url)}`);
            checkTimeout(w.timeoutMs, "webhook.timeoutMs");
            problems.push(...textMapProblems(w.headers, `${keyPrefix}.webhook.headers`, "header"));
        }
    } else {
        const cmd = o.command;
        const okString = typeof cmd === "string" && cmd.trim() !== "";
        const okArray = Array.isArray(cmd) && cmd.length > 0 && cmd.every((a) => typeof a === "string") && cmd[0] !== "";
        if (!okString && !okArray) {
            problems.push(
                `\`${keyPrefix}.command\` must be a non-empty string (run by /bin/sh) or a non-empty array of strings (argv), got ${show(cmd)}`,
            );
        }
        checkTimeout(o.timeoutMs, "timeoutMs");
        problems.push(...textMapProblems(o.env, `${keyPrefix}.env`, "env"));
    }
    return problems;
}

// An HTTP field name (RFC 9110 token) and an environment variable name.
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const envName = /^[^=\0]+$/;

/**
 * Problems with a map of names to text (webhook headers, a command's environment): each value
 * must be a string (a secret arrives decrypted as one), and a header value must be one line.
 */
function textMapProblems(value: unknown, key: string, kind: "header" | "env"): string[] {
    if (value === undefined) return [];
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return [`\`${key}\` must be a map of ${kind === "header" ? "header names" : "variable names"} to strings, got ${show(value)}`];
    }
    const problems: string[] = [];
    for (const [name, item] of Object.entries(value)) {
        if (!(kind === "header" ? headerName : envName).test(name)) {
            problems.push(`\`${key}\` has ${show(name)}, which is not ${kind === "header" ? "an HTTP header name (letters, digits and !#$%&'*+-.^_\`|~)" : "an environment variable name"}`);
        }
        if (typeof item !== "string") {
            problems.push(`\`${key}.${name}\` must be a string, got ${show(item)}`);
        } else if (kind === "header" && /[\r\n\0]/.test(item)) {
            problems.push(`\`${key}.${name}\` must be one line of text (no CR, LF or NUL), got ${show(item)}`);
        }
    }
    return problems;
}

const interrupted = "the rollout was interrupted";

/** Runs one custom check; `options.signal` aborts it at once (result "error"). Never rejects. */
export async function runCustomCheck(check: CustomCheck, context: CheckContext, options: RunCheckOptions = {}): Promise<CheckResult> {
    const secrets = options.secrets ?? [];
    const result = await runUnmasked(check, context, secrets, options.signal);
    return secrets.length > 0 ? { ...result, message: redact(result.message, secrets) } : result;
}

async function runUnmasked(check: CustomCheck, context: CheckContext, secrets: readonly string[], signal?: AbortSignal): Promise<CheckResult> {
    const name = typeof check?.name === "string" && check.name !== "" ? check.name : "custom-check";
    const problems = validateCustomCheck(check, `custom check ${JSON.stringify(name)}`);
    if (problems.length > 0) return { name, status: "error", message: `invalid check definition: ${problems.join("; ")}` };
    const payload = { ...context, name };
    if (signal?.aborted) return { name, status: "error", message: `not run: ${interrupted}` };
    try {
        if (isWebhookCheck(check)) return await runWebhook(name, check.webhook, payload, secrets, signal);
        return await runCommand(name, check as CommandCheck, payload, signal);
    } catch (err) {
        return { name, status: "error", message: `check could not run: ${err instanceof Error ? err.message : String(err)}` };
    }
}

async function runWebhook(name: string, hook: WebhookCheck["webhook"], payload: Record<string, unknown>, secrets: readonly string[], signal?: AbortSignal): Promise<CheckResult> {
    const timeoutMs = hook.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    const deadline = requestDeadline(timeoutMs, signal);
    let status: number;
    let text: string;
    try {
        const res = await fetch(hook.url, {
            method: "POST",
            headers: { ...(hook.headers ?? {}), "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify(payload),
            signal: deadline.signal,
        });
        status = res.status;
        // Masked before it is cut to a snippet, so no part of an echoed secret survives.
        text = redact(await res.text(), secrets);
    } catch (err) {
        if (signal?.aborted && !deadline.timedOut()) return { name, status: "error", message: `webhook ${hook.url} was stopped: ${interrupted}` };
        const why = deadline.timedOut() ? `no response within ${timeoutMs} ms` : describeNetworkError(err);
        return { name, status: "error", message: `webhook ${hook.url} failed: ${why}` };
    } finally {
        deadline.release();
    }
    if (status < 200 || status > 299) {
        return { name, status: "error", message: `webhook ${hook.url} answered HTTP ${status}: ${snippet(text)}` };
    }
    let body: unknown;
    try {
        body = JSON.parse(text);
    } catch {
        return { name, status: "error", message: `webhook ${hook.url} answered with invalid JSON: ${snippet(text)}` };
    }
    if (typeof body !== "object" || body === null || typeof (body as { pass?: unknown }).pass !== "boolean") {
        return {
            name,
            status: "error",
            message: `webhook ${hook.url} answered without a boolean "pass" field: ${snippet(text)}`,
        };
    }
    const b = body as { pass: boolean; message?: unknown };
    const detail = typeof b.message === "string" && b.message.trim() !== "" ? visibleControls(b.message) : undefined;
    return {
        name,
        status: b.pass ? "pass" : "fail",
        message: detail ?? `webhook ${hook.url} reported ${b.pass ? "pass" : "fail"}`,
    };
}

function runCommand(name: string, check: CommandCheck, payload: Record<string, unknown>, signal?: AbortSignal): Promise<CheckResult> {
    const timeoutMs = check.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const useShell = typeof check.command === "string";
    const file = useShell ? "/bin/sh" : (check.command as string[])[0];
    const args = useShell ? ["-c", check.command as string] : (check.command as string[]).slice(1);
    const shown = useShell ? (check.command as string) : (check.command as string[]).join(" ");
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...(check.env ?? {}),
        CHECK_NAME: name,
        CANARY_VERSION: String(payload.canaryVersion ?? ""),
        STABLE_VERSION: String(payload.stableVersion ?? ""),
        CANARY_WEIGHT: String(payload.weight ?? ""),
        MODEL_CANARY_CONTEXT: JSON.stringify(payload),
    };

    return new Promise<CheckResult>((resolve) => {
        let settled = false;
        const finish = (r: CheckResult) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            signal?.removeEventListener("abort", abort);
            resolve(r);
        };
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        let aborted = false;

        // Own process group, so a timeout also kills whatever a shell started.
        const child = spawn(file, args, { cwd: check.cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        const killGroup = () => {
            try {
                if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
            } catch {
                // Already gone.
            }
        };
        const timer = setTimeout(() => {
            timedOut = true;
            killGroup();
        }, timeoutMs);
        // An interrupted rollout does not wait for a check: the whole group goes at once.
        const abort = () => {
            aborted = true;
            killGroup();
        };
        signal?.addEventListener("abort", abort, { once: true });

        child.stdout!.setEncoding("utf8").on("data", (d: string) => {
            stdout = capTail(stdout + d);
        });
        child.stderr!.setEncoding("utf8").on("data", (d: string) => {
            stderr = capTail(stderr + d);
        });
        child.on("error", (err) => {
            killGroup();
            finish({ name, status: "error", message: `command \`${shown}\` could not be started: ${err.message}` });
        });
        child.on("close", (code, signal) => {
            const last = lastLine(stderr) ?? lastLine(stdout);
            if (aborted) {
                finish({ name, status: "error", message: `command \`${shown}\` was stopped: ${interrupted}` });
            } else if (timedOut) {
                finish({ name, status: "error", message: `command \`${shown}\` timed out after ${timeoutMs} ms and was killed` });
            } else if (signal !== null) {
                finish({ name, status: "error", message: `command \`${shown}\` was killed by ${signal}${last ? `: ${last}` : ""}` });
            } else if (code === 0) {
                finish({ name, status: "pass", message: lastLine(stdout) ?? `command \`${shown}\` exited 0` });
            } else {
                finish({ name, status: "fail", message: last ? `${last} (exit ${code})` : `command \`${shown}\` exited ${code}` });
            }
        });
    });
}

function capTail(s: string): string {
    return s.length > OUTPUT_CAP ? s.slice(s.length - OUTPUT_CAP) : s;
}

/** A process's last non-empty line, control characters escaped. */
function lastLine(s: string): string | undefined {
    const lines = s
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "");
    return lines.length > 0 ? visibleControls(lines[lines.length - 1]) : undefined;
}

/** A webhook's body in a message: one line, control characters escaped, cut at 200 characters. */
function snippet(text: string): string {
    return quotedText(text, 200, "(empty body)");
}

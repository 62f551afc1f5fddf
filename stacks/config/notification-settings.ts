// The `rollout.notifications` list: the webhooks that rollout events go to, checked with the rest
// of the `rollout` block before anything is applied. Pure. A webhook's URL is usually a credential
// (Slack's incoming webhooks carry their token in the path), so no message here shows it.
import { secretMark, show } from "../../components/secrets";
import { integerValue } from "../../components/syntax";
import { unknownKeyProblem } from "../../components/validation";

/** The events a rollout sends, in the order a run meets them. */
export const notificationEvents = [
    "started", "step-applied", "analysis-failed", "rolled-back", "promoted", "completed", "interrupted", "error", "lease-taken-over",
] as const;

export type NotificationEventKind = (typeof notificationEvents)[number];

export const notificationFormats = ["json", "slack"] as const;

/** The keys of one `rollout.notifications` entry. */
export const notificationKeys = ["url", "format", "events", "timeoutMs", "attempts"] as const;

export const defaultNotification = { format: "json", timeoutMs: 5000, attempts: 3 } as const;

/** Bounds of a webhook's settings. */
export const notificationLimits = { webhooks: 10, minTimeoutMs: 100, maxTimeoutMs: 60_000, maxAttempts: 10 } as const;

export interface NotificationWebhook {
    /** Where the events are POSTed; may be a secret: never printed, never recorded (only its host). */
    url: string;
    format: (typeof notificationFormats)[number];
    /** The events this webhook gets; all of them when the entry names none. */
    events: NotificationEventKind[];
    /** Each attempt's time limit. */
    timeoutMs: number;
    /** Attempts per event, the first included, with a doubling pause between them. */
    attempts: number;
}

/**
 * The webhooks of `rollout.notifications` (`key`), or [] when it is absent. Problems name the key
 * and the value as written, but a URL only as "(secret)" or by its scheme: never its text.
 */
export function resolveNotifications(value: unknown, key: string, problems: string[]): NotificationWebhook[] {
    if (value === undefined) return [];
    const entryShape = "{ url, format: json | slack, events?, timeoutMs?, attempts? }";
    if (!Array.isArray(value)) {
        problems.push(`\`${key}\` must be a list of ${entryShape}, got ${show(value)}`);
        return [];
    }
    if (value.length > notificationLimits.webhooks) {
        problems.push(`\`${key}\` must have at most ${notificationLimits.webhooks} webhooks, got ${value.length}`);
        return [];
    }
    const webhooks: NotificationWebhook[] = [];
    value.forEach((entry, i) => {
        const at = `${key}[${i}]`;
        if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
            problems.push(`\`${at}\` must be ${entryShape}, got ${show(entry)}`);
            return;
        }
        const e = entry as Record<string, unknown>;
        const before = problems.length;
        for (const k of Object.keys(e).filter((k) => !(notificationKeys as readonly string[]).includes(k))) problems.push(unknownKeyProblem(`${at}.${k}`, k, notificationKeys));
        const url = webhookUrl(e.url, `${at}.url`, problems);
        const format = e.format ?? defaultNotification.format;
        if (!(notificationFormats as readonly unknown[]).includes(format)) problems.push(`\`${at}.format\` must be one of ${notificationFormats.map((f) => `\`${f}\``).join(", ")}, got ${show(format)}`);
        let events: NotificationEventKind[] = [...notificationEvents];
        if (e.events !== undefined) {
            const list = e.events;
            const accepted = notificationEvents.map((n) => `\`${n}\``).join(", ");
            if (!Array.isArray(list) || list.length === 0) problems.push(`\`${at}.events\` must be a non-empty list of ${accepted} (leave it out for every event), got ${show(list)}`);
            else {
                const unknown = list.filter((n) => !(notificationEvents as readonly unknown[]).includes(n));
                if (unknown.length > 0) problems.push(`\`${at}.events\` must list only ${accepted}, got ${unknown.map((n) => show(n)).join(", ")}`);
                else events = notificationEvents.filter((n) => list.includes(n));
            }
        }
        const timeoutMs = boundedInteger(e.timeoutMs ?? defaultNotification.timeoutMs, `${at}.timeoutMs`, notificationLimits.minTimeoutMs, notificationLimits.maxTimeoutMs, "milliseconds per attempt", problems);
        const attempts = boundedInteger(e.attempts ?? defaultNotification.attempts, `${at}.attempts`, 1, notificationLimits.maxAttempts, "attempts per event, the first included", problems);
        if (problems.length === before && url !== undefined && timeoutMs !== undefined && attempts !== undefined) {
            webhooks.push({ url, format: format as NotificationWebhook["format"], events, timeoutMs, attempts });
        }
    });
    return webhooks;
}

function boundedInteger(value: unknown, key: string, min: number, max: number, what: string, problems: string[]): number | undefined {
    const n = integerValue(value);
    if (n === undefined || n < min || n > max) {
        problems.push(`\`${key}\` must be an integer from ${min} to ${max} (${what}), got ${show(value)}`);
        return undefined;
    }
    return n;
}

/**
 * A webhook's URL: http or https, with a host. When it is wrong the message says how, naming the
 * key as `(secret)` when the value is one, and otherwise showing its scheme at most: a webhook URL
 * written in plaintext is still a credential.
 */
function webhookUrl(value: unknown, key: string, problems: string[]): string | undefined {
    const secret = show(value) === secretMark;
    const name = `\`${key}\`${secret ? " (secret)" : ""}`;
    if (value === undefined) {
        problems.push(`${name} is required: the http(s) URL the events are POSTed to (set it with \`pulumi config set --secret --path '${key}' URL\`)`);
        return undefined;
    }
    if (typeof value !== "string") {
        problems.push(`${name} must be an http(s) URL, got ${secret ? secretMark : `a ${Array.isArray(value) ? "list" : value === null ? "null" : typeof value}`}`);
        return undefined;
    }
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        problems.push(`${name} must be an http(s) URL, got text that is not a URL${secret ? "" : " (not shown: a webhook URL is a credential)"}`);
        return undefined;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
        problems.push(`${name} must be an http(s) URL, got a \`${url.protocol.slice(0, -1)}:\` URL`);
        return undefined;
    }
    if (url.username !== "" || url.password !== "") {
        problems.push(`${name} must not carry a user or password before \`@\`: a token belongs in the URL's path or query, and the URL in a secret`);
        return undefined;
    }
    return value;
}

/** Where a webhook's events go, for messages and the record: its position and host only, never its path or query. */
export function webhookLabel(index: number, url: string): { index: number; host: string } {
    let host = "unknown host";
    try {
        host = new URL(url).host;
    } catch {
        // validated already; a label is never worth a failure
    }
    return { index, host };
}

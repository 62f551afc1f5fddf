// The bodies a webhook receives: the generic JSON document, and the Slack-compatible
// `{ text, blocks }` that Slack, Mattermost and Rocket.Chat incoming webhooks take. Pure.
import { headline, NotificationEvent, severity } from "./event";

/** The generic body: the event as it is, named and versioned so a receiver can dispatch on it. */
export function jsonBody(event: NotificationEvent): Record<string, unknown> {
    return { source: "model-canary", schema: 1, event: event.kind, severity: severity(event.kind), summary: headline(event), ...withoutKind(event) };
}

function withoutKind(event: NotificationEvent): Omit<NotificationEvent, "kind"> {
    const { kind: _kind, ...rest } = event;
    return rest;
}

/** Text shown as itself in Slack's mrkdwn: `&`, `<` and `>` are its only control characters (`<...>` makes links and mentions). */
export function slackEscape(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The Slack-compatible body: `text` (the notification and the fallback for clients without
 * blocks) and `blocks`: the headline and reason, then the details as context.
 */
export function slackBody(event: NotificationEvent): { text: string; blocks: unknown[] } {
    // Slack refuses a section over 3000 characters: a long reason (many failing checks) is cut.
    const reason = slackEscape(event.reason.length > 2500 ? `${event.reason.slice(0, 2500)}...` : event.reason);
    const mark = severity(event.kind) === "Warning" ? ":warning: " : "";
    const title = `${mark}model-canary: ${slackEscape(headline(event))}`;
    const details = [
        `stack \`${slackEscape(event.stack)}\``,
        `model \`${slackEscape(event.model)}\``,
        `stable \`${slackEscape(event.stableVersion)}\``,
        ...(event.canaryVersion ? [`canary \`${slackEscape(event.canaryVersion)}\``] : []),
        ...(event.outcome ? [`outcome ${slackEscape(event.outcome)}`] : []),
        `runner ${slackEscape(event.runner.host)} pid ${event.runner.pid}`,
        slackEscape(event.time),
        ...(event.report ? [`report ${slackEscape(event.report)}`] : []),
    ];
    return {
        text: `${title}: ${reason}`,
        blocks: [
            { type: "section", text: { type: "mrkdwn", text: `*${title}*\n${reason}` } },
            { type: "context", elements: [{ type: "mrkdwn", text: details.join(" · ") }] },
        ],
    };
}

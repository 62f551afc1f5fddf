// Sends a run's events to its webhooks and other sinks (Kubernetes Events) in the background:
// `send` never waits and never throws, so no decision of the rollout (a rollback least of all)
// waits for a receiver. Each webhook gets its events one at a time, in order, each retried with
// backoff; at the end of the run `settle` waits a bounded time for what is still on its way and
// says which deliveries failed.
import { NotificationWebhook, webhookLabel } from "../stacks/config/notification-settings";
import { backoffMs, post, type Attempt } from "./deliver";
import { NotificationEvent } from "./event";
import { jsonBody, slackBody } from "./format";

/** A place events go besides the webhooks: e.g. Kubernetes Events on the model's route object. */
export interface EventSink {
    /** For the record, e.g. "Kubernetes Event on VirtualService ml/fraud". Never a secret. */
    describe: string;
    /** Writes one event; a rejection is reported, never retried here. */
    write(event: NotificationEvent): Promise<void>;
}

/** A delivery that did not reach its receiver. */
export interface DeliveryFailure {
    event: NotificationEvent["kind"];
    /** The webhook by its position in `rollout.notifications` and its host; absent for a sink. */
    webhook?: { index: number; host: string };
    /** The sink, when not a webhook. */
    sink?: string;
    attempts: number;
    lastError: string;
    /** ISO time it was given up. */
    gaveUpAt: string;
}

/** What the run's deliveries came to, for its output and record. */
export interface NotificationSummary {
    /** Deliveries made (one per event and receiver that takes it). */
    delivered: number;
    failed: DeliveryFailure[];
}

export interface NotifierOptions {
    sinks?: EventSink[];
    /** The first pause between attempts; it doubles. Default 500 ms. */
    backoffMs?: number;
}

interface Pending {
    event: NotificationEvent;
    body: string;
    /** The event's position in the run, to report failures in the order of the events. */
    seq: number;
}

/** A failure and the position of its event in the run. */
type Failed = { seq: number; failure: DeliveryFailure };

/** One webhook's queue: one delivery at a time, in the order the events happened. */
class WebhookQueue {
    private readonly queue: Pending[] = [];
    private running: Promise<void> | undefined;
    private current: Attempt | undefined;
    private closed = false;
    private wake: (() => void) | undefined;
    readonly label: { index: number; host: string };

    constructor(private readonly webhook: NotificationWebhook, index: number, private readonly summary: NotificationSummary, private readonly failures: Failed[], private readonly baseBackoffMs: number) {
        this.label = webhookLabel(index, webhook.url);
    }

    /** The longest one delivery can take: every attempt's limit and the pauses between them. */
    get worstCaseMs(): number {
        let ms = this.webhook.attempts * this.webhook.timeoutMs;
        for (let n = 2; n <= this.webhook.attempts; n++) ms += backoffMs(n, this.baseBackoffMs);
        return ms;
    }

    push(event: NotificationEvent, seq: number): void {
        if (this.closed || !this.webhook.events.includes(event.kind)) return;
        const body = JSON.stringify(this.webhook.format === "slack" ? slackBody(event) : jsonBody(event));
        this.queue.push({ event, body, seq });
        this.running ??= this.drain();
    }

    private async drain(): Promise<void> {
        for (let next = this.queue.shift(); next && !this.closed; next = this.queue.shift()) await this.deliver(next);
        this.running = undefined;
    }

    private async deliver({ event, body, seq }: Pending): Promise<void> {
        let lastError = "";
        let attempts = 0;
        for (let n = 1; n <= this.webhook.attempts && !this.closed; n++) {
            if (n > 1) {
                await new Promise<void>((r) => {
                    const timer = setTimeout(r, backoffMs(n, this.baseBackoffMs));
                    this.wake = () => { clearTimeout(timer); r(); };
                });
                this.wake = undefined;
            }
            if (this.closed) break;
            attempts = n;
            this.current = post(this.webhook.url, body, this.webhook.timeoutMs);
            try {
                await this.current.done;
                this.summary.delivered++;
                return;
            } catch (e) {
                lastError = (e as Error).message;
            } finally {
                this.current = undefined;
            }
        }
        this.failures.push({ seq, failure: { event: event.kind, webhook: this.label, attempts, lastError, gaveUpAt: new Date().toISOString() } });
    }

    /** Resolves when nothing is on its way. */
    idle(): Promise<void> {
        return this.running ?? Promise.resolve();
    }

    /** Gives up what is still queued or running, each reported as not delivered. */
    close(reason: string): void {
        this.closed = true;
        this.current?.abort(reason);
        this.wake?.();
        for (const { event, seq } of this.queue.splice(0)) {
            this.failures.push({ seq, failure: { event: event.kind, webhook: this.label, attempts: 0, lastError: reason, gaveUpAt: new Date().toISOString() } });
        }
    }
}

export class Notifier {
    private readonly queues: WebhookQueue[];
    private readonly sinks: EventSink[];
    private readonly writes: Promise<void>[] = [];
    private readonly failures: Failed[] = [];
    private readonly sinkTails: Promise<void>[] = [];
    private sent = 0;
    private readonly summary: NotificationSummary = { delivered: 0, failed: [] };

    constructor(webhooks: readonly NotificationWebhook[], options: NotifierOptions = {}) {
        this.queues = webhooks.map((w, i) => new WebhookQueue(w, i, this.summary, this.failures, options.backoffMs ?? 500));
        this.sinks = options.sinks ?? [];
    }

    /** Whether any receiver is configured. */
    get active(): boolean {
        return this.queues.length > 0 || this.sinks.length > 0;
    }

    /** Queues the event for every receiver that takes it; returns at once, never throws. */
    send(event: NotificationEvent): void {
        const seq = this.sent++;
        for (const q of this.queues) q.push(event, seq);
        this.sinks.forEach((sink, i) => {
            // One write at a time per sink, in the order of the events, each after this call has
            // returned: a sink's first write connects (a kubeconfig's credential plugin may run).
            const previous = this.sinkTails[i] ?? new Promise<void>((r) => setImmediate(r));
            const write = previous.then(() => sink.write(event)).then(() => { this.summary.delivered++; }, (e) => {
                this.failures.push({ seq, failure: { event: event.kind, sink: sink.describe, attempts: 1, lastError: (e as Error).message, gaveUpAt: new Date().toISOString() } });
            });
            this.sinkTails[i] = write;
            this.writes.push(write);
        });
    }

    /**
     * Waits for what is on its way, at most long enough for one more delivery per webhook (its
     * attempts, their limits and pauses) and a second, `maxWaitMs` at most; then gives up the
     * rest: each is a failure in the summary, which lists failures in the order of their events.
     */
    async settle(maxWaitMs = 60_000): Promise<NotificationSummary> {
        const waitMs = Math.min(maxWaitMs, 1000 + Math.max(0, ...this.queues.map((q) => q.worstCaseMs)));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((r) => { timer = setTimeout(r, waitMs); });
        await Promise.race([Promise.all([...this.queues.map((q) => q.idle()), ...this.writes]), timeout]);
        clearTimeout(timer);
        for (const q of this.queues) q.close(`not delivered: still on its way ${Math.round(waitMs / 100) / 10} s after the run ended (this webhook's earlier events were being retried)`);
        // A sink's writes are bounded by its own client's time limit.
        await Promise.all(this.writes);
        for (const q of this.queues) await q.idle();
        this.summary.failed = [...this.failures].sort((a, b) => a.seq - b.seq).map((f) => f.failure);
        return this.summary;
    }
}

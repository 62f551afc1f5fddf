// Delivery of one body to one webhook: an HTTP(S) POST with a time limit per attempt, retried
// with a doubling pause. Errors name the webhook by its position and host, never its URL (whose
// path or query is usually its token).
import * as http from "http";
import * as https from "https";

/** An attempt that failed: its cause, without the URL. */
export class DeliveryError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeliveryError";
    }
}

/** A running POST that can be given up (the run ended). */
export interface Attempt {
    done: Promise<void>;
    abort(reason: string): void;
}

/** POSTs `body` (JSON text) to `url`; resolves on a 2xx answer, rejects with a DeliveryError otherwise or after `timeoutMs`. */
export function post(url: string, body: string, timeoutMs: number): Attempt {
    let abort: (reason: string) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
        const target = new URL(url);
        const client = target.protocol === "https:" ? https : http;
        const req = client.request(target, {
            method: "POST",
            headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "User-Agent": "model-canary" },
            // Connections are not kept alive: nothing of a delivery outlives it and keeps the process up.
            agent: false,
        }, (res) => {
            const status = res.statusCode ?? 0;
            // The answer's body is not read into a message: a receiver may echo what it was sent.
            res.resume();
            res.on("end", () => {
                clearTimeout(timer);
                if (status >= 200 && status < 300) resolve();
                else reject(new DeliveryError(`answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage.slice(0, 60)}` : ""}`));
            });
            res.on("error", (e) => { clearTimeout(timer); reject(new DeliveryError(`the answer broke off: ${e.message}`)); });
        });
        const timer = setTimeout(() => req.destroy(new DeliveryError(`no answer within ${timeoutMs} ms`)), timeoutMs);
        abort = (reason) => req.destroy(new DeliveryError(reason));
        req.on("error", (e) => {
            clearTimeout(timer);
            reject(e instanceof DeliveryError ? e : new DeliveryError(causeOf(e, target)));
        });
        req.end(body);
    });
    return { done, abort: (reason) => abort(reason) };
}

/** A network error's cause, with the host where Node names it and without the URL's path or query. */
function causeOf(e: Error, target: URL): string {
    const code = (e as NodeJS.ErrnoException).code;
    const text = e.message.split(target.pathname).join("/...").split(target.search).join("");
    return code && !text.includes(code) ? `${code}: ${text}` : text;
}

/** Pause before attempt `n` (1-based, n >= 2): base, 2 base, 4 base... */
export function backoffMs(attempt: number, baseMs: number): number {
    return baseMs * 2 ** (attempt - 2);
}

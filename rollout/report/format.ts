// Numbers, times and durations as the report shows them, in Markdown and in the charts alike.
import type { RolloutRecord } from "../record";

export function isFiniteNumber(v: unknown): v is number {
    return typeof v === "number" && Number.isFinite(v);
}

/** Epoch ms of an ISO time, or undefined when absent or unparseable (never NaN downstream). */
export function parseTime(iso: string | undefined): number | undefined {
    if (!iso) return undefined;
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : undefined;
}

/** Percentages always with two decimals, so 99.996 never reads as a passing "100%". */
export function fmtPct(v: number): string {
    return `${v.toFixed(2)}%`;
}

export function fmtMs(v: number): string {
    if (!Number.isFinite(v)) return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** Plain numbers without float noise: 10 -> "10", 0.5 -> "0.5", 1234.5678 -> "1234.57". */
export function fmtNum(v: number): string {
    if (!Number.isFinite(v)) return String(v);
    return String(Number(v.toFixed(2)));
}

/**
 * Human duration with whole-second resolution above a second: "850 ms", "42s", "2m 05s",
 * "1h 02m 05s". Negative values (clock skew) keep their sign.
 */
export function formatDuration(ms: number): string {
    if (!Number.isFinite(ms)) return "unknown";
    if (ms < 0) return `-${formatDuration(-ms)}`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const total = Math.round(ms / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n: number): string => String(n).padStart(2, "0");
    if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
    if (m > 0) return `${m}m ${pad(s)}s`;
    return `${s}s`;
}

/** Offset within a step in whole seconds, e.g. "+3s", "+1m 05s". */
export function formatOffset(ms: number): string {
    const whole = Math.round(Math.abs(ms) / 1000) * 1000;
    return `${ms < 0 && whole > 0 ? "-" : "+"}${whole === 0 ? "0s" : formatDuration(whole)}`;
}

export function shorten(s: string, max: number): string {
    const one = String(s).replace(/\s+/g, " ").trim();
    if (one.length <= max) return one;
    // Cut at a word boundary when one is near, so the snippet does not end in half a word.
    let cut = one.slice(0, max - 1);
    const space = cut.lastIndexOf(" ");
    if (space > max * 0.6) cut = cut.slice(0, space);
    return `${cut.trimEnd()}…`;
}


/** What a report is about: the stack, and the model when the stack names it (`prod/fraud`; the shorthand's `model` is the stack itself). */
export function subjectOf(record: Pick<RolloutRecord, "stack" | "model">): string {
    return record.model === undefined || record.model === "model" ? record.stack : `${record.stack}/${record.model}`;
}

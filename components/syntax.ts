// Pure text rules shared by every check of user input: integers written as plain decimal text,
// Kubernetes names and keys, container image references, Kubernetes quantities, and text free
// of control characters. No Pulumi, no I/O. Each rule follows the definition it names, so a
// value accepted here is one the API server (or Istio) accepts too.

/** Kubernetes' int32, the type of `replicas`, ports and probe timings. */
export const int32Max = 2147483647;

const decimalInteger = /^-?(0|[1-9][0-9]*)$/;

/**
 * The integer a value stands for, or undefined when it is not one. Numbers must be safe
 * integers (so `1e308` and `99999999999.5` are not); text must be plain decimal digits with an
 * optional leading `-` (so `0x10`, `1e2`, `+10`, ` 10 `, `10.0` and `010` are not): what
 * `pulumi config set` stores is text, and `Number()` would read those forms as other numbers.
 */
export function integerValue(value: unknown): number | undefined {
    if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
    if (typeof value !== "string" || !decimalInteger.test(value) || value.length > 16) return undefined;
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : undefined;
}

// A JSON string (skipped whole, so digits inside text are not numbers) or a JSON number.
const jsonToken = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/g;

/**
 * The numbers written in a JSON text that no number can hold (`1e400`, `-2e308`), as written.
 * `JSON.parse` reads them as Infinity, so a message about the parsed value could not show what
 * the user wrote.
 */
export function overflowingNumbers(jsonText: string): string[] {
    return [...jsonText.matchAll(jsonToken)].map((m) => m[0]).filter((t) => !t.startsWith('"') && !Number.isFinite(Number(t)));
}

const decimalPercent = /^(0|[1-9][0-9]{0,2})(\.[0-9]{1,4})?$/;

/**
 * A percentage from 0 to 100 with at most 4 decimal places (`12.5`, `0.25`, `100`), or undefined.
 * Istio's `Percent` is a double; Envoy applies it as a fraction of a million, so a finer value
 * would not mean anything. Text must be plain decimal (`1e2`, `.5`, `+5`, `5%` are not).
 */
export function percentValue(value: unknown): number | undefined {
    let n: number | undefined;
    if (typeof value === "number") n = Number.isFinite(value) && Math.abs(Math.round(value * 1e4) - value * 1e4) < 1e-6 ? value : undefined;
    else if (typeof value === "string" && decimalPercent.test(value)) n = Number(value);
    return n !== undefined && n >= 0 && n <= 100 ? n : undefined;
}

/** RFC 1123 label: what Kubernetes calls a DNS label (namespaces, most names, label values here). */
export function isDnsLabel(text: string): boolean {
    return text.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(text);
}

/** RFC 1035 label: Service names, which must start with a letter. */
export function isDns1035Label(text: string): boolean {
    return text.length <= 63 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(text);
}

/** RFC 1123 subdomain: dot-separated DNS labels, at most 253 characters. */
export function isDnsSubdomain(text: string): boolean {
    return text.length <= 253 && text.split(".").every(isDnsLabel);
}

/**
 * A qualified name (label and annotation keys, resource names): an optional DNS subdomain
 * prefix and `/`, then a name of at most 63 characters of letters, digits, `-`, `_` and `.`,
 * starting and ending with a letter or digit.
 */
export function isQualifiedName(text: string): boolean {
    const parts = text.split("/");
    if (parts.length > 2) return false;
    const name = parts[parts.length - 1];
    if (parts.length === 2 && (parts[0] === "" || !isDnsSubdomain(parts[0]))) return false;
    return name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

/** A Kubernetes label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit. */
export function isLabelValue(text: string): boolean {
    return text === "" || (text.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(text));
}

/** An IANA service name, as a named container port: at most 15 characters, at least one letter. */
export function isIanaServiceName(text: string): boolean {
    return text.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(text) && /[a-z]/.test(text) && !text.includes("--");
}

/**
 * An environment variable name as Kubernetes validates it: letters, digits, `_`, `-` and `.`,
 * not starting with a digit.
 */
export function isEnvVarName(text: string): boolean {
    return /^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(text);
}

// The grammar of a container image reference (the distribution project's reference grammar):
// [registry[:port]/]path[:tag][@algorithm:hex]. Path components are lowercase.
const registry = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?";
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const imageReference = new RegExp(
    `^(?:${registry}/)?${pathComponent}(?:/${pathComponent})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?` +
    "(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$",
);

/** A container image reference such as `registry.example.com:5000/team/model-runner:v2@sha256:...`. */
export function isImageReference(text: string): boolean {
    const name = text.split(/[@]/)[0].replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]*$/, "");
    return name.length <= 255 && imageReference.test(text);
}

/** The first control character (C0, DEL or C1) in `text`, or undefined. */
export function controlCharacter(text: string): string | undefined {
    const m = /[\u0000-\u001f\u007f-\u009f]/.exec(text);
    return m ? m[0] : undefined;
}

const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `\n`, `\u001b`...: how a control character is named in a message. */
export function describeCharacter(ch: string): string {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every control character (C0, DEL, C1, line and paragraph separators) written as
 * a visible escape, except those `keep` matches: printed to a terminal, such text cannot move
 * the cursor, recolour or clear the screen, or start a line of its own.
 */
export function visibleControls(text: string, keep?: RegExp): string {
    return String(text).replace(controlCharacters, (c) => (keep?.test(c) ? c : describeCharacter(c)));
}

/**
 * Everything the command writes to a terminal (its own messages, and in them text from outside:
 * Prometheus and webhook bodies, Kubernetes API errors, a check's output, the engine's output
 * relayed) goes through this one function: control characters as escapes, except the newlines and
 * tabs that lay out its lines.
 */
export function terminalText(text: string): string {
    return visibleControls(hideUrlPasswords(text), /[\n\t]/);
}

/**
 * Text with the password of every URL in it hidden: `scheme://user:***@host` and `password=***` in
 * a query. A state backend's URL (`postgres://user:password@host/db`) reaches messages from the
 * engine's own errors ("unable to open bucket postgres://...") as well as from ours.
 */
export function hideUrlPasswords(text: string): string {
    return String(text)
        .replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):[^\s/?#]*@/gi, "$1$2:***@")
        .replace(/([?&](?:password|passwd|pwd)=)[^&#\s]*/gi, "$1***");
}

/**
 * Text from outside quoted inside a message (a response body, a process's last line, an API
 * error): on one line, control characters as escapes, at most `max` characters; `empty` when
 * nothing is left. It cannot start a line of its own in the message.
 */
export function quotedText(text: string, max: number, empty = "(empty)"): string {
    const t = visibleControls(hideUrlPasswords(String(text)).replace(/\s+/g, " ").trim());
    if (t === "") return empty;
    return t.length > max ? `${t.slice(0, max)}...` : t;
}

const binarySuffixes: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
// Decimal suffixes as powers of ten, so that `12E-1` reads as 1.2 exactly rather than 12 * 0.1.
const decimalExponents: Record<string, number> = { m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const quantityPattern = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

/**
 * The value of a Kubernetes quantity (`500m`, `2Gi`, `1.5`, `1e3`), or undefined when the text
 * does not follow the quantity grammar: a signed decimal number, then one binary suffix (Ki..Ei),
 * one decimal suffix (m, k, M, G, T, P, E) or a decimal exponent (e3, E-2). A number given as
 * a number (YAML `cpu: 2`) is a quantity too.
 */
export function quantityValue(value: unknown): number | undefined {
    if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
    if (typeof value !== "string" || value.length > 64) return undefined;
    const m = quantityPattern.exec(value);
    if (!m) return undefined;
    const [, sign, digits, suffix = ""] = m;
    const n = suffix in binarySuffixes
        ? Number(digits) * binarySuffixes[suffix]
        : Number(`${digits}e${suffix in decimalExponents ? decimalExponents[suffix] : Number(suffix.slice(1))}`);
    if (sign === "-") return Number.isFinite(n) ? -n : undefined;
    return Number.isFinite(n) ? n : undefined;
}

// Every form some YAML reader takes as a number: YAML 1.2's core schema (what the `yaml` package
// reads), YAML 1.1 (binary, leading-zero octal, base 60, underscores) and the Go reader the
// Pulumi engine uses (`0X10`, `0O17`, `0B1`, underscores, `010` as octal).
const yamlNumberBody = /^(0[xXoObB][0-9a-fA-F_]*|[0-9][0-9_]*(:[0-9_]+)*(\.[0-9_]*)?([eE][-+]?[0-9_]+)?|\.[0-9][0-9_]*([eE][-+]?[0-9_]+)?)$/;

/**
 * Why a plain (unquoted) YAML scalar is a number that is not handed over as written, or undefined
 * when it is a plain decimal number written as it reads back (`10`, `-1`, `12.5`) or no number
 * to any YAML reader (`v2`, `1.2.3`). The engine reads `0x10` as 16, `010` as 8, `1_000` as
 * 1000 and `10.0` as 10, and hands the program only the number, so the form must be refused
 * where the text is still seen: the settings file. Pure.
 */
export function yamlNumberForm(text: string): string | undefined {
    if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return "infinity";
    if (/^[-+]?\.(nan|NaN|NAN)$/.test(text)) return "not a number";
    const sign = /^[-+]/.test(text) ? text[0] : "";
    const body = text.slice(sign.length);
    if (!yamlNumberBody.test(body)) return undefined;
    if (/^0[xX]/.test(body)) return "a hexadecimal number";
    if (/^0[oO]/.test(body)) return "an octal number";
    if (/^0[bB]/.test(body)) return "a binary number";
    if (body.includes(":")) return "a base-60 number (YAML 1.1 reads 1:30 as 90)";
    if (body.includes("_")) return "a number with underscores";
    if (/[eE]/.test(body)) return "a number with an exponent";
    if (sign === "+") return "a number with a plus sign";
    if (/^0[0-9]/.test(body)) return "a number with a leading zero (YAML 1.1 and the engine read 010 as the octal 8)";
    if (body.startsWith(".") || body.endsWith(".")) return `a number with no digit ${body.startsWith(".") ? "before" : "after"} the point`;
    if (String(Number(text)) === text) return undefined;
    if (/\.[0-9]*0$/.test(body)) return "a number with a trailing zero after the point (YAML reads 10.0 as 10)";
    if (text === "-0") return "negative zero";
    return "a number with more digits than YAML reads exactly";
}

/** The first format character (Unicode category Cf: bidirectional overrides, zero-width joiners, soft hyphens...) in `text`, or undefined. */
export function formatCharacter(text: string): string | undefined {
    const m = /\p{Cf}/u.exec(text);
    return m ? m[0] : undefined;
}

/** `U+202E`: how a character is named in a message, never the character itself. */
export function codePoint(ch: string): string {
    return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** `text` with every format character (Cf), C1 control and line separator written as `\uXXXX`: shown, it reads as what it holds. */
export function visibleFormatCharacters(text: string): string {
    return text.replace(/[\u0080-\u009f\u2028\u2029\p{Cf}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`);
}

// Secret config values: where they may be used, and keeping their plaintext out of every message.
// Pure: no Pulumi, no I/O.
import { visibleFormatCharacters } from "./syntax";

/** What is shown instead of a secret value. */
export const secretMark = "[secret]";

/** A path into the config tree: `["canary", "env", "API_KEY"]`, `["rollout", "checks", 0, "webhook", "url"]`. */
export type ConfigPath = (string | number)[];

/** Formats a path as `pulumi config set --path` takes it: `canary.env.API_KEY`, `rollout.checks[0].webhook.url`. */
export function formatPath(path: ConfigPath): string {
    return path.map((segment, i) => typeof segment === "number"
        ? `[${segment}]`
        : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment) ? `${i === 0 ? "" : "."}${segment}` : `[${JSON.stringify(segment)}]`).join("");
}

/** True when a stack settings value is an encrypted leaf as `pulumi config set --secret` writes it. */
export function isSecureLeaf(value: unknown): value is { secure: string } {
    return typeof value === "object" && value !== null && !Array.isArray(value)
        && Object.keys(value).length === 1 && typeof (value as { secure?: unknown }).secure === "string";
}

/** Every encrypted leaf of a stack settings value, with its path (below `prefix`) and ciphertext. */
export function secureLeaves(value: unknown, prefix: ConfigPath = []): { path: ConfigPath; ciphertext: string }[] {
    if (isSecureLeaf(value)) return [{ path: prefix, ciphertext: value.secure }];
    if (Array.isArray(value)) return value.flatMap((item, i) => secureLeaves(item, [...prefix, i]));
    if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([k, v]) => secureLeaves(v, [...prefix, k]));
    return [];
}

/** Replaces every encrypted leaf by what `plaintext` says it decrypts to. */
export function substituteSecure(value: unknown, plaintext: (ciphertext: string) => unknown): unknown {
    if (isSecureLeaf(value)) return plaintext(value.secure);
    if (Array.isArray(value)) return value.map((item) => substituteSecure(item, plaintext));
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteSecure(v, plaintext)]));
    return value;
}

/** The value at `path`, or undefined. */
export function valueAt(tree: unknown, path: ConfigPath): unknown {
    let node = tree;
    for (const segment of path) {
        if (typeof node !== "object" || node === null) return undefined;
        node = (node as Record<string | number, unknown>)[segment];
    }
    return node;
}

/** Every string, number and boolean below a value, as text: what a secret at a whole subtree hides. */
export function scalarTexts(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (typeof value === "number" || typeof value === "boolean") return [String(value)];
    if (Array.isArray(value)) return value.flatMap(scalarTexts);
    if (typeof value === "object" && value !== null) return Object.values(value).flatMap(scalarTexts);
    return [];
}

// Where a secret can stay secret: each of these reaches its consumer without being written in
// plaintext into resource names, labels, manifests or messages. `*` is any key, `#` any index.
const secretLocations: { pattern: (string | "*" | "#")[]; shown: string }[] = [
    { pattern: ["kubeconfig"], shown: "`kubeconfig`" },
    { pattern: ["stable", "env", "*"], shown: "`stable.env.<NAME>`" },
    { pattern: ["canary", "env", "*"], shown: "`canary.env.<NAME>`" },
    { pattern: ["rollout", "checks", "#", "webhook", "url"], shown: "`rollout.checks[i].webhook.url`" },
    { pattern: ["rollout", "checks", "#", "webhook", "headers", "*"], shown: "`rollout.checks[i].webhook.headers.<NAME>`" },
    { pattern: ["rollout", "checks", "#", "env", "*"], shown: "`rollout.checks[i].env.<NAME>`" },
    { pattern: ["rollout", "prometheusAuth", "bearerToken"], shown: "`rollout.prometheusAuth.bearerToken`" },
    { pattern: ["rollout", "prometheusAuth", "password"], shown: "`rollout.prometheusAuth.password`" },
    { pattern: ["rollout", "notifications", "#", "url"], shown: "`rollout.notifications[i].url`" },
];

function matches(path: ConfigPath, pattern: (string | "*" | "#")[]): boolean {
    return path.length >= pattern.length && pattern.every((p, i) =>
        p === "*" ? typeof path[i] === "string" : p === "#" ? typeof path[i] === "number" : path[i] === p);
}

/**
 * Problems with secret config at places that cannot keep it secret (a secret `canary.image` would
 * be written in plaintext into the Deployment; a secret `canary` as a whole would put a secret
 * version into resource names). Each names the key and never the value.
 */
export function secretLocationProblems(paths: ConfigPath[]): string[] {
    // A model of the `models` map keeps its secrets at the same places below `models.<name>`.
    const inModel = (path: ConfigPath) => (path[0] === "models" && typeof path[1] === "string"
        && secretLocations.some((l) => l.pattern[0] !== "kubeconfig" && matches(path.slice(2), l.pattern)))
        // `defaults` holds no model versions (stacks/config/models.ts), so of these only the rollout's.
        || (path[0] === "defaults" && secretLocations.some((l) => l.pattern[0] === "rollout" && matches(path.slice(1), l.pattern)));
    return paths.filter((path) => !secretLocations.some((l) => matches(path, l.pattern)) && !inModel(path)).map((path) =>
        `\`${formatPath(path)}\` cannot be a secret: it would be written in plaintext into resource names, manifests or messages; ` +
        `secrets are accepted in ${secretLocations.map((l) => l.shown).join(", ")} (set each one with \`pulumi config set --secret --path\`), ` +
        "and for a model of the `models` map at the same places below `models.<name>` (but `kubeconfig`), and the rollout's below `defaults`");
}

/** True when `path` is a secret path or lies below one. */
export function isSecretPath(path: ConfigPath, secretPaths: readonly ConfigPath[]): boolean {
    return secretPaths.some((s) => s.length <= path.length && s.every((segment, i) => segment === path[i]));
}

// The secret values active while a validation runs; `show` masks them. Validation is synchronous,
// so a value set around one call cannot leak into another.
let active: ReadonlySet<string> = new Set();

/** Runs `fn` with `secrets` masked in every value that `show`/`maskSecrets` renders. */
export function withSecrets<T>(secrets: Iterable<string>, fn: () => T): T {
    const previous = active;
    active = new Set([...previous, ...[...secrets].filter((s) => s !== "")]);
    try {
        return fn();
    } finally {
        active = previous;
    }
}

/** A copy of `value` with every active secret string replaced by `[secret]`, for rendering in a message. */
export function maskSecrets(value: unknown): unknown {
    if (active.size === 0) return value;
    if (typeof value === "string") return active.has(value) ? secretMark : redact(value, active);
    if (Array.isArray(value)) return value.map(maskSecrets);
    if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v)]));
    return value;
}

/**
 * `text` with every occurrence of a secret (as is, and as it appears inside JSON) replaced by
 * `[secret]`: the last line of defence for text that may echo a secret (a webhook's answer, a
 * command's output, an error). Longer secrets first, so one containing another is masked whole.
 */
export function redact(text: string, secrets: Iterable<string>): string {
    const forms = new Set<string>();
    for (const s of secrets) {
        if (s === "") continue;
        forms.add(s);
        forms.add(JSON.stringify(s).slice(1, -1));
    }
    if (forms.size === 0) return text;
    // One pass, so the mark itself is never searched again. A very short secret is masked only
    // where it stands alone, so a secret "u" does not turn every word into [secret].
    const alternatives = [...forms].sort((a, b) => b.length - a.length).map((f) => {
        const escaped = f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        return f.length < shortSecret ? `(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])` : escaped;
    });
    return text.replace(new RegExp(alternatives.join("|"), "g"), secretMark);
}

/** Secrets shorter than this are masked where they stand alone, not inside words. */
const shortSecret = 4;

/**
 * Renders a received value for an error message: strings quoted, everything else as JSON. A
 * secret (see `withSecrets`) is shown as `[secret]`, never its plaintext.
 */
export function show(value: unknown): string {
    if (value === undefined) return "nothing";
    if (typeof value === "number") return String(value);
    const masked = maskSecrets(value);
    if (masked === secretMark) return secretMark;
    // A bidirectional override (U+202E) or a C1 control would make the message show other text than the value holds.
    const text = visibleFormatCharacters(JSON.stringify(masked) ?? String(masked));
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

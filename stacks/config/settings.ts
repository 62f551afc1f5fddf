// Reads and edits the project's keys in Pulumi.<stack>.yaml. Edits keep comments and layout, are
// written atomically (temp file + rename), and are checked by the same validation the program
// runs, so a tool can never leave a config that `pulumi up` would refuse.
//
// Secret values stay encrypted in the file: an edit moves or keeps their `{ secure: ... }` nodes
// exactly as they are and never writes a decrypted value back. Validation sees them decrypted, as
// the engine hands them to the program, through the stack's secrets provider (`Decrypt`).
import * as fs from "fs";
import * as YAML from "yaml";
import { ConfigPath, isSecureLeaf, secureLeaves, substituteSecure, valueAt } from "../../components/secrets";
import { configNamespace, parseStackConfig, refuseWrittenForms, StackConfig, stackSettingsPath } from "./config";
import { quoteNumberLikeStrings } from "./settings-written";
import { parseSettingsText, projectNameBeside } from "./settings-yaml";

export { stackSettingsPath };

/**
 * The stack's config decrypted by its secrets provider, as `pulumi config --show-secrets --json`
 * reports it: full key (`model-canary:canary`) -> value (objects and lists as JSON text or values).
 */
export type Decrypt = () => Record<string, unknown>;

function load(file: string): YAML.Document {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const doc: YAML.Document = YAML.parseDocument(text);
    if (doc.errors.length > 0) throw new Error(`${file} is not valid YAML: ${doc.errors[0].message}`);
    if (!doc.contents) doc.contents = doc.createNode({});
    return doc;
}

/** The project's config keys (without the namespace) as plain values; secrets as their `{ secure: ... }` nodes. */
export function readProjectConfig(workDir: string, stack: string): Record<string, unknown> {
    const file = stackSettingsPath(workDir, stack);
    const value = parseSettingsText(file, fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "") as { config?: Record<string, unknown> } | null;
    const config = value?.config ?? {};
    const prefix = `${configNamespace}:`;
    return Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** The flat `namespace:key -> string` map the engine would hand the program. */
export function engineConfigView(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [`${configNamespace}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

// Plaintext by ciphertext, filled by one decryption per process: ciphertexts do not change while
// a tool edits weights, so a rollout decrypts once, not at every step.
const plaintexts = new Map<string, string>();

function fromDecrypted(value: unknown): unknown {
    if (typeof value !== "string") return value;
    const text = value.trim();
    if (text.startsWith("{") || text.startsWith("[")) {
        try {
            return JSON.parse(text);
        } catch {
            return value;
        }
    }
    return value;
}

/** Learns the plaintext of every encrypted leaf of `raw` that is not known yet. */
function learn(raw: Record<string, unknown>, stack: string, decrypt: Decrypt | undefined): void {
    const leaves = Object.entries(raw).flatMap(([key, value]) => secureLeaves(value, [key]));
    if (leaves.every((l) => plaintexts.has(l.ciphertext))) return;
    if (!decrypt) throw new Error(`the config of stack \`${stack}\` holds secrets, and reading it needs the stack's secrets provider`);
    const decrypted = decrypt();
    for (const { path, ciphertext } of leaves) {
        if (plaintexts.has(ciphertext)) continue;
        const [key, ...rest] = path;
        const entry = decrypted[`${configNamespace}:${key}`] as { value?: unknown; objectValue?: unknown } | undefined;
        // A key encrypted as a whole is one string, even when its text looks like JSON (a JSON kubeconfig).
        const value = rest.length === 0 ? entry?.value : valueAt(entry?.objectValue ?? fromDecrypted(entry?.value), rest);
        if (value === undefined || (typeof value === "object" && value !== null)) {
            throw new Error(`the secret \`${path.join(".")}\` of stack \`${stack}\` could not be decrypted`);
        }
        plaintexts.set(ciphertext, String(value));
    }
}

/** The config with secrets decrypted, and where they are. */
function decryptedView(raw: Record<string, unknown>, stack: string, decrypt: Decrypt | undefined): { plain: Record<string, unknown>; secretPaths: ConfigPath[] } {
    learn(raw, stack, decrypt);
    const secretPaths = Object.entries(raw).flatMap(([key, value]) => secureLeaves(value, [key]).map((l) => l.path));
    const plain = substituteSecure(raw, (ciphertext) => plaintexts.get(ciphertext)) as Record<string, unknown>;
    return { plain, secretPaths };
}

function check(raw: Record<string, unknown>, stack: string, decrypt: Decrypt | undefined): StackConfig {
    const { plain, secretPaths } = decryptedView(raw, stack, decrypt);
    return parseStackConfig(engineConfigView(plain), stack, secretPaths);
}

/** Validates the stack's settings as the program would; throws ValidationError when it would refuse them. */
export function checkProjectConfig(workDir: string, stack: string, decrypt?: Decrypt): StackConfig {
    const file = stackSettingsPath(workDir, stack);
    refuseWrittenForms(file, fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "", projectNameBeside(file));
    return check(readProjectConfig(workDir, stack), stack, decrypt);
}

/**
 * Applies `edit` to the project's config keys (a plain object; set a key to undefined to remove
 * it) and writes the file back, or throws before writing when the result would not validate.
 * `edit` sees secrets as their `{ secure: ... }` nodes, so moving a value (promotion moves
 * `canary` to `stable`) moves its ciphertext unchanged. Returns the validated config.
 */
export function editProjectConfig(workDir: string, stack: string, edit: (config: Record<string, unknown>) => void, decrypt?: Decrypt): StackConfig {
    const file = stackSettingsPath(workDir, stack);
    const doc = load(file);
    const before = readProjectConfig(workDir, stack);
    const after = structuredClone(before);
    edit(after);
    const checked = check(Object.fromEntries(Object.entries(after).filter(([, v]) => v !== undefined)), stack, decrypt);

    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) writeChange(doc, ["config", `${configNamespace}:${key}`], before[key], after[key]);
    const text = doc.toString();
    // What the edit left as the user wrote it is still read by the engine: `servicePort: 0x50` beside a new weight.
    refuseWrittenForms(file, text, projectNameBeside(file));
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, text);
    fs.renameSync(temp, file);
    return checked;
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value) && !isSecureLeaf(value);
}

/**
 * Writes what changed between `before` and `after` at `at`, descending into maps that both sides
 * have, so an edit of `models.fraud.canaryWeight` rewrites that one value: the other models'
 * entries keep their comments and layout, and every `secure:` node stays as it is.
 */
function writeChange(doc: YAML.Document, at: (string | number)[], before: unknown, after: unknown): void {
    if (JSON.stringify(before) === JSON.stringify(after)) return;
    if (after === undefined) {
        doc.deleteIn(at);
        return;
    }
    if (isPlainMap(before) && isPlainMap(after) && YAML.isMap(doc.getIn(at, true))) {
        for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) writeChange(doc, [...at, key], before[key], after[key]);
        return;
    }
    // A scalar is set in place (its comment stays). Text that another YAML reader would take as a
    // number (`1_000`) is written quoted, so it reads back as text.
    doc.setIn(at, typeof after === "object" && after !== null ? doc.createNode(after) : after);
    quoteNumberLikeStrings(doc.getIn(at, true));
}

/**
 * The project's config keys of one model, to edit: the top-level keys for the shorthand (`path`
 * `[]`), `models.<name>` otherwise. Throws when the entry is missing or not a map.
 */
export function modelEntryOf(config: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
    const entry = path.reduce<unknown>((node, key) => (isPlainMap(node) ? node[key] : undefined), config);
    if (!isPlainMap(entry)) throw new Error(`the stack config has no model entry \`${path.join(".")}\``);
    return entry;
}

/**
 * Writes one model's `routingRevision` (at `path`: `[]` for the shorthand, `["models", name]`)
 * into a settings file, leaving everything else as written, atomically. No validation: the value
 * is a whole number the commands or the program computed, and the rest of the file is unchanged.
 * A file without the model's entry is left alone.
 */
export function writeRoutingRevision(file: string, path: readonly string[], revision: number): void {
    if (!fs.existsSync(file)) return;
    const doc = load(file);
    const at = path.length === 0
        ? ["config", `${configNamespace}:routingRevision`]
        : ["config", `${configNamespace}:${path[0]}`, ...path.slice(1), "routingRevision"];
    if (path.length > 0 && !YAML.isMap(doc.getIn(at.slice(0, -1), true))) return;
    doc.setIn(at, revision);
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, doc.toString());
    fs.renameSync(temp, file);
}

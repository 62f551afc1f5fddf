// The project's config as the user wrote it in Pulumi.<stack>.yaml. The engine reads the file
// with its own YAML reader and hands the program values, not text: `canaryWeight: 0x10` arrives
// as 16, `010` as 8, `1_000` as 1000, `10.0` as 10, and the program cannot tell them from `16`,
// `8`, `1000`, `10`. So the written forms are checked here, in the file's syntax tree, by the
// program and by every command alike; the values are checked afterwards, by the usual validation.
// Pure: takes a parsed document, does no I/O.
import * as YAML from "yaml";
import { ConfigPath, formatPath } from "../../components/secrets";
import { yamlNumberForm } from "../../components/syntax";

const coreTag = (name: string) => `tag:yaml.org,2002:${name}`;
/** Tags that mean what the value's form would mean anyway; `!!int` and `!!float` have their text checked. */
const harmlessTags = ["str", "bool", "null", "map", "seq"].map(coreTag);
const numberTags = ["int", "float"].map(coreTag);

const accepted = "write numbers in plain decimal digits, such as 10 or 12.5 (a quoted \"10\" reads the same), and quote a value meant as text";

/**
 * Problems with how the project's config is written: numbers in a form the engine hands over as
 * another value (`0x10`, `0o12`, `1e1`, `10.0`, `+5`, `.inf`, `.nan`, `1_000`, `0b1`, `010`,
 * `1:30`), those forms under `!!int`/`!!float` even when quoted, other YAML tags, and merge keys
 * (`<<`), which model-canary does not read. Each names the key as `pulumi config set --path` takes
 * it and the value as written. `isOurs` says which top-level keys of `config` are the project's:
 * `model-canary:<key>`, and bare keys when the project is named `model-canary`.
 */
export function writtenFormProblems(doc: YAML.Document, isOurs: KeyReader): string[] {
    const config = doc.contents && YAML.isMap(doc.contents) ? doc.contents.get("config", true) : undefined;
    if (!YAML.isMap(config)) return [];
    const problems: string[] = [];
    const seen = new Set<YAML.Node>();
    const visit = (node: unknown, path: ConfigPath): void => {
        if (YAML.isAlias(node)) {
            const target = node.resolve(doc);
            // An alias is checked where it is used: its anchor may sit outside the project's keys.
            if (target && !seen.has(target)) {
                seen.add(target);
                visit(target, path);
                seen.delete(target);
            }
            return;
        }
        if (YAML.isMap(node)) {
            for (const pair of node.items) {
                const key = pair.key;
                if (YAML.isScalar(key) && key.value === "<<" && key.type === "PLAIN") {
                    problems.push(`\`${formatPath(path)}.<<\` is a YAML merge key, which model-canary does not read (its config reader and the engine's would not see the same keys): write the keys out in full`);
                    continue;
                }
                if (YAML.isScalar(key)) scalar(key, path, "key ");
                visit(pair.value, [...path, YAML.isScalar(key) ? String(key.value) : String(key)]);
            }
            return;
        }
        if (YAML.isSeq(node)) {
            node.items.forEach((item, i) => visit(item, [...path, i]));
            return;
        }
        if (YAML.isScalar(node)) scalar(node, path, "");
    };
    const scalar = (node: YAML.Scalar, path: ConfigPath, what: "key " | ""): void => {
        const text = node.source ?? String(node.value);
        const at = what === "" ? `\`${formatPath(path)}\`` : `a key of \`${formatPath(path)}\``;
        const tag = node.tag;
        if (tag !== undefined && !harmlessTags.includes(tag) && !numberTags.includes(tag)) {
            problems.push(`${at} has the YAML tag ${tag.replace("tag:yaml.org,2002:", "!!")}, which model-canary does not read: remove it (and quote a value meant as text)`);
            return;
        }
        // Quoted and block scalars are text, as written, unless tagged as a number.
        if (node.type !== "PLAIN" && node.type !== undefined && !(tag !== undefined && numberTags.includes(tag))) return;
        if (tag === coreTag("str")) return;
        const form = yamlNumberForm(text);
        if (form !== undefined) problems.push(`${at} is written ${text}, ${form}, which YAML reads as another value than the text shows: ${accepted}`);
    };
    for (const pair of config.items) {
        const key = YAML.isScalar(pair.key) ? String(pair.key.value) : undefined;
        const own = key === undefined ? undefined : isOurs(key);
        if (own === undefined) continue;
        // The engine reads a key without a namespace as the project's; the commands read and edit
        // `<namespace>:<key>` only, so `status` or `rollback` would not see it.
        if (key === own) problems.push(`\`${formatPath([own])}\` is written without its namespace: write it as \`${namespaceOf(isOurs)}:${own}\` (the engine reads both, but model-canary's commands read and edit only the namespaced key)`);
        visit(pair.value, [own]);
    }
    return [...new Set(problems)];
}

/**
 * Which top-level `config` keys are the project's, by the name of the project whose settings
 * they are: `model-canary:<key>` always; a key with no namespace belongs to the project itself,
 * so it is one of ours only in a project named `model-canary`.
 */
export function projectKeyReader(namespace: string, projectName: string | undefined): KeyReader {
    const reader: KeyReader = (fullKey) => {
        if (fullKey.startsWith(`${namespace}:`)) return fullKey.slice(namespace.length + 1);
        if (!fullKey.includes(":") && projectName === namespace) return fullKey;
        return undefined;
    };
    reader.namespace = namespace;
    return reader;
}

/** Which top-level `config` keys are the project's: the key without its namespace, or undefined. */
export interface KeyReader {
    (fullKey: string): string | undefined;
    /** The project's namespace, `model-canary`. */
    namespace?: string;
}

function namespaceOf(reader: KeyReader): string {
    return reader.namespace ?? "model-canary";
}

/**
 * Marks every string under `node` that some YAML reader would take as a number (`1_000`,
 * `0X10`, `1:30`...) to be written double-quoted: a value model-canary writes into a settings
 * file (a promotion's moved keys, a rollback's recorded config) must read back as the same text.
 */
export function quoteNumberLikeStrings(node: unknown): void {
    if (!YAML.isNode(node)) return;
    YAML.visit(node, {
        Scalar(_, scalar) {
            if (typeof scalar.value === "string" && scalar.type !== "QUOTE_SINGLE" && (yamlNumberForm(scalar.value) !== undefined || /^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(scalar.value))) {
                scalar.type = "QUOTE_DOUBLE";
            }
        },
    });
}

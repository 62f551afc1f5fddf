// Pulumi.<stack>.yaml parsed once per text. A program run reads the settings file three times
// (its config, the applied config it records, a scoped update's stack-wide keys) and a command
// step twice or more; with 100 models the file is about 900 lines, and each YAML parse took tens
// of milliseconds of the step. The cache is keyed by the file's whole text, so an edit (by this
// process or any other) is always parsed anew, and callers get their own copy to change.
import * as fs from "fs";
import * as YAML from "yaml";

const parsed = new Map<string, unknown>();
/** The texts kept: the few versions one process goes through while it edits weights. */
const kept = 4;

/**
 * The settings file's YAML as plain values (null when it is empty), or an error naming the file
 * when it is not valid YAML.
 */
export function parseSettingsText(file: string, text: string): unknown {
    if (!parsed.has(text)) {
        const doc = YAML.parseDocument(text);
        if (doc.errors.length > 0) throw new Error(`${file} is not valid YAML: ${doc.errors[0].message}`);
        if (parsed.size >= kept) parsed.delete(parsed.keys().next().value as string);
        parsed.set(text, doc.toJS());
    }
    return structuredClone(parsed.get(text));
}

/** The settings file's `config` map (every namespace), as written; throws when the file cannot be read or parsed. */
export function readSettingsConfigMap(file: string): Record<string, unknown> | undefined {
    const value = parseSettingsText(file, fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    return value?.config ?? undefined;
}

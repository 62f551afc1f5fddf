// Pulumi.<stack>.yaml parsed once per text. A program run reads the settings file three times
// (its config, the applied config it records, a scoped update's stack-wide keys) and a command
// step twice or more; with 100 models the file is about 900 lines, and each YAML parse took tens
// of milliseconds of the step. The cache is keyed by the file's whole text, so an edit (by this
// process or any other) is always parsed anew, and callers get their own copy to change.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { projectKeyReader, writtenFormProblems } from "./settings-written";

interface Parsed {
    value: unknown;
    doc: YAML.Document;
    /** Problems of the written forms, by the project's name. */
    written: Map<string, string[]>;
}

const parsed = new Map<string, Parsed>();
/** The texts kept: the few versions one process goes through while it edits weights. */
const kept = 4;

function parse(file: string, text: string): Parsed {
    let entry = parsed.get(text);
    if (!entry) {
        const doc = YAML.parseDocument(text);
        if (doc.errors.length > 0) throw new Error(`${file} is not valid YAML: ${doc.errors[0].message}`);
        if (parsed.size >= kept) parsed.delete(parsed.keys().next().value as string);
        entry = { value: doc.toJS(), doc, written: new Map() };
        parsed.set(text, entry);
    }
    return entry;
}

/**
 * The settings file's YAML as plain values (null when it is empty), or an error naming the file
 * when it is not valid YAML.
 */
export function parseSettingsText(file: string, text: string): unknown {
    return structuredClone(parse(file, text).value);
}

/** The settings file's `config` map (every namespace), as written; throws when the file cannot be read or parsed. */
export function readSettingsConfigMap(file: string): Record<string, unknown> | undefined {
    const value = parseSettingsText(file, fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    return value?.config ?? undefined;
}

/** The name in the Pulumi.yaml beside a settings file, or undefined when it cannot be read. */
export function projectNameBeside(file: string): string | undefined {
    try {
        const name = (YAML.parse(fs.readFileSync(path.join(path.dirname(file), "Pulumi.yaml"), "utf8")) as { name?: unknown } | null)?.name;
        return typeof name === "string" ? name : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Problems with how the project's keys (`namespace`) are written in the settings text (see
 * settings-written.ts): numbers in forms the engine would hand over as another value, YAML tags
 * and merge keys. `projectName`: the project whose settings they are (bare keys are its own).
 */
export function settingsWrittenProblems(file: string, text: string, namespace: string, projectName: string | undefined): string[] {
    const entry = parse(file, text);
    const id = `${namespace}\n${projectName ?? ""}`;
    if (!entry.written.has(id)) entry.written.set(id, writtenFormProblems(entry.doc, projectKeyReader(namespace, projectName)));
    return [...entry.written.get(id)!];
}

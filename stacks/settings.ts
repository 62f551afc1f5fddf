// Reads and edits the project's keys in Pulumi.<stack>.yaml. Edits keep comments and layout, are
// written atomically (temp file + rename), and are checked by the same validation the program
// runs, so a tool can never leave a config that `pulumi up` would refuse.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { configNamespace, parseStackConfig, StackConfig } from "./config";

export function stackSettingsPath(workDir: string, stack: string): string {
    // A fully qualified stack name (org/project/dev) keeps its settings in Pulumi.dev.yaml.
    return path.join(workDir, `Pulumi.${stack.split("/").pop()}.yaml`);
}

function load(file: string): YAML.Document {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const doc: YAML.Document = YAML.parseDocument(text);
    if (doc.errors.length > 0) throw new Error(`${file} is not valid YAML: ${doc.errors[0].message}`);
    if (!doc.contents) doc.contents = doc.createNode({});
    return doc;
}

/** The project's config keys (without the namespace) as plain values. */
export function readProjectConfig(workDir: string, stack: string): Record<string, unknown> {
    const config = (load(stackSettingsPath(workDir, stack)).toJS()?.config ?? {}) as Record<string, unknown>;
    const prefix = `${configNamespace}:`;
    return Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

/** The flat `namespace:key -> string` map the engine would hand the program. */
export function engineConfigView(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [`${configNamespace}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** Validates the stack's settings as the program would; throws ValidationError when it would refuse them. */
export function checkProjectConfig(workDir: string, stack: string): StackConfig {
    return parseStackConfig(engineConfigView(readProjectConfig(workDir, stack)), stack);
}

/**
 * Applies `edit` to the project's config keys (a plain object; set a key to undefined to remove
 * it) and writes the file back, or throws before writing when the result would not validate.
 * Returns the validated config.
 */
export function editProjectConfig(workDir: string, stack: string, edit: (config: Record<string, unknown>) => void): StackConfig {
    const file = stackSettingsPath(workDir, stack);
    const doc = load(file);
    const before = readProjectConfig(workDir, stack);
    const after = structuredClone(before);
    edit(after);
    const checked = parseStackConfig(engineConfigView(Object.fromEntries(Object.entries(after).filter(([, v]) => v !== undefined))), stack);

    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
        const fullKey = ["config", `${configNamespace}:${key}`];
        if (after[key] === undefined) doc.deleteIn(fullKey);
        else if (JSON.stringify(after[key]) !== JSON.stringify(before[key])) doc.setIn(fullKey, after[key]);
    }
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, doc.toString());
    fs.renameSync(temp, file);
    return checked;
}

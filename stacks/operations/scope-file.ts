// Carries an UpdateScope from the command to the program the engine runs: a JSON file in a
// private temporary directory (the previous outputs hold the applied secrets in plaintext, so
// the directory is 0700 and the file 0600), named by MODEL_CANARY_SCOPE, removed after the update.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { scopeEnvVar, UpdateScope } from "./scope";
import { readSettingsConfigMap } from "../config/settings-yaml";

/** Writes the scope; returns the file's path and a function that removes it. */
export function writeScopeFile(scope: UpdateScope): { file: string; remove: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-scope-"));
    const file = path.join(dir, "scope.json");
    fs.writeFileSync(file, JSON.stringify(scope), { mode: 0o600 });
    return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The scope the command gave this program run, or undefined for a whole update. A named file
 * that cannot be read is an error, never a silent whole update: the engine acts on the scoped
 * model only, and the outputs would lose every other model.
 */
export function readScope(env: NodeJS.ProcessEnv = process.env): UpdateScope | undefined {
    const file = env[scopeEnvVar];
    if (file === undefined || file === "") return undefined;
    let scope: UpdateScope;
    try {
        scope = JSON.parse(fs.readFileSync(file, "utf8")) as UpdateScope;
    } catch (e) {
        throw new Error(`${scopeEnvVar} names ${file}, which could not be read as an update scope: ${(e as Error).message}`);
    }
    if (typeof scope?.model !== "string" || typeof scope.target !== "string" || typeof scope.previous !== "object" || scope.previous === null) {
        throw new Error(`${scopeEnvVar} names ${file}, which does not hold an update scope ({ model, target, previous })`);
    }
    return scope;
}

/** A stack settings file's whole `config` map (every namespace), as written; undefined when it cannot be read. */
export function readSettingsConfig(file: string): Record<string, unknown> | undefined {
    try {
        return readSettingsConfigMap(file);
    } catch {
        return undefined;
    }
}

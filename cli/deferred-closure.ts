// Imported first by the command (cli/main.ts), before anything loads @pulumi/pulumi. The SDK's
// runtime loads its function-serialization modules when it starts, and they load TypeScript's
// compiler and npm's @npmcli/arborist: more than half of the command's start (0.7 s of 1.2 s with
// the machine quiet), for what only a program that serializes a function (a dynamic provider, a
// lambda) or computes code paths ever calls, and no command does. Here those two modules are
// stand-ins that load the real one at the first call, so everything still works when called.
import Module = require("module");

/** The exports of each deferred module of @pulumi/pulumi's runtime (all functions). */
export const deferredModules: Record<string, readonly string[]> = {
    "@pulumi/pulumi/runtime/closure/serializeClosure": ["serializeFunction", "serializeFunctionAsync"],
    "@pulumi/pulumi/runtime/closure/codePaths": ["computeCodePaths", "findWorkspaceRoot"],
};

/** Puts the stand-ins in the module cache; a no-op for a module already loaded or not found. */
export function deferClosureModules(): void {
    for (const [id, names] of Object.entries(deferredModules)) {
        let file: string;
        try {
            file = require.resolve(id);
        } catch {
            continue;
        }
        if (require.cache[file]) continue;
        const standIn = new Module(file, module);
        standIn.filename = file;
        standIn.loaded = true;
        let real: Record<string, (...args: unknown[]) => unknown> | undefined;
        const load = () => {
            if (real === undefined) {
                delete require.cache[file];
                try {
                    real = require(file) as Record<string, (...args: unknown[]) => unknown>;
                } finally {
                    // Whoever required the stand-in keeps it; later requires get the real module.
                    if (real === undefined) require.cache[file] = standIn;
                }
            }
            return real;
        };
        standIn.exports = Object.fromEntries(names.map((name) => [name, (...args: unknown[]) => load()[name](...args)]));
        require.cache[file] = standIn;
    }
}

deferClosureModules();

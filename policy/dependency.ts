// What the pack needs that a project may lack: @pulumi/policy is an optional peer dependency of
// model-canary, so a project that runs the pack must install it itself. Checked before pack.ts is
// loaded, because TypeScript compiles pack.ts as a whole and a missing module there reads as a
// screen of type errors and a closed pipe instead of the cause.

/** The version range of @pulumi/policy the pack is written against (policy/package.json). */
export const policyVersionRange = "^1.21.0";

/** The one-line message for a pack folder from which `@pulumi/policy` does not resolve. */
export function missingPolicyMessage(packDir: string): string {
    return `the model-canary policy pack needs \`@pulumi/policy\`, which does not resolve from ${packDir}: ` +
        `run \`npm install --save-dev @pulumi/policy@${policyVersionRange}\` in the project that installs model-canary ` +
        `(or \`npm install\` in the pack's folder if you copied the pack)`;
}

/** missingPolicyMessage when `@pulumi/policy` does not resolve from packDir, else undefined. */
export function missingPolicyDependency(
    packDir: string, resolve: (id: string, options: { paths: string[] }) => string = require.resolve,
): string | undefined {
    try {
        resolve("@pulumi/policy", { paths: [packDir] });
        return undefined;
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw e;
        return missingPolicyMessage(packDir);
    }
}

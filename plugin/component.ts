// The TypeScript component taking the cross-language arguments: what ./modelCanary.ts extends at
// run time. Kept out of what index.ts imports (see there).
import * as pulumi from "@pulumi/pulumi";
import { ModelCanary as TypeScriptModelCanary } from "../components/modelCanary";
import type { ModelCanaryArgs } from "./args";
import { CrossLanguageArgsError, modelCanaryArgsFrom } from "./typescriptArgs";

export class ModelCanaryComponent extends TypeScriptModelCanary {
    constructor(name: string, args: ModelCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(name, typeScriptArgs(args), opts);
    }
}

/** The component's own wording for what the cross-language shape refuses: a RunError prints its message alone. */
function typeScriptArgs(args: ModelCanaryArgs) {
    try {
        return modelCanaryArgsFrom(args);
    } catch (e) {
        if (!(e instanceof CrossLanguageArgsError)) throw e;
        const error = new pulumi.RunError(`invalid ModelCanary argument: ${e.message}`);
        error.stack = error.message;
        throw error;
    }
}

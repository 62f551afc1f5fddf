// ModelCanaries for other languages: every model of the stack config (the `model-canary:*` keys of
// Pulumi.<stack>.yaml), built the way this project's own program builds them, so that a program in
// YAML (or any language) is a few lines and the model-canary commands drive its stack
// (docs/other-languages.md#yaml). Its outputs are what the commands read from a stack: export
// them under the same names.
import type * as pulumi from "@pulumi/pulumi";
import type { ModelCanariesArgs } from "./args";

/** The runtime component (./modelCanariesComponent.ts), required rather than imported: see ./modelCanary.ts. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Component: new (name: string, args: ModelCanariesArgs, opts?: pulumi.ComponentResourceOptions) => pulumi.ComponentResource = require("./modelCanariesComponent").ModelCanariesComponent;

/**
 * One ModelCanary per model of the stack config (the shorthand's is `model`), each named after its
 * model and a child of this component, with the provider the config asks for (`renderDir` or
 * `kubeconfig`), checked before anything is registered as `model-canary up` checks it.
 */
export class ModelCanaries extends Component {
    // Declared only: the runtime component sets them.
    /** Per model: its routing, object names and component URN (export as `models`). */
    declare public readonly models: pulumi.Output<any>;
    /** The config this update applied, secret fields as null (export as `appliedConfig`). */
    declare public readonly appliedConfig: pulumi.Output<any>;
    /** The secret fields of the applied config, or null without secrets (export as `appliedSecrets`). */
    declare public readonly appliedSecrets: pulumi.Output<any>;
    /** Where the objects went: `{ mode: "render", renderDir }` or the cluster (export as `target`). */
    declare public readonly target: pulumi.Output<any>;

    constructor(name: string, args: ModelCanariesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(name, args, opts);
    }
}

// Pulumi mocks that record every registered resource, for fast tests of the component's shape.
import * as pulumi from "@pulumi/pulumi";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

export const registered: Registered[] = [];

let installed: Promise<void> | undefined;

/** Installs the recording mocks once per test process. */
export function installMocks(): Promise<void> {
    installed ??= pulumi.runtime.setMocks({
        newResource(args) {
            registered.push({ type: args.type, name: args.name, inputs: args.inputs });
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call(args) {
            return args.inputs;
        },
    }, "model-canary", "test", false);
    return installed;
}

/** Resolves once an output has a value. */
export function settle<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => {
        resolve(value);
        return value;
    }));
}

/** Takes what was registered since the last call. */
export function drain(): Registered[] {
    return registered.splice(0, registered.length);
}

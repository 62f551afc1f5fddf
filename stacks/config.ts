// Stack config -> validated ModelCanary arguments. The only place that reads Pulumi config.
import * as pulumi from "@pulumi/pulumi";
import { resolvePlan } from "../rollout/plan";
import { argKeys, ModelCanaryArgs, ResolvedModelCanaryArgs, show, unknownKeyProblem, validateModelCanaryArgs, ValidationError } from "../components";

/** The project's config namespace: keys are written `model-canary:<key>` in Pulumi.<stack>.yaml. */
export const configNamespace = "model-canary";

/** Keys read by the stack and its tools rather than by the component. */
export const stackKeys = ["kubeconfig", "renderDir", "rollout"] as const;

export interface StackConfig {
    /** The component's arguments exactly as configured (defaults not yet applied). */
    args: ModelCanaryArgs;
    /** The same with defaults applied: what the component will build. */
    resolved: ResolvedModelCanaryArgs;
    /** Kubeconfig path or contents; when set, objects are applied to that cluster. */
    kubeconfig?: string;
    /** Where manifests are rendered when no cluster is configured. */
    renderDir: string;
    /** The `rollout` block, read by the rollout tool. */
    rollout?: Record<string, unknown>;
    /** True when `kubernetes:kubeconfig` or `kubernetes:context` configures the default provider. */
    kubernetesProviderConfigured: boolean;
}

/**
 * Parses the flat `namespace:key -> string` map the engine hands a program (structured values
 * arrive as JSON text) into validated arguments. Pure, so it is tested without the engine.
 * Every problem is reported at once; unknown keys are errors, so a typo is never ignored.
 */
export function parseStackConfig(all: Record<string, string>, stack: string): StackConfig {
    const problems: string[] = [];
    const unreadable = new Set<string>();
    const values: Record<string, unknown> = {};
    const accepted = [...argKeys, ...stackKeys];
    for (const [fullKey, raw] of Object.entries(all)) {
        const [namespace, key] = splitKey(fullKey);
        if (namespace !== configNamespace) continue;
        if (!accepted.includes(key as (typeof accepted)[number])) {
            problems.push(unknownKeyProblem(key, key, accepted));
            continue;
        }
        const text = raw.trim();
        if (text.startsWith("{") || text.startsWith("[")) {
            try {
                values[key] = JSON.parse(text);
            } catch (e) {
                unreadable.add(key);
                problems.push(`\`${key}\` must be valid structured config, got ${show(raw)} (${(e as Error).message})`);
            }
        } else {
            values[key] = raw;
        }
    }

    const { kubeconfig, renderDir, rollout, ...componentValues } = values;
    if (kubeconfig !== undefined && (typeof kubeconfig !== "string" || kubeconfig.trim() === "")) {
        problems.push(`\`kubeconfig\` must be a kubeconfig path or its contents, got ${show(kubeconfig)}`);
    }
    if (renderDir !== undefined && (typeof renderDir !== "string" || renderDir.trim() === "")) {
        problems.push(`\`renderDir\` must be a directory path, got ${show(renderDir)}`);
    }
    if (rollout !== undefined && (typeof rollout !== "object" || rollout === null || Array.isArray(rollout))) {
        problems.push(`\`rollout\` must be an object, got ${show(rollout)}`);
    } else if (rollout !== undefined) {
        // Checked here too, so a typo in the rollout block fails `pulumi up`, not the pipeline later.
        try {
            resolvePlan(rollout as Record<string, unknown>);
        } catch (e) {
            problems.push(...(e instanceof ValidationError ? e.problems : [(e as Error).message]));
        }
    }

    let resolved: ResolvedModelCanaryArgs | undefined;
    try {
        resolved = validateModelCanaryArgs(componentValues);
    } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        // A value that could not be read is reported once, not again as missing.
        problems.push(...e.problems.filter((p) => ![...unreadable].some((key) => p.startsWith(`\`${key}\``))));
    }
    if (problems.length > 0 || !resolved) throw new ValidationError(problems);

    return {
        args: componentValues as unknown as ModelCanaryArgs,
        resolved,
        kubeconfig: kubeconfig as string | undefined,
        renderDir: (renderDir as string | undefined) ?? `rendered/${stack}`,
        rollout: rollout as Record<string, unknown> | undefined,
        kubernetesProviderConfigured: ["kubernetes:kubeconfig", "kubernetes:context"].some((k) => all[k] !== undefined),
    };
}

function splitKey(fullKey: string): [string, string] {
    const i = fullKey.indexOf(":");
    // The engine hands keys as `namespace:key`; older engines used `namespace:config:key`.
    const rest = fullKey.slice(i + 1);
    return [fullKey.slice(0, i), rest.startsWith("config:") ? rest.slice("config:".length) : rest];
}

/** Reads this stack's config; a bad value ends the program with the message alone, before any resource. */
export function loadStackConfig(): StackConfig {
    try {
        return parseStackConfig(pulumi.runtime.allConfig(), pulumi.getStack());
    } catch (e) {
        if (e instanceof ValidationError) {
            throw new pulumi.RunError(`invalid stack config for \`${configNamespace}\`: ${e.message}`);
        }
        throw e;
    }
}

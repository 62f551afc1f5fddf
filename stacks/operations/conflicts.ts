// Server-side apply conflicts in the engine's output, turned into a message that says which
// object, which fields, who else manages them, and what to do. Pure, so it is tested directly.

export interface ApplyConflict {
    /** e.g. `Deployment` */
    kind: string;
    /** `namespace/name` when known, else the logical name. */
    object: string;
    /** The other field managers, e.g. `kubectl (subresource scale)`, `incident-responder`. */
    managers: string[];
    /** The contested fields, e.g. `.spec.replicas`. */
    fields: string[];
}

/**
 * Finds the first server-side apply conflict in the engine's output. The provider reports it under
 * the resource's heading (`  kubernetes:apps/v1:Deployment (model-v2):`) as `... reported that
 * "default/model-v2" ... Server-Side Apply field conflict ... conflict with "kubectl" with
 * subresource "scale" using apps/v1: .spec.replicas` (several conflicts are listed one per line).
 */
export function findApplyConflict(output: string): ApplyConflict | undefined {
    const at = output.indexOf("Server-Side Apply field conflict");
    if (at < 0) return undefined;
    const headings = [...output.slice(0, at).matchAll(/^\s*([\w.-]+:[\w./-]+:(\w+)) \(([^)]+)\):\s*$/gm)];
    const heading = headings.at(-1);
    const near = output.slice(Math.max(0, at - 600), at);
    const reported = [...near.matchAll(/reported that "([^"]+)"/g)].at(-1);
    const after = output.slice(at, at + 4000).split(/\n\s*\n/)[0];
    const managers = new Set<string>();
    const fields = new Set<string>();
    for (const m of after.matchAll(/conflicts? with "([^"]+)"(?: with subresource "([^"]+)")?(?: using [^:\n]+)?:((?:\s*-?\s*\.[^\s,]+,?)+)/g)) {
        managers.add(m[2] ? `${m[1]} (subresource ${m[2]})` : m[1]);
        for (const f of m[3].matchAll(/\.[^\s,]+/g)) fields.add(f[0]);
    }
    return {
        kind: heading?.[2] ?? "object",
        object: reported?.[1] ?? heading?.[3] ?? "unknown",
        managers: [...managers],
        fields: [...fields],
    };
}

/** The message for a conflict: cause, then the two ways out. */
export function describeApplyConflict(c: ApplyConflict, stack: string): string {
    const who = c.managers.length > 0 ? c.managers.map((m) => m.replace(/^(\S+)/, "`$1`")).join(", ") : "another field manager";
    const what = c.fields.length > 0 ? c.fields.join(", ") : "fields this stack sets";
    return [
        `${c.kind} \`${c.object}\` was changed outside this stack: ${what} ${c.fields.length === 1 ? "is" : "are"} now managed by ${who} (e.g. \`kubectl scale\` or a hand edit), so the server-side apply of stack \`${stack}\` conflicts and \`up\` stopped there.`,
        `Either put the value you want into the stack config and take the fields back with \`PULUMI_K8S_ENABLE_PATCH_FORCE=true\` set for one \`up\`,`,
        `or remove the other manager's claim (e.g. \`kubectl apply --server-side --force-conflicts\` of the stack's value) and run \`up\` again.`,
        "The routing objects (the VirtualService or HTTPRoute/GRPCRoute, and the DestinationRules) are never blocked this way: weight steps and rollbacks always take them back.",
    ].join(" ");
}

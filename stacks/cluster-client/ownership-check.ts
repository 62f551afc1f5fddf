// Reads the objects an operation would create from the cluster and refuses the operation when
// another owner holds any of them (the rules are in ownership.ts).
import { ResolvedModelCanaryArgs } from "../../components/validation";
import { ClusterApiError, ClusterTarget, connect, getObject } from "./cluster-api";
import { ForeignOwner, foreignObjectsMessage, foreignOwner, objectsOfModel, OwnedObject, ownerAnnotation } from "./ownership";

/** An operation refused because another owner holds objects it would apply. */
export class ForeignObjectsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ForeignObjectsError";
    }
}

/** `Kind namespace/name`: how an object is matched against a stack's state. */
export function objectKey(kind: string, namespace: string, name: string): string {
    return `${kind} ${namespace}/${name}`;
}

/**
 * Throws ForeignObjectsError when an object the models create exists under another owner than
 * `me` (see `foreignOwner`). `ownState` (the stack's own objects, as `objectKey`s) is read only
 * when an object without an owner annotation is found: once per stack, at the first operation
 * after upgrading. An API server that cannot be reached is left to the operation to report.
 */
export async function refuseForeignObjects(options: { stack: string; me: string; target: ClusterTarget; models: ResolvedModelCanaryArgs[]; ownState: () => Promise<Set<string>> }): Promise<void> {
    let connection;
    try {
        connection = connect(options.target);
    } catch {
        return;
    }
    const objects = options.models.flatMap(objectsOfModel);
    let live: (any | undefined)[];
    try {
        live = await Promise.all(objects.map((o) => getObject(connection, o.apiVersion, o.plural, o.namespace, o.name)));
    } catch (e) {
        if (e instanceof ClusterApiError) return;
        throw e;
    }
    let own: Set<string> | undefined;
    if (live.some((o) => o !== undefined && o.metadata?.annotations?.[ownerAnnotation] === undefined)) own = await options.ownState();
    const found: { object: OwnedObject; owner: ForeignOwner }[] = [];
    objects.forEach((object, i) => {
        const owner = foreignOwner(live[i]?.metadata, options.me, () => own?.has(objectKey(object.kind, object.namespace, object.name)) ?? false);
        if (owner) found.push({ object, owner });
    });
    if (found.length > 0) throw new ForeignObjectsError(foreignObjectsMessage(options.stack, options.me, found));
}

// A rollback's first write to the cluster: the model's live route set to the rolled-back routing
// with one server-side apply as the Kubernetes provider's field manager (what the apply is:
// stacks/config/rollback-route.ts), before the `up` that records it.
import { deploymentName } from "../../components/routing";
import { rollbackRouteApply, rollbackWriteAnnotation, routeObjectName } from "../config/rollback-route";
import { ModelConfig, StackConfig } from "../config/config";
import { applyObject, ClusterApiError, getObject } from "./cluster-api";
import { connectTo, targetsCluster } from "./live";

/**
 * `call`, once more if the API server could not be reached: a keep-alive connection it closed
 * while this process was busy fails the first use ("socket hang up"). Both calls made here (a
 * read, a server-side apply) give the same result when repeated.
 */
async function again<T>(call: () => Promise<T>): Promise<T> {
    try {
        return await call();
    } catch (e) {
        if (!(e instanceof ClusterApiError && e.unreachable)) throw e;
        return call();
    }
}

/**
 * What the write did: `written` (the route, the field manager, its wall time), `skipped` (none was
 * needed or possible; why), `failed` (the API server refused it or could not be reached; why).
 */
export type RouteWrite =
    | { written: { route: string; fieldManager: string; writeMs: number; writtenAt: string } }
    | { skipped: string }
    | { failed: string };

/**
 * Sets the live route of `model` (its config already rolled back: weight 0, no mirror, no header
 * route to the canary) to that routing in one server-side apply; undefined for a stack that
 * renders (nothing is written). Never throws: whatever goes wrong is returned, and the `up` that
 * follows moves the traffic as it always did.
 */
export async function writeRollbackRoute(config: StackConfig, model: ModelConfig): Promise<RouteWrite | undefined> {
    if (!targetsCluster(config)) return undefined;
    const r = model.resolved;
    const started = Date.now();
    try {
        const connection = connectTo(config);
        // With `shrinkStable` the stable version may run fewer pods than it needs for all the
        // traffic: its Deployment is scaled back up by the `up`, before the route moves.
        if (r.canary?.autoReplicas?.shrinkStable) {
            const stable = await again(() => getObject(connection, "apps/v1", "deployments", r.namespace, deploymentName(r.app, r.stable.version)));
            const ready = stable?.status?.availableReplicas ?? 0;
            if (ready < r.stable.replicas) return { skipped: `${r.stable.version} has ${ready} of its ${r.stable.replicas} pods available (canary.autoReplicas.shrinkStable): the \`up\` scales it back before it moves the traffic` };
        }
        const object = routeObjectName(r);
        const live = await again(() => getObject(connection, object.apiVersion, object.plural, object.namespace, object.name));
        const writtenAt = new Date().toISOString();
        const apply = rollbackRouteApply(r, live, writtenAt);
        if ("skip" in apply) return { skipped: apply.skip };
        await again(() => applyObject(connection, object.apiVersion, object.plural, object.namespace, apply.body, { fieldManager: apply.fieldManager, force: true }));
        return { written: { route: `${object.kind} ${object.namespace}/${object.name}`, fieldManager: apply.fieldManager, writeMs: Date.now() - started, writtenAt } };
    } catch (e) {
        return { failed: (e as Error).message };
    }
}


/**
 * After the rollback's `up`: removes `rollbackWriteAnnotation` from the live route when that `up`
 * left it (it found nothing to change, so its field manager applied nothing: the route already
 * held what the state records), with one more apply as that manager; the route then says its
 * write is recorded. Nothing when the `up` removed it. Returns why it failed, if it did.
 */
export async function clearRollbackWrite(config: StackConfig, model: ModelConfig): Promise<string | undefined> {
    if (!targetsCluster(config)) return undefined;
    const r = model.resolved;
    try {
        const connection = connectTo(config);
        const object = routeObjectName(r);
        const live = await again(() => getObject(connection, object.apiVersion, object.plural, object.namespace, object.name));
        if (live?.metadata?.annotations?.[rollbackWriteAnnotation] === undefined) return undefined;
        const apply = rollbackRouteApply(r, live, undefined);
        if ("skip" in apply) return apply.skip;
        await again(() => applyObject(connection, object.apiVersion, object.plural, object.namespace, apply.body, { fieldManager: apply.fieldManager, force: true }));
        return undefined;
    } catch (e) {
        return (e as Error).message;
    }
}

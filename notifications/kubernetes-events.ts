// Rollout events as Kubernetes Events on the model's route object (its VirtualService or
// HTTPRoute), so that `kubectl describe virtualservice <name>` lists them beside the route they moved.
import { ClusterTarget, connect, createEvent, getObject, type ClusterConnection } from "../stacks/cluster-client/cluster-api";
import { eventReason, headline, NotificationEvent, severity } from "./event";
import type { EventSink } from "./notifier";

/** The object the Events are about. */
export interface RouteObject {
    /** e.g. `networking.istio.io/v1`. */
    apiVersion: string;
    kind: string;
    namespace: string;
    name: string;
}

/**
 * A sink writing each event as a core/v1 Event about `route`, reported by `model-canary`. The
 * route's UID is read once (kubectl describe finds Events by it); a write the cluster refuses
 * (RBAC: no `create` on `events`) rejects with the API server's answer, which the notifier reports.
 */
export function kubernetesEventSink(target: ClusterTarget, route: RouteObject): EventSink {
    let connection: ClusterConnection | undefined;
    let uid: Promise<string | undefined> | undefined;
    return {
        describe: `Kubernetes Event on ${route.kind} ${route.namespace}/${route.name}`,
        async write(event: NotificationEvent) {
            connection ??= connect(target);
            const c = connection;
            // A route that cannot be read (deleted, not allowed) still gets Events by name.
            uid ??= getObject(c, route.apiVersion, `${route.kind.toLowerCase()}s`, route.namespace, route.name).then((o) => o?.metadata?.uid as string | undefined, () => undefined);
            const found = await uid;
            const message = `${headline(event)}: ${event.reason} (runner ${event.runner.host} pid ${event.runner.pid})`;
            await createEvent(c, {
                involvedObject: { apiVersion: route.apiVersion, kind: route.kind, name: route.name, namespace: route.namespace, ...(found ? { uid: found } : {}) },
                reason: eventReason(event.kind),
                // The API server keeps messages up to 1 KiB in `kubectl describe`'s column; the rest is in the webhook's body.
                message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
                type: severity(event.kind),
            });
        },
    };
}

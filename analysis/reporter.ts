/**
 * Whose request metrics the analysis reads: the `reporter` label of Istio's standard metrics.
 *
 * - `destination`: the server-side sidecar of each pod (sidecar mode). Istio's default data plane.
 * - `waypoint`: the waypoint proxy in ambient mode, which reports the requests it forwards with
 *   `reporter="waypoint"` and the workload it forwarded to in `destination_workload` and
 *   `destination_workload_namespace`, as a sidecar does (istio/proxy#5472, Istio 1.22+).
 *
 * A list names them in order of preference: for each workload the first reporter with series in
 * the analysis window is read, and only it (see `queries.ts`). The two are never summed: a request
 * from an ambient client through a waypoint to a pod that still has a sidecar (a namespace half
 * way through a migration to ambient) is reported by both, and a sum would count it twice.
 */
import { show } from "../components/validation";

export const reporters = ["destination", "waypoint"] as const;
export type Reporter = (typeof reporters)[number];

/** Today's behaviour and Istio's sidecar mode. */
export const defaultReporter: Reporter = "destination";

const accepted = "`destination` (sidecars), `waypoint` (ambient mode with a waypoint), or both as a list in order of preference, "
    + "e.g. [destination, waypoint] (each workload is read from the first that has series in the window)";

/**
 * The reporters `value` names, in order: `undefined` is the default; a name is a list of one; a
 * list holds each name at most once. Problems name `key`, the value as written and what is
 * accepted. `both` is refused: a sum of the two counts a request twice where both report it.
 */
export function resolveReporters(value: unknown, key: string): { reporters?: Reporter[]; problems: string[] } {
    if (value === undefined) return { reporters: [defaultReporter], problems: [] };
    const known = (v: unknown): v is Reporter => typeof v === "string" && (reporters as readonly string[]).includes(v);
    if (value === "both") {
        return { problems: [`\`${key}\` must be ${accepted}, got "both": summing both reporters would count a request twice where a waypoint and the pod's sidecar both report it; list them instead`] };
    }
    if (known(value)) return { reporters: [value], problems: [] };
    if (Array.isArray(value) && value.length > 0 && value.length <= reporters.length && value.every(known) && new Set(value).size === value.length) {
        return { reporters: [...value], problems: [] };
    }
    return { problems: [`\`${key}\` must be ${accepted}, got ${show(value)}`] };
}

/** For messages: `destination`, or `destination`, else `waypoint`. */
export function describeReporters(list: readonly Reporter[]): string {
    return list.map((r) => `\`${r}\``).join(", else ");
}

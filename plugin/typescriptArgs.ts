// From the cross-language arguments (./args.ts) to the TypeScript component's (components/types.ts):
// pure, so that it is tested without an engine. `npm run build` fails here, naming the key, when
// the TypeScript arguments (or the Kubernetes types they take) gain one the cross-language
// arguments lack; test/plugin-schema.test.ts checks the schema itself against the component's
// key lists.
import type * as k8s from "@pulumi/kubernetes";
import type { HeaderRoute as TsHeaderRoute, ModelCanaryArgs as TsModelCanaryArgs, ModelVersionArgs as TsModelVersionArgs } from "../components/types";
import type { AutoReplicas as TsAutoReplicas } from "../components/replicas";
import type * as ts from "../components/traffic-policy";
import type {
    AutoReplicas, ConnectionPool, HeaderRoute, HttpConnectionPool, ModelCanaryArgs, ModelVersion, OutlierDetection, PodSecurityContext, Probe,
    ResourceRequirements, SecurityContext, TcpConnectionPool, TrafficPolicy,
} from "./args";

type TsProbe = NonNullable<TsModelVersionArgs["readinessProbe"]>;

/**
 * The TypeScript arguments these stand for. Unions split into fields here come back together;
 * giving both halves of one (`replicas` and `replicasAuto`, `port` and `portName`) is refused,
 * each problem naming its keys. Everything else the component checks itself.
 */
export function modelCanaryArgsFrom(args: ModelCanaryArgs): TsModelCanaryArgs {
    const problems: string[] = [];
    const version = (path: string, v: ModelVersion): TsModelVersionArgs => {
        const { replicas, replicasAuto, readinessProbe, livenessProbe, ...rest } = v;
        if (replicasAuto === true && replicas !== undefined) {
            problems.push(`\`${path}.replicas\` and \`${path}.replicasAuto\` cannot both be set, got replicas ${replicas} and replicasAuto true: set \`replicasAuto: true\` to size the canary from its traffic, or \`replicas\` for a fixed count`);
        }
        return {
            ...rest,
            ...(replicasAuto === true ? { replicas: "auto" as const } : replicas !== undefined ? { replicas } : {}),
            ...(readinessProbe !== undefined ? { readinessProbe: probe(`${path}.readinessProbe`, readinessProbe) } : {}),
            ...(livenessProbe !== undefined ? { livenessProbe: probe(`${path}.livenessProbe`, livenessProbe) } : {}),
        };
    };
    const port = <T extends { port?: number; portName?: string }>(path: string, action: T): Omit<T, "port" | "portName"> & { port?: number | string } => {
        const { port: number, portName, ...rest } = action;
        if (number !== undefined && portName !== undefined) {
            problems.push(`\`${path}.port\` and \`${path}.portName\` cannot both be set, got ${number} and ${JSON.stringify(portName)}: set one, the port's number or the container port's name`);
        }
        const given = portName ?? number;
        return { ...rest, ...(given !== undefined ? { port: given } : {}) };
    };
    const probe = (path: string, p: Probe): TsProbe => {
        const { httpGet, tcpSocket, ...rest } = p;
        return {
            ...rest,
            ...(httpGet !== undefined ? { httpGet: port(`${path}.httpGet`, httpGet) } : {}),
            ...(tcpSocket !== undefined ? { tcpSocket: port(`${path}.tcpSocket`, tcpSocket) } : {}),
        } as TsProbe;
    };
    const { stable, canary, headerRoutes, ...rest } = args;
    const mapped: TsModelCanaryArgs = {
        ...rest,
        // Anything else is the component's to refuse, with its own message.
        stable: isObject(stable) ? version("stable", stable) : stable as never,
        ...(canary !== undefined ? { canary: isObject(canary) ? version("canary", canary) : canary as never } : {}),
        ...(headerRoutes !== undefined ? { headerRoutes: headerRoutes as TsHeaderRoute[] } : {}),
    };
    if (problems.length > 0) throw new CrossLanguageArgsError(problems);
    return mapped;
}

function isObject(value: unknown): value is Record<string, never> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Arguments the cross-language shape refuses before the component sees them; one sentence per problem. */
export class CrossLanguageArgsError extends Error {
    constructor(public readonly problems: string[]) {
        super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n- ${problems.join("\n- ")}`);
        this.name = "CrossLanguageArgsError";
    }
}

// Each line fails to compile, with the key's name, when the type on the left gains a key the
// cross-language one lacks.
type Missing<Ts, Here> = Exclude<keyof Ts, keyof Here>;
type Covers<Ts, Here> = [Missing<Ts, Here>] extends [never] ? true : Missing<Ts, Here>;
export const coverage: true[] = [
    true satisfies Covers<TsModelCanaryArgs, ModelCanaryArgs>,
    true satisfies Covers<TsModelVersionArgs, ModelVersion>,
    true satisfies Covers<TsHeaderRoute, HeaderRoute>,
    true satisfies Covers<TsAutoReplicas, AutoReplicas>,
    true satisfies Covers<ts.TrafficPolicyArgs, TrafficPolicy>,
    true satisfies Covers<ts.ConnectionPoolArgs, ConnectionPool>,
    true satisfies Covers<ts.TcpConnectionPoolArgs, TcpConnectionPool>,
    true satisfies Covers<ts.HttpConnectionPoolArgs, HttpConnectionPool>,
    true satisfies Covers<ts.OutlierDetectionArgs, OutlierDetection>,
    true satisfies Covers<k8s.types.input.core.v1.Probe, Probe>,
    true satisfies Covers<k8s.types.input.core.v1.ResourceRequirements, ResourceRequirements>,
    true satisfies Covers<k8s.types.input.core.v1.PodSecurityContext, PodSecurityContext>,
    true satisfies Covers<k8s.types.input.core.v1.SecurityContext, SecurityContext>,
];

// The package root (`model-canary`): the component, its argument types and their validation.
// Everything a Pulumi program needs to declare a model service; nothing here runs a stack.
export { envSecretName, ModelCanary } from "../components/modelCanary";
export type { ConnectionPoolArgs, HeaderRoute, HttpConnectionPoolArgs, ModelCanaryArgs, ModelVersionArgs, OutlierDetectionArgs, StickyArgs, TcpConnectionPoolArgs, TrafficPolicyArgs } from "../components/types";
export { istioApiVersions } from "../components/istio";
export type { IstioApiVersion } from "../components/istio";
export { routerKinds } from "../components/routers/kinds";
export type { RouterKind } from "../components/routers/kinds";
export type { RoutingObjectName } from "../components/routers/router";
export type { Mirror, TrafficSplit } from "../components/routing";
export type { AutoReplicas } from "../components/replicas";
export { limits, validateModelCanaryArgs, ValidationError } from "../components/validation";
export type { ResolvedModelCanaryArgs, ResolvedModelVersion } from "../components/validation";

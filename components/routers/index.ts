// The router of each kind, for the component to pick from by the `router` argument.
import { gatewayApiRouter } from "./gateway-api";
import { istioRouter } from "./istio";
import type { RouterKind } from "./kinds";
import type { Router } from "./router";

export const routers: Record<RouterKind, Router> = { "istio": istioRouter, "gateway-api": gatewayApiRouter };

export { routerKinds } from "./kinds";
export type { RouterKind } from "./kinds";
export type { Router, RouterTargets, Routing, RoutingObjectName } from "./router";

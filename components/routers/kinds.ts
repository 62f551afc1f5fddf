// The routers a model can be rolled out through. Apart from the router interface so that the
// argument checks can name them without importing what the routers build.

/**
 * `istio`: a VirtualService and a DestinationRule with one subset per version (the default).
 * `gateway-api`: one Service per version and an HTTPRoute whose parent is the model's Service
 * (Gateway API mesh routing, GAMMA), as Istio recommends for ambient mode.
 */
export const routerKinds = ["istio", "gateway-api"] as const;
export type RouterKind = (typeof routerKinds)[number];

/**
 * What a model serves. `http` (default): HTTP/1.1 or HTTP/2 requests. `grpc`: gRPC, whose
 * requests the same routes split (gRPC is HTTP/2); with `router: gateway-api` the route is a
 * GRPCRoute, and the Services' port declares `appProtocol: grpc`.
 */
export const modelProtocols = ["http", "grpc"] as const;
export type ModelProtocol = (typeof modelProtocols)[number];

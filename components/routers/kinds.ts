// The routers a model can be rolled out through. Apart from the router interface so that the
// argument checks can name them without importing what the routers build.

/**
 * `istio`: a VirtualService and a DestinationRule with one subset per version (the default).
 * `gateway-api`: one Service per version and an HTTPRoute whose parent is the model's Service
 * (Gateway API mesh routing, GAMMA), as Istio recommends for ambient mode.
 */
export const routerKinds = ["istio", "gateway-api"] as const;
export type RouterKind = (typeof routerKinds)[number];

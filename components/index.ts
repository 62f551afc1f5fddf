export * from "./istio";
export * from "./modelCanary";
export * from "./replicas";
export * from "./routing";
export * from "./types";
export * from "./validation";
export * from "./secrets";
export * from "./syntax";

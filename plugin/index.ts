// The components other languages get from `pulumi package add` (docs/other-languages.md).
export { ModelCanary } from "./modelCanary";
export { ModelCanaries } from "./modelCanaries";

// The model-canary policy pack's entry: `pulumi preview|up --policy-pack <this folder>` runs it
// (docs/policy-pack.md). It checks that @pulumi/policy resolves, then loads the policies (pack.ts).
import { RunError } from "@pulumi/pulumi";
import { missingPolicyDependency } from "./dependency";

const missing = missingPolicyDependency(__dirname);
// A RunError prints its message alone, without the stack of this file.
if (missing) throw new RunError(missing);
require("./pack");

// Server-side apply conflicts in the engine's output become a message with the cause and the fix.
import * as assert from "assert";
import { describeApplyConflict, findApplyConflict } from "../stacks/operations/conflicts";

// As the Kubernetes provider 4.25.0 reports it (captured from the cluster test).
const engineOutput = `Diagnostics:
  pulumi:pulumi:Stack (model-canary-test):
    error: update failed

  kubernetes:apps/v1:Deployment (model-v2):
    error: 1 error occurred:
    \t* the Kubernetes API server reported that "default/model-v2" failed to fully initialize or become live: Server-Side Apply field conflict detected. See https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/#handle-field-conflicts-on-existing-resources for troubleshooting help.
    The resource managed by field manager "pulumi-kubernetes-69061501" had an apply conflict: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas

Outputs:
  - canaryWeight       : 10
`;

describe("server-side apply conflicts", () => {
    it("finds the object, the other manager and the field", () => {
        assert.deepStrictEqual(findApplyConflict(engineOutput), {
            kind: "Deployment",
            object: "default/model-v2",
            managers: ["kubectl (subresource scale)"],
            fields: [".spec.replicas"],
        });
    });

    it("lists every conflict when there are several", () => {
        const several = engineOutput.replace(/Apply failed with 1 conflict: .*$/m,
            "Apply failed with 2 conflicts: conflicts with \"incident-responder\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"model-server\"].image");
        assert.deepStrictEqual(findApplyConflict(several)?.fields, [".spec.replicas", ".spec.template.spec.containers[name=\"model-server\"].image"]);
        assert.deepStrictEqual(findApplyConflict(several)?.managers, ["incident-responder"]);
    });

    it("says what happened and both ways out", () => {
        const message = describeApplyConflict(findApplyConflict(engineOutput)!, "prod");
        assert.match(message, /^Deployment `default\/model-v2` was changed outside this stack: \.spec\.replicas is now managed by `kubectl` \(subresource scale\)/);
        assert.match(message, /stack `prod` conflicts and `up` stopped there/);
        assert.match(message, /`PULUMI_K8S_ENABLE_PATCH_FORCE=true` set for one `up`/);
        assert.match(message, /`kubectl apply --server-side --force-conflicts`/);
    });

    it("is not fooled by output without a conflict", () => {
        assert.strictEqual(findApplyConflict("error: update failed\n  kubernetes:apps/v1:Deployment (model-v2):\n    error: timed out"), undefined);
    });
});

// The secure defaults stay when the user adds to a security context: a capability added keeps
// `drop: [ALL]` (it used to replace the whole `capabilities` object and drop nothing).
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { drain, installMocks, settle } from "./support/mocks";
import type { ModelCanary, ModelCanaryArgs } from "../components";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1" };

describe("security context defaults (mocked engine)", () => {
    let ModelCanaryClass: typeof ModelCanary;
    before(async () => {
        await installMocks();
        ({ ModelCanary: ModelCanaryClass } = await import("../components"));
    });

    async function containerSecurity(name: string, args: ModelCanaryArgs): Promise<Record<string, unknown>> {
        drain();
        const model = new ModelCanaryClass(name, args);
        await settle(pulumi.all(Object.values(model.deployments).map((d) => d.urn)));
        const deployment = drain().find((r) => r.name === `${name}-v1`);
        return deployment!.inputs.spec.template.spec.containers[0].securityContext;
    }

    it("keeps drop: [ALL] when a capability is added", async () => {
        assert.deepStrictEqual(await containerSecurity("caps", { stable, containerSecurityContext: { capabilities: { add: ["NET_BIND_SERVICE"] } } }), {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
            runAsNonRoot: true,
        });
    });

    it("lets an explicit drop and other fields override the defaults", async () => {
        assert.deepStrictEqual(await containerSecurity("over", { stable, containerSecurityContext: { capabilities: { drop: ["NET_RAW"] }, runAsNonRoot: false, readOnlyRootFilesystem: true } }), {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["NET_RAW"] },
            runAsNonRoot: false,
            readOnlyRootFilesystem: true,
        });
    });

    it("uses the defaults when nothing is given", async () => {
        assert.deepStrictEqual(await containerSecurity("none", { stable }), { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true });
    });
});

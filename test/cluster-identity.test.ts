// Which cluster identifier an operation hands the Kubernetes provider (stacks/cluster-client/cluster-identity.ts):
// pure, no cluster.
import * as assert from "assert";
import { chooseClusterIdentifier, differentClusterMessage, recordedClusterIdentifier } from "../stacks/cluster-client/cluster-identity";

describe("the cluster identifier of an operation", () => {
    const a = "0b6c1f7e-1111-4c4c-9a9a-aaaaaaaaaaaa";
    const b = "7d2e0c55-2222-4d4d-8b8b-bbbbbbbbbbbb";

    it("is the live cluster's when it agrees with the record, or nothing was recorded (a first up, a stack from before identifiers)", () => {
        assert.deepStrictEqual(chooseClusterIdentifier(a, { uid: a }), { identifier: a });
        assert.deepStrictEqual(chooseClusterIdentifier(undefined, { uid: b }), { identifier: b });
    });

    it("stays the recorded one while the cluster cannot be read, so an unreachable cluster never replaces the provider", () => {
        assert.deepStrictEqual(chooseClusterIdentifier(a, { unknown: "cannot reach the API server https://127.0.0.1:1" }), { identifier: a });
        assert.deepStrictEqual(chooseClusterIdentifier(undefined, { unknown: "answered 403" }), {});
    });

    it("names both clusters when the kubeconfig reaches another one", () => {
        assert.deepStrictEqual(chooseClusterIdentifier(a, { uid: b }), { different: { recorded: a, live: b } });
    });

    it("is read from the `target` output, and only as a non-empty string", () => {
        assert.strictEqual(recordedClusterIdentifier({ target: { mode: "cluster", clusterIdentifier: a } }), a);
        assert.strictEqual(recordedClusterIdentifier({ target: { mode: "cluster" } }), undefined);
        assert.strictEqual(recordedClusterIdentifier({ target: { mode: "cluster", clusterIdentifier: "" } }), undefined);
        assert.strictEqual(recordedClusterIdentifier({}), undefined);
    });

    it("refuses another cluster naming both UIDs, the server, and the ways to move", () => {
        const message = differentClusterMessage("prod", "https://10.0.0.9:6443", { recorded: a, live: b });
        assert.match(message, /^stack `prod` holds objects in the cluster whose `kube-system` namespace has UID 0b6c1f7e-1111-4c4c-9a9a-aaaaaaaaaaaa, and its kubeconfig now reaches another cluster \(https:\/\/10\.0\.0\.9:6443, `kube-system` UID 7d2e0c55-2222-4d4d-8b8b-bbbbbbbbbbbb\)\. Nothing was applied/);
        assert.match(message, /`pulumi stack init <name> --copy-config-from prod`/);
        assert.match(message, /`pulumi destroy --stack prod`/);
    });
});

import * as assert from "assert";
import { validateModelCanaryArgs } from "../components";
import { parseStackConfig } from "../stacks/config/config";
import { decideRouting, readRoutingRevision, recordOf, RoutingInput, routingDigest } from "../stacks/config/routing-revision";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 5 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 5 };
const testers = { header: "x-canary-version", exact: "v2", version: "v2" };
const at = (canaryWeight: number, extra: Record<string, unknown> = {}) => validateModelCanaryArgs({ stable, canary, canaryWeight, headerRoutes: [testers], ...extra });

const last = { revision: 3, digest: routingDigest(at(50)), appliedBy: "ci@runner-a", appliedAt: "2026-12-06T03:00:00.000Z" };
const input = (over: Partial<RoutingInput>): RoutingInput => ({
    model: "model", key: "routingRevision", settingsFile: "Pulumi.dev.yaml", stack: "dev",
    fileRevision: 3, digest: routingDigest(at(50)), last, override: false, by: "me@laptop", at: "2026-12-06T04:00:00.000Z", ...over,
});

describe("routing revisions (pure)", () => {
    it("the digest changes with the split, the mirror, the header routes and the versions, not with replicas or images", () => {
        const base = routingDigest(at(10));
        assert.notStrictEqual(routingDigest(at(50)), base);
        assert.notStrictEqual(routingDigest(at(0, { mirrorPercent: 100 })), routingDigest(at(0)));
        assert.notStrictEqual(routingDigest(at(10, { headerRoutes: [] })), base);
        assert.notStrictEqual(routingDigest(validateModelCanaryArgs({ stable: { ...canary }, canaryWeight: 0 })), routingDigest(validateModelCanaryArgs({ stable, canaryWeight: 0 })));
        assert.strictEqual(routingDigest(at(10, { canary: { ...canary, replicas: 1, image: "other:v2" } })), base);
        // Key order in a header route does not matter.
        assert.strictEqual(routingDigest(at(10, { headerRoutes: [{ version: "v2", exact: "v2", header: "x-canary-version" }] })), base);
    });

    it("the digest changes with a switch to `router: gateway-api`, and `router: istio` keeps the digest stacks recorded before routers existed", () => {
        const base = routingDigest(at(10));
        assert.notStrictEqual(routingDigest(at(10, { router: "gateway-api" })), base);
        assert.strictEqual(routingDigest(at(10, { router: "istio" })), base);
        const { router: _, ...withoutRouter } = at(10);
        assert.strictEqual(routingDigest(withoutRouter), base);
    });

    it("settings at an older revision that would change the routing are refused, naming both revisions, who and when, and the ways out", () => {
        const d = decideRouting(input({ fileRevision: 1, digest: routingDigest(at(1)) }));
        assert.strictEqual(d.kind, "stale");
        assert.strictEqual(d.kind === "stale" && d.message, "the routing of stack `dev` is at revision 3, applied by ci@runner-a at 2026-12-06T03:00:00.000Z, but Pulumi.dev.yaml has `routingRevision` 1: "
            + "it was written before that change, and this update would change the routing (weights, mirror, header routes or router) back from what is applied. Nothing was applied. "
            + "Run `model-canary adopt --stack dev` to write the stack's applied routing and revision into Pulumi.dev.yaml (the cluster is not touched), then edit and `up` again; "
            + "or apply these settings on purpose with `model-canary up --stack dev --override-stale` (a plain `pulumi up`: MODEL_CANARY_OVERRIDE_STALE=true); `rollback` always works");
        const named = decideRouting(input({ model: "fraud", key: "models.fraud.routingRevision", fileRevision: undefined, digest: routingDigest(at(1)) }));
        assert.ok(named.kind === "stale" && named.message.startsWith("the routing of model `fraud` of stack `dev` is at revision 3, applied by ci@runner-a at 2026-12-06T03:00:00.000Z, but Pulumi.dev.yaml has no `models.fraud.routingRevision` (revision 0)"), JSON.stringify(named));
        assert.ok(named.kind === "stale" && named.message.includes("`model-canary adopt --stack dev --model fraud`"));
    });

    it("stale settings whose routing is the stack's go on unchanged, keeping the stack's record", () => {
        assert.deepStrictEqual(decideRouting(input({ fileRevision: 1 })), { kind: "unchanged", record: last });
    });

    it("a deliberate edit on an up-to-date checkout takes the next revision; settings a command wrote ahead keep theirs", () => {
        assert.deepStrictEqual(decideRouting(input({ digest: routingDigest(at(0)) })), {
            kind: "changed", overridden: false, record: { revision: 4, digest: routingDigest(at(0)), appliedBy: "me@laptop", appliedAt: "2026-12-06T04:00:00.000Z" },
        });
        const ahead = decideRouting(input({ fileRevision: 4, digest: routingDigest(at(0)) }));
        assert.ok(ahead.kind === "changed" && ahead.record.revision === 4);
    });

    it("an override applies stale settings at the next revision, and says it was one", () => {
        const d = decideRouting(input({ fileRevision: 1, digest: routingDigest(at(1)), override: true }));
        assert.ok(d.kind === "changed" && d.overridden && d.record.revision === 4, JSON.stringify(d));
    });

    it("a stack that never recorded a revision takes the settings' own (0 when none is written)", () => {
        const none = decideRouting(input({ last: undefined, fileRevision: undefined, digest: routingDigest(at(1)) }));
        assert.ok(none.kind === "changed" && none.record.revision === 0 && !none.overridden, JSON.stringify(none));
        const written = decideRouting(input({ last: undefined, fileRevision: 7 }));
        assert.ok(written.kind === "changed" && written.record.revision === 7);
    });

    it("`routingRevision` is a whole number from 0; anything else is refused naming the key and the value", () => {
        const problems: string[] = [];
        assert.strictEqual(readRoutingRevision("4", problems), 4);
        assert.strictEqual(readRoutingRevision(0, problems), 0);
        assert.strictEqual(readRoutingRevision(undefined, problems), undefined);
        assert.deepStrictEqual(problems, []);
        for (const bad of [-1, 1.5, "x", "0x10"]) readRoutingRevision(bad, problems);
        assert.strictEqual(problems.length, 4);
        assert.match(problems[0], /^`routingRevision` must be a whole number from 0 .*got -1$/);
        assert.throws(() => parseStackConfig({ "model-canary:models": JSON.stringify({ fraud: { stable, routingRevision: "two" } }) }, "dev"), /`models\.fraud\.routingRevision` must be a whole number from 0 .*got "two"/);
        assert.throws(() => parseStackConfig({ "model-canary:models": JSON.stringify({ fraud: { stable } }), "model-canary:defaults": JSON.stringify({ routingRevision: 1 }) }, "dev"), /`defaults\.routingRevision` cannot be a default/);
        assert.strictEqual(parseStackConfig({ "model-canary:stable": JSON.stringify(stable), "model-canary:routingRevision": "5" }, "dev").models.model.routingRevision, 5);
    });

    it("a record is read from a model's outputs only when it has a revision and a digest", () => {
        assert.deepStrictEqual(recordOf({ routingRecord: last }), last);
        assert.strictEqual(recordOf({}), undefined);
        assert.strictEqual(recordOf({ routingRecord: { revision: "3" } }), undefined);
    });
});

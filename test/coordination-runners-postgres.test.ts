// Runners sharing a render-mode stack (no cluster) on the PostgreSQL state backend: three clones
// of one project, the backend a PostgreSQL server the test starts on a loopback port. The run lock
// and the rollout record are in the backend's database, so the second clone is refused naming the
// holder and the third reads the holder's record without a copy of its own.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { acquireStackLock, lockHolder, StackLockedError } from "../stacks/operations/lock";
import { runStoreFor } from "../stacks/operations/run-store";
import { readSharedRecord, recordWriter } from "../rollout/status";
import type { RolloutRecord } from "../rollout/record";
import type { StackRef } from "../stacks/operations/automation";
import { unrenewed } from "./support/refusal";
import { startPostgres, type PostgresHarness } from "./support/postgres";

describe("runners sharing a render-mode stack on a postgres:// backend: the lock and the record in its database", function () {
    this.timeout(120_000);
    let pg: PostgresHarness;
    let root: string;
    const clone = (name: string): StackRef => {
        const dir = path.join(root, name);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: model-canary\nruntime: nodejs\n");
        return { stack: "prod", workDir: dir, backendUrl: pg.url };
    };

    before(async () => {
        pg = await startPostgres();
        root = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-pg-runners-"));
    });
    after(async () => {
        await pg?.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("a second clone is refused naming the holder; a third reads the holder's record from the database", async () => {
        const [a, b, c] = [clone("runner-a"), clone("runner-b"), clone("runner-c")];
        const lock = await acquireStackLock(a, "rollout");
        try {
            await assert.rejects(acquireStackLock(b, "rollout"), (e: unknown) => e instanceof StackLockedError
                && unrenewed(e.message) === `stack \`prod\` is held by a running \`rollout\` (pid ${process.pid} on host ${os.hostname()}, user ${os.userInfo().username}, since ${lock.holder.startedAt}); wait for it to finish, or run \`model-canary rollback --stack prod\` to stop it and send all traffic to stable. If it died, the next command takes the lock over once its lease expires, 60s after its last renewal`);
            const record = { stack: "prod", model: "model", stableVersion: "v1", canaryVersion: "v2", plan: [1, 10], startedAt: lock.holder.startedAt, outcome: "running", message: "starting", steps: [], thresholds: {}, runner: lock.holder } as RolloutRecord;
            await recordWriter(a.workDir!, runStoreFor(a)).save(record);
            const read = await readSharedRecord(c, c.workDir!);
            assert.deepStrictEqual([read.record?.outcome, read.record?.runner?.pid, read.source.from], ["running", process.pid, "store"]);
            assert.strictEqual(fs.existsSync(path.join(c.workDir!, ".model-canary")), false, "the third clone has no copy of its own");
            assert.strictEqual((await lockHolder(c))?.command, "rollout");
        } finally {
            await lock.release();
        }
        assert.strictEqual(await lockHolder(b), undefined);
        const rows = await pg.query<{ n: string }>("SELECT count(*) AS n FROM model_canary_runs WHERE stack = 'prod'");
        assert.strictEqual(Number(rows[0].n), 1, "one row per stack and model");
    });
});

// The coordination store of a `postgres://` state backend against a real PostgreSQL 15 (Debian's,
// started once for this file by test/support/postgres.ts), and the Pulumi CLI using the same
// server as its backend. The URL is read the way the CLI reads it (pure, first).
import * as assert from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { Client } from "pg";
import { freePort } from "../cluster/controlplane";
import { isPostgresBackendUrl, postgresConnection, redactPostgresUrl } from "../stacks/coordination/postgres-connection";
import { PostgresStore, runsTable } from "../stacks/coordination/postgres";
import { CoordinationStoreError, type LeaseHolder, type RunKey } from "../stacks/coordination/store";
import { makeProject, runPulumi, type TestProject } from "./support/engine";
import { startPostgres, type PostgresHarness } from "./support/postgres";

describe("a `postgres://` backend URL, read as the Pulumi CLI reads it", () => {
    it("takes host, port, user, password and database from the URL, drops Pulumi's `table`, and shows the URL with `***` for the password", () => {
        const c = postgresConnection("postgres://ci:s3cr%40t@db.internal:6543/pulumi?sslmode=require&table=my_state&connect_timeout=3", {}, "root");
        assert.deepStrictEqual(c, {
            host: "db.internal", port: 6543, user: "ci", password: "s3cr@t", database: "pulumi", sslMode: "require", connectTimeoutMs: 3000,
            display: "postgres://ci:***@db.internal:6543/pulumi?sslmode=require&table=my_state&connect_timeout=3",
            where: "db.internal:6543, database `pulumi`",
        });
    });

    it("fills what the URL leaves out from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, else libpq's defaults", () => {
        const env = { PGHOST: "pg.example", PGPORT: "5433", PGUSER: "deploy", PGPASSWORD: "from-env", PGDATABASE: "state", PGSSLMODE: "verify-full" };
        const c = postgresConnection("postgres://", env, "root");
        assert.deepStrictEqual([c.host, c.port, c.user, c.password, c.database, c.sslMode, c.display], ["pg.example", 5433, "deploy", "from-env", "state", "verify-full", "postgres://"]);
        // The URL wins over the environment.
        const u = postgresConnection("postgres://ci@127.0.0.1:5999/db?sslmode=disable", env, "root");
        assert.deepStrictEqual([u.host, u.port, u.user, u.password, u.database, u.sslMode], ["127.0.0.1", 5999, "ci", "from-env", "db", "disable"]);
        const d = postgresConnection("postgres://", {}, "alice");
        assert.deepStrictEqual([d.host, d.port, d.user, d.password, d.database, d.sslMode, d.connectTimeoutMs], ["localhost", 5432, "alice", undefined, "alice", "prefer", undefined]);
    });

    it("a socket directory as the host (percent-encoded, or `host=`) is shown as the socket's path", () => {
        assert.strictEqual(postgresConnection("postgres://ci@%2Fvar%2Frun%2Fpostgresql/state", {}, "root").where, "/var/run/postgresql/.s.PGSQL.5432, database `state`");
        assert.strictEqual(postgresConnection("postgres:///state?host=/tmp&port=6000", {}, "root").where, "/tmp/.s.PGSQL.6000, database `state`");
    });

    it("refuses an `sslmode` or `connect_timeout` the driver would refuse, naming it, the value and what is accepted, without the password", () => {
        assert.throws(() => postgresConnection("postgres://ci:pw@h/db?sslmode=on", {}, "root"), (e: unknown) => e instanceof CoordinationStoreError
            && e.message === "the state backend URL postgres://ci:***@h/db?sslmode=on has `sslmode` `on`: accepted are `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`; nothing was changed");
        assert.throws(() => postgresConnection("postgres://h/db?connect_timeout=2s", {}, "root"), /has `connect_timeout` `2s`: a whole number of seconds/);
        assert.throws(() => postgresConnection("postgres://h:99999/db", {}, "root"), /cannot be parsed as a URL|has port `99999`/);
    });

    it("redacts a password in the userinfo or a `password` parameter, and recognises only the `postgres` scheme the CLI registers", () => {
        assert.strictEqual(redactPostgresUrl("postgres://u:p@ss@h/db?password=x&sslmode=disable"), "postgres://u:***@h/db?password=***&sslmode=disable");
        assert.strictEqual(redactPostgresUrl("postgres://u@h/db"), "postgres://u@h/db");
        assert.deepStrictEqual(["postgres://h/db", "postgresql://h/db", "file:///tmp/state", "s3://bucket"].map(isPostgresBackendUrl), [true, false, false, false]);
    });
});

describe("the coordination store of a PostgreSQL state backend (a real PostgreSQL 15)", function () {
    this.timeout(120_000);
    let pg: PostgresHarness;
    const stores: PostgresStore[] = [];
    const newStore = (url = pg.url, options: { env?: Record<string, string>; connectTimeoutMs?: number } = {}) => {
        const s = new PostgresStore({ url, env: options.env ?? {}, ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}) });
        stores.push(s);
        return s;
    };
    let runs = 0;
    const freshKey = (): RunKey => ({ project: "model-canary", stack: `prod-${++runs}`, model: "fraud" });
    /** A runner's holder: what it says about its own times is ignored by the store. */
    const runner = (host: string, pid: number, leaseSeconds = 30): LeaseHolder => ({
        host, pid, user: "ci", command: "rollout", acquiredAt: "2099-01-01T00:00:00.000Z", renewedAt: "2099-01-01T00:00:00.000Z", leaseSeconds,
    });
    const dbNow = async (): Promise<number> => (await pg.query<{ now: Date }>("SELECT now()"))[0].now.getTime();
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** Waits until the database's clock has passed a holder's expiry (the store's clock, not ours). */
    const untilExpired = async (h: LeaseHolder) => {
        const expiry = Date.parse(h.renewedAt) + h.leaseSeconds * 1000;
        for (let now = await dbNow(); now < expiry; now = await dbNow()) await sleep(Math.min(200, expiry - now + 5));
    };
    const rejects = async (p: Promise<unknown>, reason: CoordinationStoreError["reason"]): Promise<string> => {
        try {
            await p;
        } catch (e) {
            assert.ok(e instanceof CoordinationStoreError, `a CoordinationStoreError, got ${String(e)}`);
            assert.strictEqual(e.reason, reason, e.message);
            return e.message;
        }
        assert.fail("it did not reject");
    };

    before(async () => {
        pg = await startPostgres();
    });
    after(async () => {
        for (const s of stores) await s.close();
        await pg?.stop();
    });

    it("creates its table beside Pulumi's, takes a free lease, and refuses a second runner naming the holder, its times by the database's clock", async () => {
        const a = newStore();
        const b = newStore();
        const key = freshKey();
        const before = await dbNow();
        assert.deepStrictEqual(await a.acquire(key, runner("runner-a", 101)), { acquired: true });
        const after = await dbNow();
        const refused = await b.acquire(key, runner("runner-b", 202));
        assert.strictEqual(refused.acquired, false);
        const holder = (refused as { holder: LeaseHolder }).holder;
        assert.deepStrictEqual({ ...holder, acquiredAt: "", renewedAt: "" }, { host: "runner-a", pid: 101, user: "ci", command: "rollout", acquiredAt: "", renewedAt: "", leaseSeconds: 30 });
        assert.strictEqual(holder.renewedAt, holder.acquiredAt);
        // The database's now(), to the millisecond, not the 2099 the runner claimed.
        const acquired = Date.parse(holder.acquiredAt);
        assert.ok(acquired >= Math.floor(before) - 1 && acquired <= after, `${holder.acquiredAt} is between the database's ${new Date(before).toISOString()} and ${new Date(after).toISOString()}`);
        const [row] = await pg.query<{ holder: unknown; acquired_at: Date }>(`SELECT holder, acquired_at FROM ${runsTable} WHERE stack = $1`, [key.stack]);
        assert.deepStrictEqual(row, { holder: { host: "runner-a", pid: 101, user: "ci", command: "rollout" }, acquired_at: new Date(holder.acquiredAt) });
        assert.deepStrictEqual(await a.holder(key), holder);
        const columns = await pg.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", [runsTable]);
        assert.deepStrictEqual(columns.map((c) => c.column_name), [
            "project", "stack", "model", "holder", "acquired_at", "renewed_at", "lease_seconds", "taken_over_from", "preempt", "preempt_at", "record", "record_at",
        ]);
        assert.strictEqual(a.describe(key), `row (\`model-canary\`, \`${key.stack}\`, \`fraud\`) of table \`model_canary_runs\` in PostgreSQL at 127.0.0.1:${pg.port}, database \`postgres\``);
    });

    it("renew moves renewedAt to the database's now and keeps acquiredAt; another runner's renew is refused and changes nothing", async () => {
        const s = newStore();
        const key = freshKey();
        await s.acquire(key, runner("runner-a", 101));
        const first = (await s.holder(key))!;
        await sleep(20);
        assert.strictEqual(await s.renew(key, runner("runner-a", 101)), true);
        const renewed = (await s.holder(key))!;
        assert.strictEqual(renewed.acquiredAt, first.acquiredAt);
        assert.ok(Date.parse(renewed.renewedAt) > Date.parse(first.renewedAt), `${renewed.renewedAt} after ${first.renewedAt}`);
        assert.strictEqual(await s.renew(key, runner("runner-b", 202)), false);
        assert.strictEqual(await s.renew(key, { ...runner("runner-a", 101), command: "up" }), false, "the same process running another command is not the holder");
        assert.deepStrictEqual(await s.holder(key), renewed);
        assert.strictEqual(await s.renew(freshKey(), runner("runner-a", 101)), false, "nobody holds an unknown key");
    });

    it("release gives the lease up only for its holder, twice is harmless, and then the next runner takes it fresh", async () => {
        const s = newStore();
        const key = freshKey();
        await s.acquire(key, runner("runner-a", 101));
        await s.release(key, runner("runner-b", 202));
        assert.strictEqual((await s.holder(key))?.host, "runner-a");
        await s.release(key, runner("runner-a", 101));
        assert.strictEqual(await s.holder(key), undefined);
        await s.release(key, runner("runner-a", 101));
        assert.deepStrictEqual(await s.acquire(key, runner("runner-b", 202)), { acquired: true });
        assert.strictEqual((await s.holder(key))?.host, "runner-b");
    });

    it("an expired lease (1 s, by the database's clock) is taken over once, naming the runner it was taken from, whose renew and release then fail to touch it", async () => {
        const a = newStore();
        const b = newStore();
        const key = freshKey();
        await a.acquire(key, runner("runner-a", 101, 1));
        const dead = (await a.holder(key))!;
        assert.strictEqual((await b.acquire(key, runner("runner-b", 202))).acquired, false);
        await untilExpired(dead);
        assert.deepStrictEqual(await b.acquire(key, runner("runner-b", 202)), { acquired: true, tookOverFrom: dead });
        assert.strictEqual(await a.renew(key, runner("runner-a", 101, 1)), false);
        await a.release(key, runner("runner-a", 101, 1));
        const now = (await b.holder(key))!;
        assert.deepStrictEqual([now.host, now.pid, now.leaseSeconds], ["runner-b", 202, 30]);
        assert.ok(Date.parse(now.acquiredAt) >= Date.parse(dead.renewedAt) + 1000);
    });

    it("`replacing` takes a live lease only from the holder it names exactly (host, pid, user, startTicks, command), as the cluster's store does", async () => {
        const s = newStore();
        const key = freshKey();
        await s.acquire(key, { ...runner("runner-a", 101), startTicks: "4242" });
        const live = (await s.holder(key))!;
        assert.strictEqual(live.startTicks, "4242");
        for (const other of [{ pid: 102 }, { command: "up" }, { startTicks: "4243" }, { user: "root" }, { host: "runner-b" }]) {
            assert.deepStrictEqual(await s.acquire(key, runner("runner-c", 303), { replacing: { ...live, ...other } }), { acquired: false, holder: live }, JSON.stringify(other));
        }
        const { startTicks: _ticks, ...withoutTicks } = live;
        assert.deepStrictEqual(await s.acquire(key, runner("runner-c", 303), { replacing: withoutTicks }), { acquired: false, holder: live }, "a pid reused by another process");
        assert.deepStrictEqual(await s.acquire(key, runner("runner-c", 303), { replacing: live }), { acquired: true, tookOverFrom: live });
        assert.strictEqual((await s.holder(key))?.host, "runner-c");
    });

    it("of 24 runners on 6 connections racing for a free lease, and again for the expired one, exactly one wins each time and every other is told who", async () => {
        const pools = Array.from({ length: 6 }, () => newStore());
        const key = freshKey();
        const race = async (leaseSeconds: number, pidBase: number) => {
            const results = await Promise.all(Array.from({ length: 24 }, (_, i) => pools[i % pools.length].acquire(key, runner(`runner-${i}`, pidBase + i, leaseSeconds))));
            const winners = results.map((r, i) => ({ r, i })).filter(({ r }) => r.acquired);
            assert.strictEqual(winners.length, 1, JSON.stringify(results));
            const winner = winners[0].i;
            for (const r of results) if (!r.acquired) assert.deepStrictEqual([r.holder.host, r.holder.pid], [`runner-${winner}`, pidBase + winner]);
            return { winner, result: winners[0].r };
        };
        const first = await race(1, 1000);
        assert.deepStrictEqual(first.result, { acquired: true });
        const firstHolder = (await pools[0].holder(key))!;
        await untilExpired(firstHolder);
        const second = await race(30, 2000);
        assert.deepStrictEqual(second.result, { acquired: true, tookOverFrom: firstHolder });
        assert.strictEqual((await pools[5].holder(key))?.pid, 2000 + second.winner);
    });

    it("in a database whose transactions are serializable, a runner whose take collides with another's uncommitted one is retried and refused naming it, not reported lost", async () => {
        await pg.query("CREATE DATABASE strict");
        await pg.query("ALTER DATABASE strict SET default_transaction_isolation = 'serializable'");
        const s = newStore(`postgres://postgres@127.0.0.1:${pg.port}/strict?sslmode=disable`);
        const key = freshKey();
        await s.holder(key); // the table, created
        // Another runner's take, still uncommitted: ours waits on its row, with a snapshot taken before it.
        const other = new Client({ host: "127.0.0.1", port: pg.port, user: "postgres", database: "strict" });
        await other.connect();
        try {
            await other.query("BEGIN");
            await other.query(`INSERT INTO ${runsTable} (project, stack, model, holder, acquired_at, renewed_at, lease_seconds) VALUES ($1, $2, $3, $4, now(), now(), 30)`,
                [key.project, key.stack, key.model, JSON.stringify({ host: "runner-x", pid: 7, user: "ci", command: "rollout" })]);
            const pending = s.acquire(key, runner("runner-y", 8));
            for (;;) {
                const [{ n }] = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'strict' AND wait_event_type = 'Lock'");
                if (n > 0) break;
                await sleep(20);
            }
            await other.query("COMMIT");
            const result = await pending;
            assert.strictEqual(result.acquired, false);
            assert.deepStrictEqual([(result as { holder: LeaseHolder }).holder.host, (result as { holder: LeaseHolder }).holder.pid], ["runner-x", 7]);
        } finally {
            await other.end();
        }
    });

    it("a rollback's request to stop reaches the holder through another runner's store, and only its maker withdraws it", async () => {
        const holderStore = newStore();
        const rollbackStore = newStore();
        const key = freshKey();
        await holderStore.acquire(key, runner("runner-a", 101));
        assert.strictEqual(await holderStore.preemption(key), undefined);
        const rollback = { ...runner("laptop", 555, 30), command: "rollback" };
        const before = await dbNow();
        await rollbackStore.requestPreemption(key, rollback);
        const asked = (await holderStore.preemption(key))!;
        assert.deepStrictEqual({ ...asked, acquiredAt: "", renewedAt: "" }, { host: "laptop", pid: 555, user: "ci", command: "rollback", acquiredAt: "", renewedAt: "", leaseSeconds: 30 });
        assert.ok(Date.parse(asked.acquiredAt) >= Math.floor(before) - 1 && Date.parse(asked.acquiredAt) < Date.parse("2099-01-01"), asked.acquiredAt);
        assert.strictEqual((await holderStore.holder(key))?.host, "runner-a", "asking does not take the lease");
        await holderStore.clearPreemption(key, runner("runner-a", 101));
        assert.deepStrictEqual(await holderStore.preemption(key), asked);
        await rollbackStore.clearPreemption(key, rollback);
        assert.strictEqual(await holderStore.preemption(key), undefined);
        // A request for a key nobody holds is kept for whoever takes it next.
        const idle = freshKey();
        await rollbackStore.requestPreemption(idle, rollback);
        assert.strictEqual((await holderStore.preemption(idle))?.host, "laptop");
    });

    it("the rollout record is written and read back byte for byte by any runner, replaced whole, and kept when the lease is released", async () => {
        const a = newStore();
        const b = newStore();
        const key = freshKey();
        assert.strictEqual(await b.readRecord(key), undefined);
        await a.acquire(key, runner("runner-a", 101));
        const record = JSON.stringify({ version: 1, step: { weight: 10 }, outcome: "running", note: "ünïcode ✓ \"quoted\"", zeta: 1, alpha: 2 });
        await a.writeRecord(key, record);
        assert.strictEqual(await b.readRecord(key), record);
        const next = JSON.stringify({ version: 1, outcome: "completed" });
        await a.writeRecord(key, next);
        await a.release(key, runner("runner-a", 101));
        assert.strictEqual(await b.readRecord(key), next);
        assert.strictEqual(await b.readRecord({ ...key, model: "churn" }), undefined, "each model has its own record");
    });

    it("a runner's clock does not count: one an hour ahead cannot take a live lease, one an hour behind takes an expired one, and a renewal is stamped by the database", async () => {
        /** Runs `fn` with this process's clock shifted (Date.now and `new Date()`), as on a runner whose clock is wrong. */
        const skewed = async <T>(offsetMs: number, fn: () => Promise<T>): Promise<T> => {
            const Real = Date;
            class Skewed extends Real {
                constructor(...args: unknown[]) {
                    if (args.length === 0) super(Real.now() + offsetMs);
                    else super(...(args as [string]));
                }
                static now() {
                    return Real.now() + offsetMs;
                }
            }
            globalThis.Date = Skewed as DateConstructor;
            try {
                return await fn();
            } finally {
                globalThis.Date = Real;
            }
        };
        const hour = 3_600_000;
        const s = newStore();
        const key = freshKey();
        await s.acquire(key, runner("runner-a", 101, 2));
        const live = (await s.holder(key))!;
        const ahead = await skewed(hour, () => s.acquire(key, runner("runner-fast", 404)));
        assert.deepStrictEqual(ahead, { acquired: false, holder: live });
        // The holder's clock is an hour behind: its renewal is stamped with the database's now, not its own.
        const renewedAfter = await dbNow();
        assert.strictEqual(await skewed(-hour, () => s.renew(key, runner("runner-a", 101, 2))), true);
        const renewed = (await s.holder(key))!;
        assert.ok(Math.abs(Date.parse(renewed.renewedAt) - renewedAfter) < 2000, `${renewed.renewedAt} is the database's time (${new Date(renewedAfter).toISOString()})`);
        await untilExpired(renewed);
        // A runner an hour behind would think the lease had an hour to go; the database says it is over.
        const behind = await skewed(-hour, () => s.acquire(key, runner("runner-slow", 505)));
        assert.deepStrictEqual(behind, { acquired: true, tookOverFrom: renewed });
    });

    it("with the server down (a closed port), every call fails as unreachable, naming host:port and database, saying nothing was changed, without the password", async () => {
        const port = await freePort();
        const inUrl = newStore(`postgres://ci:hunter2-in-url@127.0.0.1:${port}/state?sslmode=disable`);
        const message = await rejects(inUrl.acquire(freshKey(), runner("runner-a", 101)), "unreachable");
        assert.strictEqual(message, `cannot reach the PostgreSQL state backend at 127.0.0.1:${port}, database \`state\` (postgres://ci:***@127.0.0.1:${port}/state?sslmode=disable) to take the lease: `
            + `connect ECONNREFUSED 127.0.0.1:${port}; nothing was changed. Check that the server runs and accepts connections from this machine, and the backend URL`);
        const fromEnv = newStore(`postgres://ci@127.0.0.1:${port}/state?sslmode=disable`, { env: { PGPASSWORD: "hunter2-in-env" } });
        const envMessage = await rejects(fromEnv.readRecord(freshKey()), "unreachable");
        assert.match(envMessage, /^cannot reach the PostgreSQL state backend at 127\.0\.0\.1:\d+, database `state` \(postgres:\/\/ci@127\.0\.0\.1:\d+\/state\?sslmode=disable\) to read the rollout record: connect ECONNREFUSED/);
        assert.doesNotMatch(`${message}${envMessage}`, /hunter2/);
    });

    it("a server that accepts the connection and never answers is unreachable after the connect timeout, not a hang", async () => {
        const silent = net.createServer(() => undefined);
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        const port = (silent.address() as net.AddressInfo).port;
        try {
            const s = newStore(`postgres://ci:pw@127.0.0.1:${port}/state?sslmode=disable`, { connectTimeoutMs: 300 });
            const message = await rejects(s.holder(freshKey()), "unreachable");
            assert.match(message, new RegExp(`^cannot reach the PostgreSQL state backend at 127\\.0\\.0\\.1:${port}, database \`state\` \\(postgres://ci:\\*\\*\\*@127\\.0\\.0\\.1:${port}/state\\?sslmode=disable\\) to read the lease: .*timeout.*; nothing was changed`));
        } finally {
            silent.close();
        }
    });

    it("a role without privileges is forbidden, naming the privilege: CREATE on the schema to create the table, SELECT, INSERT and UPDATE to use it, which suffice", async () => {
        await pg.query("CREATE ROLE pipeline LOGIN");
        await pg.query("CREATE DATABASE fresh");
        const key = freshKey();
        // A database without the table: PostgreSQL 15 gives PUBLIC no CREATE on schema public.
        const creating = newStore(`postgres://pipeline@127.0.0.1:${pg.port}/fresh?sslmode=disable`);
        const noCreate = await rejects(creating.acquire(key, runner("runner-a", 101)), "forbidden");
        assert.strictEqual(noCreate, `role \`pipeline\` may not create its table in the PostgreSQL state backend at 127.0.0.1:${pg.port}, database \`fresh\` (postgres://pipeline@127.0.0.1:${pg.port}/fresh?sslmode=disable): `
            + "permission denied for schema public; nothing was changed: it needs the CREATE privilege on the schema first in its search_path (usually `public`) to create its table `model_canary_runs` once "
            + "(GRANT CREATE ON SCHEMA public TO pipeline), or a database owner creates the table (see docs/pipelines.md)");
        assert.deepStrictEqual(await pg.query("SELECT to_regclass('model_canary_runs') AS t", [], { database: "fresh" }), [{ t: null }]);
        // The table exists (the superuser's store made it), the role may not touch it.
        await newStore().holder(freshKey());
        const using = newStore(`postgres://pipeline@127.0.0.1:${pg.port}/postgres?sslmode=disable`);
        const noSelect = await rejects(using.acquire(key, runner("runner-a", 101)), "forbidden");
        assert.match(noSelect, /^role `pipeline` may not take the lease in the PostgreSQL state backend at 127\.0\.0\.1:\d+, database `postgres` \(.*\): permission denied for table model_canary_runs; nothing was changed: it needs SELECT, INSERT and UPDATE on table `model_canary_runs` \(GRANT SELECT, INSERT, UPDATE ON model_canary_runs TO pipeline\)$/);
        await pg.query("GRANT SELECT ON model_canary_runs TO pipeline");
        assert.strictEqual(await using.holder(key), undefined, "reading needs SELECT only");
        await rejects(using.acquire(key, runner("runner-a", 101)), "forbidden");
        assert.deepStrictEqual(await pg.query("SELECT count(*)::int AS n FROM model_canary_runs WHERE stack = $1", [key.stack]), [{ n: 0 }]);
        await pg.query("GRANT INSERT, UPDATE ON model_canary_runs TO pipeline");
        assert.deepStrictEqual(await using.acquire(key, runner("runner-a", 101)), { acquired: true });
        await using.writeRecord(key, "{}");
        await using.requestPreemption(key, runner("laptop", 9));
        await using.release(key, runner("runner-a", 101));
        assert.strictEqual(await using.holder(key), undefined);
    });

    it("a role that must give a password: a wrong one or none is forbidden without showing it, the right one from the URL or PGPASSWORD is used", async () => {
        await newStore().holder(freshKey()); // the superuser's store creates the table
        await pg.query("CREATE ROLE secretive LOGIN PASSWORD 'right-horse'");
        await pg.query("GRANT SELECT, INSERT, UPDATE ON model_canary_runs TO secretive");
        // Password authentication for this role over TCP, trust for every other.
        const hba = path.join(pg.dir, "data", "pg_hba.conf");
        fs.writeFileSync(hba, `host all secretive 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, "utf8")}`);
        await pg.query("SELECT pg_reload_conf()");
        const url = (password: string) => `postgres://secretive${password}@127.0.0.1:${pg.port}/postgres?sslmode=disable`;
        const wrong = await rejects(newStore(url(":wrong-battery")).acquire(freshKey(), runner("runner-a", 101)), "forbidden");
        assert.strictEqual(wrong, `the PostgreSQL state backend at 127.0.0.1:${pg.port}, database \`postgres\` (${url(":***")}) refused role \`secretive\`: `
            + `password authentication failed for user "secretive"; nothing was changed. Check the password (in the backend URL or PGPASSWORD) and the server's pg_hba.conf`);
        const none = await rejects(newStore(url("")).acquire(freshKey(), runner("runner-a", 101)), "forbidden");
        assert.strictEqual(none, `the PostgreSQL state backend at 127.0.0.1:${pg.port}, database \`postgres\` (${url("")}) asks role \`secretive\` for a password and none was given; nothing was changed. Put it in the backend URL, PGPASSWORD or ~/.pgpass`);
        assert.deepStrictEqual(await newStore(url(""), { env: { PGPASSWORD: "right-horse" } }).acquire(freshKey(), runner("runner-a", 101)), { acquired: true });
        assert.deepStrictEqual(await newStore(url(":right-horse")).acquire(freshKey(), runner("runner-a", 101)), { acquired: true });
        assert.doesNotMatch(`${wrong}${none}`, /wrong-battery|right-horse/);
    });

    it("a row someone edited by hand into a shape model-canary does not write is reported damaged, naming the row", async () => {
        const s = newStore();
        const key = freshKey();
        await s.acquire(key, runner("runner-a", 101));
        await pg.query(`UPDATE ${runsTable} SET holder = '{"who": "me"}' WHERE stack = $1`, [key.stack]);
        const message = await rejects(s.holder(key), "damaged");
        assert.match(message, new RegExp(`^row \\(\`model-canary\`, \`${key.stack}\`, \`fraud\`\\) of table \`model_canary_runs\` in PostgreSQL at 127\\.0\\.0\\.1:\\d+, database \`postgres\` is damaged: its holder \\{"who":"me"\\} `));
    });

    it("a URL without `sslmode` (the CLI's default, `prefer`) falls back to a plain connection on a server without TLS, as the CLI's driver does", async () => {
        const s = newStore(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
        const key = freshKey();
        assert.deepStrictEqual(await s.acquire(key, runner("runner-a", 101)), { acquired: true });
        const [conn] = await pg.query<{ ssl: boolean | null }>("SELECT ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name = 'model-canary' LIMIT 1");
        assert.deepStrictEqual(conn, { ssl: false });
    });

    describe("beside the Pulumi CLI using the same server as its state backend", () => {
        let project: TestProject;
        before(() => {
            project = makeProject("ci");
            project.ref.backendUrl = pg.url;
        });
        after(() => project?.remove());

        it("the CLI creates and lists its stack in `pulumi_state` while the store's lease and record sit in `model_canary_runs`, neither disturbing the other", async () => {
            const init = runPulumi(project, ["stack", "init"]);
            assert.strictEqual(init.status, 0, init.output);
            const stateRows = async () => pg.query<{ key: string; data: string }>("SELECT key, data::text AS data FROM pulumi_state ORDER BY key");
            const before = await stateRows();
            assert.ok(before.some((r) => r.key.endsWith("/model-canary/ci.json")), `the CLI stored the stack in pulumi_state: ${before.map((r) => r.key).join(", ")}`);

            const s = newStore();
            const key = { project: "model-canary", stack: "ci", model: "model" };
            assert.deepStrictEqual(await s.acquire(key, runner("runner-a", 101)), { acquired: true });
            await s.writeRecord(key, JSON.stringify({ outcome: "running" }));
            assert.deepStrictEqual(await stateRows(), before, "Pulumi's rows are untouched");

            const ls = runPulumi(project, ["stack", "ls", "--json"]);
            assert.strictEqual(ls.status, 0, ls.output);
            assert.deepStrictEqual(JSON.parse(ls.output.slice(ls.output.indexOf("["))).map((x: { name: string }) => x.name), ["ci"]);
            const exported = runPulumi(project, ["stack", "export"]);
            assert.strictEqual(exported.status, 0, exported.output);
            assert.deepStrictEqual(JSON.parse(exported.output.slice(exported.output.indexOf("{"))).version, 3);
            assert.deepStrictEqual(await s.readRecord(key), JSON.stringify({ outcome: "running" }));
            assert.strictEqual((await s.holder(key))?.host, "runner-a");
            const tables = await pg.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
            assert.deepStrictEqual(tables.map((t) => t.tablename), ["model_canary_runs", "pulumi_state"]);
        });

        it("a URL without user or `sslmode`, the user from PGUSER, reaches the same database for the CLI and for the store", async () => {
            const url = `postgres://127.0.0.1:${pg.port}/postgres`;
            const env = { PGUSER: "postgres" };
            const ls = runPulumi(project, ["stack", "ls", "--json"], "ci", { env: { PULUMI_BACKEND_URL: url, ...env } });
            assert.strictEqual(ls.status, 0, ls.output);
            assert.deepStrictEqual(JSON.parse(ls.output.slice(ls.output.indexOf("["))).map((x: { name: string }) => x.name), ["ci"]);
            const s = newStore(url, { env });
            assert.strictEqual((await s.holder({ project: "model-canary", stack: "ci", model: "model" }))?.host, "runner-a");
        });
    });
});

// The store of stacks whose state backend is the Pulumi CLI's PostgreSQL backend (`postgres://`):
// one table of our own, `model_canary_runs`, in the backend's database beside Pulumi's
// `pulumi_state`, with one row per project, stack and model holding the run's lease, a rollback's
// request to stop it, and the rollout record.
//
// Every time is PostgreSQL's `now()` (to the millisecond), written and compared by the statement
// itself: a runner's own clock is never read, so a skewed runner neither steals a live lease nor
// keeps a dead one. Taking the lease is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` statement,
// so of runners racing for it exactly one gets a row back.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Pool, PoolClient, PoolConfig, QueryResult } from "pg";
import { postgresConnection, type PostgresConnection } from "./postgres-connection";
import { CoordinationStoreError, type AcquireResult, type CoordinationStore, type LeaseHolder, type RunKey } from "./store";

/** The table the store keeps, in the first schema of the connection's search path (where Pulumi's `pulumi_state` is too, by default). */
export const runsTable = "model_canary_runs";

/** The statement that creates the table; the docs show it for a database owner who creates it by hand. */
export const createRunsTable = `CREATE TABLE IF NOT EXISTS ${runsTable} (
    project text NOT NULL,
    stack text NOT NULL,
    model text NOT NULL,
    holder jsonb,
    acquired_at timestamptz,
    renewed_at timestamptz,
    lease_seconds double precision,
    taken_over_from jsonb,
    preempt jsonb,
    preempt_at timestamptz,
    record text,
    record_at timestamptz,
    PRIMARY KEY (project, stack, model)
)`;

/** The database's clock, to the millisecond (a JavaScript Date's precision, so times read back compare equal). */
const NOW = "date_trunc('milliseconds', now())";
const KEY = "project = $1 AND stack = $2 AND model = $3";

export interface PostgresStoreOptions {
    /** The state backend URL, `postgres://...` (its `table` parameter is Pulumi's and is ignored). */
    url: string;
    /** Where `PGPASSWORD` and the other libpq variables are read from. Default: process.env. */
    env?: Readonly<Record<string, string | undefined>>;
    /** How long a connection attempt may take when the URL sets no `connect_timeout`. Default 5000. */
    connectTimeoutMs?: number;
    /** How long one statement may wait for its answer. Default 10000. */
    queryTimeoutMs?: number;
}

/** Who a holder is, as stored in `holder` and `preempt`: the lease's times live in columns of their own. */
function identity(h: LeaseHolder): Record<string, string | number> {
    return { host: h.host, pid: h.pid, user: h.user, command: h.command, ...(h.startTicks !== undefined ? { startTicks: h.startTicks } : {}) };
}

function checkLeaseSeconds(h: LeaseHolder): number {
    if (!Number.isFinite(h.leaseSeconds) || h.leaseSeconds <= 0) throw new RangeError(`leaseSeconds must be a positive number of seconds, got ${h.leaseSeconds}`);
    return h.leaseSeconds;
}

export class PostgresStore implements CoordinationStore {
    private readonly connection: PostgresConnection;
    private readonly connectTimeoutMs: number;
    private readonly queryTimeoutMs: number;
    private pool: Pool | undefined;
    /** `sslmode=prefer`/`allow`: TLS is tried first and dropped when the server has none, as libpq does. */
    private ssl: PoolConfig["ssl"];
    private sslFallback: boolean;
    private table: Promise<void> | undefined;

    constructor(options: PostgresStoreOptions) {
        this.connection = postgresConnection(options.url, options.env ?? process.env, os.userInfo().username);
        this.connectTimeoutMs = this.connection.connectTimeoutMs ?? options.connectTimeoutMs ?? 5000;
        this.queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
        const c = this.connection;
        this.sslFallback = c.sslMode === "prefer" || c.sslMode === "allow";
        this.ssl = c.sslMode === "disable" || c.host.startsWith("/") ? false : tlsOptions(c);
    }

    describe(key: RunKey): string {
        return `row (\`${key.project}\`, \`${key.stack}\`, \`${key.model}\`) of table \`${runsTable}\` in PostgreSQL at ${this.connection.where}`;
    }

    async acquire(key: RunKey, me: LeaseHolder, options: { replacing?: LeaseHolder } = {}): Promise<AcquireResult> {
        const seconds = checkLeaseSeconds(me);
        const replacing = options.replacing;
        // A refusal reads the holder in a second statement; if it let go in between, try again.
        for (let attempt = 1; ; attempt++) {
            const taken = await this.query("take the lease", `
                INSERT INTO ${runsTable} AS r (project, stack, model, holder, acquired_at, renewed_at, lease_seconds, taken_over_from)
                VALUES ($1, $2, $3, $4::jsonb, ${NOW}, ${NOW}, $5, NULL)
                ON CONFLICT (project, stack, model) DO UPDATE SET
                    holder = excluded.holder, acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at,
                    lease_seconds = excluded.lease_seconds,
                    taken_over_from = CASE WHEN r.holder IS NULL THEN NULL
                        ELSE r.holder || jsonb_build_object('acquiredAt', r.acquired_at, 'renewedAt', r.renewed_at, 'leaseSeconds', r.lease_seconds) END
                WHERE r.holder IS NULL
                    OR r.renewed_at IS NULL OR r.lease_seconds IS NULL
                    OR ${NOW} >= r.renewed_at + make_interval(secs => r.lease_seconds)
                    OR r.holder = $6::jsonb
                RETURNING taken_over_from`,
                [key.project, key.stack, key.model, JSON.stringify(identity(me)), seconds,
                    replacing ? JSON.stringify(identity(replacing)) : null]);
            if (taken.rowCount === 1) {
                const from = taken.rows[0].taken_over_from;
                return from === null ? { acquired: true } : { acquired: true, tookOverFrom: this.holderFrom(key, from, from.acquiredAt, from.renewedAt, from.leaseSeconds) };
            }
            const holder = await this.holder(key);
            if (holder) return { acquired: false, holder };
            if (attempt >= 3) throw new CoordinationStoreError(`the lease in ${this.describe(key)} changed hands ${attempt} times while it was being taken; try again`, "conflict");
        }
    }

    async renew(key: RunKey, me: LeaseHolder): Promise<boolean> {
        const seconds = checkLeaseSeconds(me);
        const r = await this.query("renew the lease", `
            UPDATE ${runsTable} SET renewed_at = ${NOW}, lease_seconds = $5
            WHERE ${KEY} AND holder = $4::jsonb RETURNING renewed_at`,
            [key.project, key.stack, key.model, JSON.stringify(identity(me)), seconds]);
        return r.rowCount === 1;
    }

    async release(key: RunKey, me: LeaseHolder): Promise<void> {
        await this.query("release the lease", `
            UPDATE ${runsTable} SET holder = NULL, acquired_at = NULL, renewed_at = NULL, lease_seconds = NULL, taken_over_from = NULL
            WHERE ${KEY} AND holder = $4::jsonb`,
            [key.project, key.stack, key.model, JSON.stringify(identity(me))]);
    }

    async holder(key: RunKey): Promise<LeaseHolder | undefined> {
        const r = await this.query("read the lease", `
            SELECT holder, acquired_at, renewed_at, lease_seconds FROM ${runsTable} WHERE ${KEY} AND holder IS NOT NULL`,
            [key.project, key.stack, key.model]);
        if (r.rowCount === 0) return undefined;
        const row = r.rows[0];
        return this.holderFrom(key, row.holder, row.acquired_at, row.renewed_at, row.lease_seconds);
    }

    async requestPreemption(key: RunKey, by: LeaseHolder): Promise<void> {
        await this.query("ask the holder to stop", `
            INSERT INTO ${runsTable} (project, stack, model, preempt, preempt_at) VALUES ($1, $2, $3, $4::jsonb, ${NOW})
            ON CONFLICT (project, stack, model) DO UPDATE SET preempt = excluded.preempt, preempt_at = excluded.preempt_at`,
            [key.project, key.stack, key.model, JSON.stringify({ ...identity(by), leaseSeconds: checkLeaseSeconds(by) })]);
    }

    async preemption(key: RunKey): Promise<LeaseHolder | undefined> {
        const r = await this.query("read the request to stop", `
            SELECT preempt, preempt_at FROM ${runsTable} WHERE ${KEY} AND preempt IS NOT NULL`,
            [key.project, key.stack, key.model]);
        if (r.rowCount === 0) return undefined;
        const { preempt, preempt_at: at } = r.rows[0];
        return this.holderFrom(key, preempt, at, at, preempt?.leaseSeconds);
    }

    /** Withdraws `by`'s request to stop; a request someone else made since stays. */
    async clearPreemption(key: RunKey, by: LeaseHolder): Promise<void> {
        await this.query("withdraw the request to stop", `
            UPDATE ${runsTable} SET preempt = NULL, preempt_at = NULL WHERE ${KEY} AND (preempt - 'leaseSeconds') = $4::jsonb`,
            [key.project, key.stack, key.model, JSON.stringify(identity(by))]);
    }

    async readRecord(key: RunKey): Promise<string | undefined> {
        const r = await this.query("read the rollout record", `SELECT record FROM ${runsTable} WHERE ${KEY} AND record IS NOT NULL`, [key.project, key.stack, key.model]);
        return r.rowCount === 0 ? undefined : r.rows[0].record;
    }

    async writeRecord(key: RunKey, json: string): Promise<void> {
        await this.query("write the rollout record", `
            INSERT INTO ${runsTable} (project, stack, model, record, record_at) VALUES ($1, $2, $3, $4, ${NOW})
            ON CONFLICT (project, stack, model) DO UPDATE SET record = excluded.record, record_at = excluded.record_at`,
            [key.project, key.stack, key.model, json]);
    }

    /** Closes the store's connections (a process that forgets still exits: idle connections do not hold it). */
    async close(): Promise<void> {
        const pool = this.pool;
        this.pool = undefined;
        this.table = undefined;
        await pool?.end();
    }

    /** A LeaseHolder from a stored identity and the store's times; anything else is a damaged row. */
    private holderFrom(key: RunKey, who: unknown, acquiredAt: unknown, renewedAt: unknown, leaseSeconds: unknown): LeaseHolder {
        const w = who as Record<string, unknown> | null;
        const time = (t: unknown) => (t instanceof Date ? t : typeof t === "string" ? new Date(t) : new Date(NaN));
        const acquired = time(acquiredAt);
        const renewed = time(renewedAt);
        const seconds = typeof leaseSeconds === "number" ? leaseSeconds : Number(leaseSeconds);
        if (
            w === null || typeof w !== "object" || typeof w.host !== "string" || typeof w.pid !== "number" || typeof w.user !== "string"
            || typeof w.command !== "string" || (w.startTicks !== undefined && typeof w.startTicks !== "string")
            || Number.isNaN(acquired.getTime()) || Number.isNaN(renewed.getTime()) || !Number.isFinite(seconds)
        ) {
            throw new CoordinationStoreError(
                `${this.describe(key)} is damaged: its holder ${JSON.stringify(who)} (acquired ${String(acquiredAt)}, renewed ${String(renewedAt)}, lease ${String(leaseSeconds)} s) is not one model-canary writes; `
                + `look at the row, and delete it if no run holds it`,
                "damaged",
            );
        }
        return {
            host: w.host, pid: w.pid, user: w.user, ...(w.startTicks !== undefined ? { startTicks: w.startTicks as string } : {}), command: w.command,
            acquiredAt: acquired.toISOString(), renewedAt: renewed.toISOString(), leaseSeconds: seconds,
        };
    }

    private async query(what: string, sql: string, params: unknown[]): Promise<QueryResult> {
        if (!this.table) {
            this.table = this.ensureTable(what);
            // A failure is reported now and tried afresh by the next call.
            this.table.catch(() => { this.table = undefined; });
        }
        await this.table;
        return this.run(what, sql, params);
    }

    /** Creates the table when it is not there (checked first: creating needs a privilege that using it does not). */
    private async ensureTable(what: string): Promise<void> {
        const found = await this.run(what, `SELECT to_regclass($1) IS NOT NULL AS present, current_schema() AS schema`, [runsTable]);
        if (found.rows[0].present) return;
        try {
            await this.run("create its table", createRunsTable, []);
        } catch (e) {
            // Two runners creating it at once: the loser's statement fails on the catalog's unique key, and the table is there.
            const again = await this.run(what, `SELECT to_regclass($1) IS NOT NULL AS present`, [runsTable]);
            if (!again.rows[0].present) throw e;
        }
    }

    private async run(what: string, sql: string, params: unknown[]): Promise<QueryResult> {
        for (let attempt = 1; ; attempt++) {
            const client = await this.connect(what);
            try {
                const result = await client.query({ text: sql, values: params });
                client.release();
                return result;
            } catch (e) {
                // A connection that lost its server, or timed out mid-answer, is not reused.
                client.release(sqlState(e) === undefined ? (e as Error) : undefined);
                if (sqlState(e) === "42P01") this.table = undefined;
                // Under `serializable` or `repeatable read` (a database's default_transaction_isolation), a
                // statement that met a concurrent write is rolled back whole: it changed nothing, so run it again.
                if ((sqlState(e) === "40001" || sqlState(e) === "40P01") && attempt < 5) {
                    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
                    continue;
                }
                throw this.failure(e, what, "query");
            }
        }
    }

    private async connect(what: string): Promise<PoolClient> {
        for (;;) {
            const pool = (this.pool ??= this.newPool());
            try {
                return await pool.connect();
            } catch (e) {
                if (this.sslFallback && /does not support SSL/i.test(errorText(e))) {
                    this.sslFallback = false;
                    this.ssl = false;
                    this.pool = undefined;
                    await pool.end().catch(() => undefined);
                    continue;
                }
                throw this.failure(e, what, "connect");
            }
        }
    }

    private newPool(): Pool {
        const c = this.connection;
        // Loaded here, not when the module is: every command loads this store's module, few use it (0.1-0.25 s).
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { Pool } = require("pg") as typeof import("pg");
        const pool = new Pool({
            host: c.host,
            port: c.port,
            user: c.user,
            database: c.database,
            ...(c.password !== undefined ? { password: c.password } : {}),
            ssl: this.ssl,
            ...(c.applicationName !== undefined ? { application_name: c.applicationName } : { application_name: "model-canary" }),
            connectionTimeoutMillis: this.connectTimeoutMs,
            query_timeout: this.queryTimeoutMs,
            max: 2,
            idleTimeoutMillis: 10_000,
            allowExitOnIdle: true,
        });
        // An idle connection whose server goes away reports here; without a listener that would end the process.
        pool.on("error", () => undefined);
        return pool;
    }

    /** The error a failed statement becomes: what was tried, where, why, and what to do; never the password. */
    private failure(e: unknown, what: string, phase: "connect" | "query"): CoordinationStoreError {
        const c = this.connection;
        const cause = errorText(e);
        const code = sqlState(e);
        const at = `the PostgreSQL state backend at ${c.where} (${c.display})`;
        if (code === "28P01" || code === "28000") {
            return new CoordinationStoreError(`${at} refused role \`${c.user}\`: ${cause}; nothing was changed. Check the password (in the backend URL or PGPASSWORD) and the server's pg_hba.conf`, "forbidden");
        }
        if (/client password must be a (non-empty )?string/.test(cause)) {
            return new CoordinationStoreError(`${at} asks role \`${c.user}\` for a password and none was given; nothing was changed. Put it in the backend URL, PGPASSWORD or ~/.pgpass`, "forbidden");
        }
        if (code === "42501") {
            const schema = "the schema first in its search_path (usually `public`)";
            const needed = what === "create its table"
                ? `it needs the CREATE privilege on ${schema} to create its table \`${runsTable}\` once (GRANT CREATE ON SCHEMA public TO ${c.user}), or a database owner creates the table (see docs/pipelines.md)`
                : `it needs SELECT, INSERT and UPDATE on table \`${runsTable}\` (GRANT SELECT, INSERT, UPDATE ON ${runsTable} TO ${c.user})`;
            return new CoordinationStoreError(`role \`${c.user}\` may not ${what} in ${at}: ${cause}; nothing was changed: ${needed}`, "forbidden");
        }
        if (code === "25006") {
            return new CoordinationStoreError(`${at} accepts no writes (a read-only standby?), so model-canary cannot ${what}: ${cause}; nothing was changed. Point the backend URL at the primary`, "forbidden");
        }
        if (code === "3F000") {
            return new CoordinationStoreError(`role \`${c.user}\` has no schema to create its table \`${runsTable}\` in at ${at}: ${cause}; nothing was changed. Set the role's search_path to a schema it may use`, "forbidden");
        }
        if (code === "40001" || code === "40P01") {
            return new CoordinationStoreError(`${at} kept refusing to ${what} because of concurrent writes: ${cause}; nothing was changed, try again`, "conflict");
        }
        if (code === "42P01") {
            return new CoordinationStoreError(`table \`${runsTable}\` went away in ${at} while model-canary tried to ${what}: ${cause}; try again (it is created anew)`, "conflict");
        }
        if (code !== undefined && /^(42703|42804|22P02|22023|23502|42883)$/.test(code)) {
            return new CoordinationStoreError(`table \`${runsTable}\` in ${at} is not as model-canary creates it, so it cannot ${what}: ${cause}. Rename or drop that table (no run may be holding it) and model-canary creates it anew`, "damaged");
        }
        if (phase === "connect" || code === "3D000" || code === "57P03") {
            return new CoordinationStoreError(`cannot reach ${at} to ${what}: ${cause}; nothing was changed. Check that the server runs and accepts connections from this machine, and the backend URL`, "unreachable");
        }
        return new CoordinationStoreError(`lost ${at} while trying to ${what}: ${cause}; it may or may not have taken effect`, "unreachable");
    }
}

/** TLS options of node's `tls.connect` for libpq's `sslmode` and certificate settings. */
function tlsOptions(c: PostgresConnection): PoolConfig["ssl"] {
    const read = (file: string | undefined, fallback: string) => {
        const f = file ?? path.join(os.homedir(), ".postgresql", fallback);
        return fs.existsSync(f) ? fs.readFileSync(f) : undefined;
    };
    const clientCert = read(c.sslCert, "postgresql.crt");
    const clientKey = read(c.sslKey, "postgresql.key");
    const client = clientCert && clientKey ? { cert: clientCert, key: clientKey } : {};
    const systemRoots = c.sslRootCert === "system";
    const ca = systemRoots ? undefined : read(c.sslRootCert, "root.crt");
    // libpq: `require` with a root certificate at hand verifies the server's chain like `verify-ca`.
    const mode = c.sslMode === "require" && ca !== undefined ? "verify-ca" : systemRoots ? "verify-full" : c.sslMode;
    if (mode === "verify-full") return { ...client, ...(ca ? { ca } : {}), rejectUnauthorized: true };
    if (mode === "verify-ca") return { ...client, ...(ca ? { ca } : {}), rejectUnauthorized: true, checkServerIdentity: () => undefined };
    // prefer, allow, require: encrypted, the server's certificate not checked (libpq's meaning of these modes).
    return { ...client, rejectUnauthorized: false };
}

function sqlState(e: unknown): string | undefined {
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** An error's text: node's connection errors to a name with several addresses are an AggregateError with an empty message. */
function errorText(e: unknown): string {
    if (e instanceof AggregateError && e.message === "") return e.errors.map((x) => errorText(x)).join("; ") || String((e as { code?: string }).code ?? "connection failed");
    if (e instanceof Error) return e.message || String((e as { code?: string }).code ?? e.name);
    return String(e);
}

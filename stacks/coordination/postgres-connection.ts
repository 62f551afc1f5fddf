// How to reach the database of a `postgres://` state backend, read from its URL the way the Pulumi
// CLI 3.248 reads it (its DIY PostgreSQL backend hands the URL, less its own `table` parameter, to
// the Go driver lib/pq 1.12): each connection setting from the URL, else from the libpq
// environment variable (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
// `PGCONNECT_TIMEOUT`, ...), else the libpq default (localhost, 5432, the OS user, a database named
// after the user, `sslmode=prefer`). Pure: the environment is an argument, and no file is read.
import { CoordinationStoreError } from "./store";

export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof sslModes)[number];

export interface PostgresConnection {
    /** A host name or address, or a directory holding the server's unix socket. */
    host: string;
    port: number;
    user: string;
    /** From the URL or `PGPASSWORD`; absent means none (a `.pgpass` file or trust authentication). */
    password?: string;
    database: string;
    sslMode: SslMode;
    /** Files of the TLS settings, as written (`sslrootcert`, `sslcert`, `sslkey`). */
    sslRootCert?: string;
    sslCert?: string;
    sslKey?: string;
    /** `connect_timeout` in milliseconds, when the URL or `PGCONNECT_TIMEOUT` sets one (libpq's unit is seconds). */
    connectTimeoutMs?: number;
    applicationName?: string;
    /** The URL as written with any password replaced by `***`: what messages show. */
    display: string;
    /** `host:port, database `db``: where messages say the store is. */
    where: string;
}

/** Whether a state backend URL is the Pulumi CLI's PostgreSQL backend (it registers the `postgres` scheme only). */
export function isPostgresBackendUrl(url: string): boolean {
    return /^postgres:\/\//i.test(url);
}

/** The URL with the password (if any) replaced by `***`; other text is kept as written. */
export function redactPostgresUrl(url: string): string {
    // Not through `new URL`: a URL it cannot parse must still be shown without its password.
    // The userinfo ends at the authority's last `@` (as Go's and WHATWG's parsers read it); the password at its first `:`.
    return url
        .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i, (_, scheme: string, info: string) => `${scheme}${info.includes(":") ? `${info.slice(0, info.indexOf(":"))}:***` : info}@`)
        .replace(/([?&]password=)[^&#]*/gi, "$1***");
}

/**
 * The connection settings of a `postgres://` backend URL. `env` is the process environment
 * (`PG*` variables fill what the URL leaves out); `osUser` is the default user. Throws a
 * CoordinationStoreError naming the setting for a URL the driver would refuse.
 */
export function postgresConnection(url: string, env: Readonly<Record<string, string | undefined>>, osUser: string): PostgresConnection {
    const display = redactPostgresUrl(url);
    const bad = (what: string) =>
        new CoordinationStoreError(`the state backend URL ${display} ${what}; nothing was changed`, "unreachable");
    if (!isPostgresBackendUrl(url)) throw bad("is not a `postgres://` URL");
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw bad("cannot be parsed as a URL (a password with `@`, `/`, `?` or `#` must be percent-encoded)");
    }
    const query = parsed.searchParams;
    const fromQuery = (key: string): string | undefined => {
        const v = query.get(key);
        return v === null || v === "" ? undefined : v;
    };
    const fromEnv = (key: string): string | undefined => (env[key] === "" ? undefined : env[key]);
    const decode = (s: string, what: string): string => {
        try {
            return decodeURIComponent(s);
        } catch {
            throw bad(`has a ${what} that is not valid percent-encoding`);
        }
    };

    const host = fromQuery("host") ?? (parsed.hostname !== "" ? decode(parsed.hostname, "host").replace(/^\[(.*)\]$/, "$1") : undefined) ?? fromEnv("PGHOST") ?? "localhost";
    const portText = fromQuery("port") ?? (parsed.port !== "" ? parsed.port : undefined) ?? fromEnv("PGPORT") ?? "5432";
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw bad(`has port \`${portText}\`: a port is a number from 1 to 65535`);
    const user = fromQuery("user") ?? (parsed.username !== "" ? decode(parsed.username, "user") : undefined) ?? fromEnv("PGUSER") ?? osUser;
    // The driver takes a `password` query parameter too; the URL's userinfo comes first here.
    const password = (parsed.password !== "" ? decode(parsed.password, "password") : undefined) ?? fromQuery("password") ?? fromEnv("PGPASSWORD");
    const pathName = parsed.pathname.replace(/^\//, "");
    const database = fromQuery("dbname") ?? (pathName !== "" ? decode(pathName, "database name") : undefined) ?? fromEnv("PGDATABASE") ?? user;

    const sslModeText = fromQuery("sslmode") ?? fromEnv("PGSSLMODE") ?? "prefer";
    if (!(sslModes as readonly string[]).includes(sslModeText)) throw bad(`has \`sslmode\` \`${sslModeText}\`: accepted are ${sslModes.map((m) => `\`${m}\``).join(", ")}`);
    const timeoutText = fromQuery("connect_timeout") ?? fromEnv("PGCONNECT_TIMEOUT");
    let connectTimeoutMs: number | undefined;
    if (timeoutText !== undefined) {
        if (!/^-?\d+$/.test(timeoutText)) throw bad(`has \`connect_timeout\` \`${timeoutText}\`: a whole number of seconds`);
        // libpq: zero or negative means no limit.
        connectTimeoutMs = Number(timeoutText) > 0 ? Number(timeoutText) * 1000 : undefined;
    }

    const shownHost = host.startsWith("/") ? `${host}/.s.PGSQL.${portText}` : `${host.includes(":") ? `[${host}]` : host}:${portText}`;
    return {
        host,
        port: Number(portText),
        user,
        ...(password !== undefined ? { password } : {}),
        database,
        sslMode: sslModeText as SslMode,
        ...optional("sslRootCert", fromQuery("sslrootcert") ?? fromEnv("PGSSLROOTCERT")),
        ...optional("sslCert", fromQuery("sslcert") ?? fromEnv("PGSSLCERT")),
        ...optional("sslKey", fromQuery("sslkey") ?? fromEnv("PGSSLKEY")),
        ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
        ...optional("applicationName", fromQuery("application_name") ?? fromEnv("PGAPPNAME")),
        display,
        where: `${shownHost}, database \`${database}\``,
    };
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
    return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

// The store of a directory every runner sharing the stack reaches: a `file://` backend's
// (`<backend>/.model-canary/locks/<project>/<stack>[@<model>].json`, where the run lock has always
// lived, so older checkouts and this one see each other's locks), or, for a backend nothing here
// can write beside (s3://, Pulumi Cloud, ...) without a cluster, the checkout's own
// `.model-canary/<stack>/run[@<model>].lock.json`, which only that checkout sees.
//
// The lease is a file holding its holder (JSON). Its clock is the file system's: `renewedAt` is the
// file's mtime, which a renewal moves by rewriting the file's bytes in place (on a network file
// system the server stamps it), and "now" is the mtime of a file this store just wrote. So two
// runners whose clocks disagree judge expiry alike.
// - acquire: the holder is written to a temp file and hard-linked into place, which fails when the
//   lease exists (an exclusive create without a moment where the file is empty);
// - takeover (expired, or `replacing` names the holder): the file is renamed aside, which only one
//   runner can do; the one that did checks that what it moved is still the holder it judged (same
//   identity, not renewed since), else links it back;
// - renew: the holder's file is opened, checked to be this holder's and still at its path, and its
//   bytes written again (same bytes, so a reader never sees a partial file);
// - the pre-emption request is `<lease>.preempt.json`, the rollout record `<lease>.rollout.json`.
import * as fs from "fs";
import * as path from "path";
import { AcquireResult, CoordinationStore, CoordinationStoreError, LeaseHolder, leaseExpired, RunKey } from "./store";

/** The model whose lease is the stack's own (the shorthand's): it keeps the stack's file name. */
const stackModel = "model";

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");

export interface BackendDirectoryOptions {
    /**
     * Where a run's lease lives. Default: the backend layout under `root`
     * (`<root>/<project>/<stack>[@<model>].json`).
     */
    leaseFile?: (key: RunKey) => string;
    /** Whether the store keeps rollout records (a checkout-local store leaves them to the checkout's own file). Default true. */
    records?: boolean;
    /** For messages: what the directory is, e.g. "the backend directory /srv/state". */
    label?: string;
}

/** The lease file of a run in a backend directory's layout: the model `model` keeps the stack's name. */
export function backendLeaseFile(root: string, key: RunKey, suffix = ""): string {
    const model = key.model === stackModel ? "" : `@${key.model}`;
    return path.join(root, safe(key.project), `${safe(key.stack)}${model}${suffix}.json`);
}

export class BackendDirectoryStore implements CoordinationStore {
    private readonly leaseFile: (key: RunKey) => string;
    private readonly records: boolean;
    private readonly label: string;

    /** `root`: the locks directory, `<backend>/.model-canary/locks`. */
    constructor(root: string, options: BackendDirectoryOptions = {}) {
        this.leaseFile = options.leaseFile ?? ((key) => backendLeaseFile(root, key));
        this.records = options.records ?? true;
        this.label = options.label ?? `the directory ${root}`;
    }

    describe(key: RunKey): string {
        return `${this.leaseFile(key)} (${this.label})`;
    }

    /** The lease's file, for messages that tell a user what to remove. */
    fileOf(key: RunKey): string {
        return this.leaseFile(key);
    }

    async acquire(key: RunKey, me: LeaseHolder, options: { replacing?: LeaseHolder } = {}): Promise<AcquireResult> {
        const file = this.leaseFile(key);
        const temp = `${file}.${me.pid}.${process.hrtime.bigint()}.tmp`;
        this.io(key, () => fs.mkdirSync(path.dirname(file), { recursive: true }));
        try {
            // The store's "now": the time the file system stamps on a file written now.
            this.io(key, () => fs.writeFileSync(temp, ""));
            const stamped = fs.statSync(temp).mtime;
            const now = stamped.toISOString();
            const mine: LeaseHolder = { ...me, acquiredAt: now, renewedAt: now };
            this.io(key, () => {
                fs.writeFileSync(temp, `${JSON.stringify(mine, null, 2)}\n`);
                // Renewed when acquired: the file keeps the time the file system stamped.
                fs.utimesSync(temp, stamped, stamped);
            });
            let tookOverFrom: LeaseHolder | undefined;
            for (let attempt = 0; attempt < 5; attempt++) {
                try {
                    fs.linkSync(temp, file);
                    return { acquired: true, ...(tookOverFrom ? { tookOverFrom } : {}) };
                } catch (e) {
                    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw this.failure(key, e);
                }
                const holder = this.read(key, file);
                if (!holder) continue; // released meanwhile
                // The store's "now" again (the temp file's own mtime is the acquisition's).
                fs.writeFileSync(`${temp}.now`, "");
                const nowMs = fs.statSync(`${temp}.now`).mtimeMs;
                fs.rmSync(`${temp}.now`, { force: true });
                const replaceable = leaseExpired(holder, nowMs) || (options.replacing !== undefined && sameHolder(holder, options.replacing));
                if (!replaceable) return { acquired: false, holder };
                if (this.takeOver(key, file, holder, options.replacing, nowMs)) tookOverFrom = holder;
            }
            const holder = this.read(key, file);
            if (holder) return { acquired: false, holder };
            throw new CoordinationStoreError(`${this.describe(key)} kept changing while it was taken; try again`, "conflict");
        } finally {
            fs.rmSync(temp, { force: true });
        }
    }

    async renew(key: RunKey, me: LeaseHolder): Promise<boolean> {
        const file = this.leaseFile(key);
        let fd: number;
        try {
            fd = fs.openSync(file, "r+");
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
            throw this.failure(key, e);
        }
        try {
            const bytes = fs.readFileSync(fd);
            const held = parseHolder(bytes.toString("utf8"));
            if (!held || !sameHolder(held, me)) return false;
            fs.writeSync(fd, bytes, 0, bytes.length, 0);
            // Renamed aside by a runner taking it over between our open and our write: not ours any more.
            return this.stillAt(file, fs.fstatSync(fd));
        } catch (e) {
            throw this.failure(key, e);
        } finally {
            fs.closeSync(fd);
        }
    }

    async release(key: RunKey, me: LeaseHolder): Promise<void> {
        const file = this.leaseFile(key);
        const held = this.read(key, file);
        if (held && sameHolder(held, me)) this.io(key, () => fs.rmSync(file, { force: true }));
    }

    async holder(key: RunKey): Promise<LeaseHolder | undefined> {
        return this.read(key, this.leaseFile(key));
    }

    async requestPreemption(key: RunKey, by: LeaseHolder): Promise<void> {
        const marker = this.beside(key, ".preempt");
        this.io(key, () => {
            fs.mkdirSync(path.dirname(marker), { recursive: true });
            const temp = `${marker}.${by.pid}.tmp`;
            fs.writeFileSync(temp, `${JSON.stringify(by, null, 2)}\n`);
            fs.renameSync(temp, marker);
        });
    }

    async preemption(key: RunKey): Promise<LeaseHolder | undefined> {
        return parseHolder(this.text(key, this.beside(key, ".preempt")));
    }

    async clearPreemption(key: RunKey, by: LeaseHolder): Promise<void> {
        const marker = this.beside(key, ".preempt");
        const request = parseHolder(this.text(key, marker));
        if (request && request.pid === by.pid && request.host === by.host) this.io(key, () => fs.rmSync(marker, { force: true }));
    }

    async readRecord(key: RunKey): Promise<string | undefined> {
        return this.records ? this.text(key, this.beside(key, ".rollout")) : undefined;
    }

    async writeRecord(key: RunKey, json: string): Promise<void> {
        if (!this.records) return;
        const file = this.beside(key, ".rollout");
        this.io(key, () => {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            const temp = `${file}.${process.pid}.tmp`;
            fs.writeFileSync(temp, json.endsWith("\n") ? json : `${json}\n`);
            fs.renameSync(temp, file);
        });
    }

    /** `<lease>.preempt.json`, `<lease>.rollout.json`. */
    private beside(key: RunKey, suffix: string): string {
        return this.leaseFile(key).replace(/\.json$/, `${suffix}.json`);
    }

    /**
     * Moves an expired (or `replacing`'s) lease aside; true when the one moved is still the holder
     * judged. A holder that renewed meanwhile, or another runner's that took it first, is put back.
     */
    private takeOver(key: RunKey, file: string, judged: LeaseHolder, replacing: LeaseHolder | undefined, nowMs: number): boolean {
        const aside = `${file}.${process.pid}.${process.hrtime.bigint()}.taken`;
        try {
            fs.renameSync(file, aside);
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return false; // another runner moved it first
            throw this.failure(key, e);
        }
        const moved = this.read(key, aside);
        const still = moved !== undefined && sameHolder(moved, judged)
            && (leaseExpired(moved, nowMs) || (replacing !== undefined && sameHolder(moved, replacing)));
        if (!still) {
            try {
                fs.linkSync(aside, file);
            } catch {
                // a third runner holds it now: the next attempt reads it
            }
        }
        fs.rmSync(aside, { force: true });
        return still;
    }

    /** Whether the file at `file` is the one `stat` describes (not renamed aside since). */
    private stillAt(file: string, stat: fs.Stats): boolean {
        try {
            const now = fs.statSync(file);
            return now.ino === stat.ino && now.dev === stat.dev;
        } catch {
            return false;
        }
    }

    /** The holder a lease file names, with `renewedAt` from its mtime; undefined when there is none. */
    private read(key: RunKey, file: string): LeaseHolder | undefined {
        let text: string;
        let stat: fs.Stats;
        try {
            const fd = fs.openSync(file, "r");
            try {
                text = fs.readFileSync(fd, "utf8");
                stat = fs.fstatSync(fd);
            } finally {
                fs.closeSync(fd);
            }
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
            throw this.failure(key, e);
        }
        const holder = parseHolder(text);
        if (!holder) {
            // Written by something else than this tool, or damaged: never guess.
            throw new CoordinationStoreError(`${file} does not name a process (written by another tool, or damaged); if no model-canary command is running on the stack, remove that file`, "damaged");
        }
        return { ...holder, renewedAt: stat.mtime.toISOString() };
    }

    private text(key: RunKey, file: string): string | undefined {
        try {
            return fs.readFileSync(file, "utf8");
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
            throw this.failure(key, e);
        }
    }

    private io<T>(key: RunKey, action: () => T): T {
        try {
            return action();
        } catch (e) {
            throw this.failure(key, e);
        }
    }

    private failure(key: RunKey, e: unknown): CoordinationStoreError {
        if (e instanceof CoordinationStoreError) return e;
        const code = (e as NodeJS.ErrnoException).code;
        return new CoordinationStoreError(`cannot use ${this.describe(key)}: ${(e as Error).message}`, code === "EACCES" || code === "EPERM" || code === "EROFS" ? "forbidden" : "unreachable");
    }
}

/** A lease file's holder, or undefined when the text does not name one. Older locks (before leases) count as renewed at their mtime, for 60 s. */
function parseHolder(text: string | undefined): LeaseHolder | undefined {
    if (text === undefined) return undefined;
    try {
        const h = JSON.parse(text);
        if (typeof h?.pid !== "number" || typeof h?.host !== "string") return undefined;
        return {
            host: h.host, pid: h.pid, user: typeof h.user === "string" ? h.user : "",
            ...(typeof h.startTicks === "string" ? { startTicks: h.startTicks } : {}),
            command: typeof h.command === "string" ? h.command : "",
            acquiredAt: typeof h.acquiredAt === "string" ? h.acquiredAt : typeof h.startedAt === "string" ? h.startedAt : "",
            renewedAt: typeof h.renewedAt === "string" ? h.renewedAt : "",
            leaseSeconds: typeof h.leaseSeconds === "number" && h.leaseSeconds > 0 ? h.leaseSeconds : 60,
        };
    } catch {
        return undefined;
    }
}

/** The same holder: the same process (host, pid and, where both have them, start ticks). */
export function sameHolder(a: Pick<LeaseHolder, "host" | "pid" | "startTicks">, b: Pick<LeaseHolder, "host" | "pid" | "startTicks">): boolean {
    return a.host === b.host && a.pid === b.pid && (a.startTicks === undefined || b.startTicks === undefined || a.startTicks === b.startTicks);
}

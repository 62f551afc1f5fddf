// A small client of a cluster's API server, from a kubeconfig: enough for the checks the stack
// makes before it applies anything (API discovery), for `status` (reading the live
// VirtualService), and for the few objects model-canary writes itself rather than through Pulumi
// (a run's Lease and rollout record, Events): create, replace at a resourceVersion, delete, each
// answering with the API server's clock. Supports what kubeconfigs commonly carry: CA data or
// file, client certificates, bearer tokens (inline or file), and exec credential plugins.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { quotedText } from "../../components/syntax";
import * as YAML from "yaml";

export interface ClusterTarget {
    /** Kubeconfig path or contents; default `$KUBECONFIG` (first file), else ~/.kube/config. */
    kubeconfig?: string;
    /** Context name; default the kubeconfig's current-context. */
    context?: string;
    /** The config key `kubeconfig` came from, to name it in errors when it holds the contents (never shown). */
    configKey?: string;
}

export interface ClusterResponse {
    status: number;
    body: string;
    /** The answer's `Date` header: the API server's clock, to the second (undefined if it sent none). */
    date?: string;
}

export interface ClusterConnection {
    server: string;
    context: string;
    /** A GET by default; `body` is sent as JSON (`contentType`, default `application/json`: a server-side apply sends `application/apply-patch+yaml`, of which JSON is a form). */
    request(urlPath: string, init?: { method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"; body?: unknown; contentType?: string }): Promise<ClusterResponse>;
}

export class ClusterApiError extends Error {
    /** True when the API server could not be reached at all (as opposed to answering no). */
    public readonly unreachable: boolean;
    /** The HTTP status the API server answered with (409 a conflict, 403 forbidden), when it answered. */
    public readonly status?: number;
    constructor(message: string, unreachable = false, status?: number) {
        super(message);
        this.name = "ClusterApiError";
        this.unreachable = unreachable;
        this.status = status;
    }
}

/** Kubeconfig text from a path or the contents themselves (what the Kubernetes provider accepts too). */
function kubeconfigText(target: ClusterTarget): { text: string; base: string; source: string } {
    const value = target.kubeconfig ?? (process.env.KUBECONFIG ?? "").split(path.delimiter).find((f) => f && fs.existsSync(f)) ?? path.join(os.homedir(), ".kube", "config");
    if (/^\s*(apiVersion|kind|clusters|contexts|users|current-context|preferences)\s*:/m.test(value) || value.trim().startsWith("{")) {
        return { text: value, base: process.cwd(), source: target.configKey ? `the kubeconfig in \`${target.configKey}\`` : "the kubeconfig contents" };
    }
    const file = value.replace(/^~(?=\/|$)/, os.homedir());
    try {
        return { text: fs.readFileSync(file, "utf8"), base: path.dirname(path.resolve(file)), source: file };
    } catch (e) {
        throw new ClusterApiError(`cannot read the kubeconfig ${file}: ${(e as Error).message}`);
    }
}

function named(list: unknown, name: string, what: string, source: string): any {
    const found = Array.isArray(list) ? list.find((x) => x?.name === name) : undefined;
    if (!found) throw new ClusterApiError(`${source} has no ${what} named ${JSON.stringify(name)}`);
    return found[what];
}

/** Which field of a kubeconfig entry held a value: `client-certificate-data`, or `client-certificate` (a file). */
function field(entry: Record<string, unknown>, name: string): string {
    return entry[`${name}-data`] !== undefined ? `${name}-data` : `${name} (${String(entry[name])})`;
}

/**
 * Refuses a kubeconfig whose CA, client certificate or client key is not usable, naming the
 * kubeconfig, the entry and the field (never the value), instead of OpenSSL's text at the first request.
 */
function checkCredentials(options: https.RequestOptions, where: { source: string; cluster: string; user?: string; clusterEntry: Record<string, unknown>; userEntry: Record<string, unknown> }): void {
    const fail = (what: string, why: string): never => {
        throw new ClusterApiError(`${where.source}: ${what} ${why}; nothing was applied. Fix that entry (or point \`kubeconfig\` at a working kubeconfig).`);
    };
    const userWhat = (name: string) => `user ${JSON.stringify(where.user)}'s ${field(where.userEntry, name)}`;
    const pemCertificates = (value: Buffer, what: string): void => {
        const text = value.toString("utf8");
        if (!/-----BEGIN CERTIFICATE-----/.test(text)) fail(what, "is not a PEM certificate (no `-----BEGIN CERTIFICATE-----`; a `-data` field holds it base64-encoded)");
        try {
            for (const pem of text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) new crypto.X509Certificate(pem);
        } catch (e) {
            fail(what, `is not a valid certificate (${(e as Error).message})`);
        }
    };
    if (options.ca) pemCertificates(options.ca as Buffer, `cluster ${JSON.stringify(where.cluster)}'s ${field(where.clusterEntry, "certificate-authority")}`);
    if (options.cert) pemCertificates(options.cert as Buffer, userWhat("client-certificate"));
    let key: crypto.KeyObject | undefined;
    if (options.key) {
        try {
            key = crypto.createPrivateKey(options.key as Buffer);
        } catch {
            fail(userWhat("client-key"), "is not a PEM private key");
        }
    }
    if (options.cert && !options.key) fail(userWhat("client-certificate"), "has no client key beside it (`client-key-data` or `client-key`)");
    if (options.key && !options.cert) fail(userWhat("client-key"), "has no client certificate beside it (`client-certificate-data` or `client-certificate`)");
    if (options.cert && key && !new crypto.X509Certificate(options.cert as Buffer).checkPrivateKey(key)) {
        fail(userWhat("client-key"), `does not belong to its ${field(where.userEntry, "client-certificate")}`);
    }
}

/** Resolves a kubeconfig's context into a connection; throws ClusterApiError on a malformed one. */
export function connect(target: ClusterTarget): ClusterConnection {
    const { text, base, source } = kubeconfigText(target);
    let config: any;
    try {
        config = YAML.parse(text);
    } catch (e) {
        throw new ClusterApiError(`${source} is not valid YAML: ${(e as Error).message}`);
    }
    const contextName = target.context ?? config?.["current-context"];
    if (!contextName) throw new ClusterApiError(`${source} has no current-context; set \`kubernetes:context\``);
    const context = named(config.contexts, contextName, "context", source);
    const cluster = named(config.clusters, context.cluster, "cluster", source);
    const user = context.user ? named(config.users, context.user, "user", source) ?? {} : {};
    const file = (f: string): Buffer => fs.readFileSync(path.resolve(base, f));
    const data = (inline: string | undefined, f: string | undefined): Buffer | undefined =>
        inline ? Buffer.from(inline, "base64") : f ? file(f) : undefined;

    const options: https.RequestOptions = {
        ca: data(cluster["certificate-authority-data"], cluster["certificate-authority"]),
        rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
        servername: cluster["tls-server-name"],
        cert: data(user["client-certificate-data"], user["client-certificate"]),
        key: data(user["client-key-data"], user["client-key"]),
        timeout: 10_000,
    };
    checkCredentials(options, { source, cluster: context.cluster, user: context.user, clusterEntry: cluster, userEntry: user });
    let token: string | undefined = user.token ?? (user.tokenFile ? file(user.tokenFile).toString("utf8").trim() : undefined);
    if (user.exec) {
        const exec = user.exec;
        let out: string;
        try {
            out = execFileSync(exec.command, exec.args ?? [], {
                encoding: "utf8",
                env: { ...process.env, ...Object.fromEntries((exec.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value])) },
                stdio: ["ignore", "pipe", "pipe"],
                timeout: 30_000,
            });
        } catch (e) {
            throw new ClusterApiError(`the kubeconfig's credential plugin \`${exec.command}\` failed: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
        }
        const status = JSON.parse(out)?.status ?? {};
        token = status.token ?? token;
        if (status.clientCertificateData) options.cert = status.clientCertificateData;
        if (status.clientKeyData) options.key = status.clientKeyData;
    }
    const server = String(cluster.server ?? "").replace(/\/+$/, "");
    if (!server.startsWith("https://") && !server.startsWith("http://")) throw new ClusterApiError(`${source}: cluster ${JSON.stringify(context.cluster)} has no server URL`);
    return {
        server,
        context: contextName,
        request(urlPath, init = {}) {
            const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
            return new Promise((resolve, reject) => {
                const req = https.request(`${server}${urlPath}`, {
                    ...options,
                    method: init.method ?? "GET",
                    headers: {
                        Accept: "application/json",
                        ...(payload !== undefined ? { "Content-Type": init.contentType ?? "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
                        ...(token ? { Authorization: `Bearer ${token}` } : {}),
                    },
                }, (res) => {
                    let body = "";
                    res.setEncoding("utf8");
                    res.on("data", (c) => (body += c));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body, date: res.headers.date }));
                });
                req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
                req.on("error", (e) => reject(new ClusterApiError(`cannot reach the API server ${server} (context ${contextName}): ${quotedText(e.message, 300)}`, true)));
                req.end(payload);
            });
        },
    };
}

/** The kinds an API group/version serves (`GET /apis/<group>/<version>`); an empty list when it is not served. */
export async function servedKinds(connection: ClusterConnection, apiVersion: string): Promise<string[]> {
    const res = await connection.request(`/apis/${apiVersion}`);
    if (res.status === 404) return [];
    if (res.status !== 200) throw new ClusterApiError(`GET ${connection.server}/apis/${apiVersion} answered ${res.status}: ${quotedText(res.body, 300)}`);
    return (JSON.parse(res.body).resources as { kind: string; name: string }[]).filter((r) => !r.name.includes("/")).map((r) => r.kind);
}

/** One namespaced object (`v1` is the core group), or undefined when it does not exist. */
export async function getObject(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, name: string): Promise<any | undefined> {
    const group = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const res = await connection.request(`${group}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new ClusterApiError(`GET ${plural} ${namespace}/${name} answered ${res.status}: ${quotedText(res.body, 300)}`);
    return JSON.parse(res.body);
}

/**
 * One object, telling a missing object from a kind the API server does not serve: both answer
 * 404, but only a missing object's answer is a Status naming it (an unserved group or resource
 * answers a plain "404 page not found", or a Status without the object's name).
 */
export async function getObjectIfServed(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, name: string): Promise<{ object: any } | "absent" | "unserved"> {
    const res = await connection.request(objectPath(apiVersion, plural, namespace, name));
    if (res.status === 404) {
        let status: any;
        try {
            status = JSON.parse(res.body);
        } catch {
            return "unserved";
        }
        return status?.kind === "Status" && status?.reason === "NotFound" && status?.details?.name === name ? "absent" : "unserved";
    }
    if (res.status !== 200) throw new ClusterApiError(`GET ${plural} ${namespace}/${name} answered ${res.status}: ${quotedText(res.body, 300)}`);
    return { object: JSON.parse(res.body) };
}

/** The objects of a kind in a namespace; an empty list when the API server does not serve the kind (404), undefined when the user may not list them (403). */
export async function listObjects(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string): Promise<any[] | undefined> {
    const res = await connection.request(objectPath(apiVersion, plural, namespace));
    if (res.status === 404) return [];
    if (res.status === 403) return undefined;
    if (res.status !== 200) throw new ClusterApiError(`LIST ${plural} in ${namespace} answered ${res.status}: ${quotedText(res.body, 300)}`);
    return (JSON.parse(res.body).items ?? []) as any[];
}

/** Where a namespaced object (or, without `name`, its collection) lives on the API server. */
function objectPath(apiVersion: string, plural: string, namespace: string, name?: string): string {
    const group = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return `${group}/namespaces/${encodeURIComponent(namespace)}/${plural}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
}

/** The API server's clock at an answer, in ms since the epoch (its `Date` header). */
function serverTime(res: ClusterResponse, what: string): number {
    const t = res.date === undefined ? NaN : Date.parse(res.date);
    if (Number.isNaN(t)) throw new ClusterApiError(`${what} answered without a usable Date header (${JSON.stringify(res.date ?? null)}), so the API server's clock is unknown`);
    return t;
}

/** The API server's reason for a refusal: its Status `message`, else the body as text. */
function statusMessage(body: string): string {
    try {
        const message = JSON.parse(body)?.message;
        if (typeof message === "string" && message !== "") return quotedText(message, 300);
    } catch {
        // not a Status: the body itself
    }
    return quotedText(body, 300);
}

/** An object as written or read, and the API server's clock when it answered (ms since the epoch). */
export interface ObjectAt {
    object: any;
    serverTime: number;
}

async function call(connection: ClusterConnection, method: "GET" | "POST" | "PUT" | "DELETE", apiVersion: string, plural: string, namespace: string, name: string | undefined, body?: unknown): Promise<{ res: ClusterResponse; what: string }> {
    const meta = (body as { metadata?: { name?: string; generateName?: string } } | undefined)?.metadata;
    const what = `${method} ${plural} ${namespace}/${name ?? meta?.name ?? meta?.generateName ?? ""}`;
    const res = await connection.request(objectPath(apiVersion, plural, namespace, method === "POST" ? undefined : name), { method, body });
    return { res, what };
}

function refused(res: ClusterResponse, what: string): ClusterApiError {
    return new ClusterApiError(`${what} answered ${res.status}: ${statusMessage(res.body)}`, false, res.status);
}

/** One namespaced object and the API server's clock; `object` is undefined when it does not exist. */
export async function readObject(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, name: string): Promise<{ object: any | undefined; serverTime: number }> {
    const { res, what } = await call(connection, "GET", apiVersion, plural, namespace, name);
    if (res.status === 404) return { object: undefined, serverTime: serverTime(res, what) };
    if (res.status !== 200) throw refused(res, what);
    return { object: JSON.parse(res.body), serverTime: serverTime(res, what) };
}

/** Creates a namespaced object; a ClusterApiError with status 409 when one of that name exists. */
export async function createObject(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, object: Record<string, unknown>): Promise<ObjectAt> {
    const { res, what } = await call(connection, "POST", apiVersion, plural, namespace, undefined, object);
    if (res.status !== 201 && res.status !== 200) throw refused(res, what);
    return { object: JSON.parse(res.body), serverTime: serverTime(res, what) };
}

/**
 * Replaces a namespaced object. With `metadata.resourceVersion` set, the API server writes it only
 * if the object is still at that version, else answers 409 (a ClusterApiError with status 409):
 * whoever read it must read it again and judge anew.
 */
export async function replaceObject(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, object: { metadata: { name: string } } & Record<string, unknown>): Promise<ObjectAt> {
    const { res, what } = await call(connection, "PUT", apiVersion, plural, namespace, object.metadata.name, object);
    if (res.status !== 200 && res.status !== 201) throw refused(res, what);
    return { object: JSON.parse(res.body), serverTime: serverTime(res, what) };
}

/**
 * Server-side applies a namespaced object as `fieldManager` (`force`: taking the fields it sets
 * from any other manager): the fields that manager set before and `object` leaves out are
 * removed, as the next apply by that manager would remove them.
 */
export async function applyObject(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, object: { metadata: { name: string } } & Record<string, unknown>, options: { fieldManager: string; force: boolean }): Promise<ObjectAt> {
    const name = object.metadata.name;
    const what = `server-side apply of ${plural} ${namespace}/${name} as ${options.fieldManager}`;
    const query = `?fieldManager=${encodeURIComponent(options.fieldManager)}${options.force ? "&force=true" : ""}`;
    const res = await connection.request(`${objectPath(apiVersion, plural, namespace, name)}${query}`, { method: "PATCH", body: object, contentType: "application/apply-patch+yaml" });
    if (res.status !== 200 && res.status !== 201) throw refused(res, what);
    return { object: JSON.parse(res.body), serverTime: serverTime(res, what) };
}

/** Deletes a namespaced object (only at `resourceVersion` when given); false when it did not exist. */
export async function deleteObject(connection: ClusterConnection, apiVersion: string, plural: string, namespace: string, name: string, resourceVersion?: string): Promise<boolean> {
    const body = resourceVersion === undefined ? undefined : { kind: "DeleteOptions", apiVersion: "v1", preconditions: { resourceVersion } };
    const { res, what } = await call(connection, "DELETE", apiVersion, plural, namespace, name, body);
    if (res.status === 404) return false;
    if (res.status !== 200 && res.status !== 202) throw refused(res, what);
    return true;
}

/** What an Event says about one object (what `kubectl describe` lists under Events). */
export interface EventSpec {
    /** The object it is about; the Event is created in its namespace. */
    involvedObject: { apiVersion: string; kind: string; name: string; namespace: string; uid?: string };
    /** A short CamelCase reason, e.g. `StepApplied`. */
    reason: string;
    message: string;
    type: "Normal" | "Warning";
    /** Who reports it; default `model-canary`. */
    component?: string;
}

/** The API server's clock now (ms since the epoch): the `Date` of its answer to `GET /version`, which every user may read. */
export async function serverClock(connection: ClusterConnection): Promise<number> {
    const res = await connection.request("/version");
    if (res.status !== 200) throw refused(res, "GET /version");
    return serverTime(res, "GET /version");
}

/**
 * Creates a core/v1 Event about an object, stamped with the API server's clock (`serverClock`),
 * not this runner's.
 */
export async function createEvent(connection: ClusterConnection, event: EventSpec): Promise<ObjectAt> {
    const ns = event.involvedObject.namespace;
    const now = new Date(await serverClock(connection)).toISOString().replace(/\.\d{3}Z$/, "Z");
    const component = event.component ?? "model-canary";
    return createObject(connection, "v1", "events", ns, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: `${event.involvedObject.name}.`.slice(0, 200), namespace: ns },
        involvedObject: event.involvedObject,
        reason: event.reason,
        message: event.message,
        type: event.type,
        source: { component },
        reportingComponent: component,
        reportingInstance: os.hostname().slice(0, 128),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
    });
}

/**
 * The UID of the cluster's `kube-system` namespace: made once when a cluster is created and kept
 * for its life, whatever address or credentials reach it, so it tells one cluster from another.
 */
export async function kubeSystemUid(connection: ClusterConnection): Promise<string> {
    const res = await connection.request("/api/v1/namespaces/kube-system");
    if (res.status !== 200) throw new ClusterApiError(`GET ${connection.server}/api/v1/namespaces/kube-system answered ${res.status}: ${res.body.slice(0, 300)}`);
    const uid = JSON.parse(res.body)?.metadata?.uid;
    if (typeof uid !== "string" || uid === "") throw new ClusterApiError(`GET ${connection.server}/api/v1/namespaces/kube-system answered without a UID`);
    return uid;
}

/**
 * The live cluster's identity (`kubeSystemUid`) and the server asked, or why it is unknown: an
 * unreachable API server, a kubeconfig that cannot be read, a user not allowed to read namespaces.
 */
export async function readClusterIdentity(target: ClusterTarget): Promise<{ live: { uid: string } | { unknown: string }; server?: string; unreachable?: boolean }> {
    let connection: ClusterConnection;
    try {
        connection = connect(target);
    } catch (e) {
        return { live: { unknown: (e as Error).message } };
    }
    try {
        return { live: { uid: await kubeSystemUid(connection) }, server: connection.server };
    } catch (e) {
        if (!(e instanceof ClusterApiError)) throw e;
        return { live: { unknown: e.message }, server: connection.server, unreachable: e.unreachable };
    }
}

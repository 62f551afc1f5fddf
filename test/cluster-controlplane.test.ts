// The local control plane (cluster/): `npm run cluster:up` starts it on loopback with Istio's CRDs, the Gateway API's
// standard-channel CRDs and a kwok node and prints an admin kubeconfig; `cluster:down` stops every process it started.
import * as assert from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { alive, clusterToolchainDir, components, kubectl, listeningAddresses, load, sleep } from "../cluster/controlplane";

const projectDir = path.resolve(__dirname, "..");


describe("local control plane (npm run cluster:up / cluster:down)", function () {
    this.timeout(600_000);
    let pointer: string;
    let kubeconfig: string;
    let binDir: string;

    before(function () {
        binDir = clusterToolchainDir();
        pointer = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-pointer-")), "current");
    });

    after(function () {
        // Stops it even when a test failed half way.
        if (fs.existsSync(pointer)) execFileSync("npm", ["run", "-s", "cluster:down"], { cwd: projectDir, env: { ...process.env, MODEL_CANARY_CLUSTER_POINTER: pointer }, stdio: "inherit" });
        fs.rmSync(path.dirname(pointer), { recursive: true, force: true });
    });

    const npm = (script: string): string => execFileSync("npm", ["run", "-s", script], {
        cwd: projectDir,
        encoding: "utf8",
        env: { ...process.env, MODEL_CANARY_CLUSTER_POINTER: pointer, MODEL_CANARY_CLUSTER_TOOLCHAIN: binDir },
        stdio: ["ignore", "pipe", "inherit"],
    });

    it("cluster:up prints the path of an admin kubeconfig as its last line", function () {
        const out = npm("cluster:up").trim().split("\n");
        kubeconfig = out.at(-1)!;
        assert.ok(path.isAbsolute(kubeconfig) && fs.existsSync(kubeconfig), `last line ${JSON.stringify(kubeconfig)} is not a kubeconfig file`);
        assert.match(fs.readFileSync(kubeconfig, "utf8"), /server: https:\/\/127\.0\.0\.1:\d+\n/);
    });

    it("serves Kubernetes v1.36.3 with client-certificate auth as system:masters", function () {
        const cp = load(path.dirname(kubeconfig));
        const version = JSON.parse(kubectl(cp, ["version", "-o", "json"]));
        assert.strictEqual(version.serverVersion.gitVersion, "v1.36.3");
        assert.strictEqual(version.clientVersion.gitVersion, "v1.36.3");
        assert.strictEqual(kubectl(cp, ["auth", "can-i", "*", "*", "--all-namespaces"]).trim(), "yes");
        const who = JSON.parse(kubectl(cp, ["auth", "whoami", "-o", "json"]));
        assert.strictEqual(who.status.userInfo.username, "model-canary-admin");
        assert.ok(who.status.userInfo.groups.includes("system:masters"));
    });

    it("has Istio's DestinationRule and VirtualService at networking.istio.io/v1, v1beta1 and v1alpha3", function () {
        const cp = load(path.dirname(kubeconfig));
        const resources = kubectl(cp, ["api-resources", "--api-group", "networking.istio.io", "-o", "name"]).trim().split("\n").sort();
        assert.ok(resources.includes("destinationrules.networking.istio.io"));
        assert.ok(resources.includes("virtualservices.networking.istio.io"));
        const versions = kubectl(cp, ["api-versions"]).trim().split("\n").filter((v) => v.startsWith("networking.istio.io/"));
        assert.deepStrictEqual(versions.sort(), ["networking.istio.io/v1", "networking.istio.io/v1alpha3", "networking.istio.io/v1beta1"]);
    });

    it("has the Gateway API's standard channel v1.6.3 beside Istio's: HTTPRoute and GRPCRoute served at gateway.networking.k8s.io/v1", function () {
        const cp = load(path.dirname(kubeconfig));
        const crds = JSON.parse(kubectl(cp, ["get", "crd", "-o", "json"])).items.filter((c: any) => c.spec.group === "gateway.networking.k8s.io");
        assert.deepStrictEqual(crds.map((c: any) => c.spec.names.kind).sort(), ["BackendTLSPolicy", "GRPCRoute", "Gateway", "GatewayClass", "HTTPRoute", "ListenerSet", "ReferenceGrant", "TCPRoute", "TLSRoute", "UDPRoute"]);
        assert.deepStrictEqual([...new Set(crds.map((c: any) => `${c.metadata.annotations["gateway.networking.k8s.io/channel"]} ${c.metadata.annotations["gateway.networking.k8s.io/bundle-version"]}`))], ["standard v1.6.3"]);
        const resources = kubectl(cp, ["api-resources", "--api-group", "gateway.networking.k8s.io", "-o", "wide"]);
        for (const kind of ["HTTPRoute", "GRPCRoute"]) assert.match(resources, new RegExp(`\\sgateway\\.networking\\.k8s\\.io/v1\\s+true\\s+${kind}\\s`));
    });

    it("has one Ready kwok node, and a Deployment becomes Available on it", function () {
        const cp = load(path.dirname(kubeconfig));
        const nodes = JSON.parse(kubectl(cp, ["get", "nodes", "-o", "json"])).items;
        assert.deepStrictEqual(nodes.map((n: any) => n.metadata.name), ["kwok-node-0"]);
        assert.strictEqual(nodes[0].status.conditions.find((c: any) => c.type === "Ready").status, "True");
        kubectl(cp, ["create", "deployment", "probe", "--image", "registry.invalid/probe:1", "--replicas", "2"]);
        kubectl(cp, ["wait", "--for", "condition=Available", "deployment/probe", "--timeout", "60s"]);
        const pods = JSON.parse(kubectl(cp, ["get", "pods", "-l", "app=probe", "-o", "json"])).items;
        assert.strictEqual(pods.length, 2);
        for (const p of pods) {
            assert.strictEqual(p.spec.nodeName, "kwok-node-0");
            assert.strictEqual(p.status.phase, "Running");
        }
        kubectl(cp, ["delete", "deployment", "probe", "--wait=true"]);
    });

    it("binds every listener of every process to 127.0.0.1", function () {
        const cp = load(path.dirname(kubeconfig));
        const all: string[] = [];
        for (const name of components) {
            const addresses = listeningAddresses(cp.pids[name]!);
            all.push(...addresses);
            for (const a of addresses) assert.match(a, /^127\.0\.0\.1:\d+$/, `${name} listens on ${a}`);
        }
        // etcd (client, peer), the API server, controller-manager and scheduler serve; kwok does not.
        assert.strictEqual(all.length, 5, all.join(", "));
    });

    it("cluster:up again finds it running and prints the same kubeconfig", function () {
        assert.strictEqual(npm("cluster:up").trim().split("\n").at(-1), kubeconfig);
    });

    /** `cluster:up` with its exit status and both streams. */
    const up = () => {
        const r = spawnSync("npm", ["run", "-s", "cluster:up"], {
            cwd: projectDir,
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_CLUSTER_POINTER: pointer, MODEL_CANARY_CLUSTER_TOOLCHAIN: binDir },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    /** SIGKILLs the API server, as `kill -9`, and waits until it is gone. */
    const killApiServer = async (): Promise<number> => {
        const pid = load(path.dirname(kubeconfig)).pids["kube-apiserver"]!;
        process.kill(pid, "SIGKILL");
        while (alive(pid)) await sleep(50);
        return pid;
    };
    const uidOf = (name: string): string => JSON.parse(kubectl(load(path.dirname(kubeconfig)), ["get", "configmap", name, "-n", "default", "-o", "json"])).metadata.uid;

    it("cluster:up after the API server was killed (kill -9) restarts the same cluster: same kubeconfig path and port, objects kept (same UID)", async function () {
        const before = load(path.dirname(kubeconfig));
        kubectl(before, ["create", "configmap", "survivor", "-n", "default", "--from-literal", "k=v"]);
        const uid = uidOf("survivor");
        const killed = await killApiServer();
        const r = up();
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim().split("\n").at(-1), kubeconfig);
        assert.match(r.stderr, new RegExp(`not running: kube-apiserver\\); restarting it with the same data at ${before.server.replace(/\./g, "\\.")}`));
        const after = load(path.dirname(kubeconfig));
        assert.strictEqual(after.server, before.server);
        assert.match(fs.readFileSync(kubeconfig, "utf8"), new RegExp(`server: ${before.server.replace(/\./g, "\\.")}\n`));
        assert.notStrictEqual(after.pids["kube-apiserver"], killed);
        for (const name of components) assert.ok(alive(after.pids[name]!), `${name} does not run after the restart`);
        assert.strictEqual(uidOf("survivor"), uid);
        assert.deepStrictEqual(JSON.parse(kubectl(after, ["get", "nodes", "-o", "json"])).items.map((n: any) => n.metadata.name), ["kwok-node-0"]);
    });

    it("cluster:up refuses to restart it while another process holds its API server's port, and keeps its data for a later cluster:up", async function () {
        const before = load(path.dirname(kubeconfig));
        const uid = uidOf("survivor");
        await killApiServer();
        const port = Number(new URL(before.server).port);
        const squatter = net.createServer();
        // The killed API server's socket may take a moment to be released: retry the listen until it is free.
        for (let attempt = 0; ; attempt++) {
            const error = await new Promise<Error | undefined>((resolve) => {
                squatter.once("error", resolve);
                squatter.listen(port, "127.0.0.1", () => { squatter.removeAllListeners("error"); resolve(undefined); });
            });
            if (!error) break;
            if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 100) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        try {
            const r = up();
            assert.strictEqual(r.status, 1, r.stdout);
            assert.match(r.stderr, new RegExp(`cannot restart the local control plane in ${before.dir}: 127\\.0\\.0\\.1:${port}, its API server's port \\(the one in ${kubeconfig}\\), is in use by another process \\(pid ${process.pid}, `));
            assert.match(r.stderr, /Its data is kept/);
            assert.ok(fs.existsSync(path.join(before.dir, "etcd")));
            assert.strictEqual(r.stdout, "");
        } finally {
            await new Promise((resolve) => squatter.close(resolve));
        }
        const r = up();
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim().split("\n").at(-1), kubeconfig);
        assert.strictEqual(uidOf("survivor"), uid);
    });

    it("cluster:down stops every process and removes the directory", function () {
        const cp = load(path.dirname(kubeconfig));
        npm("cluster:down");
        for (const name of components) assert.ok(!alive(cp.pids[name]!), `${name} (pid ${cp.pids[name]}) still runs`);
        assert.ok(!fs.existsSync(cp.dir));
        assert.ok(!fs.existsSync(pointer));
    });
});

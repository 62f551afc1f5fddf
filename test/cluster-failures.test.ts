// What the commands leave and say against the local control plane when things go wrong: no
// credential file left in the temp directory by the Kubernetes provider, a kubeconfig whose client
// certificate is garbage named as such, a missing namespace refused before anything is applied,
// and a failure's cause (not the engine's `error: update failed`) on the last line.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as cluster from "../cluster/controlplane";
import { clusterReader, ClusterReader } from "./support/cluster";
import { makeProject, runPulumi, sourceCli, TestProject } from "./support/engine";

const stable = { version: "v1", image: "your-docker-repo/model-runner:v1", replicas: 2 };
const canary = { version: "v2", image: "your-docker-repo/model-runner:v2", replicas: 2 };

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f)).filter((f) => fs.lstatSync(f).isFile());
}

describe("failures against a local control plane: credentials left behind, messages", function () {
    this.timeout(300_000);
    let cp: cluster.ControlPlane;
    let live: ClusterReader;
    /** The temp directory every command of these tests runs with (TMPDIR), to see what they leave. */
    let tmp: string;
    const projects: TestProject[] = [];

    before(async function () {
        this.timeout(900_000);
        cp = await cluster.start({ stopOnExit: true });
        live = clusterReader(cp);
    });
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-tmpdir-"));
    });
    afterEach(() => {
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    after(async () => {
        for (const p of projects) p.remove();
        if (cp) await cluster.stop(cp);
    });

    const project = (stack: string, kubeconfig = cp.kubeconfig): TestProject => {
        const p = makeProject(stack, { kubeconfig });
        projects.push(p);
        return p;
    };
    /** `model-canary ARGS` from the sources, as a user runs it, with TMPDIR set to this test's. */
    const cli = (p: TestProject, args: string[]) => {
        const r = spawnSync(process.execPath, [sourceCli, ...args, "--stack", p.ref.stack, "--cwd", p.dir, "--backend", p.ref.backendUrl!], {
            encoding: "utf8",
            env: { ...process.env, MODEL_CANARY_TOOLCHAIN: p.ref.toolchainDir, TMPDIR: tmp },
        });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const lastLine = (text: string) => text.trimEnd().split("\n").at(-1)!;
    /** The admin client key as a kubeconfig holds it (base64) and as PEM: neither may be in a file left behind. */
    const adminKey = () => {
        const pem = fs.readFileSync(path.join(cp.dir, "pki", "admin.key"), "utf8");
        return [Buffer.from(pem).toString("base64"), pem.split("\n")[1]];
    };
    const assertNoCredentialsLeft = () => {
        const left = filesUnder(tmp);
        assert.deepStrictEqual(left.filter((f) => /kubeconfig/.test(path.basename(f))), [], `kubeconfig files left in TMPDIR: ${left.join(", ")}`);
        for (const f of left) {
            const text = fs.readFileSync(f, "latin1");
            for (const secret of adminKey()) assert.ok(!text.includes(secret), `${f} holds the admin client key`);
        }
        assert.deepStrictEqual(fs.readdirSync(tmp).filter((n) => n.startsWith("pulumi-resource-kubernetes-")), []);
    };

    it("leaves no kubeconfig file (nor the client key) in TMPDIR after `model-canary up`, a step, `status` and `rollback`", () => {
        const p = project("creds");
        p.writeConfig({ app: "creds", stable, canary, canaryWeight: 1 });
        for (const args of [["up"], ["status"], ["rollback"]]) {
            const r = cli(p, args);
            assert.strictEqual(r.status, 0, r.stderr);
        }
        p.writeConfig({ app: "creds", stable, canary, canaryWeight: 10 });
        assert.strictEqual(cli(p, ["up"]).status, 0);
        assert.deepStrictEqual(live.split("creds-virtual-service"), { v1: 90, v2: 10 });
        assertNoCredentialsLeft();
    });

    it("leaves none after a plain `pulumi preview` and `pulumi up` of a stack whose kubeconfig is a secret holding the contents", () => {
        const p = project("secretkc");
        p.writeConfig({ app: "secretkc", stable, canary, canaryWeight: 0 });
        // The contents, not the path, encrypted in the settings file.
        const file = path.join(p.dir, "Pulumi.secretkc.yaml");
        const settings = YAML.parse(fs.readFileSync(file, "utf8"));
        delete settings.config["model-canary:kubeconfig"];
        fs.writeFileSync(file, YAML.stringify(settings));
        const env = { TMPDIR: tmp };
        const init = runPulumi(p, ["stack", "init"], undefined, { env });
        assert.strictEqual(init.status, 0, init.output);
        const set = runPulumi(p, ["config", "set", "--secret", "model-canary:kubeconfig", fs.readFileSync(cp.kubeconfig, "utf8")], undefined, { env });
        assert.strictEqual(set.status, 0, set.output);
        assert.doesNotMatch(fs.readFileSync(file, "utf8"), /client-key-data/);
        for (const args of [["preview"], ["up", "--yes", "--skip-preview"]]) {
            const r = runPulumi(p, args, undefined, { env });
            assert.strictEqual(r.status, 0, r.output);
        }
        assert.strictEqual(live.get("deployment", "secretkc-v1").spec.replicas, 2);
        assertNoCredentialsLeft();
    });

    it("a kubeconfig with a garbage client certificate is refused naming the kubeconfig and the field, without OpenSSL's text, and nothing is applied", () => {
        const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-badkc-")), "garbage.kubeconfig");
        const kc = YAML.parse(fs.readFileSync(cp.kubeconfig, "utf8"));
        kc.users[0].user["client-certificate-data"] = Buffer.from("not a certificate").toString("base64");
        fs.writeFileSync(bad, YAML.stringify(kc), { mode: 0o600 });
        try {
            const p = project("garbage", bad);
            p.writeConfig({ app: "garbage", stable, canary, canaryWeight: 0 });
            const r = cli(p, ["up"]);
            assert.strictEqual(r.status, 1, r.stdout);
            // The model's run lock, a Lease on that cluster, is the first thing `up` asks of it.
            assert.ok(lastLine(r.stderr).startsWith(`model-canary: cannot take the run lock of stack \`garbage\`: cannot reach the cluster to coordinate runs: ${bad}: user "admin"'s client-certificate-data is not a PEM certificate (no \`-----BEGIN CERTIFICATE-----\`; a \`-data\` field holds it base64-encoded)`), lastLine(r.stderr));
            assert.ok(lastLine(r.stderr).endsWith("Nothing was applied"), lastLine(r.stderr));
            assert.doesNotMatch(r.stderr + r.stdout, /PEM routines|error:0[0-9A-F]{7}/);
            assert.strictEqual(live.get("deployment", "garbage-v1"), undefined);
        } finally {
            fs.rmSync(path.dirname(bad), { recursive: true, force: true });
        }
    });

    it("a namespace that does not exist is refused before anything is applied, naming it, its key and how to create it", () => {
        const p = project("nons");
        p.writeConfig({ app: "nons", namespace: "absent-ns", stable, canary, canaryWeight: 0 });
        const r = cli(p, ["up"]);
        assert.strictEqual(r.status, 1, r.stdout);
        // The model's run lock, a Lease in its namespace, is taken first: its store names the namespace.
        assert.strictEqual(lastLine(r.stderr), `model-canary: cannot take the run lock of stack \`nons\`: cannot create Lease \`model-canary-nons-model\`: namespace \`absent-ns\` does not exist on ${cp.server} (POST leases absent-ns/model-canary-nons-model answered 404: namespaces "absent-ns" not found); create it, or set the model's \`namespace\`. Nothing was applied`);
        assert.doesNotMatch(r.stdout, /kubernetes:apps\/v1:Deployment.*creat/);
        assert.strictEqual(live.get("namespace", "absent-ns"), undefined);
    });

    it("with the API server down, `up`, `rollback` and `promote` end with the cause (the refused connection), not `error: update failed`", async () => {
        // Last: stops the API server.
        const p = project("down");
        p.writeConfig({ app: "down", stable, canary, canaryWeight: 100 });
        assert.strictEqual(cli(p, ["up"]).status, 0);
        process.kill(cp.pids["kube-apiserver"]!, "SIGKILL");
        while (cluster.alive(cp.pids["kube-apiserver"]!)) await cluster.sleep(50);
        p.writeConfig({ app: "down", stable, canary, canaryWeight: 50 });
        for (const args of [["up"], ["rollback"], ["promote", "--force"]]) {
            const r = cli(p, args);
            assert.strictEqual(r.status, 1, `${args[0]}: ${r.stdout}`);
            const last = lastLine(r.stderr);
            // `up` stops at the cluster identity check (connect ECONNREFUSED), the others at the engine (connection refused).
            assert.match(last, /connection refused|connect ECONNREFUSED/, `${args[0]} ended with: ${last}`);
            assert.doesNotMatch(last, /update failed$/);
        }
    });
});

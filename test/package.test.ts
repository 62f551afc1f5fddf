// The npm package as a user gets it: what `npm pack` ships, and a Pulumi program of its own
// (test/fixtures/consumer, with its own package.json and tsconfig.json) that installs the
// tarball, type-checks against its declarations, and is deployed and rolled out through the real
// engine by the packaged `model-canary` command and typed API.
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { defaultWorkDir, packageDir, StackOperationError, toolchainDir } from "../stacks/operations/automation";
import { IstioExporter, startIstioExporter } from "./support/istio-exporter";
import { packRepo, staleModule } from "./support/package";
import { PrometheusHarness, startPrometheus } from "./support/prometheus";

describe("the npm package", function () {
    this.timeout(600_000);
    let work: string;
    let packed: { files: string[]; tarball: string };

    before(() => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-package-"));
        packed = packRepo(work);
    });
    after(() => {
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it("ships the compiled package, its declarations and source maps, the command and its toolchain recipe, and nothing of the repository's own", () => {
        const { files } = packed;
        for (const f of [
            "package.json", "README.md", "CHANGELOG.md", "cli/model-canary.js",
            "dist/api/index.js", "dist/api/index.d.ts", "dist/api/index.js.map",
            "dist/api/automation.js", "dist/api/automation.d.ts", "dist/api/program.js", "dist/api/program.d.ts",
            "dist/components/modelCanary.js", "dist/cli/main.js", "toolchain/ensure.sh", "toolchain/lib.sh", "toolchain/versions.env",
            // The Go and Python SDK generator (npm run sdk:gen, docs/other-languages.md).
            "toolchain/sdkgen/gen-sdk.sh", "toolchain/sdkgen/ensure.sh", "toolchain/sdkgen/go/main.go", "toolchain/sdkgen/go/go.mod",
            // The component package for other languages (plugin/): its manifest, entry, schema sources and compiled code.
            "plugin/PulumiPlugin.yaml", "plugin/package.json", "plugin/tsconfig.json", "plugin/main.js", "plugin/index.ts", "plugin/args.ts", "dist/plugin/index.js",
        ]) assert.ok(files.includes(f), `${f} is missing from the package`);
        const allowed = /^(package\.json|README\.md|CHANGELOG\.md|cli\/model-canary\.js|dist\/.+\.(js|d\.ts|js\.map)|toolchain\/(ensure\.sh|lib\.sh|versions\.env|go\/.+|sdkgen\/(ensure\.sh|gen-sdk\.sh|go\/.+))|policy\/(PulumiPolicy\.yaml|package\.json|[a-z]+\.ts)|plugin\/(PulumiPlugin\.yaml|package\.json|tsconfig\.json|main\.js|[a-zA-Z]+\.ts))$/;
        assert.deepStrictEqual(files.filter((f) => !allowed.test(f)), []);
        // Compiled from today's sources only: `compile` empties dist/ first, so a module that was
        // moved or deleted is not shipped from an earlier build (packRepo plants one).
        assert.ok(!files.includes(staleModule), `${staleModule} from an earlier build is shipped`);
        assert.deepStrictEqual(files.filter((f) => f.startsWith("dist/") && f.endsWith(".js") && !fs.existsSync(path.join(packageDir, `${f.slice("dist/".length, -".js".length)}.ts`))), []);
        // The stack program, its config, tests, benchmarks and the local control plane stay in the repository.
        assert.deepStrictEqual(files.filter((f) => /^(index\.ts|Pulumi\.|test\/|bench\/|cluster\/|dist\/(test|bench|cluster)\/|dist\/index\.|toolchain\/(cluster|dataplane)\/)/.test(f)), []);
    });

    it("declares the Pulumi SDKs as peer dependencies and points `main`, `types`, `exports` and `bin` at compiled files", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));
        assert.strictEqual(pkg.private, undefined);
        assert.deepStrictEqual(pkg.peerDependencies, { "@pulumi/kubernetes": "^4.25.0", "@pulumi/pulumi": "^3.248.0", "@pulumi/policy": "^1.21.0" });
        // The policy pack's SDK is for those who use the pack (docs/policy-pack.md): never installed for the others.
        assert.deepStrictEqual(pkg.peerDependenciesMeta, { "@pulumi/policy": { optional: true } });
        assert.strictEqual(pkg.dependencies["@pulumi/pulumi"], undefined);
        assert.strictEqual(pkg.dependencies["ts-node"], undefined);
        assert.strictEqual(pkg.devDependencies["@pulumi/pulumi"], "3.248.0");
        assert.strictEqual(pkg.devDependencies["@pulumi/kubernetes"], "4.25.0");
        assert.strictEqual(pkg.main, "dist/api/index.js");
        assert.strictEqual(pkg.types, "dist/api/index.d.ts");
        assert.deepStrictEqual(Object.keys(pkg.exports), [".", "./automation", "./program", "./package.json"]);
        assert.deepStrictEqual(pkg.bin, { "model-canary": "cli/model-canary.js" });
        assert.doesNotMatch(fs.readFileSync(path.join(packageDir, "cli", "model-canary.js"), "utf8"), /ts-node/);
    });

    it("the command looks for the project from the current directory up, and says so when there is none", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-workdir-"));
        try {
            fs.mkdirSync(path.join(dir, "project", "src", "deep"), { recursive: true });
            fs.writeFileSync(path.join(dir, "project", "Pulumi.yaml"), "name: p\nruntime: nodejs\n");
            assert.strictEqual(defaultWorkDir(path.join(dir, "project", "src", "deep")), path.join(dir, "project"));
            assert.strictEqual(defaultWorkDir(path.join(dir, "project")), path.join(dir, "project"));
            assert.throws(() => defaultWorkDir(dir), (e: unknown) => e instanceof StackOperationError
                && e.message === `no Pulumi.yaml in ${dir} or any directory above it: run the command in your Pulumi project, or pass \`--cwd DIR\``);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    describe("in a Pulumi program of its own (test/fixtures/consumer), installed from the tarball", () => {
        let app: string;
        const stack = "ci";
        let backend: string;
        let exporter: IstioExporter | undefined;
        let prometheus: PrometheusHarness | undefined;
        const totalRps = 1000;

        /** What a user's shell has: the toolchain's `pulumi` on PATH, local state, an empty passphrase. */
        const userEnv = (): NodeJS.ProcessEnv => ({
            ...process.env,
            PATH: `${toolchainDir()}${path.delimiter}${process.env.PATH}`,
            PULUMI_BACKEND_URL: backend,
            PULUMI_CONFIG_PASSPHRASE: "",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            // The packaged command finds its toolchain itself (its shipped toolchain/ensure.sh).
            MODEL_CANARY_TOOLCHAIN: "",
        });
        const run = (command: string, args: string[]) => spawnSync(command, args, { cwd: app, encoding: "utf8", env: userEnv() });
        const modelCanary = (args: string[]) => run(path.join(app, "node_modules", ".bin", "model-canary"), [...args, "--stack", stack]);

        /**
         * Every rendered object of the program, keyed `Kind/name`. The provider rewrites a file in
         * place, so a read during an `up` may find it empty or cut short: such a file is left out.
         */
        const rendered = (): Map<string, any> => {
            const dir = path.join(app, "rendered", "1-manifest");
            const objects = new Map<string, any>();
            for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
                let o: any;
                try {
                    o = YAML.parse(fs.readFileSync(path.join(dir, f), "utf8"));
                } catch {
                    continue;
                }
                if (o?.kind && o.metadata?.name) objects.set(`${o.kind}/${o.metadata.name}`, o);
            }
            return objects;
        };
        /** A model's rendered default-route weights; undefined while its VirtualService is being rewritten. */
        const renderedSplit = (model: string): Record<string, number> | undefined => {
            const route = rendered().get(`VirtualService/${model}-virtual-service`)?.spec?.http?.at(-1)?.route;
            return Array.isArray(route) ? Object.fromEntries(route.map((r: any) => [r.destination.subset, r.weight])) : undefined;
        };
        const split = (model: string): Record<string, number> => {
            const s = renderedSplit(model);
            assert.ok(s, `the VirtualService of ${model} is rendered`);
            return s;
        };

        before(function () {
            app = path.join(work, "app");
            fs.cpSync(path.join(__dirname, "fixtures", "consumer"), app, { recursive: true });
            backend = `file://${path.join(work, "state")}`;
            fs.mkdirSync(path.join(work, "state"));
            // Offline from npm's cache when it holds everything (it does after this repository's `npm ci`).
            const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", packed.tarball]);
            assert.strictEqual(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);
            fs.writeFileSync(path.join(app, `Pulumi.${stack}.yaml`), YAML.stringify({
                config: {
                    "platform-models:renderDir": "rendered",
                    "platform-models:namespace": "consumer",
                    "platform-models:fraudCanaryImage": "registry.example.com/risk/fraud-model:v2-7c1e0d2",
                    "model-canary:models": {
                        fraud: {
                            namespace: "consumer",
                            stable: { version: "v1", image: "registry.example.com/risk/fraud-model:v1", replicas: 2 },
                            canary: { version: "v2", image: "registry.example.com/risk/fraud-model:v2", replicas: 2 },
                            canaryWeight: 0,
                        },
                        churn: {
                            namespace: "consumer",
                            stable: { version: "v3", image: "registry.example.com/growth/churn-model:v3" },
                            canary: { version: "v4", image: "registry.example.com/growth/churn-model:v4" },
                            canaryWeight: 0,
                        },
                    },
                },
            }));
        });
        after(async () => {
            await prometheus?.stop();
            await exporter?.close();
        });

        it("installs with the Pulumi SDKs as its own, and type-checks against the package's declarations (tsc, no skipLibCheck)", () => {
            const installed = JSON.parse(fs.readFileSync(path.join(app, "package.json"), "utf8"));
            assert.match(installed.dependencies["model-canary"], /^file:.*model-canary-\d+\.\d+\.\d+\.tgz$/);
            // One copy of each SDK: the program's, which the package uses as its peer.
            assert.ok(!fs.existsSync(path.join(app, "node_modules", "model-canary", "node_modules", "@pulumi")));
            const tsc = run(path.join(app, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."]);
            assert.strictEqual(tsc.status, 0, `tsc failed:\n${tsc.stdout}\n${tsc.stderr}`);
        });

        it("its plugin/ serves the component's schema to `pulumi package get-schema` as installed (no TypeScript sources of the component shipped)", () => {
            const r = run("pulumi", ["package", "get-schema", path.join(app, "node_modules", "model-canary", "plugin")]);
            assert.strictEqual(r.status, 0, r.stderr);
            const schema = JSON.parse(r.stdout);
            assert.deepStrictEqual(Object.keys(schema.resources).sort(), ["model-canary:index:ModelCanaries", "model-canary:index:ModelCanary"].sort());
            assert.deepStrictEqual(schema.resources["model-canary:index:ModelCanary"].requiredInputs, ["stable"]);
        });

        it("importing the package and its subpaths runs no stack and gives the component, the program helpers and the typed API", () => {
            const script = [
                "const root = require('model-canary');",
                "const program = require('model-canary/program');",
                "const automation = require('model-canary/automation');",
                "console.log(JSON.stringify({ root: Object.keys(root).sort(), program: Object.keys(program).sort(), automation: Object.keys(automation).sort() }));",
            ].join("\n");
            const r = run(process.execPath, ["-e", script]);
            assert.strictEqual(r.status, 0, r.stderr);
            const exported = JSON.parse(r.stdout);
            assert.deepStrictEqual(exported.root, ["ModelCanary", "ValidationError", "envSecretName", "istioApiVersions", "limits", "routerKinds", "validateModelCanaryArgs"].sort());
            for (const name of ["loadStackConfig", "componentArgs", "modelCanariesFromConfig", "modelCanaryOutputs", "appliedConfig"]) assert.ok(exported.program.includes(name), `model-canary/program exports ${name}`);
            for (const name of ["openStack", "upStack", "previewStack", "runRollout", "rollbackStack", "promoteStack", "readRecord", "acquireStackLock"]) assert.ok(exported.automation.includes(name), `model-canary/automation exports ${name}`);
        });

        it("`model-canary up` deploys both models with the program's own provider, the fraud canary's image from an Output", () => {
            const up = modelCanary(["up"]);
            assert.strictEqual(up.status, 0, `${up.stdout}\n${up.stderr}`);
            assert.match(up.stdout, /model-canary: stack ci model fraud serves v1 100%/);
            assert.match(up.stdout, /model-canary: stack ci model churn serves v3 100%/);
            const objects = rendered();
            assert.deepStrictEqual([...objects.keys()].sort(), [
                "ConfigMap/fraud-build",
                "Deployment/churn-v3", "Deployment/churn-v4", "Deployment/fraud-v1", "Deployment/fraud-v2",
                "DestinationRule/churn-destination", "DestinationRule/fraud-destination",
                "Service/churn-service", "Service/fraud-service",
                "VirtualService/churn-virtual-service", "VirtualService/fraud-virtual-service",
            ]);
            const fraudCanary = objects.get("Deployment/fraud-v2");
            assert.strictEqual(fraudCanary.spec.template.spec.containers[0].image, "registry.example.com/risk/fraud-model:v2-7c1e0d2");
            assert.deepStrictEqual(fraudCanary.spec.template.metadata.labels, { app: "fraud", team: "risk", version: "v2" });
            assert.strictEqual(objects.get("Deployment/churn-v4").spec.template.spec.containers[0].image, "registry.example.com/growth/churn-model:v4");
            assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 100 }, { v3: 100 }]);
        });

        it("a weight step of one model (`pulumi config set`, then `up` through model-canary/automation) updates only that model's VirtualService", () => {
            const set = run("pulumi", ["config", "set", "--path", "model-canary:models.churn.canaryWeight", "10", "--stack", stack]);
            assert.strictEqual(set.status, 0, set.stderr);
            const script = [
                "const { openStack, upStack } = require('model-canary/automation');",
                `openStack(${JSON.stringify({ stack, workDir: app, backendUrl: backend })})`,
                "  .then((s) => upStack(s))",
                "  .then((r) => console.log(JSON.stringify(r.steps.filter((s) => s.op !== 'same').map((s) => `${s.op} ${s.name}`))))",
                "  .catch((e) => { console.error(e.message); process.exitCode = 1; });",
            ].join("\n");
            const r = run(process.execPath, ["-e", script]);
            assert.strictEqual(r.status, 0, r.stderr);
            assert.deepStrictEqual(JSON.parse(r.stdout.trim().split("\n").at(-1)!), ["update churn-vs"]);
            assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 100 }, { v3: 90, v4: 10 }]);
        });

        it("`model-canary rollout --model fraud` walks the fraud canary through 10% and 50% against a real Prometheus; churn stays as it was", async () => {
            exporter = await startIstioExporter({ namespace: "consumer" });
            prometheus = await startPrometheus({ targets: [exporter.target], scrapeInterval: "1s" });
            // The mesh follows the rendered VirtualService: each fraud version serves its share.
            // (A VirtualService being rewritten keeps the rates it had.)
            const follow = () => {
                const s = renderedSplit("fraud");
                if (!s) return;
                exporter!.set("fraud-v1", { rps: totalRps * (s.v1 ?? 0) / 100, latencyMs: 40 });
                exporter!.set("fraud-v2", { rps: totalRps * (s.v2 ?? 0) / 100, latencyMs: 40 });
            };
            follow();
            const timer = setInterval(follow, 100);
            const child: ChildProcess = spawn(path.join(app, "node_modules", ".bin", "model-canary"), [
                "rollout", "--stack", stack, "--model", "fraud", "--steps", "10,50", "--interval", "3s", "--tick", "1s", "--window", "5s",
                "--prometheus", prometheus!.url,
            ], { cwd: app, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] });
            let output = "";
            child.stdout!.on("data", (d) => { output += d; });
            child.stderr!.on("data", (d) => { output += d; });
            try {
                const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
                assert.strictEqual(code, 0, output);
                assert.match(output, /COMPLETED: v2 passed every step and serves 50%/);
            } finally {
                clearInterval(timer);
                // A failed test never leaves the rollout running into the next one.
                if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
            }
            assert.deepStrictEqual([split("fraud"), split("churn")], [{ v1: 50, v2: 50 }, { v3: 90, v4: 10 }]);
            const settings = YAML.parse(fs.readFileSync(path.join(app, `Pulumi.${stack}.yaml`), "utf8")).config["model-canary:models"];
            assert.deepStrictEqual([settings.fraud.canaryWeight, settings.churn.canaryWeight], [50, 10]);
            // The canary still runs the image the program's build step gave it.
            assert.strictEqual(rendered().get("Deployment/fraud-v2").spec.template.spec.containers[0].image, "registry.example.com/risk/fraud-model:v2-7c1e0d2");
        });
    });
    describe("a project made from the docs (docs/your-own-program.md's program, as written), installed from the tarball", () => {
        let app: string;
        let backend: string;
        let toolchain: string;
        let exporter: IstioExporter | undefined;
        let prometheus: PrometheusHarness | undefined;
        const stack = "ci";

        /** The environment the docs tell a user to set, the toolchain's directory from `npx model-canary toolchain`. */
        const env = (): NodeJS.ProcessEnv => ({
            ...process.env,
            PATH: `${toolchain}${path.delimiter}${process.env.PATH}`,
            PULUMI_BACKEND_URL: backend, PULUMI_CONFIG_PASSPHRASE: "", PULUMI_SKIP_UPDATE_CHECK: "true",
            MODEL_CANARY_TOOLCHAIN: "",
        });
        const run = (command: string, args: string[], extra: NodeJS.ProcessEnv = env()) => spawnSync(command, args, { cwd: app, encoding: "utf8", env: extra });
        const bin = () => path.join(app, "node_modules", ".bin", "model-canary");
        const renderedSplit = (): Record<string, number> | undefined => {
            try {
                const vs = YAML.parse(fs.readFileSync(path.join(app, "rendered", stack, "1-manifest", "networking.istio.io_v1-virtualservice-docs-fraud-virtual-service.yaml"), "utf8"));
                const route = vs?.spec?.http?.at(-1)?.route;
                return Array.isArray(route) ? Object.fromEntries(route.map((r: any) => [r.destination.subset, r.weight])) : undefined;
            } catch {
                return undefined;
            }
        };

        before(function () {
            // The docs' program, cut from the page: the block after its marker.
            const page = fs.readFileSync(path.join(packageDir, "docs", "your-own-program.md"), "utf8");
            const block = /<!-- consumer-program: index\.ts -->\n```ts\n([\s\S]*?)\n```/.exec(page);
            assert.ok(block, "docs/your-own-program.md has the consumer program's block");
            // An existing Pulumi TypeScript project, as `pulumi new typescript` leaves one; nothing from this repository but the tarball.
            app = path.join(work, "docs-app");
            fs.mkdirSync(app);
            fs.writeFileSync(path.join(app, "Pulumi.yaml"), "name: models-from-docs\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
            fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "models-from-docs", main: "index.ts", devDependencies: { "@types/node": "^20.17.0", typescript: "~5.9.0" }, dependencies: { "@pulumi/kubernetes": "4.25.0", "@pulumi/pulumi": "3.248.0" } }, null, 2));
            fs.writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, outDir: "bin", target: "es2020", module: "commonjs", moduleResolution: "node", sourceMap: true, experimentalDecorators: true, pretty: true, noFallthroughCasesInSwitch: true, noImplicitReturns: true, forceConsistentCasingInFileNames: true }, files: ["index.ts"] }, null, 2));
            fs.writeFileSync(path.join(app, "index.ts"), `${block![1]}\n`);
            fs.writeFileSync(path.join(app, `Pulumi.${stack}.yaml`), YAML.stringify({ config: { "model-canary:models": {
                fraud: { namespace: "docs", stable: { version: "v1", image: "registry.example.com/risk/fraud-model:v1" }, canary: { version: "v2", image: "registry.example.com/risk/fraud-model:v2" } },
            } } }));
            backend = `file://${path.join(work, "docs-state")}`;
            fs.mkdirSync(path.join(work, "docs-state"));
            const install = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", packed.tarball], process.env);
            assert.strictEqual(install.status, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`);
        });
        after(async () => {
            await prometheus?.stop();
            await exporter?.close();
        });

        it("`npx model-canary toolchain` prints the directory to put on PATH: `pulumi` runs from it", () => {
            const r = run(bin(), ["toolchain"], { ...process.env, MODEL_CANARY_TOOLCHAIN: "" });
            assert.strictEqual(r.status, 0, r.stderr);
            toolchain = r.stdout.trim();
            assert.ok(path.isAbsolute(toolchain) && !toolchain.includes("\n"), r.stdout);
            for (const tool of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-kubernetes"]) assert.ok(fs.existsSync(path.join(toolchain, tool)), `${tool} in ${toolchain}`);
            const version = run("pulumi", ["version"]);
            assert.strictEqual(version.status, 0, version.stderr);
            assert.match(version.stdout, /^v3\./);
        });

        it("the installed package's `prepare` script runs from the tarball (a no-op there) and leaves `dist/` as shipped", () => {
            const dir = path.join(app, "node_modules", "model-canary");
            const before = fs.readdirSync(path.join(dir, "dist"), { recursive: true }).length;
            const r = spawnSync("npm", ["run", "prepare"], { cwd: dir, encoding: "utf8", env: process.env });
            assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
            assert.strictEqual(fs.readdirSync(path.join(dir, "dist"), { recursive: true }).length, before);
        });

        it("`up` renders to rendered/<stack> without a cluster, and `rollout --model fraud` drives it through 10% and 50% against a real Prometheus", async () => {
            const up = run(bin(), ["up", "--stack", stack]);
            assert.strictEqual(up.status, 0, `${up.stdout}\n${up.stderr}`);
            assert.match(up.stdout, /model-canary: stack ci serves v1 100%|model-canary: stack ci model fraud serves v1 100%/);
            assert.deepStrictEqual(renderedSplit(), { v1: 100 });
            exporter = await startIstioExporter({ namespace: "docs" });
            prometheus = await startPrometheus({ targets: [exporter.target], scrapeInterval: "1s" });
            const follow = () => {
                const s = renderedSplit();
                if (!s) return;
                exporter!.set("fraud-v1", { rps: 1000 * (s.v1 ?? 0) / 100, latencyMs: 40 });
                exporter!.set("fraud-v2", { rps: 1000 * (s.v2 ?? 0) / 100, latencyMs: 40 });
            };
            follow();
            const timer = setInterval(follow, 100);
            const child: ChildProcess = spawn(bin(), ["rollout", "--stack", stack, "--model", "fraud", "--steps", "10,50", "--interval", "3s", "--tick", "1s", "--window", "5s", "--prometheus", prometheus.url],
                { cwd: app, env: env(), stdio: ["ignore", "pipe", "pipe"] });
            let output = "";
            child.stdout!.on("data", (d) => { output += d; });
            child.stderr!.on("data", (d) => { output += d; });
            try {
                const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
                assert.strictEqual(code, 0, output);
                assert.match(output, /COMPLETED: v2 passed every step and serves 50%/);
            } finally {
                clearInterval(timer);
                if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
            }
            assert.deepStrictEqual(renderedSplit(), { v1: 50, v2: 50 });
        });
    });
});

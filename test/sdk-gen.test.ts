// The Go and Python SDKs of the ModelCanary component (`npm run sdk:gen`, toolchain/sdkgen/): the
// real CLI reads plugin/'s schema, pulumi-sdkgen writes each SDK with Pulumi's own code generators,
// and each compiles: every Python file with `python3 -m py_compile`, the Go module with `go build`
// and `go vet` against the Pulumi Go SDK examples/go uses (its modules are fetched by .ci/run).
// No Python program runs here (PyPI is unreachable, so the pulumi package cannot be installed).
import * as assert from "assert";
import { execFile, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectDir } from "../stacks/operations/automation";

const genSdk = path.join(projectDir, "toolchain", "sdkgen", "gen-sdk.sh");

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
    return spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
}
function ok(r: SpawnSyncReturns<string>): string {
    assert.strictEqual(r.status, 0, `${r.stdout}${r.stderr}`);
    return r.stdout;
}
function files(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

describe("the generated Go and Python SDKs of ModelCanary (npm run sdk:gen)", function () {
    this.timeout(600_000); // the first run builds pulumi-sdkgen; later runs find it cached
    let dir: string;
    let goSdk: string;
    let pySdk: string;

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-sdk-"));
        goSdk = path.join(dir, "go");
        pySdk = path.join(dir, "python");
        // Both at once: each mostly waits for the plugin to start and serve its schema.
        await Promise.all([["go", goSdk], ["python", pySdk]].map(([language, out]) => new Promise<void>((resolve, reject) => {
            execFile("bash", [genSdk, "--language", language, "--out", out], { cwd: projectDir }, (err, stdout, stderr) =>
                err ? reject(new Error(`sdk:gen --language ${language}: ${err.message}\n${stdout}${stderr}`)) : resolve());
        })));
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    it("writes a Python package, pulumi_model_canary, whose ModelCanary takes the component's arguments in snake_case", () => {
        assert.deepStrictEqual(files(pySdk).filter((f) => f.endsWith(".py")), [
            "pulumi_model_canary/__init__.py", "pulumi_model_canary/_enums.py", "pulumi_model_canary/_inputs.py",
            "pulumi_model_canary/_utilities.py", "pulumi_model_canary/model_canaries.py", "pulumi_model_canary/model_canary.py", "pulumi_model_canary/outputs.py",
            "pulumi_model_canary/provider.py", "setup.py",
        ]);
        const source = fs.readFileSync(path.join(pySdk, "pulumi_model_canary", "model_canary.py"), "utf8");
        assert.match(source, /^@pulumi\.type_token\("model-canary:index:ModelCanary"\)\nclass ModelCanary\(pulumi\.ComponentResource\):/m);
        for (const arg of ["app: Optional[_builtins.str]", "canary_weight: Optional[_builtins.float]", "stable: Optional[Union['ModelVersionArgs', 'ModelVersionArgsDict']]", "istio_api_version: Optional['IstioApiVersion']"]) {
            assert.ok(source.includes(arg), `model_canary.py has no argument ${arg}`);
        }
        assert.match(source, /remote=True/);
    });

    it("every generated Python file compiles (python3 -m py_compile)", () => {
        const py = files(pySdk).filter((f) => f.endsWith(".py"));
        ok(run("python3", ["-m", "py_compile", ...py], pySdk));
    });

    it("writes a Go module, github.com/model-canary/model-canary/sdk/go, whose NewModelCanary constructs the component remotely", () => {
        const gomod = fs.readFileSync(path.join(goSdk, "go.mod"), "utf8");
        assert.match(gomod, /^module github\.com\/model-canary\/model-canary\/sdk\/go$/m);
        assert.match(gomod, /^require github\.com\/pulumi\/pulumi\/sdk\/v3 v3\.248\.0$/m);
        const source = fs.readFileSync(path.join(goSdk, "modelcanary", "modelCanary.go"), "utf8");
        assert.match(source, /^func NewModelCanary\(ctx \*pulumi\.Context,\n\tname string, args \*ModelCanaryArgs, opts \.\.\.pulumi\.ResourceOption\) \(\*ModelCanary, error\) \{$/m);
        assert.match(source, /ctx\.RegisterRemoteComponentResource\("model-canary:index:ModelCanary", name, args, &resource, opts\.\.\.\)/);
        assert.match(source, /^\tDeploymentNames pulumi\.StringMapOutput `pulumi:"deploymentNames"`$/m);
    });

    it("the Go SDK in the repository (sdk/go, which examples/go imports) is the one generated from today's schema", () => {
        const committed = path.join(projectDir, "sdk", "go");
        assert.deepStrictEqual(files(committed), files(goSdk));
        for (const f of files(goSdk)) {
            assert.ok(fs.readFileSync(path.join(committed, f)).equals(fs.readFileSync(path.join(goSdk, f))),
                `sdk/go/${f} differs from the generated one: run \`rm -rf sdk/go && npm run -s sdk:gen -- --language go --out sdk/go\``);
        }
    });

    it("the Go SDK builds and passes go vet against the Pulumi Go SDK", () => {
        // examples/go's build flags (test/support/go-example.ts), so the Pulumi SDK packages it compiled are reused.
        const env = { GOWORK: "off", CGO_ENABLED: "0", GOFLAGS: "-mod=mod -trimpath -buildvcs=false" };
        ok(run("go", ["mod", "tidy"], goSdk, env));
        ok(run("go", ["build", "./..."], goSdk, env));
        ok(run("go", ["vet", "./..."], goSdk, env));
    });

    it("refuses a language it cannot generate, naming the flag and the value, and writes nothing", () => {
        const out = path.join(dir, "rust");
        const r = run("bash", [genSdk, "--language", "rust", "--out", out], projectDir);
        assert.strictEqual(r.status, 2);
        assert.strictEqual(r.stderr, "sdk:gen: error: `--language` must be go or python, got 'rust'\n");
        assert.strictEqual(fs.existsSync(out), false);
    });
});

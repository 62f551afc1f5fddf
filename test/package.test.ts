// The npm package as a user gets it: what `npm pack` ships, what the entry points export, and
// where the command looks for the project.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultWorkDir, packageDir, StackOperationError } from "../stacks/automation";
import { packRepo } from "./support/package";

describe("the npm package", function () {
    this.timeout(300_000);

    it("ships the compiled package, its declarations and source maps, the command and its toolchain recipe, and nothing of the repository's own", () => {
        const { files } = packRepo();
        for (const f of [
            "package.json", "README.md", "CHANGELOG.md", "cli/model-canary.js",
            "dist/api/index.js", "dist/api/index.d.ts", "dist/api/index.js.map", "dist/api/index.d.ts.map",
            "dist/api/automation.js", "dist/api/automation.d.ts", "dist/api/program.js", "dist/api/program.d.ts",
            "dist/components/modelCanary.js", "dist/cli/main.js", "toolchain/ensure.sh", "toolchain/versions.env",
        ]) assert.ok(files.includes(f), `${f} is missing from the package`);
        const allowed = /^(package\.json|README\.md|CHANGELOG\.md|cli\/model-canary\.js|dist\/.+\.(js|d\.ts|js\.map|d\.ts\.map)|toolchain\/(ensure\.sh|versions\.env|go\/.+))$/;
        assert.deepStrictEqual(files.filter((f) => !allowed.test(f)), []);
        // The stack program, its config, tests, benchmarks and the local control plane stay in the repository.
        assert.deepStrictEqual(files.filter((f) => /^(index\.ts|Pulumi\.|test\/|bench\/|cluster\/|dist\/(test|bench|cluster)\/|dist\/index\.|toolchain\/cluster\/)/.test(f)), []);
    });

    it("declares the Pulumi SDKs as peer dependencies and points `main`, `types`, `exports` and `bin` at compiled files", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));
        assert.strictEqual(pkg.private, undefined);
        assert.deepStrictEqual(pkg.peerDependencies, { "@pulumi/kubernetes": "^4.25.0", "@pulumi/pulumi": "^3.248.0" });
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
});

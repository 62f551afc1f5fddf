// The Go example program (examples/go), built once per content: the binary is cached outside the
// repository, keyed by a digest of its sources and of the Go SDK it imports (sdk/go), the Go version and the build flags (as the
// toolchain's binaries are), so a test run after the first starts it at once. The flags are the
// toolchain's, so a cold build reuses the Pulumi SDK packages the CLI's build compiled.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectDir } from "../../stacks/operations/automation";

export const goExampleDir = path.join(projectDir, "examples", "go");
/** The package's generated Go SDK (sdk/go), which the example imports through a `replace`. */
export const goSdkDir = path.join(projectDir, "sdk", "go");
const buildFlags = ["-mod=readonly", "-trimpath", "-buildvcs=false"];
const buildEnv = { CGO_ENABLED: "0", GOWORK: "off" };

function cacheRoot(): string {
    return process.env.MODEL_CANARY_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "model-canary");
}

/** The path of the built example, building it first when its sources changed. */
export function goExampleBinary(): string {
    const hash = crypto.createHash("sha256");
    for (const f of fs.readdirSync(goExampleDir).filter((f) => /\.go$|^go\.(mod|sum)$/.test(f)).sort()) {
        hash.update(`${f}\0`).update(fs.readFileSync(path.join(goExampleDir, f))).update("\0");
    }
    for (const f of (fs.readdirSync(goSdkDir, { recursive: true }) as string[]).filter((f) => /\.go$|(^|\/)go\.mod$/.test(f)).sort()) {
        hash.update(`sdk/go/${f}\0`).update(fs.readFileSync(path.join(goSdkDir, f))).update("\0");
    }
    hash.update(execFileSync("go", ["version"], { encoding: "utf8" })).update(buildFlags.join(" ")).update(JSON.stringify(buildEnv));
    const dir = path.join(cacheRoot(), "examples", `go-${hash.digest("hex").slice(0, 16)}`);
    const binary = path.join(dir, "model-canary-go");
    if (fs.existsSync(binary)) return binary;
    fs.mkdirSync(dir, { recursive: true });
    const partial = `${binary}.${process.pid}.tmp`;
    execFileSync("go", ["build", ...buildFlags, "-o", partial, "."], {
        cwd: goExampleDir, env: { ...process.env, ...buildEnv }, stdio: ["ignore", "inherit", "inherit"],
    });
    fs.renameSync(partial, binary);
    return binary;
}

// `model-canary --version`: this package's version and the versions of everything it drives.
import * as fs from "fs";
import * as path from "path";
import { packageDir } from "../stacks/operations/automation";

function packageVersion(name: string): string {
    try {
        return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [packageDir] }), "utf8")) as { version: string }).version;
    } catch {
        return "not installed";
    }
}

/** The pinned toolchain versions, from toolchain/versions.env (what `npm run toolchain` builds). */
export function toolchainVersions(file = path.join(packageDir, "toolchain", "versions.env")): Record<string, string> {
    const versions: Record<string, string> = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const m = line.match(/^([A-Z_]+)=(\S+)$/);
        if (m) versions[m[1]] = m[2];
    }
    return versions;
}

export function versionText(): string {
    const own = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")) as { version: string };
    const toolchain = toolchainVersions();
    return [
        `model-canary ${own.version}`,
        `toolchain: Pulumi CLI ${toolchain.PULUMI_VERSION ?? "unknown"}, Kubernetes provider ${toolchain.KUBERNETES_VERSION ?? "unknown"} (toolchain/versions.env)`,
        `npm packages: @pulumi/pulumi ${packageVersion("@pulumi/pulumi")}, @pulumi/kubernetes ${packageVersion("@pulumi/kubernetes")}`,
        `Node.js ${process.version}`,
        "",
    ].join("\n");
}

// A Go program declares the ModelCanary component (examples/go): a Go Automation API inline
// program (no Go language host) using the generated Go SDK (sdk/go), the component run by the
// package's own Node.js plugin through its PulumiPlugin.yaml, the real CLI applying it in render mode. The program's binary is cached by
// content (test/support/go-example.ts).
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { projectDir, toolchainDir } from "../stacks/operations/automation";
import { pulumiCliEnv } from "./support/engine";
import { goExampleBinary } from "./support/go-example";

function renderedObjects(dir: string): Map<string, any> {
    const objects = new Map<string, any>();
    for (const f of (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile())) {
        for (const doc of YAML.parseAllDocuments(fs.readFileSync(f, "utf8"))) {
            const o = doc.toJS();
            if (o) objects.set(`${o.kind}/${o.metadata.name}`, o);
        }
    }
    return objects;
}

describe("a Go program declaring ModelCanary (examples/go, Automation API, render mode)", function () {
    this.timeout(900_000); // a cold build of the example on a loaded machine; a cached one starts at once
    let dir: string;
    let outputs: Record<string, unknown>;
    let rendered: Map<string, any>;

    before(() => {
        const binary = goExampleBinary();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-canary-go-"));
        fs.mkdirSync(path.join(dir, "state"));
        const bin = toolchainDir();
        const r = spawnSync(binary, ["-package", path.join(projectDir, "plugin"), "-work", path.join(dir, "work"), "-render", path.join(dir, "rendered")], {
            encoding: "utf8",
            env: pulumiCliEnv(bin, `file://${path.join(dir, "state")}`, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" }),
        });
        assert.strictEqual(r.status, 0, `${r.stdout}${r.stderr}`);
        outputs = JSON.parse(r.stdout);
        rendered = renderedObjects(path.join(dir, "rendered"));
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    it("reads the component's outputs back in Go: the Service, VirtualService and DestinationRule names and a Deployment per version", () => {
        assert.deepStrictEqual(outputs, {
            serviceName: "model-service",
            virtualServiceName: "model-virtual-service",
            destinationRuleName: "model-destination",
            deploymentNames: { v1: "model-v1", v2: "model-v2" },
        });
    });

    it("renders the objects a TypeScript program would: 90/10 split, the stable's replicas, and the canary's image from a Go Output", () => {
        assert.deepStrictEqual([...rendered.keys()].sort(), [
            "Deployment/model-v1", "Deployment/model-v2", "DestinationRule/model-destination", "Service/model-service", "VirtualService/model-virtual-service",
        ]);
        const route = rendered.get("VirtualService/model-virtual-service").spec.http.at(-1).route;
        assert.deepStrictEqual(route.map((r: any) => [r.destination.subset, r.weight]), [["v1", 90], ["v2", 10]]);
        assert.strictEqual(rendered.get("Deployment/model-v1").spec.replicas, 2);
        assert.strictEqual(rendered.get("Deployment/model-v2").spec.template.spec.containers[0].image, "registry.example.com/model:v2");
    });
});

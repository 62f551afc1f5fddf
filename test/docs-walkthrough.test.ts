// docs/walkthrough.md shows the seed walkthrough with both routers side by side; this keeps it from
// drifting: the config edits it gives for `router: gateway-api` turn Pulumi.dev.yaml into a config
// the program accepts (and are all needed), and each step's row states the default route that the
// program's own route builders produce from that config at that step, for the VirtualService and
// for the HTTPRoute. (test/readme-walkthrough.test.ts runs the Istio column's commands through the
// real engine; the routes here are what the engine renders from these same functions.)
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { httpRouteSpec, validateModelCanaryArgs } from "../components";
import { virtualServiceSpec } from "../components/routing";
import { ResolvedModelCanaryArgs } from "../components/validation";
import { parseStackConfig } from "../stacks/config/config";

const root = path.join(__dirname, "..");
const doc = fs.readFileSync(path.join(root, "docs", "walkthrough.md"), "utf8");
const section = doc.split(/^## /m).find((s) => s.startsWith("Walkthrough: the seed rollout"))!;

/** Pulumi.dev.yaml's config as the engine gives it to the program: each value as text (JSON for structured values). */
function devConfig(): Record<string, string> {
    const config = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")).config as Record<string, unknown>;
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** Applies `pulumi config set KEY VALUE` / `pulumi config rm KEY` lines to `config`, as the CLI would. */
function applyConfigCommands(config: Record<string, string>, script: string): Record<string, string> {
    const out = { ...config };
    for (const [, verb, key, value] of script.matchAll(/pulumi config (set|rm) (\S+)(?: (\S+))?/g)) {
        const full = key.includes(":") ? key : `model-canary:${key}`;
        if (verb === "set") out[full] = value;
        else delete out[full];
    }
    return out;
}

/** The split a row's cell states: `v1 90, v2 10` (istio) or `` `model-service-v1` 90 `` (gateway-api), in order. */
const statedSplit = (cell: string, pattern: RegExp): [string, number][] => [...cell.matchAll(pattern)].map((m) => [m[1], Number(m[2])]);

describe("docs/walkthrough.md: the seed walkthrough with both routers", () => {
    const setup = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const rows = section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Step") && !l.startsWith("|---") && !l.startsWith("| |"))
        .map((l) => l.split(" | ").map((c) => c.replace(/^\| ?| ?\|$/g, "").trim()))
        .filter((cells) => cells.length === 4 && /pulumi|npm|npx/.test(cells[1]));

    it("gives the config edits for `router: gateway-api`, and Pulumi.dev.yaml with them is accepted, without the `config rm` lines refused", () => {
        assert.match(setup, /pulumi config set router gateway-api/);
        const edited = applyConfigCommands(devConfig(), setup);
        const model = parseStackConfig(edited, "dev").models.model.resolved;
        assert.strictEqual(model.router, "gateway-api");
        // Each `rm` is needed: the seed's Istio names are refused with the Gateway API router.
        const withoutRm = applyConfigCommands(devConfig(), setup.split("\n").filter((l) => !l.includes("config rm")).join("\n"));
        assert.throws(() => parseStackConfig(withoutRm, "dev"), /virtualServiceName/);
    });

    it("states, for every step, the VirtualService's and the HTTPRoute's default route that the program builds", () => {
        const base = parseStackConfig(devConfig(), "dev").models.model.args;
        const gateway = parseStackConfig(applyConfigCommands(devConfig(), setup), "dev").models.model.args;
        const steps = rows.map(([step]) => step);
        assert.deepStrictEqual(steps, ["shadow (optional, first)", "start (1%)", "10%", "50%", "100%", "promote", "roll back"]);
        for (const [step, command, istioCell, gatewayCell] of rows) {
            // The step's config: the weight (and mirror) its command sets; `npm start` is the seed's; promote is after 100%.
            const weight = step === "promote" ? 100 : Number(/canaryWeight (\d+)/.exec(command)?.[1] ?? base.canaryWeight);
            const mirror = /mirrorPercent (\d+)/.exec(command)?.[1];
            const at = (args: typeof base): ResolvedModelCanaryArgs => validateModelCanaryArgs(step === "promote"
                ? { ...args, stable: args.canary, canary: undefined, canaryWeight: 0, headerRoutes: [] }
                : { ...args, canaryWeight: weight, ...(mirror ? { mirrorPercent: Number(mirror) } : {}) });
            const vs = virtualServiceSpec(at(base));
            const vsDefault = vs.http.at(-1)!;
            // A subset at weight 0 is not stated (v2 100 at 100%).
            assert.deepStrictEqual(statedSplit(istioCell, /\b(v\d) (\d+)\b/g), vsDefault.route.filter((r) => r.weight !== 0).map((r) => [r.destination.subset, r.weight ?? 100]), `${step}: the istio column`);
            const route = httpRouteSpec(at(gateway));
            const defaultRule = route.rules.at(-1)!;
            assert.deepStrictEqual(statedSplit(gatewayCell, /`(model-service-v\d)` (\d+)/g), defaultRule.backendRefs!.map((b) => [b.name, b.weight]), `${step}: the gateway-api column`);
            // The shadow stage: the mirror each column names is the one each route has.
            const vsMirror = vsDefault.mirrors?.map((m) => `${m.destination.subset} ${m.percentage?.value}`).join(", ");
            const routeMirror = defaultRule.filters?.find((f) => f.type === "RequestMirror")?.requestMirror;
            if (mirror) {
                assert.strictEqual(vsMirror, `v2 ${mirror}`);
                assert.match(istioCell, new RegExp(`${mirror}% of it mirrored to v2`));
                assert.deepStrictEqual(routeMirror, { backendRef: { name: "model-service-v2", port: 80 }, percent: Number(mirror) });
                assert.match(gatewayCell, new RegExp(`\`RequestMirror\` filter sending ${mirror}% of it to \`model-service-v2\``));
            } else {
                assert.strictEqual(vsMirror, undefined, step);
                assert.strictEqual(routeMirror, undefined, step);
            }
        }
    });
});

// docs/configuration.md cannot drift from the validation: its tables list exactly the keys the
// code accepts; each default written as a value is the one the code applies; each bound is where
// the validation draws it (the bound accepted, one step past it refused); each example is
// accepted. Values are probed through parseStackConfig, the check every command and `pulumi up`
// run, so a table is held to behaviour, not to a copy of the code's constants.
import * as assert from "assert";
import * as YAML from "yaml";
import { autoReplicasKeys, headerRouteKeys, ValidationError, versionKeys } from "../components";
import { connectionPoolKeys, httpConnectionPoolKeys, outlierDetectionKeys, tcpConnectionPoolKeys, trafficPolicyKeys } from "../components/traffic-policy";
import { defaultThresholds } from "../analysis/verdict";
import { defaultPredictionGate, predictionKeys } from "../analysis/prediction-gate";
import { commandCheckKeys, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_WEBHOOK_TIMEOUT_MS, webhookCheckKeys, webhookKeys } from "../analysis/custom";
import { parseStackConfig, stackKeys } from "../stacks/config/config";
import { defaultKeys, modelKeys } from "../stacks/config/models";
import { analysisOtherKeys, defaultPlan, prometheusAuthKeys, rolloutKeys } from "../stacks/config/rollout-plan";
import { defaultReporter } from "../analysis/reporter";
import { defaultNotification, notificationKeys } from "../stacks/config/notification-settings";
import { code, DocTable, markedTables } from "./support/doc-tables";

type Json = unknown;
type Tree = Record<string, Json>;

const stable = { version: "v1", image: "ghcr.io/acme/fraud:1.0" };
const canary = { version: "v2", image: "ghcr.io/acme/fraud:2.0" };

/**
 * Each table: the keys the code accepts there, and how to place a value: a base config that is
 * valid, and the path of the table's object in it. `[]` tables are list entries: their examples
 * are whole entries, placed in a list of one.
 */
interface Place {
    keys: readonly string[];
    base(): Tree;
    at: (string | number)[];
    /** The code's default for a key, where the code applies one. */
    defaults(): Record<string, Json>;
}

const shorthand = (): Tree => ({ stable: { ...stable }, canary: { ...canary } });
// A rollout block in which any duration from 1s to 24h and a shadow setting are valid on their own:
// the tick is at most the interval, and a shadow step is there.
const rolloutBase = (): Tree => ({ ...shorthand(), rollout: { steps: ["shadow", 1, 100], interval: "24h", tick: "1s" } });

function parsed(tree: Tree) {
    const all = Object.fromEntries(Object.entries(tree).map(([k, v]) => [`model-canary:${k}`, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)]));
    return parseStackConfig(all, "dev");
}

// Defaults are read from the least config: a stable version alone.
const resolvedModel = () => parsed({ stable: { ...stable } }).models.model.resolved;

const places: Record<string, Place> = {
    model: { keys: modelKeys, base: shorthand, at: [], defaults: () => ({ ...resolvedModel() }) },
    stack: {
        keys: stackKeys, base: shorthand, at: [],
        defaults: () => {
            const c = parsed(shorthand());
            return { kubeconfig: c.kubeconfig, renderDir: c.renderDir, stackPerModel: c.stackPerModel, models: undefined, defaults: undefined };
        },
    },
    version: { keys: versionKeys, base: shorthand, at: ["canary"], defaults: () => ({ ...resolvedModel().stable }) },
    autoReplicas: {
        keys: autoReplicasKeys, base: () => ({ ...shorthand(), canary: { ...canary, replicas: "auto", autoReplicas: {} } }), at: ["canary", "autoReplicas"],
        defaults: () => ({ ...parsed({ ...shorthand(), canary: { ...canary, replicas: "auto" } }).models.model.resolved.canary!.autoReplicas }),
    },
    "headerRoutes[]": { keys: headerRouteKeys, base: () => ({ ...shorthand(), headerRoutes: [{}] }), at: ["headerRoutes", 0], defaults: () => ({}) },
    trafficPolicy: { keys: trafficPolicyKeys, base: () => ({ ...shorthand(), trafficPolicy: {} }), at: ["trafficPolicy"], defaults: () => ({}) },
    "trafficPolicy.connectionPool": {
        keys: connectionPoolKeys, base: () => ({ ...shorthand(), trafficPolicy: { connectionPool: {} } }), at: ["trafficPolicy", "connectionPool"], defaults: () => ({}),
    },
    "trafficPolicy.connectionPool.tcp": {
        keys: tcpConnectionPoolKeys, base: () => ({ ...shorthand(), trafficPolicy: { connectionPool: { tcp: {} } } }), at: ["trafficPolicy", "connectionPool", "tcp"], defaults: () => ({}),
    },
    "trafficPolicy.connectionPool.http": {
        keys: httpConnectionPoolKeys, base: () => ({ ...shorthand(), trafficPolicy: { connectionPool: { http: {} } } }), at: ["trafficPolicy", "connectionPool", "http"], defaults: () => ({}),
    },
    "trafficPolicy.outlierDetection": {
        keys: outlierDetectionKeys, base: () => ({ ...shorthand(), trafficPolicy: { outlierDetection: {} } }), at: ["trafficPolicy", "outlierDetection"], defaults: () => ({}),
    },
    rollout: { keys: rolloutKeys, base: rolloutBase, at: ["rollout"], defaults: () => ({ ...defaultPlan }) },
    "rollout.analysis": {
        keys: [...Object.keys(defaultThresholds), ...analysisOtherKeys], base: rolloutBase, at: ["rollout", "analysis"],
        defaults: () => ({ ...defaultThresholds, reporter: defaultReporter }),
    },
    "rollout.predictions": { keys: predictionKeys, base: rolloutBase, at: ["rollout", "predictions"], defaults: () => ({ ...defaultPredictionGate }) },
    "rollout.prometheusAuth": { keys: prometheusAuthKeys, base: rolloutBase, at: ["rollout", "prometheusAuth"], defaults: () => ({}) },
    "rollout.checks[]": {
        keys: [...new Set([...webhookCheckKeys, ...commandCheckKeys])], base: () => ({ ...rolloutBase(), rollout: { ...(rolloutBase().rollout as Tree), checks: [{}] } }),
        at: ["rollout", "checks", 0], defaults: () => ({ timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS }),
    },
    "rollout.notifications[]": {
        keys: notificationKeys, base: () => ({ ...rolloutBase(), rollout: { ...(rolloutBase().rollout as Tree), notifications: [{}] } }),
        at: ["rollout", "notifications", 0], defaults: () => ({ ...defaultNotification }),
    },
    "rollout.checks[].webhook": {
        keys: webhookKeys, base: () => ({ ...rolloutBase(), rollout: { ...(rolloutBase().rollout as Tree), checks: [{ name: "accuracy", webhook: {} }] } }),
        at: ["rollout", "checks", 0, "webhook"], defaults: () => ({ timeoutMs: DEFAULT_WEBHOOK_TIMEOUT_MS }),
    },
};

/** Defaults a reader is told in words, because the code derives them or they are objects of their own. */
const describedDefaults = new Set([
    "model.podSecurityContext", "model.containerSecurityContext", "model.rollout", "version.autoReplicas", "version.readinessProbe",
    "version.livenessProbe", "rollout.shadowInterval", "rollout.analysis", "rollout.checks[].webhook", "rollout.checks[].command",
    "rollout.checks[].cwd", "rollout.notifications[].events",
]);

/** The object at `at` inside `tree` (made on the way). */
function objectAt(tree: Tree, at: (string | number)[]): Tree {
    let node: any = tree;
    for (const step of at) {
        if (node[step] === undefined || typeof node[step] !== "object") node[step] = {};
        node = node[step];
    }
    return node;
}

/** The problems of `tree`, or [] when it is accepted. */
function problems(tree: Tree): string[] {
    try {
        parsed(tree);
        return [];
    } catch (e) {
        if (e instanceof ValidationError) return e.problems;
        throw e;
    }
}

/** The table's base config with `values` set in its object (a list entry gets them whole). */
function withValues(table: string, values: Tree, entryWhole = table.endsWith("[]")): Tree {
    const place = places[table];
    const tree = JSON.parse(JSON.stringify(place.base())) as Tree;
    if (entryWhole) {
        const parent = objectAt(tree, place.at.slice(0, -1)) as unknown as Json[];
        parent[place.at[place.at.length - 1] as number] = values;
        return tree;
    }
    // A `models` example is a whole stack: the shorthand's keys would clash with it.
    if (place.at.length === 0 && "models" in values) return { ...values };
    Object.assign(objectAt(tree, place.at), values);
    return tree;
}

/** An example cell's YAML as the mapping it sets, or undefined for a command shown instead. */
function example(cell: string): Tree | undefined {
    const text = code(cell) ?? "";
    if (text.startsWith("pulumi config set")) return undefined;
    const value = YAML.parse(text.startsWith("{") ? text : `{ ${text} }`);
    assert.ok(value && typeof value === "object" && !Array.isArray(value), `example ${cell} is a YAML mapping`);
    return value as Tree;
}

interface Bounds { min?: number; minOpen?: boolean; max?: number; maxOpen?: boolean }
const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The numeric bounds a Bounds cell starts with, in ms for durations; undefined when it gives none. */
function bounds(cell: string, type: string): Bounds | undefined {
    const n = type === "duration" ? "(\\d+(?:ms|s|m|h))" : "(\\d+(?:\\.\\d+)?)";
    const num = (t: string) => (type === "duration" ? Number(/^\d+/.exec(t)![0]) * durationUnits[/[a-z]+$/.exec(t)![0]] : Number(t));
    const forms: [RegExp, (m: RegExpExecArray) => Bounds][] = [
        [new RegExp(`^above ${n}, below ${n}`), (m) => ({ min: num(m[1]), minOpen: true, max: num(m[2]), maxOpen: true })],
        [new RegExp(`^above ${n}, at most ${n}`), (m) => ({ min: num(m[1]), minOpen: true, max: num(m[2]) })],
        [new RegExp(`^${n} to ${n}`), (m) => ({ min: num(m[1]), max: num(m[2]) })],
    ];
    for (const [re, make] of forms) {
        const m = re.exec(cell);
        if (m) return make(m);
    }
    return undefined;
}

/** A value of the key's type at `x` (a duration as text). */
function valueOf(x: number, type: string): Json {
    return type === "duration" ? `${x}ms` : x;
}

describe("docs/configuration.md", () => {
    const tables = markedTables("docs/configuration.md", "config");
    const byName = new Map<string, DocTable>(tables.map((t) => [t.name, t]));
    const keyOf = (row: string[]) => code(row[0]) ?? row[0];

    it("has a table for each place keys live, each with type, default, bounds and an example", () => {
        assert.deepStrictEqual(tables.map((t) => t.name).sort(), Object.keys(places).sort());
        for (const t of tables) assert.deepStrictEqual(t.header, ["Key", "Type", "Default", "Bounds", "Example", "What it is"], t.name);
    });

    it("lists every key the validation accepts, and only those", () => {
        for (const [name, place] of Object.entries(places)) {
            const documented = byName.get(name)!.rows.map(keyOf);
            assert.deepStrictEqual([...documented].sort(), [...place.keys].sort(), `the keys of \`${name}\``);
        }
        // `defaults` names the keys it may hold.
        const row = byName.get("stack")!.rows.find((r) => keyOf(r) === "defaults")!;
        const named = [...row[5].matchAll(/`([a-zA-Z]+)`/g)].map((m) => m[1]).filter((k) => modelKeys.includes(k));
        assert.deepStrictEqual(named.sort(), [...defaultKeys].sort());
    });

    it("refuses a key no table lists, wherever it is", () => {
        for (const name of Object.keys(places)) {
            const place = places[name];
            if (name.endsWith("[]") || name === "rollout.checks[].webhook") continue; // their entries need whole examples: below
            const tree = withValues(name, { notAKey: 1 }, false);
            assert.ok(problems(tree).some((p) => p.includes("notAKey")), `an unknown key in \`${name}\` is refused (${place.at.join(".")})`);
        }
    });

    it("gives each default the code applies", () => {
        let checked = 0;
        for (const [name, place] of Object.entries(places)) {
            const code_ = place.defaults();
            for (const row of byName.get(name)!.rows) {
                const key = keyOf(row);
                const cell = row[2];
                const where = `${name}.${key}`;
                const literal = /^`([^`]+)`$/.exec(cell)?.[1];
                const actual = code_[key];
                if (literal !== undefined) {
                    const written = YAML.parse(literal.replace(/<app>/g, "model").replace(/<stack>/g, "dev"));
                    assert.deepStrictEqual(actual, written, `the default of \`${where}\``);
                    checked++;
                } else if (cell === "required") {
                    const values = name.endsWith("[]") ? { ...example(row[4])! } : undefined;
                    if (values) delete values[key];
                    const tree = values ? withValues(name, values) : withValues(name, {});
                    if (!values) delete objectAt(tree, place.at)[key];
                    assert.ok(problems(tree).length > 0, `\`${where}\` is required`);
                } else if (/^none\b/.test(cell)) {
                    const empty = actual === undefined || actual === null || (Array.isArray(actual) && actual.length === 0)
                        || (typeof actual === "object" && actual !== null && Object.keys(actual).length === 0);
                    assert.ok(empty, `\`${where}\` has no default, the code applies ${JSON.stringify(actual)}`);
                } else {
                    assert.ok(describedDefaults.has(where), `\`${where}\`'s default ${JSON.stringify(cell)} is neither a value, "required" nor "none"`);
                }
            }
        }
        assert.ok(checked >= 30, `${checked} defaults compared`);
    });

    it("draws each numeric bound where the validation does", () => {
        let probed = 0;
        for (const name of Object.keys(places)) {
            for (const row of byName.get(name)!.rows) {
                const key = keyOf(row);
                const type = row[1].replace(/ or `null`$/, "");
                const b = bounds(row[3], type);
                if (["integer", "number", "duration"].includes(type)) assert.ok(b, `\`${name}.${key}\` (${type}) has numeric bounds, got ${JSON.stringify(row[3])}`);
                if (!b) continue;
                const step = type === "integer" ? 1 : type === "duration" ? 1 : 0.001;
                const entry = name.endsWith("[]") || name === "rollout.checks[].webhook" ? example(row[4]) : {};
                const probe = (x: number) => {
                    const values = { ...entry, [key]: valueOf(x, type) };
                    return problems(name === "rollout.checks[].webhook" ? withValues(name, values) : withValues(name, values));
                };
                const show = (x: number) => `\`${name}.${key}\`: ${x}`;
                if (b.min !== undefined) {
                    if (b.minOpen) {
                        assert.notDeepStrictEqual(probe(b.min), [], `${show(b.min)} is refused`);
                        assert.deepStrictEqual(probe(b.min + step), [], `${show(b.min + step)} is accepted`);
                    } else {
                        assert.deepStrictEqual(probe(b.min), [], `${show(b.min)} is accepted`);
                        assert.notDeepStrictEqual(probe(b.min - step), [], `${show(b.min - step)} is refused`);
                    }
                }
                if (b.max !== undefined) {
                    if (b.maxOpen) {
                        assert.notDeepStrictEqual(probe(b.max), [], `${show(b.max)} is refused`);
                        assert.deepStrictEqual(probe(b.max - step), [], `${show(b.max - step)} is accepted`);
                    } else {
                        assert.deepStrictEqual(probe(b.max), [], `${show(b.max)} is accepted`);
                        assert.notDeepStrictEqual(probe(b.max + step), [], `${show(b.max + step)} is refused`);
                    }
                }
                probed++;
            }
        }
        assert.ok(probed >= 25, `${probed} bounds probed`);
    });

    it("sizes each list and map as the validation does", () => {
        let probed = 0;
        for (const name of Object.keys(places)) {
            for (const row of byName.get(name)!.rows) {
                const m = /^at most (\d+) entries/.exec(row[3]);
                if (!m) continue;
                const key = keyOf(row);
                const n = Number(m[1]);
                const sample = example(row[4])![key];
                // n entries made from the example's first one, each distinct.
                const many = (count: number): Json => Array.isArray(sample)
                    ? Array.from({ length: count }, (_, i) => typeof sample[0] === "string" ? `x${i}-${sample[0]}` : { ...(sample[0] as Tree), ...("name" in (sample[0] as Tree) ? { name: `${(sample[0] as Tree).name}-${i}` } : {}) })
                    : Object.fromEntries(Array.from({ length: count }, (_, i) => [`${Object.keys(sample as Tree)[0]}${i}`, Object.values(sample as Tree)[0]]));
                assert.deepStrictEqual(problems(withValues(name, { [key]: many(n) })), [], `\`${name}.${key}\` with ${n} entries is accepted`);
                assert.notDeepStrictEqual(problems(withValues(name, { [key]: many(n + 1) })), [], `\`${name}.${key}\` with ${n + 1} entries is refused`);
                probed++;
            }
        }
        assert.strictEqual(probed, 8);
    });

    it("sizes each text as the validation does", () => {
        let probed = 0;
        for (const name of Object.keys(places)) {
            for (const row of byName.get(name)!.rows) {
                const m = /^at most (\d+) characters/.exec(row[3]);
                if (!m) continue;
                const key = keyOf(row);
                const n = Number(m[1]);
                const entry = name.endsWith("[]") ? example(row[4])! : {};
                const text = (count: number) => "a".repeat(count);
                assert.deepStrictEqual(problems(withValues(name, { ...entry, [key]: text(n) })), [], `\`${name}.${key}\` of ${n} characters is accepted`);
                assert.notDeepStrictEqual(problems(withValues(name, { ...entry, [key]: text(n + 1) })), [], `\`${name}.${key}\` of ${n + 1} characters is refused`);
                probed++;
            }
        }
        assert.ok(probed >= 8, `${probed} texts probed`);
    });

    it("gives examples the validation accepts", () => {
        let checked = 0;
        for (const name of Object.keys(places)) {
            for (const row of byName.get(name)!.rows) {
                const values = example(row[4]);
                if (values === undefined) continue;
                const key = keyOf(row);
                assert.ok(key in values, `the example of \`${name}.${key}\` sets it: ${row[4]}`);
                assert.deepStrictEqual(problems(withValues(name, values)), [], `the example of \`${name}.${key}\`: ${row[4]}`);
                checked++;
            }
        }
        assert.ok(checked >= 60, `${checked} examples checked`);
    });
});

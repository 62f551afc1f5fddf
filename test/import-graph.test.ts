// The tree shows the architecture, and the imports keep to it: every TypeScript file of the
// repository belongs to a room (a folder, or the stack program index.ts), the rooms are layered,
// and a file imports only files of its own room or of a room in a lower layer; no file reaches
// itself through its imports. Every import counts, type-only ones, `export ... from`,
// `import()` and `require()` included: a circle of types is still a circle to read.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const root = path.join(__dirname, "..");

/**
 * The rooms, from the top layer down. A room imports only its own files and rooms of the layers
 * below it; rooms of one layer do not import each other. A room names a folder (with what is
 * under it, unless a deeper folder is a room of its own) or a file.
 */
export const layers: string[][] = [
    // Benchmarks drive real stacks with the tests' support.
    ["bench"],
    // The suites and their support (mocks, temp projects, Prometheus, the packed package).
    ["test"],
    // The stack program, a user of the package's public API; the model-canary command; the policy
    // pack (it imports only the Pulumi SDKs and its own files).
    ["index.ts", "cli", "policy"],
    // The package's entry points (for TypeScript, and the component plugin for other languages);
    // the pull-request preview; the local control plane for tests.
    ["api", "plugin", "preview", "cluster"],
    // The rollout loop, its record, `status` and the report.
    ["rollout"],
    // Rollout events told to webhooks and Kubernetes Events: their bodies and their delivery.
    ["notifications"],
    // Stacks, in five rooms: the program's side (the components built from the config),
    ["stacks/program"],
    // the operations on stacks through the Pulumi engine,
    ["stacks/operations"],
    // where runners sharing a stack meet (its leases and records: a cluster's Leases, the state backend),
    ["stacks/coordination"],
    // the client of the cluster's API,
    ["stacks/cluster-client"],
    // and the stack's config contract: what Pulumi.<stack>.yaml asks for.
    ["stacks/config"],
    // Metric queries, the Prometheus client and the verdicts, pure where they can be.
    ["analysis"],
    // The ModelCanary component, its arguments and their validation.
    ["components"],
];

/** Where sources are not looked for: dependencies, build output, and the consumer fixture (a program of its own). */
const skipped = new Set(["node_modules", "dist", ".git", "test/fixtures"]);

/** Every .ts file of the repository, relative to the root, `/`-separated. */
export function sourceFiles(dir = ""): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (skipped.has(rel) || entry.name === "node_modules") continue;
        if (entry.isDirectory()) out.push(...sourceFiles(rel));
        else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(rel);
    }
    return out.sort();
}

/** The room a file belongs to: the deepest room that is the file or a folder holding it. */
export function roomOf(file: string, rooms: readonly string[] = layers.flat()): string | undefined {
    return rooms.filter((r) => file === r || file.startsWith(`${r}/`)).sort((a, b) => b.length - a.length)[0];
}

/** Each file's imports of other files of the repository, and the relative imports that lead nowhere. */
export function importGraph(files: readonly string[]): { edges: Map<string, Set<string>>; unresolved: string[] } {
    const edges = new Map<string, Set<string>>();
    const unresolved: string[] = [];
    for (const file of files) {
        const targets = new Set<string>();
        const { importedFiles } = ts.preProcessFile(fs.readFileSync(path.join(root, file), "utf8"), true, true);
        for (const { fileName } of importedFiles) {
            if (!fileName.startsWith(".")) continue;
            const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName));
            const target = [`${base}.ts`, `${base}/index.ts`, base].find((c) => fs.existsSync(path.join(root, c)) && fs.statSync(path.join(root, c)).isFile());
            if (target === undefined) unresolved.push(`${file} imports ${fileName}`);
            else if (target.endsWith(".ts")) targets.add(target);
        }
        edges.set(file, targets);
    }
    return { edges, unresolved };
}

/** Every circle of imports (one per strongly connected group of files), as `a -> b -> a`. */
export function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] {
    // Tarjan's strongly connected components; a group of more than one file, or a file importing
    // itself, is a circle, shown by one path around it.
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const groups: string[][] = [];
    const visit = (v: string): void => {
        index.set(v, next);
        low.set(v, next++);
        stack.push(v);
        onStack.add(v);
        for (const w of edges.get(v) ?? []) {
            if (!index.has(w)) {
                visit(w);
                low.set(v, Math.min(low.get(v)!, low.get(w)!));
            } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        }
        if (low.get(v) === index.get(v)) {
            const group: string[] = [];
            let w: string;
            do {
                w = stack.pop()!;
                onStack.delete(w);
                group.push(w);
            } while (w !== v);
            if (group.length > 1 || edges.get(v)?.has(v)) groups.push(group);
        }
    };
    for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
    return groups.map((group) => {
        // A path from the group's first file back to itself, inside the group (breadth-first).
        const members = new Set(group);
        const start = [...group].sort()[0];
        const from = new Map<string, string>();
        const queue = [start];
        while (queue.length > 0) {
            const v = queue.shift()!;
            for (const w of [...(edges.get(v) ?? [])].sort()) {
                if (!members.has(w)) continue;
                if (w === start) {
                    const around: string[] = [];
                    for (let u: string | undefined = v; u !== undefined && u !== start; u = from.get(u)) around.unshift(u);
                    return [start, ...around, start].join(" -> ");
                }
                if (!from.has(w)) {
                    from.set(w, v);
                    queue.push(w);
                }
            }
        }
        return group.join(" -> ");
    }).sort();
}

/** Imports that go sideways or upward between rooms, as `file -> file (room may not import room)`. */
export function upwardImports(edges: ReadonlyMap<string, ReadonlySet<string>>, layering: readonly string[][] = layers): string[] {
    const rooms = layering.flat();
    const layerOf = new Map(layering.flatMap((layer, i) => layer.map((room) => [room, i] as const)));
    const out: string[] = [];
    for (const [file, targets] of edges) {
        const from = roomOf(file, rooms);
        for (const target of targets) {
            const to = roomOf(target, rooms);
            if (from === undefined || to === undefined || from === to) continue;
            if (layerOf.get(to)! <= layerOf.get(from)!) out.push(`${file} -> ${target} (${from} may not import ${to})`);
        }
    }
    return out.sort();
}

describe("the import graph", () => {
    const files = sourceFiles();
    const { edges, unresolved } = importGraph(files);

    it("reads the imports of every room (a check that found nothing would pass vacuously)", () => {
        assert.ok(files.includes("index.ts") && files.includes("api/program.ts") && files.includes("analysis/verdict.ts"), files.join(", "));
        assert.ok(edges.get("index.ts")!.has("api/program.ts"));
        assert.ok(edges.get("analysis/prediction-gate.ts")!.has("analysis/verdict.ts"));
        assert.deepStrictEqual(unresolved, []);
    });

    it("puts every TypeScript file in a room", () => {
        assert.deepStrictEqual(files.filter((f) => roomOf(f) === undefined), []);
        assert.strictEqual(new Set(layers.flat()).size, layers.flat().length, "a room is listed twice");
        for (const room of layers.flat()) assert.ok(fs.existsSync(path.join(root, room)), `the room ${room} does not exist`);
    });

    it("has no circles", () => {
        assert.deepStrictEqual(cycles(edges), []);
    });

    it("imports only downward: a room imports its own files and rooms of lower layers", () => {
        assert.deepStrictEqual(upwardImports(edges), []);
    });

    it("finds a circle and an upward import when there is one", () => {
        const graph = new Map<string, Set<string>>([
            ["analysis/a.ts", new Set(["analysis/b.ts", "components/c.ts"])],
            ["analysis/b.ts", new Set(["analysis/a.ts"])],
            ["components/c.ts", new Set(["analysis/b.ts"])],
            ["components/d.ts", new Set(["components/d.ts"])],
        ]);
        assert.deepStrictEqual(cycles(graph), ["analysis/a.ts -> analysis/b.ts -> analysis/a.ts", "components/d.ts -> components/d.ts"]);
        assert.deepStrictEqual(upwardImports(graph), ["components/c.ts -> analysis/b.ts (components may not import analysis)"]);
        assert.deepStrictEqual(upwardImports(new Map([["api/x.ts", new Set(["preview/y.ts"])]])), ["api/x.ts -> preview/y.ts (api may not import preview)"]);
    });
});

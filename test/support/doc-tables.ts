// The tables of the docs pages that tests hold against the code. A table is marked by an HTML
// comment on the line before it, `<!-- <kind>: <name> -->` (invisible to a reader), so a test
// finds its tables however the page's headings and prose change.
import * as fs from "fs";
import * as path from "path";

export const root = path.join(__dirname, "..", "..");

export interface DocTable {
    /** The marker's name, e.g. `model-canary/program` for `<!-- api: model-canary/program -->`. */
    name: string;
    /** The header row's cells. */
    header: string[];
    /** The body rows' cells, trimmed; `\|` inside a cell stays a `|`. */
    rows: string[][];
}

/** Cells of one Markdown table row. */
export function cells(line: string): string[] {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

/** Every table of `file` marked `<!-- kind: name -->`, in page order. */
export function markedTables(file: string, kind: string): DocTable[] {
    const lines = fs.readFileSync(path.join(root, file), "utf8").split("\n");
    const marker = new RegExp(`^<!-- ${kind}: (.+?) -->$`);
    const out: DocTable[] = [];
    lines.forEach((line, i) => {
        const m = marker.exec(line.trim());
        if (!m) return;
        let j = i + 1;
        while (j < lines.length && lines[j].trim() === "") j++;
        const header = cells(lines[j]);
        const rows: string[][] = [];
        for (j += 2; j < lines.length && lines[j].trim().startsWith("|"); j++) rows.push(cells(lines[j]));
        out.push({ name: m[1], header, rows });
    });
    return out;
}

/** The text inside the first pair of backticks of a cell, or undefined. */
export function code(cell: string): string | undefined {
    return /`([^`]+)`/.exec(cell)?.[1];
}

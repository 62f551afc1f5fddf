// SVG building blocks for the report's charts. Every attribute value and text node goes through
// `xml`, so text from a record (stack names, versions, labels) stays text.

/** Coordinates with at most two decimals; a non-finite value can never reach the output. */
export function num(v: number): string {
    return Number.isFinite(v) ? String(Number(v.toFixed(2))) : "0";
}

/**
 * Escapes text for XML content and attribute values, and drops the control characters XML 1.0
 * forbids, so a stack named "dev<1>" or a message with a stray byte cannot break the document.
 */
export function xml(s: string): string {
    return String(s)
        .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&apos;");
}

export function attrs(a: Record<string, string | number>): string {
    return Object.entries(a)
        .map(([k, v]) => ` ${k}="${typeof v === "number" ? num(v) : xml(v)}"`)
        .join("");
}

export function line(x1: number, y1: number, x2: number, y2: number, a: Record<string, string | number>): string {
    return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}"${attrs(a)}/>`;
}

export function text(x: number, y: number, content: string, a: Record<string, string | number>): string {
    return `<text x="${num(x)}" y="${num(y)}"${attrs(a)}>${xml(content)}</text>`;
}

/** A white outline behind text drawn over lines keeps it legible. */
export function haloed(a: Record<string, string | number>): Record<string, string | number> {
    return { ...a, stroke: "#ffffff", "stroke-width": 3, "paint-order": "stroke", "stroke-linejoin": "round" };
}

/** The colours both report charts use, so a version reads the same in each. */
export const palette = {
    canary: "#d95f02",
    stable: "#1f6fb5",
    grid: "#e6e6e6",
    axis: "#333333",
    text: "#222222",
    muted: "#777777",
} as const;

/**
 * A standalone SVG document: `title` as its accessible name, a white background (so it reads the
 * same on a dark page), then `body`. No fonts, images or scripts are fetched.
 */
export function svgDocument(width: number, height: number, title: string, body: string[]): string {
    return (
        `<?xml version="1.0" encoding="UTF-8"?>\n` +
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
        `font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n` +
        [`<title>${xml(title)}</title>`, `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`, ...body].join("\n") +
        `\n</svg>\n`
    );
}

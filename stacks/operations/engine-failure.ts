// What a failed `pulumi` command's output says went wrong, in one line. The engine ends every
// failed update with a generic `error: update failed` (on the stack resource), printed after the
// error of the resource or provider that failed; the last `error:` line is therefore never the
// cause. The cause is the first other error diagnostic, with the resource it belongs to.

/** The engine's own summaries of a failed command: never the cause. */
const summary = /^error: (?:update|preview|refresh|destroy|import) failed\.?$|^error: an unhandled error occurred|^error: \d+ errors? occurred/;

/** `  kubernetes:networking.istio.io/v1:VirtualService (model-vs):`, a diagnostics block's header. */
const blockHeader = /^ {2}(\S+) \((.+)\):$/;

/**
 * The cause of a failed engine command as one line, `<resource>: <error>` when the error belongs to
 * a resource other than the stack itself, or undefined when the output holds no error other than
 * the engine's summaries.
 */
export function engineFailureCause(output: string): string | undefined {
    const lines = output.replace(/\r/g, "").split("\n");
    const start = lines.findIndex((l) => /^Diagnostics:\s*$/.test(l));
    const section = start >= 0 ? lines.slice(start + 1) : lines;
    let owner: string | undefined;
    for (let i = 0; i < section.length; i++) {
        const line = section[i];
        if (start >= 0 && /^\S/.test(line)) break; // the next section (Outputs:, Resources:, ...)
        const header = line.match(blockHeader);
        if (header) {
            owner = header[1] === "pulumi:pulumi:Stack" ? undefined : `${header[1]} (${header[2]})`;
            continue;
        }
        const trimmed = line.trim();
        if (!trimmed.startsWith("error:") || summary.test(trimmed)) continue;
        // In the Diagnostics section an error may go on over lines of its own at the same indent.
        const indent = line.length - line.trimStart().length;
        const parts = [trimmed.replace(/^error:\s*/, "")];
        for (let j = i + 1; start >= 0 && j < section.length; j++) {
            const next = section[j];
            const t = next.trim();
            if (t === "" || blockHeader.test(next) || /^(?:error|warning|info):/.test(t) || next.length - next.trimStart().length < indent) break;
            parts.push(t);
        }
        const text = parts.join(" ").replace(/\s+/g, " ").trim();
        return owner ? `${owner}: ${text}` : text;
    }
    return undefined;
}

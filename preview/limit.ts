// The pull-request comment within GitHub's limit: a comment body over 65,536 characters is refused
// (the workflow's post would fail, and reviewers would see nothing). A stack of many models, a
// model with many header routes or a long raw diff can pass it, so the comment is capped below the
// limit: the models with changes come first and in full, the others are summarised (count and
// names), the raw diff is cut, and the comment says so and where to see everything. Pure.
import { code, headLines, ModelRouting, modelLines, PreviewReport, reportModels, RoutingState, tailLines } from "./markdown";
import type { ResourceStep } from "../stacks/operations/automation";

/** GitHub's limit on an issue or pull-request comment's body, in characters. */
export const githubCommentLimit = 65_536;

/**
 * The cap: below GitHub's limit with room to spare. Measured in UTF-16 code units (JavaScript's
 * `length`), which is never less than the characters GitHub counts.
 */
export const defaultCommentLength = 60_000;

/** Deployments named in the warning of a shortened comment; the rest are counted. */
const maxListedDeployments = 20;

export interface CommentOptions {
    /** At most this many characters. Default `defaultCommentLength`. */
    maxLength?: number;
    /** Where the whole comment was written, named in a shortened one; undefined when it was not written anywhere. */
    fullFile?: string;
}

export interface Comment {
    markdown: string;
    /** True when the whole comment did not fit and this one leaves parts out. */
    shortened: boolean;
}

function isChanged(m: ModelRouting, steps: ResourceStep[]): boolean {
    if (m.name === undefined || !m.before) return true;
    const routing = (r: RoutingState) => JSON.stringify([r.stableVersion, r.canaryVersion ?? null, sorted(r.split), r.mirror ?? null, r.replicas ? sorted(r.replicas) : null, r.headerRoutes]);
    if (routing(m.before) !== routing(m.after) || m.after.routerSwitch) return true;
    // A resource of the model that changes (its component is named after it, its children `<model>-...`);
    // a model whose name prefixes another's may be counted as changed too, which only keeps it in full.
    return steps.some((s) => s.op !== "same" && (s.name === m.name || s.name.startsWith(`${m.name}-`)));
}

function sorted(map: Record<string, unknown>): [string, unknown][] {
    return Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** One line for a changed model whose section does not fit: its split before and after. */
function compactLine(m: ModelRouting): string {
    const versions = [...new Set([...Object.keys(m.before?.split ?? {}), ...Object.keys(m.after.split)])];
    const split = versions.map((v) => {
        const to = `${Number(m.after.split[v] ?? 0)}%`;
        if (!m.before) return `${code(v)} ${to}`;
        const from = `${Number(m.before.split[v] ?? 0)}%`;
        return from === to ? `${code(v)} ${to}` : `${code(v)} ${from} → ${to}`;
    }).join(", ");
    const routes = m.after.headerRoutes.length > 0 ? `; ${m.after.headerRoutes.length} header route${m.after.headerRoutes.length === 1 ? "" : "s"}` : "";
    const router = m.after.routerSwitch ? `; router ${code(m.after.routerSwitch.from)} → ${code(m.after.routerSwitch.to)}, the new route created before the old is deleted` : "";
    return `- ${m.name === undefined ? "routing" : `Model ${code(m.name)}`}${m.before ? "" : " (new)"}: ${split}${routes}${router}`;
}

/** `names` as code spans, as many as fit in `budget` characters, then how many more. */
function nameList(names: string[], budget: number): string {
    const parts: string[] = [];
    let used = 0;
    for (const [i, name] of names.entries()) {
        const part = code(name);
        const more = names.length - i - 1;
        // Room for this name, and for the "and N more" that would follow a later cut.
        if (used + part.length + 2 + (more > 0 ? 20 : 0) > budget) {
            parts.push(`and ${names.length - i} more`);
            break;
        }
        parts.push(part);
        used += part.length + 2;
    }
    return parts.join(", ");
}

/** The raw diff's lines that fit in `budget` characters, with a line saying how many were cut; the whole diff when it fits. */
function cutDiff(diff: string, budget: number): { text: string; cut: boolean } {
    const whole = diff.trimEnd();
    if (whole.length <= budget) return { text: whole, cut: false };
    const lines = whole.split("\n");
    const kept: string[] = [];
    let used = 0;
    for (const line of lines) {
        if (used + line.length + 1 + 80 > budget) break;
        kept.push(line);
        used += line.length + 1;
    }
    kept.push(`... ${lines.length - kept.length} more lines of the diff left out (this comment is capped below GitHub's limit)`);
    return { text: kept.join("\n"), cut: true };
}

/**
 * The comment to post: the whole one when it fits in `maxLength`, else a shortened one. Models
 * with changes come first, each in full while there is room (the rest of them one line each), then
 * the models without changes as a count and their names, the resource counts, and the raw diff cut
 * to what room is left. A note at the top says what was left out and how to see it all.
 */
export function renderPreviewComment(report: PreviewReport, options: CommentOptions = {}): Comment {
    const max = options.maxLength ?? defaultCommentLength;
    const whole = [...headLines(report), ...reportModels(report).flatMap(modelLines), ...tailLines(report.changes, report.diff)].join("\n");
    if (whole.length <= max) return { markdown: whole, shortened: false };

    const models = reportModels(report);
    const changed = models.filter((m) => isChanged(m, report.steps));
    const unchanged = models.filter((m) => !changed.includes(m));
    const head = headLines(report, maxListedDeployments);
    const notice = (what: { compact: number; unchanged: number; diffCut: boolean; routingCut: boolean }) => {
        const left = [
            ...(what.routingCut ? ["the routing is shown in one line (its header routes are left out)"] : []),
            ...(what.unchanged > 0 ? [`${what.unchanged} model${what.unchanged === 1 ? "" : "s"} without changes ${what.unchanged === 1 ? "is" : "are"} only named`] : []),
            ...(what.compact > 0 && !what.routingCut ? [`${what.compact} model${what.compact === 1 ? "" : "s"} with changes ${what.compact === 1 ? "is" : "are"} shown in one line`] : []),
            ...(what.diffCut ? ["the raw diff is cut"] : []),
        ];
        const all = options.fullFile !== undefined
            ? `The whole comment (${whole.length} characters) is in ${code(options.fullFile)}, written beside this one`
            : "To get the whole comment, write it to a file with `--markdown FILE`: then it is also written to `FILE.full.md`";
        const one = `one model's with \`model-canary preview --stack ${report.stack} --model NAME\``;
        return [
            "> [!NOTE]",
            `> **Shortened to stay under GitHub's limit of ${githubCommentLimit} characters a comment:** ${left.join("; ") || "parts are left out"}. ${all}; see ${one}.`,
            "",
        ];
    };
    const tail = (diff: string) => tailLines(report.changes, diff);
    // Everything but the models and the diff, at its longest.
    const fixed = [...head, ...notice({ compact: models.length, unchanged: models.length, diffCut: true, routingCut: true }), ...tail("")].join("\n").length + 1;
    // Room kept for the diff's first lines and its cut line.
    const diffReserve = Math.min(2_000, Math.floor(max / 10));
    let room = max - fixed - diffReserve;

    const sections: string[] = [];
    let compact = 0;
    // A report of one model whose section does not fit.
    let routingCut = false;
    for (const [i, m] of changed.entries()) {
        const full = modelLines(m).join("\n") + "\n";
        // Keep room for one line for each changed model still to come; once one is cut to a line, the rest are too.
        const later = (changed.length - i - 1) * 120;
        if (compact === 0 && full.length + later <= room) {
            sections.push(full);
            room -= full.length;
            continue;
        }
        const line = `${compactLine(m)}\n`;
        if (compact === 0 && m.name !== undefined) {
            sections.push(`**Models with changes, in one line each** (${changed.length - i}):\n`);
            room -= sections[sections.length - 1].length;
        }
        sections.push(line.length <= room ? line : `- Model ${code(m.name ?? "")}\n`);
        room -= sections[sections.length - 1].length;
        compact++;
        if (m.name === undefined) routingCut = true;
    }
    if (compact > 0) {
        sections.push("\n");
        room -= 1;
    }
    if (unchanged.length > 0) {
        const label = `**Without changes (${unchanged.length} model${unchanged.length === 1 ? "" : "s"}):** `;
        const line = `${label}${nameList(unchanged.map((m) => m.name ?? ""), room - label.length - 2)}\n\n`;
        sections.push(line);
        room -= line.length;
    }
    const assemble = (parts: string[], diffBudget: number) => {
        const diff = cutDiff(report.diff, Math.max(0, diffBudget));
        return [...head, ...notice({ compact, unchanged: unchanged.length, diffCut: diff.cut, routingCut })].join("\n") + "\n" + parts.join("") + tail(diff.text).join("\n");
    };
    const before = [...head, ...notice({ compact, unchanged: unchanged.length, diffCut: true, routingCut })].join("\n") + "\n" + sections.join("");
    let diffBudget = max - before.length - tail("").join("\n").length - 1;
    let markdown = assemble(sections, diffBudget);
    // Control characters shown as escapes, and a longer fence, can lengthen the diff: cut more.
    while (markdown.length > max && diffBudget > 0) {
        diffBudget = Math.max(0, diffBudget - (markdown.length - max) - 100);
        markdown = assemble(sections, diffBudget);
    }
    // Only a stack of about a thousand changed models gets here: keep what fits.
    for (let kept = sections.length; markdown.length > max && kept > 0; kept--) {
        markdown = assemble([...sections.slice(0, kept - 1), "- the rest is left out here: see the whole comment\n\n"], 0);
    }
    return { markdown, shortened: true };
}

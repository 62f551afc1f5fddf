// Sticky assignment's part of a live route next to the configured one, for either router: the
// cookie rules (`sticky-<version>`, a match on the cookie that sends it back to its version) and
// what each destination of the weighted split adds to its answers (the `Set-Cookie` that pins a
// client). A hand edit of either changes who stays where without touching the split, so `status`
// names it apart from the header routes. Pure: live.ts and live-httproute.ts pick the pieces out
// of a VirtualService or an HTTPRoute/GRPCRoute.

/** One cookie rule as a router wrote it, or as it is live. */
export interface StickyRule {
    /** Canonical JSON of the whole rule: two rules are the same when their keys are. */
    key: string;
    /** What it matches (the `Cookie` header's regex, or the matches as JSON when it is not one). */
    match: string;
    /** The version it sends to (or the destination as written). */
    to: string;
}

export interface StickyView {
    /** The cookie rules by name (`sticky-v1`). */
    rules: Map<string, StickyRule>;
    /** What each destination of the split adds to its answers, by version: `sets \`model-version=v1; Path=/\``, `none`, or the change as JSON. */
    setting: [version: string, what: string][];
}

/** A rule of this tool's sticky assignment, by its name: the routers name them `sticky-<version>`. */
export const isStickyRuleName = (name: string | undefined): boolean => name?.startsWith("sticky-") ?? false;

const showRule = (rule: StickyRule) => `matches \`${rule.match}\` to ${rule.to}`;
const showSetting = (setting: [string, string][]) => (setting.length > 0 ? setting.map(([version, what]) => `${version} ${what}`).join(", ") : "no destinations");

/**
 * What differs in sticky assignment between a live route and the configured one: each cookie rule
 * missing, added or changed (by name, with what it matches), and the split's `Set-Cookie` per
 * version. Empty when they agree (also when neither pins anyone).
 */
export function stickyDifferences(live: StickyView, want: StickyView): string[] {
    const out: string[] = [];
    const names = [...new Set([...want.rules.keys(), ...live.rules.keys()])].sort();
    for (const name of names) {
        const l = live.rules.get(name);
        const w = want.rules.get(name);
        if (l && w && l.key === w.key) continue;
        if (!l) out.push(`sticky cookie rule \`${name}\`: missing live, config ${showRule(w!)}`);
        else if (!w) out.push(`sticky cookie rule \`${name}\`: live ${showRule(l)}, not in the config`);
        else out.push(`sticky cookie rule \`${name}\`: live ${showRule(l)}, config ${showRule(w)}`);
    }
    if (JSON.stringify(live.setting) !== JSON.stringify(want.setting)) out.push(`sticky cookie setting of the split: live ${showSetting(live.setting)}; config ${showSetting(want.setting)}`);
    return out;
}

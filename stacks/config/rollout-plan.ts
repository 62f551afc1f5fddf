// The rollout plan: the stack config's `rollout` block with command-line flags over it, checked
// before anything is applied. Pure.
import { CustomCheck, validateCustomCheck } from "../../analysis/custom";
import { resolvePredictionGate, type PredictionGate } from "../../analysis/prediction-gate";
import { parseDurationMs } from "../../analysis/queries";
import { resolveReporters, type Reporter } from "../../analysis/reporter";
import { AnalysisThresholds, checkThresholds, thresholdLimits } from "../../analysis/verdict";
import { show } from "../../components/secrets";
import { controlCharacter, integerValue, percentValue } from "../../components/syntax";
import { unknownKeyProblem, ValidationError } from "../../components/validation";
import { NotificationWebhook, resolveNotifications } from "./notification-settings";

/** The shadow stage of a plan: the canary gets a mirrored copy of default traffic and serves no user. */
export interface ShadowStage {
    /** Share of default-route requests mirrored to the canary (`mirrorPercent`), above 0 and at most 100. */
    percent: number;
    /** How long the shadow stage is analysed before the first weight. */
    intervalMs: number;
}

export interface RolloutPlan {
    /** Canary weights to walk, strictly increasing, e.g. [1, 10, 50, 100]. */
    steps: number[];
    /** A `shadow` step before the weights (`steps: [shadow, 1, 10, 50, 100]`), or undefined. */
    shadow?: ShadowStage;
    /** How long each step is analysed before it may advance. */
    intervalMs: number;
    /** How often the analysis runs during a step. */
    tickMs: number;
    /** The Prometheus range each analysis covers, e.g. "1m". */
    window: string;
    prometheusUrl: string;
    /** Request headers for Prometheus: `Authorization` from `prometheusAuth` (bearer token or basic auth), else none. */
    prometheusHeaders?: Record<string, string>;
    prometheusTimeoutMs: number;
    thresholds: AnalysisThresholds;
    /** Whose request metrics the analysis reads (`analysis.reporter`), in order of preference: `["destination"]` unless set. */
    reporters: Reporter[];
    checks: CustomCheck[];
    /** The prediction-distribution gate (the `predictions` block); absent: off. */
    predictions?: PredictionGate;
    /** Promote the canary after the last step passes. */
    promote: boolean;
    /** The webhooks rollout events go to (`rollout.notifications`); absent or empty: none. */
    notifications?: NotificationWebhook[];
}

/** Keys of the `rollout.analysis` block that are not thresholds. */
export const analysisOtherKeys = ["reporter"] as const;

/** Keys of the `rollout` block in stack config. */
export const rolloutKeys = ["steps", "shadowPercent", "shadowInterval", "interval", "tick", "window", "prometheus", "prometheusTimeout", "prometheusAuth", "analysis", "checks", "predictions", "promote", "notifications"] as const;

export const defaultPlan = {
    steps: [1, 10, 50, 100],
    interval: "60s",
    tick: "10s",
    window: "1m",
    prometheus: "http://localhost:9090",
    prometheusTimeout: "10s",
    promote: false,
    shadowPercent: 100,
} as const;

/** The step name of the shadow stage in `steps`. */
export const shadowStep = "shadow";

/** Flags that override the `rollout` block; names as typed on the command line. */
export interface PlanFlags {
    steps?: string;
    "shadow-percent"?: string;
    "shadow-interval"?: string;
    interval?: string;
    tick?: string;
    window?: string;
    prometheus?: string;
    promote?: boolean;
    "failure-threshold"?: string;
}

function parseSteps(value: unknown, key: string, problems: string[]): { steps: number[]; shadow: boolean } | undefined {
    const given = typeof value === "string" ? value.split(",").map((s) => s.trim()) : value;
    const accepted = "a list of integer weights from 1 to 100 in increasing order, optionally after `shadow`, e.g. shadow,1,10,50,100";
    if (!Array.isArray(given) || given.length === 0) {
        problems.push(`\`${key}\` must be ${accepted}, got ${show(value)}`);
        return undefined;
    }
    // The shadow stage mirrors traffic to a canary that serves no user, so it can only come first.
    const shadow = given[0] === shadowStep;
    const list = shadow ? given.slice(1) : given;
    if (list.includes(shadowStep)) {
        problems.push(`\`${key}\` may have \`shadow\` only as its first step (mirroring is for a canary that serves no user yet), got ${show(value)}`);
        return undefined;
    }
    if (list.length === 0) {
        problems.push(`\`${key}\` must have at least one weight after \`shadow\` (a shadow stage alone never serves the canary), got ${show(value)}`);
        return undefined;
    }
    // Plain decimal integers only: `Number()` would read "0x10" as 16 and "1e2" as 100.
    const steps = list.map(integerValue);
    const ok = steps.every((s, i) => s !== undefined && s >= 1 && s <= 100 && (i === 0 || s > (steps[i - 1] as number)));
    if (!ok) {
        problems.push(`\`${key}\` must be ${accepted}, got ${show(value)}`);
        return undefined;
    }
    return { steps: steps as number[], shadow };
}

/** The longest duration a setting takes: timers in Node.js fire at once past about 24.8 days. */
export const maxDurationMs = 24 * 3600 * 1000;

/**
 * The shortest: Prometheus scrapes every few seconds (1 s at the least in practice), so a window
 * under a second holds no two samples and reads "no data" at every analysis (every canary rolled
 * back), a tick under a second queries Prometheus in a loop between scrapes, and a query timeout
 * under a second makes every analysis an error on an ordinary Prometheus.
 */
export const minDurationMs = 1000;

function parseDuration(value: unknown, key: string, problems: string[]): number | undefined {
    let ms: number | undefined;
    try {
        ms = parseDurationMs(String(value));
    } catch {
        // reported below
    }
    if (ms === undefined || typeof value !== "string" || ms > maxDurationMs || ms < minDurationMs) {
        problems.push(`\`${key}\` must be a duration from 1s to 24h such as "30s", "1m" or "1m30s", got ${show(value)}`);
        return undefined;
    }
    return ms;
}

/** Consecutive non-pass analyses before rolling back: bounded so a failing canary is always rolled back. */
export const maxFailureThreshold = thresholdLimits.failureThreshold;

/** Custom checks run one after another at every analysis, so their number is bounded. */
export const maxChecks = 20;

/**
 * What the custom checks' own validation leaves open: a timeout past what a Node.js timer can
 * wait (it would fire at once) or not a whole number of milliseconds, and a name with control
 * characters (it is printed in reports and terminals).
 */
function checkLimitProblems(check: unknown, key: string): string[] {
    if (typeof check !== "object" || check === null || Array.isArray(check)) return [];
    const c = check as Record<string, unknown>;
    const problems: string[] = [];
    const timeout = (value: unknown, at: string) => {
        if (value === undefined || typeof value !== "number" || !Number.isFinite(value) || value <= 0) return; // reported by validateCustomCheck
        if (!Number.isInteger(value) || value > maxDurationMs) problems.push(`\`${at}\` must be a whole number of milliseconds from 1 to ${maxDurationMs} (24h), got ${show(value)}`);
    };
    const text = (value: unknown, at: string, max: number) => {
        if (typeof value !== "string") return;
        const ch = controlCharacter(value);
        if (ch !== undefined) problems.push(`\`${at}\` must not contain control characters, got ${show(value)}`);
        else if (value.length > max) problems.push(`\`${at}\` must be at most ${max} characters, got ${value.length}`);
    };
    text(c.name, `${key}.name`, 100);
    timeout(c.timeoutMs, `${key}.timeoutMs`);
    if (typeof c.webhook === "object" && c.webhook !== null) timeout((c.webhook as Record<string, unknown>).timeoutMs, `${key}.webhook.timeoutMs`);
    return problems;
}

/** A URL with its user and password (if any) shown as `[secret]`, for a message. */
export function withoutUserinfo(text: string): string {
    return text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, "$1[secret]@");
}

/** The keys that must be secrets in `prometheusAuth` (stacks/config/config.ts refuses them in plaintext). */
export const prometheusAuthSecretKeys = ["bearerToken", "password"] as const;

/** The keys of `prometheusAuth`. */
export const prometheusAuthKeys = ["bearerToken", "username", "password"] as const;

/**
 * The `Authorization` header for `rollout.prometheusAuth`: `{ bearerToken }` (sent as `Bearer
 * <token>`) or `{ username, password }` (HTTP basic auth); undefined when the block is absent.
 * Problems name the key and never show a value.
 */
function prometheusAuthHeaders(auth: unknown, key: string, problems: string[]): Record<string, string> | undefined {
    if (auth === undefined) return undefined;
    const accepted = "`{ bearerToken }` or `{ username, password }`, the token or password set with `pulumi config set --secret --path`";
    if (typeof auth !== "object" || auth === null || Array.isArray(auth)) {
        problems.push(`\`${key}\` must be ${accepted}, got ${Array.isArray(auth) ? "a list" : typeof auth === "object" ? "null" : `a ${typeof auth}`}`);
        return undefined;
    }
    const a = auth as Record<string, unknown>;
    const known: readonly string[] = prometheusAuthKeys;
    for (const k of Object.keys(a).filter((k) => !known.includes(k))) problems.push(unknownKeyProblem(`${key}.${k}`, k, known));
    // Header text: printable, no line breaks (a header cannot hold them), without showing the value.
    const text = (name: string, secret: boolean): string | undefined => {
        const value = a[name];
        if (value === undefined) return undefined;
        const shown = secret ? "" : `, got ${show(value)}`;
        if (typeof value !== "string" || value === "") problems.push(`\`${key}.${name}\` must be non-empty text${shown}`);
        else if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) problems.push(`\`${key}.${name}\` must not contain control characters${shown}`);
        else return value;
        return undefined;
    };
    const token = text("bearerToken", true);
    const username = text("username", false);
    const password = text("password", true);
    const basic = a.username !== undefined || a.password !== undefined;
    if (a.bearerToken !== undefined && basic) {
        problems.push(`\`${key}\` must be ${accepted}, not both`);
        return undefined;
    }
    if (a.bearerToken === undefined && !basic) {
        problems.push(`\`${key}\` must be ${accepted}, got an empty block`);
        return undefined;
    }
    if (basic && (a.username === undefined || a.password === undefined)) {
        problems.push(`\`${key}\` needs both \`username\` and \`password\` for basic auth, got only \`${a.username === undefined ? "password" : "username"}\``);
        return undefined;
    }
    if (username?.includes(":")) problems.push(`\`${key}.username\` must not contain \`:\` (basic auth separates user and password with it), got ${show(username)}`);
    if (token !== undefined) return { Authorization: `Bearer ${token}` };
    if (username !== undefined && password !== undefined && !username.includes(":")) return { Authorization: `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}` };
    return undefined;
}

/**
 * Builds the plan from the `rollout` block and flags (flags win). Every problem is reported at
 * once, naming the config key or the flag it came from.
 */
export function resolvePlan(block: Record<string, unknown> | undefined, flags: PlanFlags = {}): RolloutPlan {
    const problems: string[] = [];
    const config = block ?? {};
    for (const key of Object.keys(config)) {
        if (!(rolloutKeys as readonly string[]).includes(key)) problems.push(unknownKeyProblem(`rollout.${key}`, key, rolloutKeys));
    }
    /** The value of a setting and the name to blame when it is wrong. */
    const pick = (flag: keyof PlanFlags, key: (typeof rolloutKeys)[number]): [unknown, string] =>
        flags[flag] !== undefined ? [flags[flag], `--${flag}`] : [config[key] ?? defaultPlan[key as keyof typeof defaultPlan], `rollout.${key}`];

    const stepsKey = pick("steps", "steps")[1];
    const parsedSteps = parseSteps(...pick("steps", "steps"), problems);
    const steps = parsedSteps?.steps;
    const intervalMs = parseDuration(...pick("interval", "interval"), problems);
    const tickMs = parseDuration(...pick("tick", "tick"), problems);
    const [window, windowKey] = pick("window", "window");
    parseDuration(window, windowKey, problems);
    const prometheusTimeoutMs = parseDuration(config.prometheusTimeout ?? defaultPlan.prometheusTimeout, "rollout.prometheusTimeout", problems);
    if (intervalMs !== undefined && tickMs !== undefined && tickMs > intervalMs) {
        problems.push(`\`${pick("tick", "tick")[1]}\` (${tickMs / 1000}s) must not be longer than \`${pick("interval", "interval")[1]}\` (${intervalMs / 1000}s): a step needs at least one analysis`);
    }

    // The shadow stage's own percentage and interval. Given without a `shadow` step they would do
    // nothing: refused, unless the steps come from `--steps` (which may drop the configured shadow).
    let shadow: ShadowStage | undefined;
    const shadowSettings: [keyof PlanFlags, "shadowPercent" | "shadowInterval"][] = [["shadow-percent", "shadowPercent"], ["shadow-interval", "shadowInterval"]];
    if (parsedSteps && !parsedSteps.shadow) {
        for (const [flag, key] of shadowSettings) {
            if (flags[flag] !== undefined) problems.push(`\`--${flag}\` needs a \`shadow\` step: \`${stepsKey}\` is ${show(pick("steps", "steps")[0])}; put \`shadow\` first, e.g. shadow,1,10,50,100`);
            else if (config[key] !== undefined && stepsKey === "rollout.steps") problems.push(`\`rollout.${key}\` needs a \`shadow\` step: \`rollout.steps\` is ${show(config.steps ?? defaultPlan.steps)}; put \`shadow\` first, e.g. [shadow, 1, 10, 50, 100]`);
        }
    }
    if (parsedSteps?.shadow) {
        const [percentGiven, percentKey] = pick("shadow-percent", "shadowPercent");
        const percent = percentValue(percentGiven);
        if (percent === undefined || percent === 0) problems.push(`\`${percentKey}\` must be a number above 0 and at most 100 in plain decimal with at most 4 decimal places (the share of default traffic mirrored to the canary, e.g. 100, 12.5), got ${show(percentGiven)}`);
        // Without its own interval the shadow stage is analysed as long as any step.
        const ownInterval = flags["shadow-interval"] !== undefined || config.shadowInterval !== undefined;
        const shadowIntervalKey = ownInterval ? pick("shadow-interval", "shadowInterval")[1] : pick("interval", "interval")[1];
        const shadowIntervalMs = ownInterval ? parseDuration(pick("shadow-interval", "shadowInterval")[0], shadowIntervalKey, problems) : intervalMs;
        if (shadowIntervalMs !== undefined && tickMs !== undefined && tickMs > shadowIntervalMs) {
            problems.push(`\`${pick("tick", "tick")[1]}\` (${tickMs / 1000}s) must not be longer than \`${shadowIntervalKey}\` (${shadowIntervalMs / 1000}s): the shadow stage needs at least one analysis`);
        }
        if (percent !== undefined && percent > 0 && shadowIntervalMs !== undefined) shadow = { percent, intervalMs: shadowIntervalMs };
    }

    const [prometheus, prometheusKey] = pick("prometheus", "prometheus");
    let prometheusUrl: string | undefined;
    let credentials = false;
    try {
        const url = new URL(String(prometheus));
        credentials = url.username !== "" || url.password !== "";
        if ((url.protocol === "http:" || url.protocol === "https:") && !credentials) prometheusUrl = String(prometheus).replace(/\/+$/, "");
    } catch {
        // reported below
    }
    if (credentials) {
        // A URL's user and password are never sent as a header by fetch (it refuses such a URL), and
        // would be printed in every message that names the URL: they belong in a secret.
        problems.push(`\`${prometheusKey}\` must not carry credentials (user or password before \`@\`), got ${show(withoutUserinfo(String(prometheus)))}: `
            + "set them as secrets, `pulumi config set --secret --path 'rollout.prometheusAuth.bearerToken' TOKEN`, or `rollout.prometheusAuth.username` with `--secret` `rollout.prometheusAuth.password`");
    } else if (!prometheusUrl) problems.push(`\`${prometheusKey}\` must be the http(s) URL of the Prometheus that scrapes Istio's metrics, got ${show(prometheus)}`);
    const prometheusHeaders = prometheusAuthHeaders(config.prometheusAuth, "rollout.prometheusAuth", problems);

    const flag = flags["failure-threshold"];
    let flagThreshold: number | undefined;
    if (flag !== undefined) {
        // Plain decimal only: Number() would read "0x10" as 16 and "abc" as NaN.
        const n = integerValue(flag);
        if (n === undefined || n < 1 || n > maxFailureThreshold) problems.push(`\`--failure-threshold\` must be an integer from 1 to ${maxFailureThreshold}, got ${show(flag)}`);
        else flagThreshold = n;
    }
    // The flag replaces the config's failureThreshold, which is then not checked. A block that is
    // not a map is left as it is, for checkThresholds to name.
    // `reporter` sits beside the thresholds in the block: checked on its own, the rest as thresholds.
    const analysisBlock = config.analysis;
    const isMap = typeof analysisBlock === "object" && analysisBlock !== null && !Array.isArray(analysisBlock);
    const { reporter, ...thresholdValues } = isMap ? analysisBlock as Record<string, unknown> : { reporter: undefined };
    const analysis = isMap ? thresholdValues : analysisBlock;
    const reporters = resolveReporters(reporter, "rollout.analysis.reporter");
    problems.push(...reporters.problems);
    const given = flagThreshold === undefined ? analysis : isMap ? { ...(analysis as Record<string, unknown>), failureThreshold: flagThreshold } : analysis ?? { failureThreshold: flagThreshold };
    const checked = checkThresholds(given, "rollout.analysis", analysisOtherKeys);
    problems.push(...checked.problems);
    const thresholds: AnalysisThresholds | undefined = checked.thresholds;

    const checks: CustomCheck[] = [];
    if (config.checks !== undefined) {
        if (!Array.isArray(config.checks)) problems.push(`\`rollout.checks\` must be a list of { name, webhook | command }, got ${show(config.checks)}`);
        else if (config.checks.length > maxChecks) problems.push(`\`rollout.checks\` must have at most ${maxChecks} checks, got ${config.checks.length}`);
        else config.checks.forEach((c, i) => {
            const found = [...validateCustomCheck(c, `rollout.checks[${i}]`), ...checkLimitProblems(c, `rollout.checks[${i}]`)];
            problems.push(...found);
            if (found.length === 0) checks.push(c as CustomCheck);
        });
    }

    const predictions = resolvePredictionGate(config.predictions, "rollout.predictions");
    problems.push(...predictions.problems);

    const notifications = resolveNotifications(config.notifications, "rollout.notifications", problems);

    const [promote, promoteKey] = pick("promote", "promote");
    if (typeof promote !== "boolean" && promote !== "true" && promote !== "false") problems.push(`\`${promoteKey}\` must be true or false, got ${show(promote)}`);
    const promoteAfter = promote === true || promote === "true";
    if (promoteAfter && steps && steps[steps.length - 1] !== 100) {
        problems.push(`\`${stepsKey}\` must end at 100 to promote, got ${[...(parsedSteps?.shadow ? [shadowStep] : []), ...steps].join(",")}`);
    }

    if (problems.length > 0 || !steps || intervalMs === undefined || tickMs === undefined || !prometheusUrl || !thresholds || prometheusTimeoutMs === undefined || !reporters.reporters) {
        throw new ValidationError(problems);
    }
    if (parsedSteps?.shadow && !shadow) throw new ValidationError(problems);
    return { steps, ...(shadow ? { shadow } : {}), intervalMs, tickMs, window: String(window), prometheusUrl, ...(prometheusHeaders ? { prometheusHeaders } : {}), prometheusTimeoutMs, thresholds, reporters: reporters.reporters, checks, ...(predictions.gate ? { predictions: predictions.gate } : {}), promote: promoteAfter, ...(notifications.length > 0 ? { notifications } : {}) };
}

/**
 * The steps still to walk from the weight the stack serves now. A step equal to the current
 * weight is kept: its analysis runs again (its `up` is a no-op), so an interrupted step is
 * never skipped.
 */
export function remainingSteps(steps: readonly number[], currentWeight: number): number[] {
    return steps.filter((s) => s >= currentWeight);
}

/** The plan's steps as written: `shadow` (when planned) then the weights, e.g. ["shadow", 1, 10, 50, 100]. */
export function planSteps(plan: Pick<RolloutPlan, "steps" | "shadow">): (number | typeof shadowStep)[] {
    return [...(plan.shadow ? [shadowStep] as const : []), ...plan.steps];
}

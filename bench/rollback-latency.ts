// Rollback latency against a real Prometheus and the real engine: from the moment the first
// breaching sample is scraped to the rolled-back VirtualService being applied, split into
// detection (scrape -> analysis decides) and action (the rollback `up`). Median over runs.
// REPORTER `waypoint` simulates ambient mode: only a waypoint reports the requests, and the plan
// reads them with `rollout.analysis.reporter: waypoint`.
//   npm run -s bench:rollback [-- RUNS [destination|waypoint]]
import { resolvePlan } from "../stacks/config/rollout-plan";
import { RolloutEvent, runRollout } from "../rollout/runner";
import { openStack, upStack } from "../stacks/operations/automation";
import { makeProject } from "../test/support/engine";
import { startIstioExporter } from "../test/support/istio-exporter";
import { startPrometheus } from "../test/support/prometheus";
import { loadAverage, median, seconds } from "./support";

const runs = Number(process.argv[2] ?? 5);
const reporter = process.argv[3] ?? "destination";
if (reporter !== "destination" && reporter !== "waypoint") throw new Error(`REPORTER must be destination or waypoint, got ${JSON.stringify(reporter)}`);
/** Who reports the simulated requests: the sidecars (destination and source), or the waypoint alone. */
const reporters = reporter === "waypoint" ? { reporters: ["waypoint" as const] } : {};
const tick = "1s";
const scrapeInterval = "1s";
const window = "5s";
const windowMs = 5000;

async function main(): Promise<void> {
    const load = loadAverage();
    console.log(`load average at start: ${load.now()} (2 cores; a quiet machine is under 2)`);
    const exporter = await startIstioExporter();
    const prometheus = await startPrometheus({ targets: [exporter.target], scrapeInterval });
    const project = makeProject("bench");
    const detection: number[] = [];
    const sinceBreach: number[] = [];
    const action: number[] = [];
    try {
        const rollout = { prometheus: prometheus.url, steps: [10], interval: "10m", tick, window, analysis: { failureThreshold: 1, minRequests: 20, reporter } };
        project.writeConfig({
            stable: { version: "v1", image: "registry/model:v1" }, canary: { version: "v2", image: "registry/model:v2" },
            canaryWeight: 0, rollout,
        });
        await upStack(await openStack(project.ref, { create: true }));
        const plan = resolvePlan(rollout);
        for (let i = 0; i < runs; i++) {
            exporter.set("model-v1", { rps: 900, latencyMs: 80, ...reporters });
            exporter.set("model-v2", { rps: 100, latencyMs: 80, ...reporters });
            // Let the previous run's breach leave the query window before analysing again.
            if (i > 0) await new Promise((resolve) => setTimeout(resolve, windowMs + 2000));
            let breachAt = 0;
            let passes = 0;
            const onEvent = (e: RolloutEvent) => {
                if (e.type !== "analysis" || breachAt) return;
                if (e.analysis.summary === "pass" && ++passes === 2) {
                    // The canary starts failing half its requests now.
                    breachAt = Date.now();
                    exporter.set("model-v2", { rps: 100, latencyMs: 80, errorRatio: 0.5, ...reporters });
                }
            };
            let scrapedAt = 0;
            const watch = setInterval(() => {
                if (breachAt && !scrapedAt && exporter.lastScrapeAt >= breachAt) scrapedAt = exporter.lastScrapeAt;
            }, 5);
            const record = await runRollout({ ref: project.ref, plan, onEvent });
            clearInterval(watch);
            if (record.outcome !== "rolled-back" || !record.rollback || !scrapedAt) throw new Error(`run ${i + 1}: expected a rollback after the breach, got ${record.outcome}: ${record.message}`);
            const detected = Date.parse(record.rollback.decidedAt) - scrapedAt;
            detection.push(detected);
            sinceBreach.push(Date.parse(record.rollback.decidedAt) - breachAt);
            action.push(record.rollback.actionMs);
            // The route's write before the `up` is made on a cluster only: this stack renders.
            const routeWrite = record.rollback.routeWriteMs !== undefined ? `route write ${record.rollback.routeWriteMs} ms, ` : "no route write (the stack renders), ";
            console.log(`run ${i + 1}/${runs} (load ${load.now()}): breach scraped +${seconds(scrapedAt - breachAt)} after it began; detected ${seconds(detected)} later; ${routeWrite}rollback up ${seconds(record.rollback.actionMs)}`);
        }
        console.log(`detection (first scrape after the breach -> rollback decided): median ${seconds(median(detection))} (scrape interval ${scrapeInterval}, analysis tick ${tick}, failureThreshold 1, reporter ${reporter})`);
        // The first scrape after the breach may carry only milliseconds of failing traffic, too
        // little to move the success rate; the breach's own start is the other reference point.
        console.log(`detection (breach begins -> rollback decided): median ${seconds(median(sinceBreach))}`);
        console.log(`action (rollback up, VirtualService applied): median ${seconds(median(action))}`);
        console.log(`total: median ${seconds(median(detection.map((d, i) => d + action[i])))} over ${runs} runs; Flagger's documented best case at defaults is 60s`);
        console.log(`load average ${load.range()} during the runs (now ${load.now()})`);
    } finally {
        await prometheus.stop();
        await exporter.close();
        project.remove();
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});

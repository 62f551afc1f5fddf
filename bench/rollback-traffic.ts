// Rollback to traffic, on real requests: a canary at 10% starts failing half of its real gRPC
// requests; how long until the client sees no more answers from it? Measured from the moment the
// breach is first scraped (Prometheus reads a failing backend's /metrics) to the client's last
// answer from a canary backend, split into
//   detection    first scrape after the breach -> the analysis decides to roll back
//   route write  the rollback's first write: the live VirtualService set to stable (one
//                server-side apply, before the `up`; see docs/commands.md#a-rollbacks-two-writes)
//   engine up    the rollback's `up`, which records that state
//   propagation  the VirtualService stored in the API server -> the client's last canary answer
//                (istiod's watch, debounce and push, and the client applying the new routes)
// Everything runs on loopback: the local control plane, istiod (Istio's default debounce, 100 ms),
// two model-server backends on 127.0.0.x, a proxyless gRPC client at a steady rate, a real
// Prometheus scraping the backends every second, and the real engine. Medians over runs.
//   npm run -s bench:rollback-traffic [-- RUNS]
import * as path from "path";
import * as cluster from "../cluster/controlplane";
import { dataplaneToolchainDir, registerBackends, startBackend, startClient } from "../cluster/dataplane";
import { assertLoopbackEndpoints, startIstiod, stopIstiod } from "../cluster/istiod";
import { RolloutEvent, runRollout } from "../rollout/runner";
import { openStack, upStack } from "../stacks/operations/automation";
import { connect, getObject } from "../stacks/cluster-client/cluster-api";
import { resolvePlan } from "../stacks/config/rollout-plan";
import { makeProject } from "../test/support/engine";
import { startPrometheus } from "../test/support/prometheus";
import { loadAverage, median, seconds } from "./support";

const runs = Number(process.argv[2] ?? 5);
const rps = 1000;
const scrapeInterval = "1s";
const tick = "1s";
const window = "5s";
const windowMs = 5000;
const debounceAfter = "100ms";
const host = "bench-service.default.svc.cluster.local";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
    const load = loadAverage();
    console.log(`load average at start: ${load.now()} (2 cores; a quiet machine is under 2)`);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`RUNS must be a positive integer, got ${process.argv[2]}`);
    const binDir = dataplaneToolchainDir();
    const cp = await cluster.start({ stopOnExit: true });
    const logDir = path.join(cp.dir, "logs");
    const istiod = await startIstiod(cp, { binDir, debounceAfter });
    const stable = await startBackend({ binDir, app: "bench", version: "v1", address: "127.0.0.2", service: "bench-service", logDir });
    const canary = await startBackend({ binDir, app: "bench", version: "v2", address: "127.0.0.3", service: "bench-service", logDir });
    const prometheus = await startPrometheus({ targets: [stable.metricsTarget, canary.metricsTarget], scrapeInterval });
    const project = makeProject("bench", { kubeconfig: cp.kubeconfig });
    const client = { stop: async () => undefined } as { stop(): Promise<void> };
    const rows: { detection: number; routeWrite: number; up: number; vsInUp: number; propagation: number; total: number }[] = [];
    try {
        // failureThreshold 1: the first failing tick after the breach rolls back. The ticks before
        // the canary's new traffic is scraped (the step's `up` returns before that) are pending,
        // not failures (analysis/pending.ts), so they do not roll it back before the breach.
        const rollout = { prometheus: prometheus.url, steps: [10], interval: "10m", tick, window, analysis: { failureThreshold: 1, minRequests: 20 } };
        project.writeConfig({
            app: "bench",
            stable: { version: "v1", image: "registry/model:v1", replicas: 0 },
            canary: { version: "v2", image: "registry/model:v2", replicas: 0 },
            canaryWeight: 0, rollout,
        });
        await upStack(await openStack(project.ref, { create: true }));
        registerBackends(cp, [stable, canary]);
        await assertLoopbackEndpoints(istiod, host, 2);
        const c = await startClient({ binDir, istiod, authority: `${host}:80`, name: "bench-client", logDir });
        client.stop = c.stop;
        await c.startStream({ rps });
        const plan = resolvePlan(rollout);
        const connection = connect({ kubeconfig: cp.kubeconfig });
        const canaryPeer = `${canary.address}:${canary.grpcPort}`;
        for (let i = 0; i < runs; i++) {
            await canary.setBehaviour({ errorRatio: 0 });
            // Let the previous run's failures leave the query window before analysing again.
            if (i > 0) await sleep(windowMs + 2000);
            let breachAt = 0;
            let passes = 0;
            let rollbackAt = 0;
            const onEvent = (e: RolloutEvent) => {
                if (e.type === "rollback-start") rollbackAt = Date.now();
                if (e.type !== "analysis" || breachAt) return;
                if (e.analysis.summary === "pass" && ++passes === 2) {
                    breachAt = Date.now();
                    void canary.setBehaviour({ errorRatio: 0.5 });
                }
            };
            // The first scrape of the canary after the breach, and when the API server first holds
            // the rolled-back VirtualService (polled every 10 ms).
            let scrapedAt = 0;
            let vsStoredAt = 0;
            let polling = false;
            const watch = setInterval(() => {
                if (polling || !breachAt) return;
                polling = true;
                void (async () => {
                    try {
                        if (!scrapedAt) {
                            const counts = await canary.counts();
                            if (counts.lastScrapeMs >= breachAt) scrapedAt = counts.lastScrapeMs;
                        }
                        if (rollbackAt && !vsStoredAt) {
                            const vs = await getObject(connection, "networking.istio.io/v1", "virtualservices", "default", "bench-virtual-service");
                            const route = vs?.spec?.http?.at(-1)?.route ?? [];
                            if (route.length === 1 && route[0].destination.subset === "v1") vsStoredAt = Date.now();
                        }
                    } finally {
                        polling = false;
                    }
                })();
            }, 10);
            const record = await runRollout({ ref: project.ref, plan, onEvent });
            // Keep sending for a while: any canary answer after this would still count.
            await sleep(3000);
            clearInterval(watch);
            while (polling) await sleep(5);
            const seen = await c.readStream();
            if (record.outcome !== "rolled-back" || !record.rollback || !scrapedAt || !vsStoredAt) {
                throw new Error(`run ${i + 1}: expected a rollback after the breach, got ${record.outcome}: ${record.message} (scraped ${scrapedAt}, VirtualService stored ${vsStoredAt})`);
            }
            const decidedAt = Date.parse(record.rollback.decidedAt);
            const lastCanary = seen.lastPeerMs[canaryPeer];
            const row = {
                detection: decidedAt - scrapedAt,
                routeWrite: record.rollback.routeWriteMs ?? NaN,
                up: record.rollback.actionMs,
                vsInUp: vsStoredAt - rollbackAt,
                propagation: lastCanary - vsStoredAt,
                total: lastCanary - scrapedAt,
            };
            rows.push(row);
            console.log(`run ${i + 1}/${runs} (load ${load.now()}): detection ${seconds(row.detection)}, route write ${row.routeWrite} ms, engine up ${seconds(row.up)} (VirtualService stored ${seconds(row.vsInUp)} into it), propagation ${(row.propagation).toFixed(0)} ms; scrape -> last canary answer ${seconds(row.total)}`);
        }
        const m = (k: keyof (typeof rows)[number]) => median(rows.map((r) => r[k]));
        console.log(`detection (first scrape of the breach -> rollback decided): median ${seconds(m("detection"))} (scrape ${scrapeInterval}, tick ${tick}, window ${window}, failureThreshold 1)`);
        console.log(`route write (the live VirtualService set to stable before the up; NaN when none was made): median ${m("routeWrite").toFixed(0)} ms`);
        console.log(`engine up (rollback decided -> up returned): median ${seconds(m("up"))}; the VirtualService reaches the API server ${seconds(m("vsInUp"))} into it`);
        console.log(`propagation (VirtualService stored -> last canary answer at the client): median ${m("propagation").toFixed(0)} ms (istiod PILOT_DEBOUNCE_AFTER=${debounceAfter}; resolution about ${(1000 / (rps * 0.1)).toFixed(0)} ms at ${rps} rps, 10% to the canary)`);
        console.log(`total (first scrape of the breach -> last canary answer): median ${seconds(m("total"))} over ${runs} runs`);
        console.log(`load average ${load.range()} during the runs (now ${load.now()})`);
    } finally {
        await client.stop();
        await prometheus.stop();
        await canary.stop();
        await stable.stop();
        await stopIstiod(istiod);
        project.remove();
        await cluster.stop(cp);
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
});

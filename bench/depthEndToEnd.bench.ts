/**
 * End-to-end depth figures for one worker process: the real `streamDepth` activity (through
 * MockActivityEnvironment), the real sink with spill, a real ClickHouse, the simulator in the same
 * process (so it shares the CPU — a conservative setup).
 *
 *   npx tsx bench/depthEndToEnd.bench.ts [--seconds 10] [--max-fps 20000] [--latency-fps 10000]
 *
 * Prints: (1) rows/s stored at the simulator's max rate (3 ladders), (2) p50/p99 frame receipt →
 * insert acknowledged (= queryable) at a fixed frame rate, (3) RSS/heap during both.
 * Latency is per batch: each batch's rows were received between its first and last receipt time;
 * frames are taken as spread evenly across that interval (weighted by rows).
 */
import { loadavg } from 'node:os';
import type { SimUser } from '../sim';
import { startDepthStreamRig, type DepthStreamRig } from '../stack/depthStreamRig';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const SECONDS = arg('seconds', 10);
const MAX_FPS = arg('max-fps', 20_000);
const LAT_FPS = arg('latency-fps', 10_000);
const CONIDS = [265598, 8314, 272093];
const USER: SimUser = { username: 'benchuser', password: 'bench-pw', mode: 'paper', accounts: ['DU555555'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

async function storedRows(h: DepthStreamRig): Promise<number> {
  const [r] = await h.query<{ n: string }>(`SELECT count() AS n FROM ${h.database}.depth`);
  return Number(r!.n);
}

async function run(label: string, fpsPerLadder: number, ladders: number): Promise<void> {
  const h = await startDepthStreamRig({
    user: USER,
    connectionId: 'bench-1',
    pod: 'pod-bench',
    database: 'ibflow_bench',
    sim: { depth: { framesPerSecond: fpsPerLadder }, pacing: { enabled: false } },
    depth: { maxLaddersPerAccount: 3, staleAfterMs: 600_000 },
  });
  let peakRss = 0;
  let peakHeap = 0;
  const mem = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 200);
  try {
    const stream = h.start(CONIDS.slice(0, ladders).map((conid) => ({ conid })));
    await sleep(2000); // warm up
    const startRows = await storedRows(h);
    h.inserted.length = 0;
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    await h.sink.flush();
    const rows = (await storedRows(h)) - startRows;
    const secs = (Date.now() - t0) / 1000;
    const weights: [number, number][] = [];
    for (const b of h.inserted) {
      const span = Number(b.lastNs - b.firstNs) / 1e6;
      const k = 8;
      for (let i = 0; i < k; i++) weights.push([Number(b.ackNs - b.firstNs) / 1e6 - (span * (i + 0.5)) / k, b.rows / k]);
    }
    weights.sort((a, b) => a[0] - b[0]);
    const total = weights.reduce((s, w) => s + w[1], 0);
    const pct = (p: number) => {
      let acc = 0;
      for (const [v, w] of weights) if ((acc += w) >= p * total) return v;
      return weights.at(-1)?.[0] ?? NaN;
    };
    await stream.stop();
    const sent = Object.values(await h.simStats()).reduce((s, x) => s + x.frames, 0);
    console.log(
      `${label}: ${ladders} ladder(s) × ${fpsPerLadder} frames/s offered; stored ${(rows / secs).toFixed(0)} rows/s over ${secs.toFixed(1)} s ` +
        `(${sent} frames sent in total); receipt→queryable p50 ${pct(0.5).toFixed(0)} ms, p99 ${pct(0.99).toFixed(0)} ms; ` +
        `peak RSS ${mb(peakRss)}, peak heap ${mb(peakHeap)}; sink insertErrors ${h.sink.stats().insertErrors}`,
    );
  } finally {
    clearInterval(mem);
    await h.cleanup();
  }
}

async function main(): Promise<void> {
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  await run('max rate', MAX_FPS, 3);
  await run('latency', LAT_FPS, 1);
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

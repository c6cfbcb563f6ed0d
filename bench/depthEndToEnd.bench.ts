/**
 * End-to-end depth figures for one pod worker's pipeline, against this machine's floors measured
 * in the same run (printed, never asserted).
 *
 * The pipeline is the real `streamDepth` activity (MockActivityEnvironment; stack/depthStreamRig.ts)
 * with the real sink (the pod worker's batch bounds: depth.batchRows / batchDelayMs defaults), its
 * disk spill, and a private ClickHouse. The simulator — the gateway's stand-in — runs in a process
 * of its own (`ibflow sim`), as the real gateway is a JVM of its own, so its frame generation and
 * TLS do not share this event loop.
 *
 *   npx tsx bench/depthEndToEnd.bench.ts [--ladders 3] [--step-seconds 5] [--seconds 10] [--start-fps 1000] [--batch-delay-ms 250] [--profile FILE] [--json]
 *
 * 1. Floors: bare JSON.parse of simulator-shaped frames (frames/s), and raw RowBinary inserts of
 *    frame-shaped rows, pre-encoded in the sink's batch size, into the same server (rows/s).
 * 2. Capacity: the offered rate (frames/s over all ladders) is doubled from --start-fps until the
 *    pipeline falls behind, then bisected (4 steps). A step keeps up when the simulator could send
 *    ≥ 97 % of the frames offered (it skips a socket whose reader falls behind, so a backlog shows
 *    as frames never sent), and the rows held in the sink grew by less than one batch over the step
 *    and are at most two batches at its end. Capacity = the highest rate
 *    that kept up, in frames/s offered and the rows/s stored at it.
 * 3. Latency at 50 % and 80 % of capacity, --seconds each: receipt → insert acknowledged
 *    (= queryable), per batch from its first and last receipt time, rows spread evenly over it.
 * 4. With --profile FILE: one more step at 80 % of capacity under V8's CPU profiler (this process:
 *    the stream, the sink, the ClickHouse client), written as a .cpuprofile (Chrome DevTools opens it),
 *    and its heaviest functions by self time printed.
 * Ratios: capacity in rows/s vs the raw insert floor (target ≥ 0.5×); p99 at 50 % (target ≤ 250 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimUser } from '../sim';
import { simControl } from '../sim/controlClient';
import { encodeDepthRows } from '../src/clickhouse/rowBinary';
import { depthInsertQuery, insertDepthRowBinary } from '../src/clickhouse/rowBinaryInsert';
import { migrate } from '../src/clickhouse/migrations';
import { depthSettings } from '../src/config/schema';
import { freePort } from '../src/util/freePort';
import { PROJECT_ROOT } from '../stack/projectPaths';
import { startDepthStreamRig, type DepthStreamRig, type RigSimulator } from '../stack/depthStreamRig';
import { collectGarbage, elapsedMs, flagArg, loadAverage, machineLine, median, numberArg, rate, readProc } from './benchSupport';
import { frameShapedRows, LEVELS, ROWS_PER_FRAME } from './frameShapedRows';
import { simulatorShapedFrames } from './simulatorShapedFrames';

const LADDERS = numberArg('ladders', 3);
const STEP_SECONDS = numberArg('step-seconds', 5, { fraction: true });
const SECONDS = numberArg('seconds', 10, { fraction: true });
const START_FPS = numberArg('start-fps', 1000);
const JSON_OUT = flagArg('json');
const PROFILE = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined;
const CONIDS = [265598, 8314, 272093, 76792991, 4815747, 3691937].slice(0, LADDERS);
const USER: SimUser = { username: 'benchuser', password: 'bench-pw', mode: 'paper', accounts: ['DU555555'] };
const DEFAULTS = depthSettings({});
const BATCH_ROWS = DEFAULTS.batchRows;
const BATCH_DELAY_MS = numberArg('batch-delay-ms', DEFAULTS.batchDelayMs);
const out = (line: string) => {
  if (!JSON_OUT) console.log(line);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used. */
function cpuSecondsOf(pid: number): number {
  const proc = readProc(pid);
  if (proc === null) throw new Error(`process ${pid} is gone`);
  return proc.cpuSeconds;
}

/** `ibflow sim` in a child process, ready once it printed its control plane's address. */
async function startSimulatorProcess(dir: string): Promise<RigSimulator & { child: ChildProcess }> {
  const port = await freePort();
  const controlPort = await freePort();
  writeFileSync(join(dir, 'users.json'), JSON.stringify({ users: [USER] }));
  // A rate high enough that the simulator ticks every 5 ms (the bench sets the real one per step);
  // LEVELS a side, so its frames have the floors' shape (21 rows, ~1 KB).
  writeFileSync(join(dir, 'rules.json'), JSON.stringify({ dailyReset: null, depth: { framesPerSecond: 1000, levels: LEVELS, maxLaddersPerAccount: CONIDS.length } }));
  const args = [join(PROJECT_ROOT, 'cli', 'bin.js'), 'sim', '--port', String(port), '--control-port', String(controlPort), '--state-dir', join(dir, 'sim'), '--users', join(dir, 'users.json'), '--rules', join(dir, 'rules.json'), '--no-pacing', '--auth-delay-ms', '50'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('the simulator process did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the simulator process exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      if (/control plane on/.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout!.resume();
  const url = `https://127.0.0.1:${port}`;
  return {
    child,
    url,
    port,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    close: async () => undefined,
    stop: async () => {
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      child.kill('SIGKILL');
    },
  };
}

/** The machine's insert floor: the same server, frame-shaped rows pre-encoded in the sink's batch size, one insert after another. */
async function insertFloor(h: DepthStreamRig): Promise<number> {
  const database = 'ibflow_floor';
  await migrate(h.clickhouse.client, { database });
  const rowCount = Math.floor(1_000_000 / ROWS_PER_FRAME) * ROWS_PER_FRAME;
  const rows = frameShapedRows(rowCount, 'floor-stream');
  const batches: Buffer[] = [];
  for (let i = 0; i < rowCount; i += BATCH_ROWS) batches.push(encodeDepthRows(rows.slice(i, i + BATCH_ROWS)));
  rows.length = 0;
  const query = depthInsertQuery(database, 'depth');
  const rates: number[] = [];
  for (let round = 0; round < 4; round++) {
    collectGarbage();
    const t0 = process.hrtime.bigint();
    for (const b of batches) await insertDepthRowBinary(h.clickhouse.client, query, b);
    if (round > 0) rates.push(rowCount / (elapsedMs(t0) / 1000));
  }
  await h.clickhouse.client.command({ query: `DROP DATABASE ${database}` });
  return median(rates);
}

function parseFloor(): number {
  const frames = simulatorShapedFrames(20_000);
  let sink = 0;
  const rates: number[] = [];
  for (let round = 0; round < 4; round++) {
    const t0 = process.hrtime.bigint();
    for (const f of frames) sink += (JSON.parse(f) as { data: unknown[] }).data.length;
    if (round > 0) rates.push(frames.length / (elapsedMs(t0) / 1000));
  }
  if (sink < 0) console.log(sink);
  return median(rates);
}

interface Step {
  offeredFps: number;
  sentFps: number;
  storedRowsPerSecond: number;
  receivedRows: number;
  storedRows: number;
  heldRows: number;
  keptUp: boolean;
  pipelineCpu: number;
  simulatorCpu: number;
  clickhouseCpu: number;
  p50Ms: number;
  p99Ms: number;
}

async function framesSent(h: DepthStreamRig): Promise<number> {
  return Object.values(await h.simStats()).reduce((s, x) => s + x.frames, 0);
}

/** receipt → acknowledged percentiles over the batches inserted since `from`. */
function latency(h: DepthStreamRig, from: number): { p50: number; p99: number } {
  const weights: [number, number][] = [];
  for (const b of h.inserted.slice(from)) {
    const span = Number(b.lastNs - b.firstNs) / 1e6;
    const k = 8;
    for (let i = 0; i < k; i++) weights.push([Number(b.ackNs - b.firstNs) / 1e6 - (span * (i + 0.5)) / k, b.rows / k]);
  }
  weights.sort((a, b) => a[0] - b[0]);
  const total = weights.reduce((s, w) => s + w[1], 0);
  const pct = (p: number) => {
    let acc = 0;
    for (const [v, w] of weights) if ((acc += w) >= p * total) return v;
    return weights.at(-1)?.[0] ?? Number.NaN;
  };
  return { p50: pct(0.5), p99: pct(0.99) };
}

/** Offers `totalFps` over all ladders for `seconds` (after 1 s to settle) and measures. */
async function step(h: DepthStreamRig, simPid: number, totalFps: number, seconds: number): Promise<Step> {
  await simControl(h.sim, 'POST', '/sim/control/depth', { framesPerSecond: totalFps / CONIDS.length });
  await sleep(1000);
  // A step that fell behind leaves a backlog: let it drain (up to 60 s) so this step starts level.
  for (let waited = 0; h.sink.stats().bufferedRows >= BATCH_ROWS && waited < 60_000; waited += 200) await sleep(200);
  const sent0 = await framesSent(h);
  const stats0 = h.sink.stats();
  const inserted0 = stats0.rowsInserted;
  const pushed0 = stats0.rowsInserted + stats0.bufferedRows;
  const batches0 = h.inserted.length;
  const cpu0 = process.cpuUsage();
  const simCpu0 = cpuSecondsOf(simPid);
  const chPid = h.clickhouse.server.process.pid!;
  const chCpu0 = cpuSecondsOf(chPid);
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const secs = elapsedMs(t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const simCpu = cpuSecondsOf(simPid) - simCpu0;
  const chCpu = cpuSecondsOf(chPid) - chCpu0;
  const sent = (await framesSent(h)) - sent0;
  const stats1 = h.sink.stats();
  const stored = stats1.rowsInserted - inserted0;
  const held = stats1.bufferedRows;
  // Rows the stream handed the sink in the step (frames carry as many rows as the ladder has entries).
  const received = stats1.rowsInserted + stats1.bufferedRows - pushed0;
  const { p50, p99 } = latency(h, batches0);
  // Kept up: the simulator could send what was offered, and the sink's backlog did not grow by a
  // batch or more (rows in flight at the window's edges are up to a batch either way).
  const keptUp = sent >= 0.97 * totalFps * secs && held - stats0.bufferedRows < BATCH_ROWS && held <= 2 * BATCH_ROWS;
  return {
    offeredFps: totalFps,
    sentFps: sent / secs,
    storedRowsPerSecond: stored / secs,
    receivedRows: received,
    storedRows: stored,
    heldRows: held,
    keptUp,
    pipelineCpu: (cpu.user + cpu.system) / 1e6 / secs,
    simulatorCpu: simCpu / secs,
    clickhouseCpu: chCpu / secs,
    p50Ms: p50,
    p99Ms: p99,
  };
}

function showStep(label: string, s: Step): void {
  out(
    `  ${label.padEnd(12)} offered ${rate(s.offeredFps).padStart(7)} frames/s · sent ${rate(s.sentFps).padStart(7)} · stored ${rate(s.storedRowsPerSecond).padStart(9)} rows/s · ` +
      `held ${rate(s.heldRows).padStart(7)} · p50 ${s.p50Ms.toFixed(0).padStart(5)} ms p99 ${s.p99Ms.toFixed(0).padStart(5)} ms · CPU (% of a core) pipeline ${(s.pipelineCpu * 100).toFixed(0)} sim ${(s.simulatorCpu * 100).toFixed(0)} clickhouse ${(s.clickhouseCpu * 100).toFixed(0)} · ${s.keptUp ? 'kept up' : 'fell behind'}`,
  );
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** A step under the CPU profiler; writes the profile and prints the heaviest functions by self time. */
async function profiledStep(h: DepthStreamRig, simPid: number, totalFps: number, file: string): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const s = await step(h, simPid, totalFps, SECONDS);
  const { profile } = (await session.post('Profiler.stop')) as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));
  showStep('profiled', s);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules\/|work\/main\/)?/, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  out(`CPU profile written to ${file}; heaviest by self time (% of the step's samples):`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) out(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`);
}

async function main(): Promise<void> {
  const machine = machineLine();
  out(machine);
  out(`pipeline: ${CONIDS.length} ladder(s) of ${LEVELS} levels a side, sink batches ${rate(BATCH_ROWS)} rows / ${BATCH_DELAY_MS} ms (the pod worker's defaults: ${rate(DEFAULTS.batchRows)} / ${DEFAULTS.batchDelayMs} ms); simulator in its own process`);
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-e2e-bench-'));
  let simulator: (RigSimulator & { child: ChildProcess }) | undefined;
  const h = await startDepthStreamRig({
    user: USER,
    connectionId: 'bench-1',
    pod: 'pod-bench',
    database: 'ibflow_bench',
    startSimulator: async () => (simulator = await startSimulatorProcess(dir)),
    depth: { maxLaddersPerAccount: CONIDS.length, staleAfterMs: 600_000 },
    batch: { maxRows: BATCH_ROWS, maxDelayMs: BATCH_DELAY_MS },
  });
  const simPid = simulator!.child.pid!;
  let peakRss = 0;
  const mem = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  try {
    const parseFps = parseFloor();
    const insertRows = await insertFloor(h);
    out(`floors: JSON.parse ${rate(parseFps)} frames/s (${rate(parseFps * ROWS_PER_FRAME)} rows/s); raw RowBinary insert ${rate(insertRows)} rows/s`);

    const stream = h.start(CONIDS.map((conid) => ({ conid })));
    const steps: Step[] = [];
    out('capacity search:');
    let good: Step | null = null;
    let bad: Step | null = null;
    for (let fps = START_FPS; bad === null; fps *= 2) {
      const s = await step(h, simPid, fps, STEP_SECONDS);
      steps.push(s);
      showStep('double', s);
      if (s.keptUp) good = s;
      else bad = s;
      if (fps > 1_000_000) break;
    }
    for (let i = 0; i < 4 && good !== null && bad !== null; i++) {
      const fps = Math.round((good.offeredFps + bad.offeredFps) / 2);
      const s = await step(h, simPid, fps, STEP_SECONDS);
      steps.push(s);
      showStep('bisect', s);
      if (s.keptUp) good = s;
      else bad = s;
    }
    const capacityFps = good?.offeredFps ?? 0;
    const capacityRows = good?.storedRowsPerSecond ?? 0;
    out(`capacity: ${rate(capacityFps)} frames/s offered, ${rate(capacityRows)} rows/s stored; vs the raw insert floor ${(capacityRows / insertRows).toFixed(2)}× (target ≥ 0.5×); vs the JSON.parse floor ${(capacityFps / parseFps).toFixed(2)}×`);

    out(`latency, ${SECONDS} s each:`);
    const at50 = await step(h, simPid, Math.max(1, Math.round(capacityFps * 0.5)), SECONDS);
    showStep('50 %', at50);
    const at80 = await step(h, simPid, Math.max(1, Math.round(capacityFps * 0.8)), SECONDS);
    showStep('80 %', at80);
    out(`receipt → queryable p99 at 50 % of capacity: ${at50.p99Ms.toFixed(0)} ms (target ≤ 250 ms); at 80 %: ${at80.p99Ms.toFixed(0)} ms`);
    if (PROFILE) await profiledStep(h, simPid, Math.max(1, Math.round(capacityFps * 0.8)), PROFILE);
    await stream.stop();
    out(`peak RSS of this process: ${(peakRss / 1048576).toFixed(0)} MB; sink insert errors ${h.sink.stats().insertErrors}; load average after ${loadAverage()}`);
    if (JSON_OUT) {
      console.log(
        JSON.stringify(
          { machine, ladders: CONIDS.length, batchRows: BATCH_ROWS, batchDelayMs: BATCH_DELAY_MS, floors: { parseFramesPerSecond: parseFps, insertRowsPerSecond: insertRows }, steps, capacity: { framesPerSecond: capacityFps, rowsPerSecond: capacityRows, vsInsertFloor: capacityRows / insertRows }, at50, at80, peakRssBytes: peakRss, loadAverageAfter: loadAverage() },
          null,
          2,
        ),
      );
    }
  } finally {
    clearInterval(mem);
    await h.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

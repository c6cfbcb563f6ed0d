/**
 * Depth pipeline figures, each against this machine's floor measured in the same run (printed,
 * never asserted):
 *   (a) JSON.parse + normalise + RowBinary-encode of sbd frames vs bare JSON.parse of the same
 *       frames (target ≤ 1.5×: the parse is the floor);
 *   (b) DepthSink (validate, encode, batch, insert) vs raw `exec` of the same rows pre-encoded in
 *       the same batch sizes into the same server (target ≥ 0.9×: the server is the floor).
 * Rounds alternate the two ways (the order flips every round) after one warm-up round; garbage is
 * collected before each timed section; ratios are per round, then median (min–max).
 * Starts its own embedded ClickHouse on free ports in a temp dir.
 *
 *   npx tsx bench/depthSink.bench.ts [--frames 50000] [--rows 1000000] [--rounds 7] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { startEmbeddedClickHouse } from '../stack/embeddedClickHouse';
import { normaliseDepthFrame } from '../src/book/normaliseDepthFrame';
import { DepthSink } from '../src/clickhouse/depthSink';
import { migrate } from '../src/clickhouse/migrations';
import { DepthRowBinaryWriter, encodeDepthRows } from '../src/clickhouse/rowBinary';
import { depthInsertQuery, insertDepthRowBinary } from '../src/clickhouse/rowBinaryInsert';
import { freePort } from '../src/util/freePort';
import { collectGarbage, elapsedMs, flagArg, machineLine, median, numberArg, rate, spread } from './benchSupport';
import { frameOfRows, frameShapedRows, ROWS_PER_FRAME } from './frameShapedRows';
import { simulatorShapedFrames } from './simulatorShapedFrames';

const FRAMES = numberArg('frames', 50_000);
const ROWS = numberArg('rows', 1_000_000);
const ROUNDS = numberArg('rounds', 7);
const JSON_OUT = flagArg('json');
const BATCH = 50_000;
const out = (line: string) => {
  if (!JSON_OUT) console.log(line);
};

/** This process's CPU time (user + system) per way per round, ms, filled by {@link alternate}. */
const cpuMs = new Map<number, number[]>();

/** Runs the ways alternately for ROUNDS rounds after one warm-up, flipping the order each round; ms per way per round. */
async function alternate(ways: (() => Promise<number> | number)[]): Promise<number[][]> {
  const times: number[][] = ways.map(() => []);
  cpuMs.clear();
  for (let round = 0; round <= ROUNDS; round++) {
    const order = ways.map((_, i) => (round % 2 === 0 ? i : ways.length - 1 - i));
    for (const i of order) {
      collectGarbage();
      const cpu0 = process.cpuUsage();
      const ms = await ways[i]!();
      const cpu = process.cpuUsage(cpu0);
      if (round > 0) {
        times[i]!.push(ms);
        cpuMs.set(i, [...(cpuMs.get(i) ?? []), (cpu.user + cpu.system) / 1000]);
      }
    }
  }
  return times;
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return elapsedMs(t0);
}

async function benchNormalise(): Promise<Record<string, unknown>> {
  const frames = simulatorShapedFrames(FRAMES);
  const bytes = frames.reduce((n, f) => n + f.length, 0);
  let sink = 0;
  const parseOnly = () => {
    for (const f of frames) sink += (JSON.parse(f) as { data: unknown[] }).data.length;
  };
  const full = () => {
    let writer = new DepthRowBinaryWriter(BATCH * 64);
    let seq = 0;
    for (const f of frames) {
      const rows = normaliseDepthFrame(JSON.parse(f), { receivedNs: 1_700_000_000_000_000_000n + BigInt(seq), connection: 'paper-1', pod: 'pod-a', streamId: 'bench-stream', seq: ++seq });
      writer.write(rows);
      if (writer.rows >= BATCH) {
        sink += writer.finish().length;
        writer = new DepthRowBinaryWriter(BATCH * 64);
      }
    }
    sink += writer.finish().length;
  };
  const [parseMs, fullMs] = await alternate([() => time(parseOnly), () => time(full)]);
  const ratios = fullMs!.map((q, i) => q / parseMs![i]!);
  const p = median(parseMs!);
  const q = median(fullMs!);
  out(`(a) ${FRAMES} frames (${ROWS_PER_FRAME} rows each, ${(bytes / FRAMES).toFixed(0)} bytes avg), ${ROUNDS} rounds:`);
  out(`    floor: JSON.parse only              ${p.toFixed(1)} ms  (${rate((FRAMES / p) * 1000)} frames/s)`);
  out(`    parse + normalise + encode           ${q.toFixed(1)} ms  (${rate((FRAMES / q) * 1000)} frames/s, ${rate(((FRAMES * ROWS_PER_FRAME) / q) * 1000)} rows/s)`);
  out(`    ratio to the floor (target ≤ 1.5×)   ${spread(ratios, 2, '×')}`);
  if (sink < 0) console.log(sink);
  return { frames: FRAMES, bytesPerFrame: bytes / FRAMES, floorFramesPerSecond: (FRAMES / p) * 1000, framesPerSecond: (FRAMES / q) * 1000, ratio: median(ratios), ratios };
}

async function benchSink(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ibflow-bench-ch-'));
  const server = await startEmbeddedClickHouse({ dataDir, httpPort: await freePort(), tcpPort: await freePort() });
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const database = 'ibflow_bench';
    const { serverVersion } = await migrate(client, { database });
    const insertQuery = depthInsertQuery(database, 'depth');
    // Whole frames only. The floor's batches are encoded once, before any clock starts; the sink
    // gets each frame's rows made just before its push, as the feed hands over freshly normalised
    // rows (so making 21 row objects per frame counts against the sink, not the floor).
    const frameCount = Math.floor(ROWS / ROWS_PER_FRAME);
    const rowCount = frameCount * ROWS_PER_FRAME;
    const allRows = frameShapedRows(rowCount, 'bench-stream');
    const batches: Buffer[] = [];
    for (let i = 0; i < rowCount; i += BATCH) batches.push(encodeDepthRows(allRows.slice(i, i + BATCH)));
    allRows.length = 0;
    const raw = async () => {
      const t0 = process.hrtime.bigint();
      for (const b of batches) await insertDepthRowBinary(client, insertQuery, b);
      return elapsedMs(t0);
    };
    const viaSink = async () => {
      const sink = new DepthSink({ client, database, maxRows: BATCH });
      const t0 = process.hrtime.bigint();
      // Frames reach the stream in websocket reads: hand the event loop back every 50 frames
      // (~1,000 rows), as a socket read does, so inserts overlap with encoding.
      for (let i = 0; i < frameCount; i++) {
        await sink.push(frameOfRows(i, 'bench-stream'));
        if (i % 50 === 49) await new Promise<void>((r) => setImmediate(r));
      }
      await sink.close();
      return elapsedMs(t0);
    };
    const [rawMs, sinkMs] = await alternate([raw, viaSink]);
    const ratios = rawMs!.map((r, i) => r / sinkMs![i]!);
    const r = median(rawMs!);
    const s = median(sinkMs!);
    out(`(b) ClickHouse ${serverVersion}, ${rowCount} rows, ${BATCH}-row batches, ${ROUNDS} rounds:`);
    out(`    floor: raw RowBinary exec (pre-encoded)  ${r.toFixed(0)} ms  (${rate((rowCount / r) * 1000)} rows/s)`);
    out(`    DepthSink (push 21-row frames)           ${s.toFixed(0)} ms  (${rate((rowCount / s) * 1000)} rows/s)`);
    out(`    rate ratio to the floor (target ≥ 0.9×)  ${spread(ratios, 2, '×')}`);
    out(`    this process's CPU per round: floor ${median(cpuMs.get(0)!).toFixed(0)} ms, sink ${median(cpuMs.get(1)!).toFixed(0)} ms (the server shares the same 2 cores)`);
    return { server: serverVersion, floorCpuMs: median(cpuMs.get(0)!), sinkCpuMs: median(cpuMs.get(1)!), rows: rowCount, batch: BATCH, floorRowsPerSecond: (rowCount / r) * 1000, rowsPerSecond: (rowCount / s) * 1000, ratio: median(ratios), ratios };
  } finally {
    await client.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const machine = machineLine();
  out(machine);
  const normalise = await benchNormalise();
  const sink = await benchSink();
  if (JSON_OUT) console.log(JSON.stringify({ machine, normalise, sink }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

/**
 * Depth pipeline figures (printed, never asserted):
 *   (a) JSON.parse + normalise + RowBinary-encode of sbd frames vs bare JSON.parse of the same frames
 *       (target ≤ 2×: the parse is the floor);
 *   (b) DepthSink insert rate vs raw `exec` of the same rows pre-encoded in the same batch sizes
 *       (target ≥ 0.7×: the server is the floor).
 * Starts its own embedded ClickHouse on free ports in a temp dir.
 *
 *   npx tsx bench/depthSink.bench.ts [--frames 50000] [--rows 1000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { startEmbeddedClickHouse } from '../stack/embeddedClickHouse';
import type { DepthRow } from '../src/book/depthRow';
import { normaliseDepthFrame } from '../src/book/normaliseDepthFrame';
import { DepthSink } from '../src/clickhouse/depthSink';
import { migrate } from '../src/clickhouse/migrations';
import { DEPTH_COLUMNS, DepthRowBinaryWriter, encodeDepthRows } from '../src/clickhouse/rowBinary';
import { freePort } from '../src/util/freePort';
import { frameShapedRows, LEVELS, ROWS_PER_FRAME } from './frameShapedRows';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const FRAMES = arg('frames', 50_000);
const ROWS = arg('rows', 1_000_000);
// LEVELS per side, as the simulator's default ladder (frameShapedRows.ts).
const BATCH = 50_000;

/** Simulator-shaped frames: LEVELS asks (highest first), a focus trade row, LEVELS bids. */
function makeFrames(n: number): string[] {
  const frames: string[] = [];
  let last = 171.39;
  let rnd = 12345;
  const next = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let f = 0; f < n; f++) {
    last = Math.max(1, last + (next() - 0.5) * 0.02);
    const data: Record<string, unknown>[] = [];
    let row = 0;
    for (let i = LEVELS; i >= 1; i--) data.push({ row: row++, focus: 0, price: (last + i / 100).toFixed(2), ask: String(Math.floor(next() * 5000) + 100) });
    data.push({ row: row++, focus: 1, price: `${1 + Math.floor(next() * 10)} @ ${last.toFixed(2)}` });
    for (let i = 1; i <= LEVELS; i++) data.push({ row: row++, focus: 0, price: (last - i / 100).toFixed(2), bid: next() < 0.1 ? '1,200' : String(Math.floor(next() * 5000) + 100) });
    frames.push(JSON.stringify({ topic: 'sbd+DU12345+265598', data }));
  }
  return frames;
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function benchNormalise(): void {
  const frames = makeFrames(FRAMES);
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
  // Warm up both paths, then alternate.
  parseOnly();
  full();
  const parseMs: number[] = [];
  const fullMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    parseMs.push(time(parseOnly));
    fullMs.push(time(full));
  }
  const p = median(parseMs);
  const q = median(fullMs);
  const rowsPerFrame = ROWS_PER_FRAME;
  console.log(`(a) ${FRAMES} frames (${rowsPerFrame} rows each, ${(bytes / FRAMES).toFixed(0)} bytes avg), median of 5:`);
  console.log(`    JSON.parse only:                  ${p.toFixed(1)} ms  (${((FRAMES / p) * 1000).toFixed(0)} frames/s)`);
  console.log(`    parse + normalise + encode:       ${q.toFixed(1)} ms  (${((FRAMES / q) * 1000).toFixed(0)} frames/s, ${((FRAMES * rowsPerFrame) / q * 1000).toFixed(0)} rows/s)`);
  console.log(`    ratio (target ≤ 2.0):             ${(q / p).toFixed(2)}×`);
  if (sink < 0) console.log(sink);
}


async function benchSink(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ibflow-bench-ch-'));
  const server = await startEmbeddedClickHouse({ dataDir, httpPort: await freePort(), tcpPort: await freePort() });
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const database = 'ibflow_bench';
    const { serverVersion } = await migrate(client, { database });
    const insertQuery = `INSERT INTO ${database}.depth (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`;

    // Raw: the same rows, encoded beforehand in the sink's batch size, inserted one after another.
    const raw = async (round: number) => {
      const rows = frameShapedRows(ROWS, `raw-${round}`);
      const batches: Buffer[] = [];
      for (let i = 0; i < rows.length; i += BATCH) batches.push(encodeDepthRows(rows.slice(i, i + BATCH)));
      return timeAsync(async () => {
        for (const b of batches) {
          const r = await client.exec({ query: insertQuery, values: Readable.from([b]) });
          r.stream.resume();
          await new Promise((res) => r.stream.on('end', res));
        }
      });
    };
    const viaSink = async (round: number) => {
      const rows = frameShapedRows(ROWS, `sink-${round}`);
      const frames: DepthRow[][] = [];
      for (let i = 0; i < rows.length; i += 21) frames.push(rows.slice(i, i + 21));
      const sink = new DepthSink({ client, database, maxRows: BATCH });
      // Frames reach the stream in websocket reads: hand the event loop back every 50 frames
      // (~1,000 rows), as a socket read does, so inserts overlap with encoding.
      return timeAsync(async () => {
        for (let i = 0; i < frames.length; i++) {
          await sink.push(frames[i]!);
          if (i % 50 === 49) await new Promise<void>((r) => setImmediate(r));
        }
        await sink.close();
      });
    };

    await raw(0);
    await viaSink(0);
    const rawMs: number[] = [];
    const sinkMs: number[] = [];
    for (let round = 1; round <= 3; round++) {
      rawMs.push(await raw(round));
      sinkMs.push(await viaSink(round));
    }
    const r = median(rawMs);
    const s = median(sinkMs);
    console.log(`(b) ClickHouse ${serverVersion}, ${ROWS} rows, ${BATCH}-row batches, median of 3:`);
    console.log(`    raw RowBinary exec (pre-encoded): ${r.toFixed(0)} ms  (${((ROWS / r) * 1000).toFixed(0)} rows/s)`);
    console.log(`    DepthSink (push 21-row frames, encode, insert): ${s.toFixed(0)} ms  (${((ROWS / s) * 1000).toFixed(0)} rows/s)`);
    console.log(`    ratio sink/raw rate (target ≥ 0.7): ${(r / s).toFixed(2)}×`);
  } finally {
    await client.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  benchNormalise();
  await benchSink();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

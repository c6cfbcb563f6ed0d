/**
 * Insert formats side by side (printed, never asserted): the same simulator-shaped depth rows go
 * into fresh `depth` tables (from `migrate()`) four ways, in the same batch size, in one run:
 *
 *   json     JSONEachRow via `client.insert`: per batch, validate the rows, build one object per
 *            row with the table's column names (as ibflow builds its session_events rows), and let
 *            the client `JSON.stringify` and send them. All of that is timed.
 *   rb-pre   RowBinary via `client.exec` of batches encoded before the clock starts (the server's floor).
 *   rb       RowBinary via `client.exec`, each batch validated + encoded (`encodeDepthRows`) in the
 *            timed loop, then sent; encode and insert take turns (no overlap).
 *   sink     ibflow's DepthSink: 21-row frames pushed (validate + encode into the open batch),
 *            batches sealed at the batch size and inserted by its pump while pushing goes on.
 *
 * Every way inserts the rows one batch after another over one client. Rounds rotate the order of
 * the ways, after one uncounted warm-up round. Each insert goes into a database of its own, made by
 * `migrate()` just before and dropped after, so no way pays for another's background merges. After
 * each insert the table is checked: row count, sums of seq and size, min/max receipt time against
 * the rows as generated, and an order-free hash of every column against the pre-encoded copy's — a way
 * that lost or changed rows fails the bench (exit code 1).
 *
 * Starts its own embedded ClickHouse (Debian's 18.16 here) on free ports in a temp dir.
 *
 *   npx tsx bench/insertFormats.bench.ts [--rows 1000000] [--batch 50000] [--rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { startEmbeddedClickHouse } from '../stack/embeddedClickHouse';
import type { DepthRow } from '../src/book/depthRow';
import { DepthSink } from '../src/clickhouse/depthSink';
import { migrate } from '../src/clickhouse/migrations';
import { DEPTH_COLUMNS, encodeDepthRows, validateDepthRows } from '../src/clickhouse/rowBinary';
import { freePort } from '../src/util/freePort';
import { elapsedMs, loadAverage, median, numberArg } from './benchSupport';
import { frameShapedRows, ROWS_PER_FRAME } from './frameShapedRows';

const ROWS = numberArg('rows', 1_000_000);
const BATCH = numberArg('batch', 50_000);
const ROUNDS = numberArg('rounds', 5);
const STREAM_ID = 'bench-stream';

/** One depth row as JSONEachRow takes it: column names; UInt64 as a decimal string (beyond 2^53). */
interface DepthJsonRow {
  date: string;
  received_ns: string;
  connection: string;
  pod: string;
  conid: number;
  stream_id: string;
  seq: number;
  kind: string;
  side: string;
  level: number;
  price: number;
  size: number;
}

const NS_PER_DAY = 86_400_000_000_000n;

/** Builds JSON rows; the UTC day string is cached, since consecutive rows share their day. */
function jsonRowBuilder(): (row: DepthRow) => DepthJsonRow {
  let cachedDay = -1n;
  let cachedDate = '';
  return (row) => {
    const day = row.receivedNs / NS_PER_DAY;
    if (day !== cachedDay) {
      cachedDay = day;
      cachedDate = new Date(Number(day) * 86_400_000).toISOString().slice(0, 10);
    }
    return {
      date: cachedDate,
      received_ns: row.receivedNs.toString(),
      connection: row.connection,
      pod: row.pod,
      conid: row.conid,
      stream_id: row.streamId,
      seq: row.seq,
      kind: row.kind,
      side: row.side,
      level: row.level,
      price: row.price,
      size: row.size,
    };
  };
}

async function execRowBinary(client: ClickHouseClient, query: string, batch: Buffer): Promise<void> {
  const r = await client.exec({ query, values: Readable.from([batch]) });
  r.stream.resume();
  await new Promise((res, rej) => r.stream.on('end', res).on('error', rej));
}

type Way = 'json' | 'rb-pre' | 'rb' | 'sink';
const WAYS: readonly Way[] = ['json', 'rb-pre', 'rb', 'sink'];
const LABEL: Record<Way, string> = {
  json: 'JSONEachRow client.insert (build + stringify)',
  'rb-pre': 'RowBinary exec, pre-encoded',
  rb: 'RowBinary exec, encode in loop',
  sink: 'DepthSink (validate+encode+batch+insert)',
};

interface TableCheck {
  rows: number;
  seqSum: string;
  sizeSum: string;
  minNs: string;
  maxNs: string;
  digest: string;
}

async function checkTable(client: ClickHouseClient, database: string): Promise<TableCheck> {
  // sum() of UInt64 wraps modulo 2^64, so the digest does not depend on row or part order.
  const rs = await client.query({
    query:
      `SELECT count() AS rows, toString(sum(seq)) AS seqSum, toString(sum(toUInt64(size))) AS sizeSum, ` +
      `toString(min(received_ns)) AS minNs, toString(max(received_ns)) AS maxNs, ` +
      `toString(sum(cityHash64(date, received_ns, connection, pod, conid, stream_id, seq, toString(kind), toString(side), level, price, size))) AS digest ` +
      `FROM ${database}.depth`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<TableCheck>();
  return { ...row!, rows: Number(row!.rows) };
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}; load average at start: ${loadAverage()}`);
  const rows = frameShapedRows(ROWS, STREAM_ID);
  const expected = {
    rows: ROWS,
    seqSum: rows.reduce((n, r) => n + BigInt(r.seq), 0n).toString(),
    sizeSum: rows.reduce((n, r) => n + BigInt(r.size), 0n).toString(),
    minNs: rows[0]!.receivedNs.toString(),
    maxNs: rows[rows.length - 1]!.receivedNs.toString(),
  };
  const batches: DepthRow[][] = [];
  for (let i = 0; i < rows.length; i += BATCH) batches.push(rows.slice(i, i + BATCH));
  const frames: DepthRow[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_FRAME) frames.push(rows.slice(i, i + ROWS_PER_FRAME));
  const encoded = batches.map((b) => encodeDepthRows(b));
  const build = jsonRowBuilder();
  // Exactly the body the client sends for an array of JSONEachRow values (one line per row).
  const jsonBytes = batches.reduce((n, b) => n + Buffer.byteLength(b.map((r) => JSON.stringify(build(r)) + '\n').join('')), 0);
  const rbBytes = encoded.reduce((n, b) => n + b.length, 0);

  const dataDir = mkdtempSync(join(tmpdir(), 'ibflow-bench-ch-'));
  const server = await startEmbeddedClickHouse({ dataDir, httpPort: await freePort(), tcpPort: await freePort() });
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  let serverVersion = '';
  let digest: string | null = null;
  const failures: string[] = [];
  try {
    const timed: Record<Way, (database: string) => Promise<number>> = {
      json: async (database) => {
        const table = `${database}.depth`;
        const t0 = process.hrtime.bigint();
        for (const b of batches) {
          validateDepthRows(b);
          const toJson = jsonRowBuilder();
          await client.insert({ table, values: b.map(toJson), format: 'JSONEachRow' });
        }
        return elapsedMs(t0);
      },
      'rb-pre': async (database) => {
        const query = `INSERT INTO ${database}.depth (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`;
        const t0 = process.hrtime.bigint();
        for (const b of encoded) await execRowBinary(client, query, b);
        return elapsedMs(t0);
      },
      rb: async (database) => {
        const query = `INSERT INTO ${database}.depth (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`;
        const t0 = process.hrtime.bigint();
        for (const b of batches) await execRowBinary(client, query, encodeDepthRows(b));
        return elapsedMs(t0);
      },
      sink: async (database) => {
        // A long maxDelayMs: batches are sealed by size, as the other ways' are.
        const sink = new DepthSink({ client, database, maxRows: BATCH, maxDelayMs: 60_000 });
        const t0 = process.hrtime.bigint();
        // Frames reach the stream in websocket reads: hand the event loop back every 50 frames
        // (~1,000 rows), as a socket read does, so inserts overlap with encoding.
        for (let i = 0; i < frames.length; i++) {
          await sink.push(frames[i]!);
          if (i % 50 === 49) await new Promise<void>((r) => setImmediate(r));
        }
        await sink.close();
        const t = elapsedMs(t0);
        const { rowsInserted } = sink.stats();
        if (rowsInserted !== ROWS) failures.push(`sink: stats say ${rowsInserted} rows inserted, expected ${ROWS}`);
        return t;
      },
    };

    const runOne = async (way: Way, round: number): Promise<number> => {
      const database = `ibflow_bench_${way.replace('-', '_')}_${round}`;
      ({ serverVersion } = await migrate(client, { database }));
      const t = await timed[way](database);
      const got = await checkTable(client, database);
      await client.command({ query: `DROP DATABASE ${database}` });
      for (const key of ['rows', 'seqSum', 'sizeSum', 'minNs', 'maxNs'] as const) {
        if (String(got[key]) !== String(expected[key])) failures.push(`${way} round ${round}: ${key} is ${got[key]}, expected ${expected[key]}`);
      }
      // The reference is the pre-encoded RowBinary copy (run first in the warm-up round).
      if (way === 'rb-pre' && digest === null) digest = got.digest;
      else if (got.digest !== digest) failures.push(`${way} round ${round}: content digest ${got.digest} differs from rb-pre's ${digest}`);
      return t;
    };

    // Warm-up: JIT, the client's sockets, the server's caches. rb-pre first: its digest is the reference.
    for (const way of ['rb-pre', 'json', 'rb', 'sink'] as const) await runOne(way, 0);
    const times: Record<Way, number[]> = { json: [], 'rb-pre': [], rb: [], sink: [] };
    const loads: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length]!);
      for (const way of order) times[way].push(await runOne(way, round));
      loads.push(loadAverage());
    }
    // How much of the JSON way is our process's CPU: the same validate + build + stringify, nothing sent.
    const jsonClientMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      let n = 0;
      for (const b of batches) {
        validateDepthRows(b);
        const toJson = jsonRowBuilder();
        n += b.map((r) => JSON.stringify(toJson(r)) + '\n').join('').length;
      }
      jsonClientMs.push(elapsedMs(t0));
      if (n !== jsonBytes) failures.push(`json body is ${n} characters, expected ${jsonBytes}`);
    }
    if (failures.length > 0) throw new Error(`rows lost or changed:\n  ${failures.join('\n  ')}`);

    const rate = (t: number) => (ROWS / t) * 1000;
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`ClickHouse ${serverVersion}, ${ROWS.toLocaleString('en-US')} rows, ${BATCH.toLocaleString('en-US')}-row batches, ${ROUNDS} rounds (+1 warm-up), order rotated each round`);
    console.log(`every way: ${ROWS} rows stored, sums and min/max as generated, same content digest`);
    console.log(`load average after each round (1/5/15 min): ${loads.join(' | ')}`);
    console.log(`bytes sent per row: JSONEachRow ${(jsonBytes / ROWS).toFixed(1)}, RowBinary ${(rbBytes / ROWS).toFixed(1)} (${(jsonBytes / rbBytes).toFixed(2)}×)`);
    console.log(`${'way'.padEnd(46)} ${'rows/s median (min–max)'.padEnd(32)} vs rb-pre, per round: median (min–max)`);
    for (const way of WAYS) {
      const rates = times[way].map(rate);
      const ratios = times[way].map((t, i) => times['rb-pre'][i]! / t);
      console.log(
        `${LABEL[way].padEnd(46)} ${`${fmt(median(rates))} (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))})`.padEnd(32)} ` +
          `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
      );
    }
    console.log(`json client side only (validate + build + stringify, not sent), median of 3: ${fmt(rate(median(jsonClientMs)))} rows/s`);
    const vsRb = times.json.map((t, i) => times.rb[i]! / t);
    const sinkVsRb = times.sink.map((t, i) => times.rb[i]! / t);
    console.log(`json vs rb (both encode in the loop): ${median(vsRb).toFixed(2)}× (${Math.min(...vsRb).toFixed(2)}–${Math.max(...vsRb).toFixed(2)}); sink vs rb: ${median(sinkVsRb).toFixed(2)}× (${Math.min(...sinkVsRb).toFixed(2)}–${Math.max(...sinkVsRb).toFixed(2)})`);
    console.log(`load average at end: ${loadAverage()}`);
  } finally {
    await client.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

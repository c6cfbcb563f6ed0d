/** The sink's disk spill against a real ClickHouse that is stopped and started again. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../src/util/waitFor';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink } from '../../../src/clickhouse/depthSink';
import { migrate } from '../../../src/clickhouse/migrations';
import { DepthRowBinaryWriter } from '../../../src/clickhouse/rowBinary';
import { SpillFullError, SpillStore } from '../../../src/clickhouse/spill';
import { startEmbeddedClickHouse } from '../../../stack/embeddedClickHouse';
import { queryRows, startTestClickHouse, uniqueDatabase, type TestClickHouse } from '../../support/clickhouseServer';

jest.setTimeout(120_000);

let ch: TestClickHouse;
let dir: string;
beforeAll(async () => {
  ch = await startTestClickHouse();
});
afterAll(async () => {
  await ch?.cleanup();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ibflow-spill-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function rows(streamId: string, fromSeq: number, frames: number): DepthRow[] {
  const out: DepthRow[] = [];
  for (let seq = fromSeq; seq < fromSeq + frames; seq++) {
    for (let level = 0; level < 5; level++) {
      out.push({ receivedNs: 1_700_000_000_000_000_000n + BigInt(seq), connection: 'c', pod: 'p', conid: 1, streamId, seq, kind: 'snapshot', side: 'bid', level, price: 100 - level, size: seq });
    }
  }
  return out;
}

async function counts(db: string) {
  const [r] = await queryRows<{ raw: string; final: string; frames: string }>(
    ch.client,
    `SELECT (SELECT count() FROM ${db}.depth) AS raw, (SELECT count() FROM ${db}.depth FINAL) AS final, (SELECT uniqExact(stream_id, seq) FROM ${db}.depth) AS frames`,
  );
  return { raw: Number(r!.raw), final: Number(r!.final), frames: Number(r!.frames) };
}

test('ClickHouse down: batches go to disk (durable flush resolves), come back in order when it returns', async () => {
  const db = uniqueDatabase();
  await migrate(ch.client, { database: db });
  const sink = new DepthSink({ client: ch.client, database: db, maxRows: 500, maxDelayMs: 20, retry: { initialMs: 20, maxMs: 200 }, spill: { dir, maxBytes: 64 << 20 } });
  await sink.push(rows('a', 1, 100));
  await sink.flush();
  await ch.server.stop();
  for (let i = 0; i < 10; i++) await sink.push(rows('a', 101 + i * 100, 100));
  await sink.flush({ durable: true }); // on disk, not in ClickHouse
  expect(sink.spillStats().spilledRows).toBe(5000);
  expect(sink.stats().bufferedRows).toBe(0);
  ch.server = await startEmbeddedClickHouse({ dataDir: ch.dataDir, httpPort: ch.httpPort, tcpPort: ch.tcpPort });
  await sink.flush();
  expect(sink.spillStats().spillSegments).toBe(0);
  expect(await counts(db)).toMatchObject({ final: 5500, frames: 1100 });
  await sink.close();
  expect(readdirSync(dir).filter((f) => f.endsWith('.rb'))).toEqual([]);
});

test('a new sink (after a crash) replays segments left on disk, oldest first; nothing is double-counted', async () => {
  const db = uniqueDatabase();
  await migrate(ch.client, { database: db });
  const store = new SpillStore({ dir, maxBytes: 64 << 20 });
  for (let i = 0; i < 3; i++) {
    const w = new DepthRowBinaryWriter();
    w.write(rows('b', 1 + i * 10, 10));
    store.append({ id: i + 1, rows: w.rows, bytes: w.finish(), firstNs: 1n, lastNs: 2n });
  }
  writeFileSync(join(dir, 'seg-0000000000000099.rb.tmp'), 'half-written'); // a crash mid-write
  const sink = new DepthSink({ client: ch.client, database: db, spill: { dir, maxBytes: 64 << 20 } });
  await sink.flush();
  // The replay runs in the background: wait for what it should have written (not a fixed pause).
  await waitFor('the three segments replayed', async () => ((await counts(db)).frames === 30 && readdirSync(dir).length === 0 ? true : null), 30_000, 100);
  await sink.close();
  expect(await counts(db)).toMatchObject({ final: 150, frames: 30 });
  expect(readdirSync(dir)).toEqual([]);
  // The same segments replayed again (a crash after insert, before delete) collapse by identity.
  const again = new SpillStore({ dir, maxBytes: 64 << 20 });
  const w = new DepthRowBinaryWriter();
  w.write(rows('b', 1, 10));
  again.append({ id: 1, rows: w.rows, bytes: w.finish(), firstNs: 1n, lastNs: 2n });
  const sink2 = new DepthSink({ client: ch.client, database: db, spill: { dir, maxBytes: 64 << 20 } });
  await waitFor('the segment replayed again', async () => (readdirSync(dir).length === 0 ? true : null), 30_000, 100);
  await sink2.close();
  await ch.client.command({ query: `OPTIMIZE TABLE ${db}.depth FINAL` });
  expect(await counts(db)).toEqual({ raw: 150, final: 150, frames: 30 });
});

test('a corrupt segment is set aside and reported; the rest are replayed', async () => {
  const db = uniqueDatabase();
  await migrate(ch.client, { database: db });
  const store = new SpillStore({ dir, maxBytes: 64 << 20 });
  for (let i = 0; i < 2; i++) {
    const w = new DepthRowBinaryWriter();
    w.write(rows('c', 1 + i * 10, 10));
    store.append({ id: i + 1, rows: w.rows, bytes: w.finish(), firstNs: 1n, lastNs: 2n });
  }
  const first = store.head()!.file;
  const buf = readFileSync(first);
  buf[buf.length - 1] ^= 0xff;
  writeFileSync(first, buf);
  const errors: string[] = [];
  const sink = new DepthSink({ client: ch.client, database: db, spill: { dir, maxBytes: 64 << 20 }, log: { warn: () => undefined, error: (_o, m) => errors.push(m) } });
  await new Promise((r) => setTimeout(r, 300));
  await sink.close();
  expect(errors.some((e) => /corrupt/.test(e))).toBe(true);
  expect(sink.spillStats().corruptSegments).toBe(1);
  expect(readdirSync(dir).filter((f) => f.endsWith('.corrupt'))).toHaveLength(1);
  expect(await counts(db)).toMatchObject({ final: 50 });
});

test('bounded disk: a full spill is a clear error, the batch stays in memory (backpressure), nothing is dropped', async () => {
  const db = uniqueDatabase();
  await migrate(ch.client, { database: db });
  const store = new SpillStore({ dir, maxBytes: 2000 });
  expect(() => store.append({ id: 1, rows: 1, bytes: Buffer.alloc(5000), firstNs: 0n, lastNs: 0n })).toThrow(SpillFullError);
  expect(() => store.append({ id: 1, rows: 1, bytes: Buffer.alloc(5000), firstNs: 0n, lastNs: 0n })).toThrow(/raise depth.spillMaxBytes/);

  const errors: string[] = [];
  const sink = new DepthSink({
    client: ch.client,
    database: db,
    maxRows: 100,
    maxBufferedRows: 1000,
    maxDelayMs: 10,
    retry: { initialMs: 20, maxMs: 100 },
    spill: { dir, maxBytes: 20_000 },
    log: { warn: () => undefined, error: (o, m) => errors.push(`${m}: ${String(o.err)}`) },
  });
  await ch.server.stop();
  // 3,000 rows of ~60 bytes do not fit in 20 kB of spill: pushes beyond memory + disk must wait.
  let pushed = 0;
  const producer = (async () => {
    for (let i = 0; i < 30; i++) {
      await sink.push(rows('d', 1 + i * 20, 20));
      pushed++;
    }
  })();
  await new Promise((r) => setTimeout(r, 1500));
  expect(pushed).toBeLessThan(30); // backpressure, not unbounded growth
  expect(sink.spillStats().spillFullErrors).toBeGreaterThan(0);
  expect(errors.some((e) => /depth spill full/.test(e) && /spillMaxBytes/.test(e))).toBe(true);
  ch.server = await startEmbeddedClickHouse({ dataDir: ch.dataDir, httpPort: ch.httpPort, tcpPort: ch.tcpPort });
  await producer;
  await sink.close();
  expect(await counts(db)).toMatchObject({ final: 3000, frames: 600 });
});

test('a failing disk (the spill dir gone) keeps batches in memory, never crashes, and loses nothing', async () => {
  const db = uniqueDatabase();
  await migrate(ch.client, { database: db });
  const errors: string[] = [];
  const sink = new DepthSink({
    client: ch.client,
    database: db,
    maxRows: 100,
    maxDelayMs: 10,
    retry: { initialMs: 20, maxMs: 100 },
    spill: { dir, maxBytes: 64 << 20 },
    log: { warn: () => undefined, error: (o, m) => errors.push(`${m}: ${String(o.err)}`) },
  });
  await ch.server.stop();
  // The spill directory is replaced by a plain file: every segment write fails (ENOTDIR), even as root.
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(dir, 'not a directory');
  for (let i = 0; i < 10; i++) await sink.push(rows('e', 1 + i * 20, 20));
  await new Promise((r) => setTimeout(r, 500));
  expect(sink.spillStats().spillWriteErrors).toBeGreaterThan(0);
  expect(sink.stats().bufferedRows).toBe(1000); // all still held
  expect(errors.some((e) => /depth spill write failed/.test(e))).toBe(true);
  rmSync(dir, { force: true });
  mkdirSync(dir);
  ch.server = await startEmbeddedClickHouse({ dataDir: ch.dataDir, httpPort: ch.httpPort, tcpPort: ch.tcpPort });
  await sink.flush(); // inserted, not merely on disk
  await sink.close();
  expect(await counts(db)).toMatchObject({ final: 1000, frames: 200 });
});

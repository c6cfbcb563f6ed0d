/**
 * A batch the server refuses for good is set aside, its hole marked, and the batches behind it go
 * on; transient failures are still retried in order. A scripted client that refuses the way 18.16
 * words a throwIf refusal (code 395); a test against the real server is still to come.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink, type QuarantinedBatch } from '../../../src/clickhouse/depthSink';
import { QuarantineStore } from '../../../src/clickhouse/quarantine';
import { decodeDepthRows } from '../../../src/clickhouse/rowBinaryDecode';

const POISON = 666;
const row = (seq: number, price = 100, streamId = 's1', conid = 1): DepthRow => ({
  receivedNs: 1_767_225_600_000_000_000n + BigInt(seq) * 1_000_000n,
  connection: 'paper-1',
  pod: 'pod-a',
  conid,
  streamId,
  seq,
  kind: 'snapshot',
  side: 'bid',
  level: 0,
  price,
  size: seq,
});

/** Refuses any batch holding a poison price the way 18.16 words it; `down` fails everything as a refused connection. */
class RefusingClient {
  inserted: DepthRow[][] = [];
  attempts = 0;
  down = false;
  refusal = "Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero, e.what() = DB::Exception";
  async exec(params: { values: Readable }) {
    const chunks: Buffer[] = [];
    for await (const c of params.values) chunks.push(c as Buffer);
    const rows = decodeDepthRows(Buffer.concat(chunks));
    this.attempts++;
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    if (rows.some((r) => r.price === POISON)) throw new Error(this.refusal);
    this.inserted.push(rows);
    return { stream: Readable.from([Buffer.alloc(0)]), query_id: 'q', response_headers: {}, http_status_code: 200 };
  }
  asClient(): ClickHouseClient {
    return this as unknown as ClickHouseClient;
  }
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ibflow-quarantine-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const quick = { maxDelayMs: 5, retry: { initialMs: 2, maxMs: 10 } };

it('sets a refused batch aside after a confirming retry, marks the hole per stream, and inserts the rest in order', async () => {
  const client = new RefusingClient();
  const heard: QuarantinedBatch[] = [];
  const sink = new DepthSink({ client: client.asClient(), database: 'db', maxRows: 3, ...quick, quarantine: { dir: join(dir, 'q'), pod: 'pod-a' } });
  sink.onQuarantine((q) => heard.push(q));
  await sink.push([row(1), row(2), row(3)]);
  await sink.push([row(4), row(5, POISON), row(1, 100, 's9', 2)]);
  await sink.push([row(7), row(8), row(9)]);
  await sink.close();

  const inserted = client.inserted.flat();
  expect(inserted.filter((r) => r.kind !== 'gap').map((r) => `${r.streamId}:${r.seq}`)).toEqual(['s1:1', 's1:2', 's1:3', 's1:7', 's1:8', 's1:9']);
  // One gap row per stream of the refused batch, at its last refused frame.
  const markers = inserted.filter((r) => r.kind === 'gap');
  expect(markers.map((r) => `${r.connection}/${r.conid}/${r.streamId}@${r.seq}`).sort()).toEqual(['paper-1/1/s1@5', 'paper-1/2/s9@1']);
  expect(markers.find((m) => m.streamId === 's1')!.receivedNs).toBe(row(5).receivedNs);

  expect(heard).toHaveLength(1);
  const { record } = heard[0]!;
  expect(record).toMatchObject({ state: 'pending', database: 'db', table: 'depth', pod: 'pod-a', rows: 3, attempts: 2, error: { kind: 'permanent', code: 395 } });
  expect(record.streams).toEqual(expect.arrayContaining([expect.objectContaining({ streamId: 's1', conid: 1, rows: 2, fromSeq: 4, toSeq: 5 }), expect.objectContaining({ streamId: 's9', conid: 2, rows: 1, fromSeq: 1, toSeq: 1 })]));
  expect(sink.stats()).toMatchObject({ batchesQuarantined: 1, rowsQuarantined: 3, rowsInserted: 6 + 2 });

  // On disk, replayable: exactly the refused rows.
  const store = new QuarantineStore({ dir: join(dir, 'q') });
  const [listed] = store.list();
  expect(listed!.id).toBe(record.id);
  expect(decodeDepthRows(store.get(record.id).payload).map((r) => r.seq)).toEqual([4, 5, 1]);
});

it('a refusal that does not come back is not quarantined (a server still loading its tables)', async () => {
  const client = new RefusingClient();
  let refuseOnce = true;
  const exec = client.exec.bind(client);
  client.exec = async (p) => {
    if (refuseOnce) {
      refuseOnce = false;
      client.attempts++;
      throw new Error("Code: 60, e.displayText() = DB::Exception: Table db.depth doesn't exist., e.what() = DB::Exception");
    }
    return exec(p);
  };
  const sink = new DepthSink({ client: client.asClient(), database: 'db', maxRows: 3, ...quick, quarantine: { dir, pod: 'pod-a' } });
  await sink.push([row(1), row(2), row(3)]);
  await sink.close();
  expect(client.inserted.flat().map((r) => r.seq)).toEqual([1, 2, 3]);
  expect(sink.stats().batchesQuarantined).toBe(0);
  expect(readdirSync(dir)).toEqual([]);
});

it('transient failures are retried for ever and never quarantined', async () => {
  const client = new RefusingClient();
  client.down = true;
  const sink = new DepthSink({ client: client.asClient(), database: 'db', maxRows: 3, ...quick, quarantine: { dir, pod: 'pod-a' } });
  await sink.push([row(1), row(2), row(3)]);
  const closed = sink.close();
  while (client.attempts < 12) await new Promise((r) => setTimeout(r, 5));
  expect(sink.stats()).toMatchObject({ batchesQuarantined: 0, rowsInserted: 0, lastInsertError: { kind: 'transient', name: 'ECONNREFUSED' } });
  client.down = false;
  await closed;
  expect(client.inserted.flat().map((r) => r.seq)).toEqual([1, 2, 3]);
});

it('an unknown error code is retried a few times, then quarantined', async () => {
  const client = new RefusingClient();
  client.refusal = 'Code: 12345. DB::Exception: something new. (SOMETHING_NEW) (version 99.1)';
  const sink = new DepthSink({ client: client.asClient(), database: 'db', maxRows: 3, ...quick, quarantine: { dir, pod: 'pod-a' }, quarantineAfter: { unknown: 4 } });
  await sink.push([row(1, POISON), row(2), row(3)]);
  await sink.close();
  expect(client.attempts).toBe(4 + 1); // four refusals, then the gap rows' batch
  expect(sink.stats()).toMatchObject({ batchesQuarantined: 1 });
  expect(new QuarantineStore({ dir }).list()[0]!.error).toMatchObject({ kind: 'unknown', code: 12345, name: 'SOMETHING_NEW' });
});

it('when the quarantine cannot take the batch, it is kept and retried (nothing dropped)', async () => {
  const client = new RefusingClient();
  const errors: string[] = [];
  const sink = new DepthSink({ client: client.asClient(), database: 'db', maxRows: 3, ...quick, quarantine: { dir, pod: 'pod-a', maxBytes: 100 }, log: { warn: () => undefined, error: (_o, m) => errors.push(m) } });
  await sink.push([row(1, POISON), row(2), row(3)]);
  const flushed = sink.flush();
  while (client.attempts < 6) await new Promise((r) => setTimeout(r, 5));
  expect(sink.stats()).toMatchObject({ batchesQuarantined: 0, bufferedRows: 3 });
  expect(errors.some((m) => /quarantine cannot take it/.test(m))).toBe(true);
  client.exec = async () => ({ stream: Readable.from([Buffer.alloc(0)]), query_id: 'q', response_headers: {}, http_status_code: 200 }) as never;
  await flushed;
});

it('without a quarantine directory a refused batch is retried for ever, as before', async () => {
  const client = new RefusingClient();
  const sink = new DepthSink({ client: client.asClient(), database: 'db', maxRows: 3, ...quick });
  await sink.push([row(1, POISON), row(2), row(3)]);
  const flushed = sink.flush();
  while (client.attempts < 8) await new Promise((r) => setTimeout(r, 5));
  expect(sink.stats()).toMatchObject({ batchesQuarantined: 0, bufferedRows: 3, lastInsertError: { kind: 'permanent' } });
  // The cause fixed (here: the server takes anything), the same batch goes through; no timers are left running.
  client.exec = async () => ({ stream: Readable.from([Buffer.alloc(0)]), query_id: 'q', response_headers: {}, http_status_code: 200 }) as never;
  await flushed;
  expect(sink.stats()).toMatchObject({ rowsInserted: 3, bufferedRows: 0, lastInsertError: null });
});

/** DepthSink behaviour against a scripted fake client: batching, order, retries, backpressure. */
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import pino from 'pino';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink, SinkClosedError } from '../../../src/clickhouse/depthSink';
import { DepthRowEncodeError, encodeDepthRows } from '../../../src/clickhouse/rowBinary';

function row(i: number): DepthRow {
  return { receivedNs: 1_700_000_000_000_000_000n + BigInt(i), connection: 'c', pod: 'p', conid: 1, streamId: 's', seq: i + 1, kind: 'snapshot', side: 'bid', level: 0, price: 100, size: i };
}
const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => row(from + k));

interface Call {
  query: string;
  bytes: Buffer;
}

/** A client whose exec succeeds unless `failNext` says otherwise; `gate` can hold inserts open. */
class FakeClient {
  calls: Call[] = [];
  failNext = 0;
  gate: Promise<void> | null = null;
  responsesConsumed = 0;

  async exec(params: { query: string; values: Readable }) {
    const chunks: Buffer[] = [];
    for await (const chunk of params.values) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    this.calls.push({ query: params.query, bytes });
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('ECONNREFUSED (fake)');
    }
    const stream = Readable.from([Buffer.alloc(0)]);
    stream.on('end', () => this.responsesConsumed++);
    return { stream, query_id: 'q', response_headers: {}, http_status_code: 200 };
  }

  asClient(): ClickHouseClient {
    return this as unknown as ClickHouseClient;
  }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('DepthSink', () => {
  it('sends RowBinary in depth column order to the configured table, in maxRows batches', async () => {
    const fake = new FakeClient();
    const sink = new DepthSink({ client: fake.asClient(), database: 'db', table: 't', maxRows: 4, maxDelayMs: 10_000 });
    await sink.push(rows(0, 3));
    await sink.push(rows(3, 7));
    await sink.flush();
    expect(fake.calls.map((c) => c.query)).toEqual(
      Array(3).fill('INSERT INTO `db`.`t` (date, received_ns, connection, pod, conid, stream_id, seq, kind, side, level, price, size) FORMAT RowBinary'),
    );
    expect(fake.calls.map((c) => c.bytes)).toEqual([encodeDepthRows(rows(0, 4)), encodeDepthRows(rows(4, 4)), encodeDepthRows(rows(8, 2))]);
    expect(sink.stats()).toEqual({ rowsInserted: 10, batchesInserted: 3, insertErrors: 0, bufferedRows: 0, batchesQuarantined: 0, rowsQuarantined: 0, lastInsertError: null });
    expect(fake.responsesConsumed).toBe(3);
    await sink.close();
  });

  it('reuses a writer buffer only once its batch is inserted: batches waiting behind an insert keep their bytes', async () => {
    const fake = new FakeClient();
    let open!: () => void;
    fake.gate = new Promise<void>((r) => (open = r));
    // 2,000-row batches fill most of their writer's buffer, so a sealed batch is a view of it, not a copy.
    const sink = new DepthSink({ client: fake.asClient(), maxRows: 2000, maxDelayMs: 10_000 });
    for (let b = 0; b < 3; b++) await sink.push(rows(b * 2000, 2000)); // one in flight (gated), two waiting
    open();
    fake.gate = null;
    await sink.flush();
    for (let b = 3; b < 6; b++) await sink.push(rows(b * 2000, 2000)); // written into recycled buffers
    await sink.flush();
    expect(fake.calls.map((c) => c.bytes)).toEqual([0, 1, 2, 3, 4, 5].map((b) => encodeDepthRows(rows(b * 2000, 2000))));
    await sink.close();
  });

  it('tryPush takes rows at once while there is room, refuses nothing silently, and throws on a bad row or a closed sink', async () => {
    const fake = new FakeClient();
    let open!: () => void;
    fake.gate = new Promise<void>((r) => (open = r));
    const sink = new DepthSink({ client: fake.asClient(), maxRows: 10, maxBufferedRows: 20, maxDelayMs: 10_000 });
    expect(sink.tryPush(rows(0, 10))).toBe(true); // sealed, in flight (gated)
    expect(sink.tryPush(rows(10, 10))).toBe(true); // 20 held: at the bound
    expect(sink.tryPush(rows(20, 1))).toBe(false); // would be over it: nothing taken
    expect(sink.stats().bufferedRows).toBe(20);
    open();
    fake.gate = null;
    await sink.flush();
    expect(() => sink.tryPush([row(20), { ...row(21), level: -1 }])).toThrow(DepthRowEncodeError); // all or none
    expect(sink.stats().bufferedRows).toBe(0);
    expect(sink.tryPush(rows(20, 1))).toBe(true);
    await sink.close();
    expect(fake.calls.map((c) => c.bytes)).toEqual([encodeDepthRows(rows(0, 10)), encodeDepthRows(rows(10, 10)), encodeDepthRows(rows(20, 1))]);
    expect(() => sink.tryPush(rows(21, 1))).toThrow(SinkClosedError);
  });

  it('seals a partial batch after maxDelayMs', async () => {
    const fake = new FakeClient();
    const sink = new DepthSink({ client: fake.asClient(), maxRows: 100, maxDelayMs: 20 });
    await sink.push(rows(0, 5));
    expect(fake.calls).toHaveLength(0);
    await tick(80);
    expect(fake.calls).toHaveLength(1);
    expect(sink.stats().rowsInserted).toBe(5);
    await sink.close();
  });

  it('retries the same bytes in order with capped exponential backoff, never splitting or dropping', async () => {
    const fake = new FakeClient();
    fake.failNext = 4;
    const warnings: Record<string, unknown>[] = [];
    const sink = new DepthSink({
      client: fake.asClient(),
      maxRows: 3,
      maxDelayMs: 10_000,
      retry: { initialMs: 5, maxMs: 20 },
      log: { warn: (obj) => warnings.push(obj), error: () => undefined },
    });
    await sink.push(rows(0, 5));
    await sink.flush();
    // 4 failures of batch 1, then batch 1, then batch 2.
    expect(fake.calls).toHaveLength(6);
    const first = encodeDepthRows(rows(0, 3));
    for (let i = 0; i < 5; i++) expect(fake.calls[i]!.bytes).toEqual(first);
    expect(fake.calls[5]!.bytes).toEqual(encodeDepthRows(rows(3, 2)));
    expect(warnings.map((w) => w.retryInMs)).toEqual([5, 10, 20, 20]);
    expect(warnings.map((w) => w.batch)).toEqual([1, 1, 1, 1]);
    expect(sink.stats()).toEqual({ rowsInserted: 5, batchesInserted: 2, insertErrors: 4, bufferedRows: 0, batchesQuarantined: 0, rowsQuarantined: 0, lastInsertError: null });
    await sink.close();
  });

  it('applies backpressure: push waits while more than maxBufferedRows are held', async () => {
    const fake = new FakeClient();
    let open!: () => void;
    fake.gate = new Promise<void>((r) => (open = r));
    const sink = new DepthSink({ client: fake.asClient(), maxRows: 10, maxBufferedRows: 20, maxDelayMs: 10_000 });
    await sink.push(rows(0, 10)); // sealed, in flight (held by the gate)
    await sink.push(rows(10, 10)); // 20 held: at the bound, not over
    let resolved = false;
    const blocked = sink.push(rows(20, 5)).then(() => (resolved = true));
    await tick(20);
    expect(resolved).toBe(false);
    expect(sink.stats().bufferedRows).toBe(25);
    fake.gate = null;
    open();
    await blocked;
    expect(resolved).toBe(true);
    expect(sink.stats().bufferedRows).toBeLessThanOrEqual(20);
    await sink.flush();
    expect(sink.stats()).toMatchObject({ rowsInserted: 25, bufferedRows: 0 });
    await sink.close();
  });

  it('flush waits only for rows pushed before it', async () => {
    const fake = new FakeClient();
    const sink = new DepthSink({ client: fake.asClient(), maxRows: 100, maxDelayMs: 10_000 });
    await sink.push(rows(0, 3));
    const flushed = sink.flush();
    await sink.push(rows(3, 3)); // stays in the open batch
    await flushed;
    expect(sink.stats()).toMatchObject({ rowsInserted: 3, bufferedRows: 3 });
    await sink.close();
    expect(sink.stats()).toMatchObject({ rowsInserted: 6, bufferedRows: 0 });
  });

  it('rejects a push with a bad row whole, keeping earlier pushes intact', async () => {
    const fake = new FakeClient();
    const sink = new DepthSink({ client: fake.asClient(), maxRows: 2, maxDelayMs: 10_000 });
    await sink.push(rows(0, 1));
    await expect(sink.push([row(1), row(2), { ...row(3), level: -1 }])).rejects.toThrow(DepthRowEncodeError);
    expect(sink.stats().bufferedRows).toBe(1);
    await sink.push([row(1)]);
    await sink.flush();
    expect(fake.calls.map((c) => c.bytes)).toEqual([encodeDepthRows(rows(0, 2))]);
    await sink.close();
  });

  it('refuses pushes after close and validates its options', async () => {
    const fake = new FakeClient();
    const sink = new DepthSink({ client: fake.asClient() });
    await sink.close();
    await expect(sink.push(rows(0, 1))).rejects.toThrow(SinkClosedError);
    expect(() => new DepthSink({ client: fake.asClient(), maxRows: 10, maxBufferedRows: 5 })).toThrow(/maxBufferedRows/);
    expect(() => new DepthSink({ client: fake.asClient(), maxRows: 0 })).toThrow(/maxRows/);
    // A pino logger fits the log option as it is.
    expect(() => new DepthSink({ client: fake.asClient(), log: pino({ level: 'silent' }) })).not.toThrow();
  });
});

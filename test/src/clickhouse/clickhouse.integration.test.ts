/**
 * Against a real, private clickhouse-server (Debian's 18.16 here): quoting, migrations, RowBinary
 * round trip, ReplacingMergeTree collapse, session events, and the sink (including riding out a
 * server restart).
 */
import { Readable } from 'node:stream';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink } from '../../../src/clickhouse/depthSink';
import { migrate, MIGRATIONS } from '../../../src/clickhouse/migrations';
import { DEPTH_COLUMNS, encodeDepthRows } from '../../../src/clickhouse/rowBinary';
import { insertSessionEvent } from '../../../src/clickhouse/sessionEvents';
import { qualifiedName, quoteIdentifier, quoteString } from '../../../src/clickhouse/sql';
import { startEmbeddedClickHouse } from '../../../stack/embeddedClickHouse';
import { queryRows, startTestClickHouse, uniqueDatabase, type TestClickHouse } from '../../support/clickhouseServer';

let ch: TestClickHouse;

beforeAll(async () => {
  ch = await startTestClickHouse();
});

afterAll(async () => {
  await ch?.cleanup();
});

function makeRows(n: number, base: Partial<DepthRow> = {}): DepthRow[] {
  return Array.from({ length: n }, (_, i) => ({
    receivedNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000n,
    connection: 'paper-1',
    pod: 'pod-a',
    conid: 265598,
    streamId: 'stream-1',
    seq: Math.floor(i / 10) + 1,
    kind: 'snapshot' as const,
    side: i % 2 === 0 ? ('bid' as const) : ('ask' as const),
    level: i % 10,
    price: 100 + (i % 10) / 100,
    size: i,
    ...base,
  }));
}

async function count(table: string, final = false): Promise<number> {
  const rows = await queryRows<{ n: string }>(ch.client, `SELECT count() AS n FROM ${table}${final ? ' FINAL' : ''}`);
  return Number(rows[0]!.n);
}

describe('quoting against the server', () => {
  it('round-trips tricky strings and identifiers', async () => {
    const values = ["it's", 'back\\slash', 'line\nbreak\r\ttab', 'nul\0byte', '\u0001\u001f\u007f', 'ünïcødé €', "\\'", '`'];
    for (const value of values) {
      const [row] = await queryRows<{ v: string }>(ch.client, `SELECT ${quoteString(value)} AS v`);
      expect(row!.v).toBe(value);
    }
    const name = 'we`ird\\ name';
    const [row] = await queryRows<Record<string, number>>(ch.client, `SELECT 1 AS ${quoteIdentifier(name)}`);
    expect(row).toEqual({ [name]: 1 });
  });
});

describe('migrate', () => {
  it('creates the database and tables once, then does nothing', async () => {
    const database = uniqueDatabase();
    const first = await migrate(ch.client, { database });
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
    expect(first.serverVersion).toMatch(/^\d+\.\d+/);
    const second = await migrate(ch.client, { database });
    expect(second.applied).toEqual([]);

    const versions = await queryRows<{ version: number; name: string }>(
      ch.client,
      `SELECT version, name FROM ${qualifiedName(database, 'schema_migrations')} FINAL ORDER BY version`,
    );
    expect(versions).toEqual([{ version: 1, name: 'depth and session_events' }]);

    const columns = await queryRows<{ table: string; name: string; type: string }>(
      ch.client,
      `SELECT table, name, type FROM system.columns WHERE database = ${quoteString(database)}` // declaration order (18.16 has no `position`),
    );
    const depthColumns = columns.filter((c) => c.table === 'depth');
    expect(depthColumns.map((c) => c.name)).toEqual([...DEPTH_COLUMNS]);
    const types = Object.fromEntries(depthColumns.map((c) => [c.name, c.type]));
    expect(types.kind).toBe("Enum8('snapshot' = 1, 'update' = 2, 'gap' = 3)");
    expect(types.side).toBe("Enum8('none' = 0, 'bid' = 1, 'ask' = 2, 'trade' = 3)");
    expect(types.received_ns).toMatch(/UInt64/);
    expect(columns.filter((c) => c.table === 'session_events').map((c) => c.name)).toEqual([
      'date', 'ts', 'ts_ms', 'connection', 'workflow_id', 'state', 'previous_state', 'reason',
    ]);
    const [engine] = await queryRows<{ engine: string }>(
      ch.client,
      `SELECT engine FROM system.tables WHERE database = ${quoteString(database)} AND name = 'depth'`,
    );
    expect(engine!.engine).toBe('ReplacingMergeTree');
  });

  it('applies only migrations not yet recorded, in order', async () => {
    const database = uniqueDatabase();
    await migrate(ch.client, { database });
    const extra = {
      version: 2,
      name: 'extra',
      statements: ({ database: db }: { database: string }) => [`CREATE TABLE IF NOT EXISTS ${qualifiedName(db, 'extra')} (x UInt8) ENGINE = Memory`],
    };
    const result = await migrate(ch.client, { database, migrations: [...MIGRATIONS, extra] });
    expect(result.applied).toEqual([2]);
  });
});

describe('RowBinary through the server', () => {
  let database: string;
  beforeAll(async () => {
    database = uniqueDatabase();
    await migrate(ch.client, { database });
  });

  it('reads back exactly what was encoded', async () => {
    const rows: DepthRow[] = [
      { receivedNs: 1_700_000_000_123_456_789n, connection: 'conn-é', pod: 'p1', conid: 265598, streamId: 's1', seq: 2 ** 40 + 3, kind: 'update', side: 'ask', level: 3, price: 171.39, size: 1200.5 },
      { receivedNs: 86_400_000_000_000n * 20000n, connection: 'x'.repeat(300), pod: '', conid: 2 ** 32 - 1, streamId: 'ü∑', seq: 1, kind: 'snapshot', side: 'bid', level: 65535, price: -37.63, size: 0 },
      { receivedNs: 86_400_000_000_001n, connection: 'c', pod: 'p', conid: 0, streamId: 's0', seq: 0, kind: 'gap', side: 'none', level: 0, price: 0, size: 0 },
      { receivedNs: 1_800_000_000_000_000_000n, connection: 'c', pod: 'p', conid: 1, streamId: 's2', seq: 9, kind: 'snapshot', side: 'trade', level: 0, price: 1e-9, size: 123456789.25 },
    ];
    const table = qualifiedName(database, 'depth');
    const result = await ch.client.exec({
      query: `INSERT INTO ${table} (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`,
      values: Readable.from([encodeDepthRows(rows)]),
    });
    result.stream.resume();
    const back = await queryRows<Record<string, unknown>>(ch.client, `SELECT * FROM ${table} ORDER BY received_ns`);
    const expected = [...rows]
      .sort((a, b) => (a.receivedNs < b.receivedNs ? -1 : 1))
      .map((r) => ({
        date: new Date(Number(r.receivedNs / 1_000_000n)).toISOString().slice(0, 10),
        received_ns: r.receivedNs.toString(),
        connection: r.connection,
        pod: r.pod,
        conid: r.conid,
        stream_id: r.streamId,
        seq: String(r.seq),
        kind: r.kind,
        side: r.side,
        level: r.level,
        price: r.price,
        size: r.size,
      }));
    expect(back).toEqual(expected);
  });

  it('collapses a re-sent batch (ReplacingMergeTree FINAL)', async () => {
    const table = qualifiedName(database, 'depth');
    const rows = makeRows(1000, { streamId: 'replay' });
    for (let i = 0; i < 2; i++) {
      const r = await ch.client.exec({ query: `INSERT INTO ${table} (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`, values: Readable.from([encodeDepthRows(rows)]) });
      r.stream.resume();
    }
    const [raw] = await queryRows<{ n: string }>(ch.client, `SELECT count() AS n FROM ${table} WHERE stream_id = 'replay'`);
    const [final] = await queryRows<{ n: string }>(ch.client, `SELECT count() AS n FROM ${table} FINAL WHERE stream_id = 'replay'`);
    expect(Number(raw!.n)).toBe(2000);
    expect(Number(final!.n)).toBe(1000);
  });
});

describe('session events', () => {
  it('inserts one event per call', async () => {
    const database = uniqueDatabase();
    await migrate(ch.client, { database });
    const tsMs = Date.UTC(2024, 0, 31, 23, 59, 59, 987);
    await insertSessionEvent(ch.client, { tsMs, connection: 'paper-1', workflowId: 'ibkr-session:user', state: 'usable', previousState: 'logging_in', reason: "it's \"fine\"\n" }, database);
    const rows = await queryRows<Record<string, unknown>>(
      ch.client,
      `SELECT date, toUnixTimestamp(ts) AS ts, ts_ms, connection, workflow_id, state, previous_state, reason FROM ${qualifiedName(database, 'session_events')}`,
    );
    expect(rows).toEqual([
      { date: '2024-01-31', ts: Math.floor(tsMs / 1000), ts_ms: String(tsMs), connection: 'paper-1', workflow_id: 'ibkr-session:user', state: 'usable', previous_state: 'logging_in', reason: "it's \"fine\"\n" },
    ]);
  });
});

describe('DepthSink against the server', () => {
  it('inserts everything pushed, in maxRows batches, on flush', async () => {
    const database = uniqueDatabase();
    await migrate(ch.client, { database });
    const sink = new DepthSink({ client: ch.client, database, maxRows: 50_000, maxDelayMs: 10_000 });
    const rows = makeRows(120_000);
    for (let i = 0; i < rows.length; i += 7_000) await sink.push(rows.slice(i, i + 7_000));
    await sink.flush();
    expect(sink.stats()).toEqual({ rowsInserted: 120_000, batchesInserted: 3, insertErrors: 0, bufferedRows: 0, batchesQuarantined: 0, rowsQuarantined: 0, lastInsertError: null });
    expect(await count(qualifiedName(database, 'depth'))).toBe(120_000);
    const [sum] = await queryRows<{ s: number }>(ch.client, `SELECT sum(size) AS s FROM ${qualifiedName(database, 'depth')}`);
    expect(sum!.s).toBe((119_999 * 120_000) / 2);
    await sink.close();
  });

  it('inserts on its timer without flush', async () => {
    const database = uniqueDatabase();
    await migrate(ch.client, { database });
    const sink = new DepthSink({ client: ch.client, database, maxDelayMs: 50 });
    await sink.push(makeRows(10));
    const deadline = Date.now() + 5_000;
    while (sink.stats().rowsInserted < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sink.stats().rowsInserted).toBe(10);
    expect(await count(qualifiedName(database, 'depth'))).toBe(10);
    await sink.close();
  });

  it('rides out a server restart: retries the same batches, loses and duplicates nothing', async () => {
    const database = uniqueDatabase();
    await migrate(ch.client, { database });
    const sink = new DepthSink({ client: ch.client, database, maxRows: 1_000, maxDelayMs: 10, retry: { initialMs: 50, maxMs: 200 } });
    await sink.push(makeRows(500, { streamId: 'before' }));
    await sink.flush();

    await ch.server.stop();
    await sink.push(makeRows(2_500, { streamId: 'during' }));
    const flushed = sink.flush();
    const deadline = Date.now() + 10_000;
    while (sink.stats().insertErrors < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sink.stats().insertErrors).toBeGreaterThanOrEqual(2);
    expect(sink.stats().bufferedRows).toBe(2_500);

    ch.server = await startEmbeddedClickHouse({ dataDir: ch.dataDir, httpPort: ch.httpPort, tcpPort: ch.tcpPort });
    await flushed;
    expect(sink.stats()).toMatchObject({ rowsInserted: 3_000, batchesInserted: 4, bufferedRows: 0 });
    const table = qualifiedName(database, 'depth');
    expect(await count(table)).toBe(3_000);
    expect(await count(table, true)).toBe(3_000);
    await sink.close();
  });
});

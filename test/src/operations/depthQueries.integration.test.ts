/**
 * Every read query of the operations layer (the SQL docs/queries.md shows) run against rows with
 * known answers on both engines ibflow meets: ClickHouse 18.16 (Debian's, the plain schema) and a
 * current engine (chDB 26.9 through stack/chdb's HTTP shim, the modern schema: LowCardinality,
 * codecs). Same fixtures, same expected answers; the rows go in through the DepthSink's RowBinary
 * inserts and insertSessionEvent, as in production. A last test checks that every query of the
 * catalog (src/operations/queryCatalog.ts) ran on both.
 */
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink } from '../../../src/clickhouse/depthSink';
import { migrate, serverFeatures, serverVersion } from '../../../src/clickhouse/migrations';
import { insertSessionEvent } from '../../../src/clickhouse/sessionEvents';
import { readQueryRunner, type RunQuery } from '../../../src/operations/clickhouseReads';
import { bookAt, latestBook, spreadPerInterval, streamedRowCounts, streamGaps, updateRate } from '../../../src/operations/depthQueries';
import { ClickHouseTablesMissingError, ClickHouseUnreachableError } from '../../../src/operations/errors';
import { sessionUptime } from '../../../src/operations/uptimeQueries';
import { freePort } from '../../../src/util/freePort';
import { createDropOldDepthPartitions, retentionCutoffDate } from '../../../activities/dropOldDepthPartitions';
import { queryCatalog } from '../../../src/operations/queryCatalog';
import { queryRows, startTestClickHouse, startTestModernClickHouse, uniqueDatabase, type TestClickHouseEngine } from '../../support/clickhouseServer';

jest.setTimeout(120_000);

const T0_MS = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const T0 = BigInt(T0_MS) * 1_000_000n;
const MS = 1_000_000n;
const DAY_MS = 86_400_000;

/** `modern`: the server gets migrations' modern branch (LowCardinality, codecs). */
const ENGINES: { engine: string; modern: boolean; start: () => Promise<TestClickHouseEngine> }[] = [
  { engine: 'ClickHouse 18.16', modern: false, start: startTestClickHouse },
  { engine: 'chDB 26.9', modern: true, start: startTestModernClickHouse },
];

/**
 * A query's shape: its first line with numbers blanked. Each catalog query has its own (checked
 * below), so the SQL the tests run can be told apart by it whatever the parameters.
 */
const shapeOf = (sql: string) => sql.split('\n')[0]!.replace(/\d+/g, '#');
/** Catalog query shapes each engine ran. */
const ranOn = new Map<string, Set<string>>();

function frame(streamId: string, seq: number, atMs: number, kind: 'snapshot' | 'update', levels: [side: 'bid' | 'ask', level: number, price: number, size: number][], conid = 265598, connection = 'paper-1'): DepthRow[] {
  return levels.map(([side, level, price, size]) => ({ receivedNs: T0 + BigInt(atMs) * MS, connection, pod: 'pod-a', conid, streamId, seq, kind, side, level, price, size }));
}
const gap = (streamId: string, seq: number, atMs: number): DepthRow => ({ receivedNs: T0 + BigInt(atMs) * MS, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId, seq, kind: 'gap', side: 'none', level: 0, price: 0, size: 0 });

describe.each(ENGINES)('$engine', ({ engine, modern, start }) => {
  let ch: TestClickHouseEngine;
  let db: string;
  let run: RunQuery;

  beforeAll(async () => {
    ch = await start();
    db = uniqueDatabase();
    await migrate(ch.client, { database: db });
    const read = readQueryRunner(ch.client, { url: ch.server.url, database: db });
    const shapes = ranOn.get(engine) ?? new Set<string>();
    ranOn.set(engine, shapes);
    run = <T>(sql: string) => {
      shapes.add(shapeOf(sql));
      return read<T>(sql);
    };
    const sink = new DepthSink({ client: ch.client, database: db });
    await sink.push([
      gap('s1', 0, 0),
      // Second 0: full frames at 100, 200 ms; a delta at 300 ms; a periodic snapshot of seq 3 at 400 ms; a delta at 600 ms.
      ...frame('s1', 1, 100, 'snapshot', [['bid', 0, 99.9, 100], ['bid', 1, 99.8, 200], ['ask', 0, 100.1, 300], ['ask', 1, 100.2, 400]]),
      ...frame('s1', 2, 200, 'snapshot', [['bid', 0, 99.95, 110], ['bid', 1, 99.9, 210], ['ask', 0, 100.05, 310], ['ask', 1, 100.1, 410]]),
      ...frame('s1', 3, 300, 'update', [['bid', 1, 99.9, 999]]),
      ...frame('s1', 3, 400, 'snapshot', [['bid', 0, 99.95, 110], ['bid', 1, 99.9, 999], ['ask', 0, 100.05, 310], ['ask', 1, 100.1, 410]]),
      ...frame('s1', 4, 600, 'update', [['ask', 0, 100.05, 1]]),
      // Second 1: one full frame, then the stream ends (closing marker).
      ...frame('s1', 5, 1500, 'snapshot', [['bid', 0, 99.7, 1], ['ask', 0, 100.3, 2]]),
      gap('s1', 5, 1600),
      // Another instrument, two frames.
      ...frame('s9', 1, 500, 'snapshot', [['bid', 0, 10, 1], ['ask', 0, 11, 1]], 8314),
      ...frame('s9', 2, 900, 'snapshot', [['bid', 0, 10, 2], ['ask', 0, 11, 2]], 8314),
    ]);
    await sink.close();
    for (const [connection, at, state, previous] of [
      ['paper-1', -600_000, 'usable', 'logging_in'], // before the window: usable at S
      ['paper-1', 600_000, 'reconnecting', 'usable'], // 10 min usable
      ['paper-1', 900_000, 'usable', 'reconnecting'], // 5 min down, then usable to E (45 min)
      ['live-1', 1_800_000, 'usable', 'logging_in'], // 30 min usable
      ['live-1', 2_700_000, 'competing', 'usable'], // then competing, not usable
    ] as const) {
      await insertSessionEvent(ch.client, { tsMs: T0_MS + at, connection, workflowId: `ibkr-session:${connection}`, state, previousState: previous, reason: 'test' }, db);
    }
  });

  afterAll(async () => {
    await ch?.cleanup();
  });

  const book = { database: '', conid: 265598, sinceMs: T0_MS - DAY_MS };

  test('the engine is the one named, with its schema branch', async () => {
    expect(serverFeatures(await serverVersion(ch.client)).lowCardinality).toBe(modern);
  });

  test('book at time T: the latest snapshot frame at or before T', async () => {
    const at500 = await bookAt(run, { ...book, database: db, atMs: T0_MS + 500 });
    expect(at500).toEqual({
      conid: 265598,
      connection: 'paper-1',
      streamId: 's1',
      seq: 3,
      receivedAt: '2026-01-01T00:00:00.400Z',
      bids: [
        { level: 0, price: 99.95, size: 110 },
        { level: 1, price: 99.9, size: 999 },
      ],
      asks: [
        { level: 0, price: 100.05, size: 310 },
        { level: 1, price: 100.1, size: 410 },
      ],
      trades: [],
    });
    expect((await bookAt(run, { ...book, database: db, atMs: T0_MS + 150 }))?.seq).toBe(1);
    expect(await bookAt(run, { ...book, database: db, atMs: T0_MS + 500, sinceMs: T0_MS + 450 })).toBeNull();
    expect(await bookAt(run, { ...book, database: db, atMs: T0_MS + 500, connection: 'live-1' })).toBeNull();
  });

  test('latest book: the newest snapshot within the lookback', async () => {
    const latest = await latestBook(run, { database: db, conid: 265598, lookbackMs: 60_000, nowMs: T0_MS + 10_000 });
    expect([latest?.seq, latest?.bids, latest?.asks]).toEqual([5, [{ level: 0, price: 99.7, size: 1 }], [{ level: 0, price: 100.3, size: 2 }]]);
    expect(await latestBook(run, { database: db, conid: 265598, lookbackMs: 1_000, nowMs: T0_MS + 10_000 })).toBeNull();
  });

  test('a replayed, not yet merged frame gives one row per level', async () => {
    const rdb = uniqueDatabase();
    await migrate(ch.client, { database: rdb });
    const sink = new DepthSink({ client: ch.client, database: rdb });
    const rows = frame('r1', 1, 100, 'snapshot', [['bid', 0, 5, 1], ['ask', 0, 6, 1]], 8314, 'live-1');
    await sink.push(rows);
    await sink.push(rows);
    await sink.close();
    const stored = await queryRows<{ n: string }>(ch.client, `SELECT count() AS n FROM ${rdb}.depth`);
    const replayed = await bookAt(readQueryRunner(ch.client, { url: ch.server.url, database: rdb }), { database: rdb, conid: 8314, atMs: T0_MS + 1000, sinceMs: T0_MS - DAY_MS });
    expect(Number(stored[0]!.n)).toBeGreaterThanOrEqual(2); // 4 until a merge; the book must not care
    expect([replayed?.bids, replayed?.asks]).toEqual([[{ level: 0, price: 5, size: 1 }], [{ level: 0, price: 6, size: 1 }]]);
  });

  test('spread per interval', async () => {
    expect(await spreadPerInterval(run, { database: db, conid: 265598, fromMs: T0_MS, toMs: T0_MS + 2000, bucketMs: 1000 })).toEqual([
      // seq 1 (0.2), seq 2 (0.1) and the periodic snapshot of seq 3 (0.1); the delta frames are not books
      { time: '2026-01-01T00:00:00.000Z', connection: 'paper-1', frames: 3, avgSpread: 0.133333, minSpread: 0.1, maxSpread: 0.2, avgMid: 100 },
      { time: '2026-01-01T00:00:01.000Z', connection: 'paper-1', frames: 1, avgSpread: 0.6, minSpread: 0.6, maxSpread: 0.6, avgMid: 100 },
    ]);
    expect(await spreadPerInterval(run, { database: db, conid: 265598, fromMs: T0_MS, toMs: T0_MS + 2000, bucketMs: 1000, connection: 'live-1' })).toEqual([]);
  });

  test('update rate per instrument', async () => {
    const rates = await updateRate(run, { database: db, fromMs: T0_MS, toMs: T0_MS + 2000 });
    expect(rates).toEqual([
      { connection: 'paper-1', conid: 8314, rows: 4, frames: 2, rowsPerSecond: 2, framesPerSecond: 1, gaps: 0, first: '2026-01-01T00:00:00.500Z', last: '2026-01-01T00:00:00.900Z' },
      { connection: 'paper-1', conid: 265598, rows: 16, frames: 5, rowsPerSecond: 8, framesPerSecond: 2.5, gaps: 2, first: '2026-01-01T00:00:00.000Z', last: '2026-01-01T00:00:01.600Z' },
    ]);
    expect((await updateRate(run, { database: db, fromMs: T0_MS, toMs: T0_MS + 2000, conid: 8314 })).map((r) => r.conid)).toEqual([8314]);
    // [200 ms, 700 ms): seq 2, 3 (update and its snapshot, one frame), 4 of s1; seq 1 of s9
    expect((await updateRate(run, { database: db, fromMs: T0_MS + 200, toMs: T0_MS + 700 })).map((r) => [r.conid, r.frames, r.rows])).toEqual([
      [8314, 1, 2],
      [265598, 3, 10],
    ]);
  });

  test('stream gaps', async () => {
    expect(await streamGaps(run, { database: db, fromMs: T0_MS, toMs: T0_MS + 2000 })).toEqual([
      { connection: 'paper-1', conid: 265598, streamId: 's1', seq: 0, kind: 'start', at: '2026-01-01T00:00:00.000Z' },
      { connection: 'paper-1', conid: 265598, streamId: 's1', seq: 5, kind: 'break', at: '2026-01-01T00:00:01.600Z' },
    ]);
    expect(await streamGaps(run, { database: db, fromMs: T0_MS, toMs: T0_MS + 2000, conid: 8314 })).toEqual([]);
  });

  test('rows streamed so far, per instrument', async () => {
    expect(await streamedRowCounts(run, { database: db })).toEqual([
      { conid: 8314, rows: 4 },
      { conid: 265598, rows: 16 },
    ]);
  });

  test('session uptime per connection', async () => {
    expect(await sessionUptime(run, { database: db, fromMs: T0_MS, toMs: T0_MS + 3_600_000 })).toEqual([
      { connection: 'live-1', usableSeconds: 900, usablePercent: 25, drops: 1, logins: 0, stateAtEnd: 'competing', knownFrom: '2026-01-01T00:30:00.000Z' },
      { connection: 'paper-1', usableSeconds: 3300, usablePercent: 91.67, drops: 1, logins: 0, stateAtEnd: 'usable', knownFrom: '2026-01-01T00:00:00.000Z' },
    ]);
    const paper = await sessionUptime(run, { database: db, fromMs: T0_MS + 600_000, toMs: T0_MS + 900_000, connection: 'paper-1' });
    expect(paper.map((u) => [u.connection, u.usableSeconds, u.stateAtEnd])).toEqual([['paper-1', 0, 'reconnecting']]);
  });

  test('read failures are typed: tables missing, server unreachable', async () => {
    const missing = readQueryRunner(ch.client, { url: ch.server.url, database: 'nope' });
    await expect(updateRate(missing, { database: 'nope', fromMs: T0_MS, toMs: T0_MS + 1 })).rejects.toBeInstanceOf(ClickHouseTablesMissingError);
    const url = `http://127.0.0.1:${await freePort()}`;
    const away = createClient({ url, request_timeout: 5_000, log: { level: ClickHouseLogLevel.OFF } });
    try {
      await expect(streamedRowCounts(readQueryRunner(away, { url, database: db }), { database: db })).rejects.toBeInstanceOf(ClickHouseUnreachableError);
    } finally {
      await away.close();
    }
  });

  test('retention drops whole depth partitions older than N days, idempotently', async () => {
    const rdb = uniqueDatabase();
    await migrate(ch.client, { database: rdb });
    const sink = new DepthSink({ client: ch.client, database: rdb });
    const day = 86_400_000n * MS;
    for (const d of [0n, 1n, 2n, 10n]) await sink.push([{ ...gap('r', 0, 0), receivedNs: T0 - d * day, streamId: `r${d}` }]);
    await sink.close();
    const drop = createDropOldDepthPartitions({ clickhouse: ch.client, config: () => ({ clickhouse: {} }) as never, log: { info: () => undefined } as never });
    const nowMs = T0_MS + 3_600_000; // 2026-01-01 01:00 UTC
    expect(retentionCutoffDate(nowMs, 2)).toBe('2025-12-30');
    expect(await drop({ database: rdb, retentionDays: 2, nowMs })).toEqual(['2025-12-22']);
    expect(await drop({ database: rdb, retentionDays: 1, nowMs })).toEqual(['2025-12-30']);
    expect(await drop({ database: rdb, retentionDays: 1, nowMs })).toEqual([]);
    const left = await queryRows<{ date: string }>(ch.client, `SELECT DISTINCT date FROM ${rdb}.depth ORDER BY date`);
    expect(left.map((r) => r.date)).toEqual(['2025-12-31', '2026-01-01']);
  });
});

test('every catalog query ran on both engines', () => {
  const catalog = queryCatalog().flatMap((section) => section.queries);
  const shapes = new Map(catalog.map((q) => [shapeOf(q.sql), q.name]));
  expect(shapes.size).toBe(catalog.length); // the shapes tell the catalog's queries apart
  const missing = ENGINES.flatMap(({ engine }) => catalog.filter((q) => !ranOn.get(engine)?.has(shapeOf(q.sql))).map((q) => `${q.name} on ${engine}`));
  expect(missing).toEqual([]);
});

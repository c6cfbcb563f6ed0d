/** The depth query builders and result shaping, without ClickHouse (results are checked in depthQueries.integration.test.ts). */
import {
  bookAt,
  bookFromRows,
  bookHeadSql,
  dayBound,
  instrumentRates,
  spreadBuckets,
  spreadSql,
  streamGapsOf,
  updateRateSql,
  type LadderRow,
} from '../../../src/operations/depthQueries';
import type { RunQuery } from '../../../src/operations/clickhouseReads';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

test('the partition bound is the UTC day before the window opens', () => {
  expect(dayBound(T0)).toBe('2025-12-31');
  expect(dayBound(T0 + 86_400_000 - 1)).toBe('2025-12-31');
  expect(dayBound(T0 + 86_400_000)).toBe('2026-01-01');
});

test('string values are quoted, names back-quoted, times in whole nanoseconds', () => {
  const sql = bookHeadSql({ database: 'we`ird', conid: 8314, atMs: T0 + 0.9, sinceMs: T0 - 1000, connection: "o'brien" });
  expect(sql).toContain('FROM `we\\`ird`.`depth`');
  expect(sql).toContain("AND connection = 'o\\'brien'");
  expect(sql).toContain('received_ns <= 1767225600000000000 AND received_ns >= 1767225599000000000');
  expect(bookHeadSql({ database: 'ibflow', conid: 1, atMs: T0, sinceMs: T0 })).not.toContain('connection =');
});

test('optional filters appear only when given', () => {
  expect(updateRateSql({ database: 'ibflow', fromMs: T0, toMs: T0 + 1000 })).not.toMatch(/AND conid|AND connection/);
  const both = updateRateSql({ database: 'ibflow', fromMs: T0, toMs: T0 + 1000, conid: 42, connection: 'live-1' });
  expect(both).toContain("AND connection = 'live-1' AND conid = 42");
  expect(spreadSql({ database: 'ibflow', conid: 1, fromMs: T0, toMs: T0 + 1, bucketMs: 60_000 })).toContain('intDiv(frame_ns, 60000000000) * 60000000000');
});

const ladder = (side: LadderRow['side'], level: number, price: number, size: number): LadderRow => ({
  connection: 'paper-1',
  stream_id: 's1',
  seq_s: '7',
  received_s: '1767225600250000000',
  side,
  level,
  price,
  size,
});

test('a book keeps one row per side and level, sorted, with trades apart', () => {
  const book = bookFromRows(265598, { connection: 'paper-1', stream_id: 's1', seq_s: '7' }, [
    ladder('ask', 1, 100.2, 4),
    ladder('bid', 0, 99.9, 1),
    ladder('ask', 0, 100.1, 3),
    ladder('bid', 0, 99.9, 1), // replayed, not merged yet
    ladder('trade', 0, 100, 5),
  ]);
  expect(book).toEqual({
    conid: 265598,
    connection: 'paper-1',
    streamId: 's1',
    seq: 7,
    receivedAt: '2026-01-01T00:00:00.250Z',
    bids: [{ level: 0, price: 99.9, size: 1 }],
    asks: [
      { level: 0, price: 100.1, size: 3 },
      { level: 1, price: 100.2, size: 4 },
    ],
    trades: [{ price: 100, size: 5 }],
  });
  expect(bookFromRows(1, { connection: 'c', stream_id: 's', seq_s: '1' }, [])).toBeNull();
});

test('bookAt asks for the ladder of the head frame it found, and for nothing when there is none', async () => {
  const asked: string[] = [];
  const run = (answers: unknown[][]): RunQuery =>
    (async (sql: string) => {
      asked.push(sql);
      return answers.shift() ?? [];
    }) as RunQuery;
  const p = { database: 'ibflow', conid: 265598, atMs: T0, sinceMs: T0 - 60_000 };
  expect(await bookAt(run([[]]), p)).toBeNull();
  expect(asked).toHaveLength(1);
  asked.length = 0;
  const book = await bookAt(run([[{ connection: 'live-1', stream_id: "s'2", seq_s: '18446744073709551615' }], [ladder('bid', 0, 1, 1)]]), p);
  expect(asked[1]).toContain("connection = 'live-1' AND stream_id = 's\\'2' AND seq = 18446744073709551615");
  expect(book?.connection).toBe('live-1');
});

test('spread buckets and rates are shaped and rounded as the CLI prints them', () => {
  expect(spreadBuckets([{ bucket_s: '1767225601000000000', connection: 'c', frames: '3', avg_spread: 0.1000000004, min_spread: 0.05, max_spread: 0.2, avg_mid: 100.12345678 }])).toEqual([
    { time: '2026-01-01T00:00:01.000Z', connection: 'c', frames: 3, avgSpread: 0.1, minSpread: 0.05, maxSpread: 0.2, avgMid: 100.123457 },
  ]);
  expect(instrumentRates([{ connection: 'c', conid: 5, rows: '30', frames: '4', gaps: '1', first_s: '1767225600000000000', last_s: '1767225601500000000' }], 3)).toEqual([
    { connection: 'c', conid: 5, rows: 30, frames: 4, rowsPerSecond: 10, framesPerSecond: 1.333333, gaps: 1, first: '2026-01-01T00:00:00.000Z', last: '2026-01-01T00:00:01.500Z' },
  ]);
});

test('gap markers at seq 0 open an epoch; others break it', () => {
  expect(
    streamGapsOf([
      { connection: 'c', conid: 5, stream_id: 's', seq_s: '0', first_ns: '1767225600000000000', received_s: '1767225600000000000' },
      { connection: 'c', conid: 5, stream_id: 's', seq_s: '9', first_ns: '1767225601000000000', received_s: '1767225601000000000' },
    ]).map((g) => [g.kind, g.seq, g.at]),
  ).toEqual([
    ['start', 0, '2026-01-01T00:00:00.000Z'],
    ['break', 9, '2026-01-01T00:00:01.000Z'],
  ]);
});

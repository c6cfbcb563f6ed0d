/**
 * Runs every query of docs/queries.md against a real ClickHouse on known rows (the doc's database
 * `ibflow` is swapped for a test database), so the documented queries stay correct.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink } from '../../../src/clickhouse/depthSink';
import { migrate } from '../../../src/clickhouse/migrations';
import { insertSessionEvent } from '../../../src/clickhouse/sessionEvents';
import { createDropOldDepthPartitions, retentionCutoffDate } from '../../../activities/dropOldDepthPartitions';
import { queryRows, startTestClickHouse, uniqueDatabase, type TestClickHouse } from '../../support/clickhouseServer';

jest.setTimeout(120_000);

const T0 = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z in ns
const MS = 1_000_000n;
const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'queries.md'), 'utf8');
function query(name: string, db: string): string {
  const m = new RegExp(`<!-- query: ${name} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/queries.md has no query ${name}`);
  return m[1]!.replace(/\bibflow\./g, `${db}.`);
}

let ch: TestClickHouse;
let db: string;

function frame(streamId: string, seq: number, atMs: number, kind: 'snapshot' | 'update', levels: [side: 'bid' | 'ask', level: number, price: number, size: number][], conid = 265598): DepthRow[] {
  return levels.map(([side, level, price, size]) => ({ receivedNs: T0 + BigInt(atMs) * MS, connection: 'paper-1', pod: 'pod-a', conid, streamId, seq, kind, side, level, price, size }));
}
const gap = (streamId: string, seq: number, atMs: number): DepthRow => ({ receivedNs: T0 + BigInt(atMs) * MS, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId, seq, kind: 'gap', side: 'none', level: 0, price: 0, size: 0 });

beforeAll(async () => {
  ch = await startTestClickHouse();
  db = uniqueDatabase();
  await migrate(ch.client, { database: db });
  const sink = new DepthSink({ client: ch.client, database: db });
  const rows: DepthRow[] = [
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
  ];
  await sink.push(rows);
  await sink.push(rows.slice(0, 6)); // a replayed batch must not count twice
  await sink.close();
  const ms0 = Number(T0 / MS);
  for (const [connection, at, state, previous] of [
    ['paper-1', -600_000, 'usable', 'logging_in'], // before the window: usable at S
    ['paper-1', 600_000, 'reconnecting', 'usable'], // 10 min usable
    ['paper-1', 900_000, 'usable', 'reconnecting'], // 5 min down, then usable to E (45 min)
    ['live-1', 1_800_000, 'usable', 'logging_in'], // 30 min usable
    ['live-1', 2_700_000, 'competing', 'usable'], // then 15 min... competing is not usable
  ] as const) {
    await insertSessionEvent(ch.client, { tsMs: ms0 + at, connection, workflowId: `ibkr-session:${connection}`, state, previousState: previous, reason: 'test' }, db);
  }
});

afterAll(async () => {
  await ch?.cleanup();
});

test('book at time T: latest snapshot before T plus later updates', async () => {
  const rows = await queryRows<{ side: string; level: number; px: number; sz: number }>(ch.client, query('book-at-time', db));
  // T = 500 ms: the periodic snapshot of seq 3 (400 ms) is the base; the update at 600 ms is after T.
  expect(rows.map((r) => [r.side, Number(r.level), r.px, r.sz])).toEqual([
    ['bid', 0, 99.95, 110],
    ['bid', 1, 99.9, 999],
    ['ask', 0, 100.05, 310],
    ['ask', 1, 100.1, 410],
  ]);
  // At T = 700 ms the update at 600 ms applies on top of that snapshot.
  const later = await queryRows<{ side: string; level: number; sz: number }>(ch.client, query('book-at-time', db).replace(/1767225600500000000/g, '1767225600700000000'));
  expect(later.find((r) => r.side === 'ask' && Number(r.level) === 0)?.sz).toBe(1);
});

test('spread over time, per second', async () => {
  const rows = await queryRows<{ second: string; avg_spread: number; min_spread: number; max_spread: number; frames: string }>(ch.client, query('spread-per-second', db));
  expect(rows).toHaveLength(2);
  expect(rows[0]!.second).toBe('2026-01-01 00:00:00');
  expect(Number(rows[0]!.frames)).toBe(3); // seq 1, 2 and the periodic snapshot of 3
  expect(rows[0]!.min_spread).toBeCloseTo(0.1, 9);
  expect(rows[0]!.max_spread).toBeCloseTo(0.2, 9);
  expect(rows[1]!.avg_spread).toBeCloseTo(0.6, 9);
});

test('update rate per instrument', async () => {
  const rows = await queryRows<{ conid: number; frames: string; frames_per_second: number; gap_markers: string }>(ch.client, query('update-rate', db));
  expect(rows.map((r) => [Number(r.conid), Number(r.frames), r.frames_per_second, Number(r.gap_markers)])).toEqual([
    [8314, 2, 1, 0],
    [265598, 5, 2.5, 2],
  ]);
});

test('session uptime per connection', async () => {
  const rows = await queryRows<{ connection: string; usable_seconds: number; uptime_ratio: number }>(ch.client, query('session-uptime', db));
  expect(rows.map((r) => [r.connection, r.usable_seconds])).toEqual([
    ['live-1', 900],
    ['paper-1', 600 + 2700],
  ]);
  expect(rows[1]!.uptime_ratio).toBeCloseTo(3300 / 3600, 9);
});

test('retention drops whole depth partitions older than N days, idempotently', async () => {
  const rdb = uniqueDatabase();
  await migrate(ch.client, { database: rdb });
  const sink = new DepthSink({ client: ch.client, database: rdb });
  const day = 86_400_000n * MS;
  for (const d of [0n, 1n, 2n, 10n]) await sink.push([{ ...gap('r', 0, 0), receivedNs: T0 - d * day, streamId: `r${d}` }]);
  await sink.close();
  const drop = createDropOldDepthPartitions({ clickhouse: ch.client, config: () => ({ clickhouse: {} }) as never, log: { info: () => undefined } as never });
  const nowMs = Number(T0 / MS) + 3_600_000; // 2026-01-01 01:00 UTC
  expect(retentionCutoffDate(nowMs, 2)).toBe('2025-12-30');
  expect(await drop({ database: rdb, retentionDays: 2, nowMs })).toEqual(['2025-12-22']);
  expect(await drop({ database: rdb, retentionDays: 1, nowMs })).toEqual(['2025-12-30']);
  expect(await drop({ database: rdb, retentionDays: 1, nowMs })).toEqual([]);
  const left = await queryRows<{ date: string }>(ch.client, `SELECT DISTINCT date FROM ${rdb}.depth ORDER BY date`);
  expect(left.map((r) => r.date)).toEqual(['2025-12-31', '2026-01-01']);
});

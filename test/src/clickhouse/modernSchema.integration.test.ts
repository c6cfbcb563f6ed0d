/**
 * The migrations' two branches executed for real: the modern one (LowCardinality, codecs) on a
 * current engine (chDB 26.9 through the HTTP shim in stack/chdb), the plain one on ClickHouse
 * 18.16. Also what the shim must get right for ibflow's code to trust it: the DepthSink's
 * RowBinary inserts land intact, and a refused request comes back as ClickHouse answers one.
 */
import { Readable } from 'node:stream';
import { ClickHouseError } from '@clickhouse/client';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthSink } from '../../../src/clickhouse/depthSink';
import { classifyInsertError } from '../../../src/clickhouse/insertErrorKind';
import { migrate } from '../../../src/clickhouse/migrations';
import { DEPTH_COLUMNS, encodeDepthRows } from '../../../src/clickhouse/rowBinary';
import { classifyReadError } from '../../../src/operations/clickhouseReads';
import { ClickHouseTablesMissingError } from '../../../src/operations/errors';
import {
  queryRows,
  startTestClickHouse,
  startTestModernClickHouse,
  uniqueDatabase,
  type TestClickHouse,
  type TestModernClickHouse,
} from '../../support/clickhouseServer';

jest.setTimeout(120_000);

let modern: TestModernClickHouse;
let old: TestClickHouse;

beforeAll(async () => {
  [modern, old] = await Promise.all([startTestModernClickHouse(), startTestClickHouse()]);
});

afterAll(async () => {
  await Promise.all([modern?.cleanup(), old?.cleanup()]);
});

/** [name, type] of a table's columns in definition order (DESCRIBE answers the same on 18.16 and 26). */
const columnsOf = async (client: TestClickHouse['client'], database: string, table: string) =>
  (await queryRows<{ name: string; type: string }>(client, `DESCRIBE TABLE ${database}.${table}`)).map((c) => [c.name, c.type]);

// Written out by hand (not from migrations.ts) so a change to either branch shows here.
const ENUMS = { kind: "Enum8('snapshot' = 1, 'update' = 2, 'gap' = 3)", side: "Enum8('none' = 0, 'bid' = 1, 'ask' = 2, 'trade' = 3)" };
const MODERN_DEPTH: [string, string, string][] = [
  ['date', 'Date', ''],
  ['received_ns', 'UInt64', 'CODEC(Delta(8), ZSTD(1))'],
  ['connection', 'LowCardinality(String)', ''],
  ['pod', 'LowCardinality(String)', ''],
  ['conid', 'UInt32', ''],
  ['stream_id', 'String', 'CODEC(ZSTD(1))'],
  ['seq', 'UInt64', 'CODEC(Delta(8), ZSTD(1))'],
  ['kind', ENUMS.kind, ''],
  ['side', ENUMS.side, ''],
  ['level', 'UInt16', ''],
  ['price', 'Float64', 'CODEC(ZSTD(1))'],
  ['size', 'Float64', 'CODEC(ZSTD(1))'],
];
const MODERN_SESSION_EVENTS: [string, string, string][] = [
  ['date', 'Date', ''],
  ['ts', 'DateTime', ''],
  ['ts_ms', 'UInt64', ''],
  ['connection', 'LowCardinality(String)', ''],
  ['workflow_id', 'String', ''],
  ['state', 'LowCardinality(String)', ''],
  ['previous_state', 'LowCardinality(String)', ''],
  ['reason', 'String', ''],
];
const plain = (cols: [string, string, string][]) => cols.map(([name, type]) => [name, type.replace(/^LowCardinality\((.*)\)$/, '$1')]);

describe('migrations', () => {
  test('a current server gets the modern branch: LowCardinality and codecs, and a second run applies nothing', async () => {
    const db = uniqueDatabase();
    const first = await migrate(modern.client, { database: db });
    expect(first.serverVersion).toMatch(/^26\./);
    expect(first.applied).toEqual([1]);
    const cols = await queryRows<{ table: string; name: string; type: string; compression_codec: string }>(
      modern.client,
      `SELECT table, name, type, compression_codec FROM system.columns WHERE database = '${db}' AND table IN ('depth', 'session_events') ORDER BY table, position`,
    );
    expect(cols.filter((c) => c.table === 'depth').map((c) => [c.name, c.type, c.compression_codec])).toEqual(MODERN_DEPTH);
    expect(cols.filter((c) => c.table === 'session_events').map((c) => [c.name, c.type, c.compression_codec])).toEqual(MODERN_SESSION_EVENTS);
    expect((await migrate(modern.client, { database: db })).applied).toEqual([]);
    const recorded = await queryRows<{ version: number }>(modern.client, `SELECT version FROM ${db}.schema_migrations FINAL`);
    expect(recorded.map((r) => Number(r.version))).toEqual([1]);
  });

  test('ClickHouse 18.16 gets the plain branch: the same columns in the same order, no LowCardinality, no codec', async () => {
    const db = uniqueDatabase();
    const first = await migrate(old.client, { database: db });
    expect(first.serverVersion).toMatch(/^18\.16\./);
    expect(first.applied).toEqual([1]);
    // 18.16's system.columns has neither position nor compression_codec.
    expect(await columnsOf(old.client, db, 'depth')).toEqual(plain(MODERN_DEPTH));
    expect(await columnsOf(old.client, db, 'session_events')).toEqual(plain(MODERN_SESSION_EVENTS));
    const [ddl] = await queryRows<{ statement: string }>(old.client, `SHOW CREATE TABLE ${db}.depth`);
    expect(ddl!.statement).not.toMatch(/CODEC|LowCardinality/);
    expect((await migrate(old.client, { database: db })).applied).toEqual([]);
  });
});

describe('through the chDB HTTP shim', () => {
  const rows: DepthRow[] = [
    // received_ns past 2^53 and seq past 2^32: RowBinary's UInt64s must arrive exactly.
    { receivedNs: 1_767_225_600_123_456_789n, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId: 's1', seq: 2 ** 33 + 7, kind: 'snapshot', side: 'bid', level: 0, price: 99.95, size: 110 },
    { receivedNs: 1_767_225_600_123_456_789n, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId: 's1', seq: 2 ** 33 + 7, kind: 'snapshot', side: 'ask', level: 0, price: 100.05, size: 310 },
    { receivedNs: 1_767_225_601_000_000_000n, connection: 'live-1', pod: 'pod-b', conid: 8314, streamId: 'ü-2', seq: 0, kind: 'gap', side: 'none', level: 0, price: 0, size: 0 },
  ];

  test("the DepthSink's RowBinary batches land intact, and a re-sent batch collapses under FINAL", async () => {
    const db = uniqueDatabase();
    await migrate(modern.client, { database: db });
    const sink = new DepthSink({ client: modern.client, database: db });
    await sink.push(rows);
    await sink.push(rows); // a replay after a lost answer
    await sink.close();
    const stored = await queryRows<Record<string, unknown>>(
      modern.client,
      `SELECT toString(date) AS date, toString(received_ns) AS received_ns, connection, pod, conid, stream_id, toString(seq) AS seq, kind, side, level, price, size FROM ${db}.depth FINAL ORDER BY received_ns, side`,
    );
    expect(stored).toEqual([
      { date: '2026-01-01', received_ns: '1767225600123456789', connection: 'paper-1', pod: 'pod-a', conid: 265598, stream_id: 's1', seq: String(2 ** 33 + 7), kind: 'snapshot', side: 'bid', level: 0, price: 99.95, size: 110 },
      { date: '2026-01-01', received_ns: '1767225600123456789', connection: 'paper-1', pod: 'pod-a', conid: 265598, stream_id: 's1', seq: String(2 ** 33 + 7), kind: 'snapshot', side: 'ask', level: 0, price: 100.05, size: 310 },
      { date: '2026-01-01', received_ns: '1767225601000000000', connection: 'live-1', pod: 'pod-b', conid: 8314, stream_id: 'ü-2', seq: '0', kind: 'gap', side: 'none', level: 0, price: 0, size: 0 },
    ]);
    const [all] = await queryRows<{ n: number | string }>(modern.client, `SELECT count() AS n FROM ${db}.depth`);
    expect(Number(all!.n)).toBeGreaterThanOrEqual(3);
  });

  test('an unknown table is answered as ClickHouse answers it: status, exception code header, typed error', async () => {
    const res = await fetch(`${modern.server.url}/?query=${encodeURIComponent('SELECT 1 FROM default.nope')}`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(await res.text()).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\) \(version 26\.[\d.]+\)\n$/s);

    const err = await queryRows(modern.client, 'SELECT 1 FROM default.nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseError);
    expect([(err as ClickHouseError).code, (err as ClickHouseError).type]).toEqual(['60', 'UNKNOWN_TABLE']);
    expect(classifyReadError(err, { url: modern.server.url, database: 'default' })).toBeInstanceOf(ClickHouseTablesMissingError);
  });

  test('a RowBinary insert into a missing table is a permanent insert error on both engines', async () => {
    const insert = (client: TestClickHouse['client']) =>
      client.exec({ query: `INSERT INTO nope_${Date.now()}.depth (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`, values: Readable.from([encodeDepthRows(rows)]) }).then(
        (r) => r.stream.destroy(),
        (e: unknown) => e,
      );
    const kinds = [classifyInsertError(await insert(modern.client)), classifyInsertError(await insert(old.client))];
    expect(kinds.map((k) => k.kind)).toEqual(['permanent', 'permanent']);
    expect(kinds[0]!.code).toBe(81); // UNKNOWN_DATABASE
    expect(kinds[0]!.name).toBe('UNKNOWN_DATABASE');
  });

  test('settings in the URL apply to that query only, query parameters are bound', async () => {
    const withSetting = await modern.client.query({ query: "SELECT toString(getSetting('max_block_size')) AS v, {x:UInt32} AS x", format: 'JSONEachRow', clickhouse_settings: { max_block_size: '777' }, query_params: { x: 42 } });
    expect(await withSetting.json()).toEqual([{ v: '777', x: 42 }]);
    const after = await queryRows<{ v: unknown }>(modern.client, "SELECT toString(getSetting('max_block_size')) AS v");
    expect(String(after[0]!.v)).not.toBe('777');
  });
});

/**
 * A batch a real ClickHouse 18.16 refuses for good, end to end: the pod's sink (as the ingest user,
 * password by `env:` reference) sets it aside with its hole marked while later rows keep arriving;
 * `ibflow depth quarantine` (spawned, no terminal) lists it, shows its rows, fails to replay it
 * while the cause is there, replays it once fixed, says so when asked again, and drops it only
 * with --yes. The poison is a MATERIALIZED column that throws on one price (Code 395), so the
 * server refuses exactly the batch holding that row. No password appears in any output.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DepthRow } from '../../src/book/depthRow';
import { createIbflowClickHouseClient } from '../../src/clickhouse/clickhouseClient';
import { DepthSink, type QuarantinedBatch } from '../../src/clickhouse/depthSink';
import { migrate } from '../../src/clickhouse/migrations';
import { loadConfig } from '../../src/config/loadConfig';
import { QuarantineStore } from '../../src/clickhouse/quarantine';
import { encodeDepthRows } from '../../src/clickhouse/rowBinary';
import { freePort } from '../../src/util/freePort';
import type { EmbeddedClickHouse } from '../../stack/embeddedClickHouse';
import { startPrivateClickHouse, type PrivateClickHouse } from '../../stack/privateClickHouse';
import { uniqueDatabase } from '../support/clickhouseServer';
import { runCli, transcript } from './support/cli';

jest.setTimeout(180_000);

const db = uniqueDatabase('ibflow_quarantine');
const POD = 'pod-q';
const PASSWORDS = { ingest: 'ingest-canary-q71c', reader: 'reader-canary-q2e9' };
const env = { CH_INGEST_PW: PASSWORDS.ingest, CH_READER_PW: PASSWORDS.reader };
const POISON_PRICE = 666;

let dir: string;
let clickhouse: PrivateClickHouse;
let server: EmbeddedClickHouse;
let admin: ClickHouseClient;
let configPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ibflow-quarantine-cli-'));
  clickhouse = await startPrivateClickHouse(join(dir, 'ch'), {
    users: [
      { name: 'ibflow_ingest', password: PASSWORDS.ingest, readonly: 0, databases: [db] },
      { name: 'ibflow_reader', password: PASSWORDS.reader, readonly: 1, databases: [db] },
    ],
  });
  server = clickhouse.server;
  admin = clickhouse.client;
  await migrate(admin, { database: db });
  configPath = join(dir, 'ibflow.yaml');
  writeFileSync(
    configPath,
    [
      `stateDir: ${dir}`,
      'clickhouse:',
      `  url: ${server.url}`,
      `  database: ${db}`,
      '  users:',
      '    ingest: { username: ibflow_ingest, passwordRef: "env:CH_INGEST_PW" }',
      '    reader: { username: ibflow_reader, passwordRef: "env:CH_READER_PW" }',
      'connections: []',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await clickhouse?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  const all = transcript.join('');
  for (const p of Object.values(PASSWORDS)) expect(all).not.toContain(p);
});

const T0 = 1_780_000_000_000_000_000n;

/** One snapshot frame per seq: 3 bid and 3 ask levels; `poison` puts the refused price in it. */
function frames(streamId: string, conid: number, seqs: number[], poisonSeq?: number): DepthRow[] {
  const rows: DepthRow[] = [];
  for (const seq of seqs) {
    for (const side of ['bid', 'ask'] as const) {
      for (let level = 0; level < 3; level++) {
        const price = seq === poisonSeq && side === 'bid' && level === 0 ? POISON_PRICE : (side === 'bid' ? 100 - level : 101 + level) + seq / 1000;
        rows.push({ receivedNs: T0 + BigInt(seq) * 1_000_000n, connection: 'paper-1', pod: POD, conid, streamId, seq, kind: 'snapshot', side, level, price, size: 10 + level });
      }
    }
  }
  return rows;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function count(sql: string): Promise<number> {
  const rs = await admin.query({ query: sql, format: 'JSONEachRow' });
  return Number(((await rs.json<{ n: string }>())[0] as { n: string }).n);
}

const cli = (...args: string[]) => runCli(['depth', 'quarantine', ...args, '--config', configPath], { env });

test('refused batch: quarantined with its hole marked, later rows arrive; list, show, a failed replay, the fix, replay, replay again, drop', async () => {
  const config = loadConfig(configPath, {});
  const ingest = await createIbflowClickHouseClient(config, 'ingest', { env });
  const sink = new DepthSink({
    client: ingest,
    database: db,
    maxRows: 100_000,
    maxDelayMs: 10_000,
    retry: { initialMs: 20, maxMs: 100 },
    quarantine: { dir: join(dir, 'quarantine', POD), pod: POD },
  });
  const heard: QuarantinedBatch[] = [];
  sink.onQuarantine((q) => heard.push(q));
  try {
    // One column the server computes on insert, throwing for one price: this server now refuses any batch holding it.
    await admin.command({ query: `ALTER TABLE ${db}.depth ADD COLUMN poison UInt8 MATERIALIZED throwIf(price = ${POISON_PRICE})` });

    await sink.push(frames('s-1', 265598, range(1, 10)));
    await sink.flush();
    await sink.push([...frames('s-1', 265598, range(11, 20), 15), ...frames('s-2', 8314, range(1, 5))]);
    await sink.flush();
    await sink.push(frames('s-1', 265598, range(21, 30)));
    await sink.flush();

    expect(heard).toHaveLength(1);
    expect(heard[0]!.record.error).toMatchObject({ kind: 'permanent', code: 395 });
    expect(sink.stats()).toMatchObject({ batchesQuarantined: 1, rowsQuarantined: 90 });
    // Before and after the refused batch, every row is stored; the refused frames are not.
    expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'snapshot' AND stream_id = 's-1'`)).toBe(120);
    expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE stream_id = 's-1' AND seq BETWEEN 11 AND 20 AND kind = 'snapshot'`)).toBe(0);
    // The hole, per stream, at the last refused seq.
    expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'gap' AND stream_id = 's-1' AND seq = 20`)).toBe(1);
    expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'gap' AND stream_id = 's-2' AND seq = 5`)).toBe(1);
  } finally {
    await sink.close();
    await ingest.close();
  }
  const id = heard[0]!.record.id;

  // list: the record, its hole per stream, the server's code.
  const listed = await cli('list', '--json');
  expect(listed.code).toBe(0);
  const records = JSON.parse(listed.stdout) as { id: string; pod: string; rows: number; state: string; streams: { conid: number; fromSeq: number; toSeq: number; rows: number }[] }[];
  expect(records.map((r) => [r.id, r.pod, r.rows, r.state])).toEqual([[id, POD, 90, 'pending']]);
  expect(records[0]!.streams.map((s) => [s.conid, s.fromSeq, s.toSeq, s.rows]).sort()).toEqual([
    [265598, 11, 20, 60],
    [8314, 1, 5, 30],
  ]);
  const listText = await cli('list');
  expect(listText.stdout).toContain(id);
  expect(listText.stdout).toMatch(/395/);
  expect(listText.stderr).toContain(`ibflow depth quarantine replay ${id}`);

  // doctor warns while a record waits (the rows are safe, so not a failure) and names the command.
  const doctor = async () =>
    (JSON.parse((await runCli(['doctor', '--config', configPath, '--skip', 'temporal,sessions,clickhouse,gateways,secrets,chromium', '--json'], { env })).stdout) as { checks: { name: string; status: string; detail: string; fix?: string }[] }).checks.find(
      (c) => c.name === 'depth quarantine',
    );
  const warned = await doctor();
  expect(warned).toMatchObject({ status: 'warn', fix: expect.stringContaining('ibflow depth quarantine replay --all') });
  expect(warned!.detail).toMatch(new RegExp(`1 depth batch \\(90 rows\\) refused by ClickHouse wait on pod ${POD}.*code 395`));

  // show: the error, the rows (the poison among them).
  const shown = await cli('show', id, '--rows', '100');
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain('first 90 of 90 rows');
  expect(shown.stdout).toMatch(/refused with \(permanent\): 395/);
  expect(shown.stdout).toMatch(new RegExp(`\\b${POISON_PRICE}\\b`));
  const shownJson = JSON.parse((await cli('show', id, '--json', '--rows', '2')).stdout) as { totalRows: number; preview: { seq: number; kind: string }[] };
  expect(shownJson.totalRows).toBe(90);
  expect(shownJson.preview).toHaveLength(2);

  // Replay while the cause is still there: refused again, noted, still pending, exit 1.
  const refused = await cli('replay', '--all');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/still refused/);
  const afterRefusal = JSON.parse((await cli('list', '--json')).stdout) as { state: string; replays: { ok: boolean }[] }[];
  expect(afterRefusal[0]).toMatchObject({ state: 'pending', replays: [{ ok: false }] });

  // The fix, then the replay: every row is back (30 + 5 frames of 6 rows), counted once.
  await admin.command({ query: `ALTER TABLE ${db}.depth DROP COLUMN poison` });
  const replayed = await cli('replay', id, '--json');
  expect(replayed.code).toBe(0);
  expect(JSON.parse(replayed.stdout)).toEqual([{ id, pod: POD, outcome: 'replayed', rows: 90 }]);
  expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'snapshot'`)).toBe(210);
  expect((await cli('list', '--json')).stdout.trim()).toBe('[]');
  expect(await doctor()).toMatchObject({ status: 'ok' });

  // Asked again: nothing sent, and said so.
  const again = await cli('replay', id);
  expect(again.code).toBe(0);
  expect(again.stdout + again.stderr).toMatch(/already replayed/);
  expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'snapshot'`)).toBe(210);
  // A replay cut off after its insert (the record never moved) sends the batch twice: it collapses onto the first copy.
  const qdir = join(dir, 'quarantine', POD);
  for (const ext of ['rb', 'json']) copyFileSync(join(qdir, 'replayed', `${id}.${ext}`), join(qdir, `${id}.${ext}`));
  rmSync(join(qdir, 'replayed', `${id}.json`));
  const twice = await cli('replay', id, '--json');
  expect(JSON.parse(twice.stdout)).toEqual([{ id, pod: POD, outcome: 'replayed', rows: 90 }]);
  expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'snapshot'`)).toBe(210);
  // The gap markers stay: the stream was interrupted there.
  expect(await count(`SELECT count() AS n FROM ${db}.depth FINAL WHERE kind = 'gap'`)).toBe(2);

  // drop: refused without --yes (no terminal), done with it; unknown ids are not found (exit 3).
  const noYes = await cli('drop', id);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toMatch(/--yes/);
  const dropped = await cli('drop', id, '--yes');
  expect(dropped.code).toBe(0);
  expect(dropped.stdout).toContain(`dropped ${id}`);
  const gone = await cli('show', id);
  expect(gone.code).toBe(3);
  const malformed = await cli('show', 'not-an-id');
  expect(malformed.code).toBe(3);
  expect(malformed.stderr).toMatch(/is not a quarantine record id/);
});

test('a replay with ClickHouse unreachable leaves the records as they were and says where it looked', async () => {
  const qdir = join(dir, 'quarantine', POD);
  const rows = frames('s-9', 1, range(1, 2));
  const record = new QuarantineStore({ dir: qdir }).add(
    { id: 1, rows: rows.length, bytes: encodeDepthRows(rows), firstNs: rows[0]!.receivedNs, lastNs: rows.at(-1)!.receivedNs },
    { database: db, table: 'depth', pod: POD, error: { kind: 'permanent', code: 53, name: 'TYPE_MISMATCH', message: 'Code: 53, type mismatch' }, attempts: 2 },
  );
  const away = join(dir, 'away.yaml');
  writeFileSync(away, `stateDir: ${dir}\nclickhouse:\n  url: http://127.0.0.1:${await freePort()}\n  database: ${db}\n  users:\n    ingest: { username: ibflow_ingest, passwordRef: "env:CH_INGEST_PW" }\nconnections: []\n`);
  const res = await runCli(['depth', 'quarantine', 'replay', '--all', '--config', away], { env });
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/cannot reach ClickHouse at http:\/\/127\.0\.0\.1/);
  const after = new QuarantineStore({ dir: qdir }).get(record.id).record;
  expect(after).toMatchObject({ state: 'pending', replays: [] });
});

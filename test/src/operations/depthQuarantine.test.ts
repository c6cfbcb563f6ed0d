/**
 * The operations layer over the quarantine files, without a server: records are found by id in
 * any pod's folder (a damaged one too, so it can be dropped), a malformed id or an unknown one is
 * named as such, and a damaged record in a replay is reported as failed without stopping it.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DepthRow } from '../../../src/book/depthRow';
import { QuarantineStore } from '../../../src/clickhouse/quarantine';
import { quarantineDirFor } from '../../../src/clickhouse/quarantineDirs';
import { encodeDepthRows } from '../../../src/clickhouse/rowBinary';
import { parseConfig } from '../../../src/config/loadConfig';
import { dropQuarantine, listQuarantine, QuarantineEntryMissingError, replayQuarantine, showQuarantine } from '../../../src/operations/depthQuarantine';

const rows: DepthRow[] = [1, 2].map((seq) => ({
  receivedNs: 1_767_225_600_000_000_000n + BigInt(seq),
  connection: 'paper-1',
  pod: 'pod-b',
  conid: 8314,
  streamId: 's1',
  seq,
  kind: 'snapshot',
  side: 'ask',
  level: 0,
  price: 101,
  size: seq,
}));

let stateDir: string;
beforeEach(() => (stateDir = mkdtempSync(join(tmpdir(), 'ibflow-quarantine-ops-'))));
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

function addRecord(pod: string, at: Date) {
  const store = new QuarantineStore({ dir: quarantineDirFor(parseConfig({ stateDir }), pod) });
  return store.add(
    { id: 1, rows: rows.length, bytes: encodeDepthRows(rows), firstNs: rows[0]!.receivedNs, lastNs: rows[1]!.receivedNs },
    { database: 'ibflow', table: 'depth', pod, error: { kind: 'permanent', code: 53, name: 'TYPE_MISMATCH', message: 'Code: 53, type mismatch' }, attempts: 2, at },
  );
}

it('finds a record in whichever pod folder holds it; unknown and malformed ids are named', () => {
  const config = parseConfig({ stateDir });
  addRecord('pod-a', new Date('2026-05-06T07:08:09.010Z'));
  const b = addRecord('pod-b', new Date('2026-05-06T07:08:10.010Z'));
  expect(showQuarantine(config, b.id, { previewRows: 1 })).toMatchObject({ record: { id: b.id, pod: 'pod-b' }, totalRows: 2, preview: [{ seq: 1, conid: 8314 }] });
  expect(() => showQuarantine(config, b.id, { pod: 'pod-a' })).toThrow(QuarantineEntryMissingError);
  expect(() => showQuarantine(config, 'q-20260506T070811010Z-abcdef')).toThrow(/no quarantine record q-20260506T070811010Z-abcdef on this host/);
  expect(() => showQuarantine(config, 'nope')).toThrow(/"nope" is not a quarantine record id/);
});

it('a damaged record is listed, reported as failed by a replay (which goes on), and dropped by id', async () => {
  const config = parseConfig({ stateDir, clickhouse: { url: 'http://127.0.0.1:9' } });
  const damaged = addRecord('pod-b', new Date('2026-05-06T07:08:09.010Z'));
  const dir = quarantineDirFor(config, 'pod-b');
  // An orphan .rb whose bytes no longer match their CRC.
  unlinkSync(join(dir, `${damaged.id}.json`));
  const bytes = readFileSync(join(dir, `${damaged.id}.rb`));
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(join(dir, `${damaged.id}.rb`), bytes);

  expect(listQuarantine(config).map((r) => [r.id, r.pod, r.rows])).toEqual([[damaged.id, 'pod-b', 0]]);
  const outcomes = await replayQuarantine(config, 'all');
  expect(outcomes).toEqual([{ id: damaged.id, pod: 'pod-b', outcome: 'failed', rows: 0, kind: 'damaged', error: expect.stringMatching(new RegExp(`cannot be read: .*drop it \\(ibflow depth quarantine drop ${damaged.id}\\)`)) }]);
  expect(dropQuarantine(config, damaged.id).id).toBe(damaged.id);
  expect(listQuarantine(config)).toEqual([]);
});

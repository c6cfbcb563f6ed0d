/**
 * The depth quarantine store on a real temporary disk: what a record says about the refused batch,
 * its two files, the replay and drop life cycle, the errors an operator sees, the disk bound, and
 * the recovery of a `.rb` left without its `.json` by a crash.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DepthRow } from '../../../src/book/depthRow';
import type { ClassifiedInsertError } from '../../../src/clickhouse/insertErrorKind';
import { QuarantineFullError, QuarantineRecordNotFoundError, QuarantineStore } from '../../../src/clickhouse/quarantine';
import { encodeDepthRows } from '../../../src/clickhouse/rowBinary';
import { decodeDepthRows } from '../../../src/clickhouse/rowBinaryDecode';
import { SPILL_HEADER_BYTES, type SpillBatch } from '../../../src/clickhouse/spill';

const BASE_NS = 1_767_225_600_000_000_000n;

const row = (seq: number, streamId: string, conid: number, offsetMs: number): DepthRow => ({
  receivedNs: BASE_NS + BigInt(offsetMs) * 1_000_000n,
  connection: 'paper-1',
  pod: 'pod-a',
  conid,
  streamId,
  seq,
  kind: 'snapshot',
  side: 'bid',
  level: 0,
  price: 100 + seq,
  size: seq,
});

// A gap marker on s1: seq 0 and the earliest receipt time, so counting it would show in s1's range.
const gap: DepthRow = { ...row(0, 's1', 1, 0), kind: 'gap', side: 'none', price: 0, size: 0 };

/** Two streams (s1 out of order on purpose, so the range is a min/max, not first/last) and a gap row. */
function twoStreamRows(): DepthRow[] {
  return [gap, row(12, 's1', 1, 20), row(10, 's1', 1, 10), row(11, 's1', 1, 30), row(3, 's2', 2, 15), row(4, 's2', 2, 25)];
}

function batchOf(rows: DepthRow[], id = 7): SpillBatch {
  const ns = rows.map((r) => r.receivedNs);
  return { id, rows: rows.length, bytes: encodeDepthRows(rows), firstNs: ns.reduce((a, b) => (a < b ? a : b)), lastNs: ns.reduce((a, b) => (a > b ? a : b)) };
}

const refusal: ClassifiedInsertError = { kind: 'permanent', code: 395, name: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO', message: "Value passed to 'throwIf' function is non zero" };
const info = (at: Date, error: ClassifiedInsertError = refusal) => ({ database: 'ibflow', table: 'depth', pod: 'pod-a', error, attempts: 2, at });

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ibflow-quarantine-store-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('add', () => {
  it('writes a record naming each stream, the error and the attempts, beside the batch as sent', () => {
    const store = new QuarantineStore({ dir });
    const batch = batchOf(twoStreamRows());
    const at = new Date('2026-03-04T05:06:07.089Z');
    const record = store.add(batch, info(at));

    expect(record.id).toMatch(/^q-20260304T050607089Z-[0-9a-f]{6}$/);
    expect(record).toMatchObject({
      state: 'pending',
      database: 'ibflow',
      table: 'depth',
      pod: 'pod-a',
      quarantinedAt: '2026-03-04T05:06:07.089Z',
      rows: 6,
      bytes: batch.bytes.length,
      error: { kind: 'permanent', code: 395, name: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO', message: refusal.message },
      attempts: 2,
      replays: [],
    });
    // The gap row (seq 0, earliest time) is in neither count nor range.
    const byStream = Object.fromEntries(record.streams.map((s) => [s.streamId, s]));
    expect(record.streams).toHaveLength(2);
    expect(byStream.s1).toEqual({ connection: 'paper-1', pod: 'pod-a', conid: 1, streamId: 's1', rows: 3, fromSeq: 10, toSeq: 12, firstNs: (BASE_NS + 10_000_000n).toString(), lastNs: (BASE_NS + 30_000_000n).toString() });
    expect(byStream.s2).toEqual({ connection: 'paper-1', pod: 'pod-a', conid: 2, streamId: 's2', rows: 2, fromSeq: 3, toSeq: 4, firstNs: (BASE_NS + 15_000_000n).toString(), lastNs: (BASE_NS + 25_000_000n).toString() });

    expect(readdirSync(dir).sort()).toEqual([`${record.id}.json`, `${record.id}.rb`]);
    // The record holds account data: owner only.
    expect(statSync(join(dir, `${record.id}.json`)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, `${record.id}.rb`)).mode & 0o777).toBe(0o600);

    const got = store.get(record.id);
    expect(got.record).toEqual(record);
    expect(got.payload.equals(batch.bytes)).toBe(true);
    expect(decodeDepthRows(got.payload)).toEqual(twoStreamRows());
  });

  it('leaves out an error code and name the server did not give', () => {
    const store = new QuarantineStore({ dir });
    const record = store.add(batchOf([row(1, 's1', 1, 1)]), info(new Date(), { kind: 'unknown', message: 'socket hang up' }));
    expect(record.error).toEqual({ kind: 'unknown', message: 'socket hang up' });
    expect(store.get(record.id).record.error).toEqual({ kind: 'unknown', message: 'socket hang up' });
  });

  it('refuses a batch past maxBytes and leaves nothing on disk', () => {
    const batch = batchOf(twoStreamRows());
    const store = new QuarantineStore({ dir, maxBytes: SPILL_HEADER_BYTES + batch.bytes.length - 1 });
    expect(() => store.add(batch, info(new Date()))).toThrow(QuarantineFullError);
    expect(() => store.add(batch, info(new Date()))).toThrow(/depth quarantine full.*quarantineMaxBytes/);
    expect(readdirSync(dir)).toEqual([]);
    expect(store.pending()).toEqual({ records: 0, bytes: 0 });
    expect(store.list()).toEqual([]);
  });

  it('counts the records already held against maxBytes', () => {
    const batch = batchOf(twoStreamRows());
    const first = new QuarantineStore({ dir }).add(batch, info(new Date('2026-01-01T00:00:00.000Z')));
    const held = new QuarantineStore({ dir }).bytes;
    // Room for the one held and most of a second batch, not all of it.
    const store = new QuarantineStore({ dir, maxBytes: held + SPILL_HEADER_BYTES + batch.bytes.length - 1 });
    expect(() => store.add(batch, info(new Date('2026-01-01T00:00:01.000Z')))).toThrow(QuarantineFullError);
    expect(store.list().map((r) => r.id)).toEqual([first.id]);
  });
});

describe('list, replay and drop', () => {
  it('lists pending records oldest first', () => {
    const store = new QuarantineStore({ dir });
    const times = ['2026-01-02T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.001Z'];
    const ids = times.map((t, i) => store.add(batchOf([row(i + 1, 's1', 1, i)]), info(new Date(t))).id);
    expect(store.list().map((r) => r.id)).toEqual([ids[1], ids[2], ids[0]]);
    expect(store.list().map((r) => r.quarantinedAt)).toEqual([times[1], times[2], times[0]]);
  });

  it('a failed replay is noted and the record stays pending', () => {
    const store = new QuarantineStore({ dir });
    const { id } = store.add(batchOf(twoStreamRows()), info(new Date('2026-01-01T00:00:00.000Z')));
    const replayAt = new Date('2026-01-01T01:00:00.000Z');
    const after = store.recordReplay(id, { ok: false, error: 'Code: 60. Table ibflow.depth does not exist', at: replayAt });
    expect(after.state).toBe('pending');
    expect(after.replays).toEqual([{ at: replayAt.toISOString(), ok: false, error: 'Code: 60. Table ibflow.depth does not exist' }]);
    // Durable: a fresh store reads the same.
    const [listed] = new QuarantineStore({ dir }).list();
    expect(listed).toMatchObject({ id, state: 'pending', replays: after.replays });
    expect(existsSync(join(dir, 'replayed'))).toBe(false);
  });

  it('a successful replay moves the record under replayed/, out of the pending list', () => {
    const store = new QuarantineStore({ dir });
    const batch = batchOf(twoStreamRows());
    const kept = store.add(batchOf([row(1, 's3', 3, 1)]), info(new Date('2026-01-01T00:00:00.000Z')));
    const { id } = store.add(batch, info(new Date('2026-01-01T00:00:01.000Z')));
    store.recordReplay(id, { ok: false, error: 'first try', at: new Date('2026-01-01T01:00:00.000Z') });
    const done = store.recordReplay(id, { ok: true, at: new Date('2026-01-01T02:00:00.000Z') });

    expect(done.state).toBe('replayed');
    expect(done.replays).toEqual([
      { at: '2026-01-01T01:00:00.000Z', ok: false, error: 'first try' },
      { at: '2026-01-01T02:00:00.000Z', ok: true },
    ]);
    expect(readdirSync(join(dir, 'replayed')).sort()).toEqual([`${id}.json`, `${id}.rb`]);
    expect(existsSync(join(dir, `${id}.json`))).toBe(false);
    expect(existsSync(join(dir, `${id}.rb`))).toBe(false);

    expect(store.list().map((r) => r.id)).toEqual([kept.id]);
    const all = store.list({ replayed: true });
    expect(all.map((r) => [r.id, r.state])).toEqual([
      [kept.id, 'pending'],
      [id, 'replayed'],
    ]);
    expect(store.pending().records).toBe(1);

    const got = store.get(id);
    expect(got.record).toMatchObject({ id, state: 'replayed', replays: done.replays });
    expect(got.payload.equals(batch.bytes)).toBe(true);
  });

  it('drop deletes a record for good', () => {
    const store = new QuarantineStore({ dir });
    const { id } = store.add(batchOf(twoStreamRows()), info(new Date()));
    const dropped = store.drop(id);
    expect(dropped.id).toBe(id);
    expect(readdirSync(dir)).toEqual([]);
    expect(store.list({ replayed: true })).toEqual([]);
    expect(() => store.get(id)).toThrow(QuarantineRecordNotFoundError);
    expect(() => store.get(id)).toThrow(`no quarantine record ${id} in ${dir}`);
    expect(() => store.drop(id)).toThrow(QuarantineRecordNotFoundError);
  });

  it('drop also deletes a replayed record', () => {
    const store = new QuarantineStore({ dir });
    const { id } = store.add(batchOf(twoStreamRows()), info(new Date()));
    store.recordReplay(id, { ok: true });
    store.drop(id);
    expect(readdirSync(join(dir, 'replayed'))).toEqual([]);
    expect(() => store.get(id)).toThrow(QuarantineRecordNotFoundError);
  });

  it('a malformed id is refused with the form ids take, and never reaches the disk', () => {
    const store = new QuarantineStore({ dir });
    const { id } = store.add(batchOf(twoStreamRows()), info(new Date()));
    for (const bad of ['nope', `${id}x`, `../${id}`, `replayed/${id}`, id.toUpperCase(), '']) {
      expect(() => store.get(bad)).toThrow(QuarantineRecordNotFoundError);
      expect(() => store.recordReplay(bad, { ok: true })).toThrow(QuarantineRecordNotFoundError);
      expect(() => store.drop(bad)).toThrow(QuarantineRecordNotFoundError);
    }
    let message = '';
    try {
      store.get('q-2026-bad');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('"q-2026-bad" is not a quarantine record id');
    // The example it shows has the form ids have.
    const example = /q-\d{8}T\d{9}Z-[0-9a-f]{6}/.exec(message);
    expect(example).not.toBeNull();
    expect(message).toContain('ibflow depth quarantine list');
    expect(store.list().map((r) => r.id)).toEqual([id]);
  });
});

describe('recovery and accounting', () => {
  it('rebuilds the record of an orphan .rb from its rows', () => {
    const store = new QuarantineStore({ dir });
    const batch = batchOf(twoStreamRows());
    const original = store.add(batch, info(new Date('2026-05-06T07:08:09.010Z')));
    // As if the process died after the .rb was renamed and before the .json was.
    unlinkSync(join(dir, `${original.id}.json`));
    expect(store.pending()).toEqual({ records: 1, bytes: SPILL_HEADER_BYTES + batch.bytes.length });

    const [rebuilt] = store.list();
    expect(rebuilt).toMatchObject({
      id: original.id,
      state: 'pending',
      table: 'depth',
      pod: 'pod-a',
      quarantinedAt: '2026-05-06T07:08:09.010Z',
      rows: 6,
      bytes: batch.bytes.length,
      error: { kind: 'unrecorded' },
      attempts: 0,
      replays: [],
    });
    expect(rebuilt!.error.code).toBeUndefined();
    expect(rebuilt!.streams).toEqual(original.streams);
    // Written down, so it is an ordinary record from now on.
    expect(existsSync(join(dir, `${original.id}.json`))).toBe(true);
    expect(store.get(original.id).record).toEqual(rebuilt);
    expect(store.list()).toEqual([rebuilt]);
  });

  it('ignores .tmp leftovers and files that are not records', () => {
    const store = new QuarantineStore({ dir });
    const { id } = store.add(batchOf(twoStreamRows()), info(new Date('2026-01-01T00:00:00.000Z')));
    const before = store.pending();
    writeFileSync(join(dir, 'q-20260101T000000001Z-abcdef.rb.tmp'), 'half a segment');
    writeFileSync(join(dir, 'q-20260101T000000002Z-abcdef.json.tmp'), '{"half":');
    writeFileSync(join(dir, `${id}.json.tmp`), '{"half":');
    writeFileSync(join(dir, 'notes.txt'), 'operator notes');
    expect(store.list().map((r) => r.id)).toEqual([id]);
    expect(store.pending()).toEqual(before);
  });

  it('pending counts records and their bytes on disk', () => {
    const store = new QuarantineStore({ dir });
    expect(store.pending()).toEqual({ records: 0, bytes: 0 });
    expect(new QuarantineStore({ dir: join(dir, 'not-yet') }).pending()).toEqual({ records: 0, bytes: 0 });

    const a = store.add(batchOf(twoStreamRows()), info(new Date('2026-01-01T00:00:00.000Z')));
    const b = store.add(batchOf([row(1, 's1', 1, 1)]), info(new Date('2026-01-01T00:00:01.000Z')));
    const onDisk = (id: string) => statSync(join(dir, `${id}.rb`)).size + statSync(join(dir, `${id}.json`)).size;
    expect(store.pending()).toEqual({ records: 2, bytes: onDisk(a.id) + onDisk(b.id) });
    expect(store.bytes).toBe(onDisk(a.id) + onDisk(b.id));

    store.recordReplay(a.id, { ok: true });
    expect(store.pending()).toEqual({ records: 1, bytes: onDisk(b.id) });
    store.drop(b.id);
    expect(store.pending()).toEqual({ records: 0, bytes: 0 });
  });

  it('refuses a maxBytes that cannot hold even a header', () => {
    expect(() => new QuarantineStore({ dir, maxBytes: SPILL_HEADER_BYTES })).toThrow(RangeError);
  });

  it('a damaged record is listed as damaged beside the good ones, and can be dropped', () => {
    const store = new QuarantineStore({ dir });
    const good = store.add(batchOf(twoStreamRows()), info(new Date('2026-05-06T07:08:09.010Z')));
    const orphan = store.add(batchOf(twoStreamRows(), 8), info(new Date('2026-05-06T07:08:10.010Z')));
    const badJson = store.add(batchOf(twoStreamRows(), 9), info(new Date('2026-05-06T07:08:11.010Z')));
    // An orphan .rb whose bytes were damaged, and a .json cut short.
    unlinkSync(join(dir, `${orphan.id}.json`));
    const rb = join(dir, `${orphan.id}.rb`);
    const bytes = readFileSync(rb);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(rb, bytes);
    writeFileSync(join(dir, `${badJson.id}.json`), '{"id": ');

    const listed = store.list();
    expect(listed.map((r) => r.id)).toEqual([good.id, orphan.id, badJson.id]);
    expect(listed[0]).toEqual(good);
    for (const damaged of listed.slice(1)) {
      expect(damaged).toMatchObject({ rows: 0, streams: [], error: { kind: 'unrecorded' } });
      expect(damaged.error.message).toMatch(new RegExp(`damaged quarantine record.*drop ${damaged.id}`));
    }
    expect(store.drop(orphan.id).id).toBe(orphan.id);
    expect(store.drop(badJson.id).error.message).toMatch(/damaged/);
    expect(store.list().map((r) => r.id)).toEqual([good.id]);
    expect(readdirSync(dir).sort()).toEqual([`${good.id}.json`, `${good.id}.rb`]);
  });
});

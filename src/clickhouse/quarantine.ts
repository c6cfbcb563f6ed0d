/**
 * The depth quarantine: batches ClickHouse refused for good, kept on local disk so the stream goes
 * on and an operator can replay them once the cause is fixed (`ibflow depth quarantine`).
 *
 * One record per batch, two files named by its id (`q-<UTC time>-<random>`, so names sort by time):
 * - `<id>.rb`: the batch exactly as it was sent (the spill's segment format: header with rows and
 *   CRC, then the RowBinary bytes), so a replay writes the same row identities and collapses onto
 *   anything already stored;
 * - `<id>.json`: what happened — the server's error, when, how many attempts, and per stream the
 *   rows and seq range that are missing from the depth table.
 * Both are written to `*.tmp`, fsynced and renamed, the `.rb` first; a record counts once its
 * `.json` exists. A `.rb` found without its `.json` (the process died in between) is given one,
 * rebuilt from the rows. Replayed records move to `replayed/`; dropped ones are deleted.
 * Nothing here talks to ClickHouse.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { DepthRow } from '../book/depthRow';
import type { ClassifiedInsertError } from './insertErrorKind';
import { decodeDepthRows } from './rowBinaryDecode';
import { fsyncDir, readSegmentFile, SPILL_HEADER_BYTES, writeSegmentFile, type SpillBatch } from './spill';

/** What one stream lost to a quarantined batch. */
export interface QuarantinedStream {
  connection: string;
  pod: string;
  conid: number;
  streamId: string;
  /** Book rows (gap rows left out) and the seq range of their frames. */
  rows: number;
  fromSeq: number;
  toSeq: number;
  /** Receipt times of its first and last row, ns since the epoch, as decimal strings. */
  firstNs: string;
  lastNs: string;
}

export interface QuarantineRecord {
  id: string;
  /** `pending` in the quarantine; `replayed` into ClickHouse (kept under replayed/). */
  state: 'pending' | 'replayed';
  /** Where the batch was going. */
  database: string;
  table: string;
  pod: string;
  quarantinedAt: string;
  rows: number;
  /** RowBinary bytes of the batch. */
  bytes: number;
  error: { kind: ClassifiedInsertError['kind'] | 'unrecorded'; code?: number; name?: string; message: string };
  /** Insert attempts before the batch was set aside. */
  attempts: number;
  streams: QuarantinedStream[];
  /** Replay attempts, oldest first. */
  replays: { at: string; ok: boolean; error?: string }[];
}

export class QuarantineFullError extends Error {
  override readonly name = 'QuarantineFullError';
}

export class QuarantineRecordNotFoundError extends Error {
  override readonly name = 'QuarantineRecordNotFoundError';
}

export interface QuarantineStoreOptions {
  dir: string;
  /** Refuse new records past this many bytes on disk (the batch then stays in the sink, retried). */
  maxBytes?: number;
}

const ID = /^q-\d{8}T\d{9}Z-[0-9a-f]{6}$/;
const REPLAYED = 'replayed';

/** Throws {@link QuarantineRecordNotFoundError} for a string that is no record id, saying what ids look like. */
export function checkQuarantineId(id: string): void {
  if (!ID.test(id)) throw new QuarantineRecordNotFoundError(`${JSON.stringify(id)} is not a quarantine record id (they look like q-20260101T120000123Z-0a1b2c; see ibflow depth quarantine list)`);
}

/** Per-stream summary of a batch's book rows. */
export function quarantinedStreams(rows: readonly DepthRow[]): QuarantinedStream[] {
  const byStream = new Map<string, QuarantinedStream & { first: bigint; last: bigint }>();
  for (const r of rows) {
    if (r.kind === 'gap') continue;
    const key = `${r.connection}\u0000${r.pod}\u0000${r.conid}\u0000${r.streamId}`;
    const s = byStream.get(key);
    if (!s) {
      byStream.set(key, { connection: r.connection, pod: r.pod, conid: r.conid, streamId: r.streamId, rows: 1, fromSeq: r.seq, toSeq: r.seq, firstNs: '', lastNs: '', first: r.receivedNs, last: r.receivedNs });
      continue;
    }
    s.rows++;
    if (r.seq < s.fromSeq) s.fromSeq = r.seq;
    if (r.seq > s.toSeq) s.toSeq = r.seq;
    if (r.receivedNs < s.first) s.first = r.receivedNs;
    if (r.receivedNs > s.last) s.last = r.receivedNs;
  }
  return [...byStream.values()].map(({ first, last, ...s }) => ({ ...s, firstNs: first.toString(), lastNs: last.toString() }));
}

export class QuarantineStore {
  readonly dir: string;
  readonly maxBytes: number;

  constructor(opts: QuarantineStoreOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    if (!(this.maxBytes > SPILL_HEADER_BYTES)) throw new RangeError(`QuarantineStore maxBytes: ${this.maxBytes}`);
  }

  /** Bytes held by pending records. */
  get bytes(): number {
    return this.pending().bytes;
  }

  /** Pending records (by their `.rb`, so one whose `.json` is still to be rebuilt counts) and their bytes on disk. */
  pending(): { records: number; bytes: number } {
    if (!existsSync(this.dir)) return { records: 0, bytes: 0 };
    let records = 0;
    let bytes = 0;
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.rb') && !name.endsWith('.json')) continue;
      if (name.endsWith('.rb')) records++;
      bytes += statSync(join(this.dir, name)).size;
    }
    return { records, bytes };
  }

  /**
   * Sets a refused batch aside, durably; returns its record. Throws {@link QuarantineFullError} past
   * `maxBytes`, or the disk's error — the caller then keeps the batch.
   */
  add(batch: SpillBatch, info: { database: string; table: string; pod: string; error: ClassifiedInsertError; attempts: number; at?: Date }): QuarantineRecord {
    mkdirSync(this.dir, { recursive: true });
    const size = SPILL_HEADER_BYTES + batch.bytes.length;
    const used = this.bytes;
    if (used + size > this.maxBytes) {
      throw new QuarantineFullError(`depth quarantine full: ${used} of ${this.maxBytes} bytes used in ${this.dir}; replay or drop records (ibflow depth quarantine), or raise depth.quarantineMaxBytes`);
    }
    const at = info.at ?? new Date();
    const id = `q-${at.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
    const record: QuarantineRecord = {
      id,
      state: 'pending',
      database: info.database,
      table: info.table,
      pod: info.pod,
      quarantinedAt: at.toISOString(),
      rows: batch.rows,
      bytes: batch.bytes.length,
      error: { kind: info.error.kind, ...(info.error.code !== undefined ? { code: info.error.code } : {}), ...(info.error.name ? { name: info.error.name } : {}), message: info.error.message },
      attempts: info.attempts,
      streams: quarantinedStreams(decodeDepthRows(batch.bytes)),
      replays: [],
    };
    writeSegmentFile(join(this.dir, `${id}.rb`), batch);
    try {
      writeJsonDurably(join(this.dir, `${id}.json`), record);
    } catch (err) {
      unlinkQuietly(join(this.dir, `${id}.rb`));
      throw err;
    }
    fsyncDir(this.dir);
    return record;
  }

  /** Records, oldest first: pending ones, and with `replayed` also those already replayed. */
  list(opts: { replayed?: boolean } = {}): QuarantineRecord[] {
    const records = this.scan(this.dir, 'pending');
    if (opts.replayed) records.push(...this.scan(join(this.dir, REPLAYED), 'replayed'));
    return records.sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Whether a record (pending or replayed, readable or not) has this id; reads no file. A malformed
   * id throws (see {@link checkQuarantineId}).
   */
  has(id: string): boolean {
    checkQuarantineId(id);
    try {
      this.locate(id);
      return true;
    } catch (err) {
      if (err instanceof QuarantineRecordNotFoundError) return false;
      throw err;
    }
  }

  /** One record (pending or replayed) and its batch's RowBinary bytes. */
  get(id: string): { record: QuarantineRecord; payload: Buffer } {
    const where = this.locate(id);
    const record = this.read(where, id);
    return { record, payload: readSegmentFile(join(where.dir, `${id}.rb`)).payload };
  }

  /** Notes a replay attempt; a successful one moves the record under replayed/. */
  recordReplay(id: string, outcome: { ok: boolean; error?: string; at?: Date }): QuarantineRecord {
    const where = this.locate(id);
    const record = this.read(where, id);
    record.replays.push({ at: (outcome.at ?? new Date()).toISOString(), ok: outcome.ok, ...(outcome.error ? { error: outcome.error } : {}) });
    writeJsonDurably(join(where.dir, `${id}.json`), record);
    if (outcome.ok && where.state === 'pending') {
      const done = join(this.dir, REPLAYED);
      mkdirSync(done, { recursive: true });
      // The .rb first: a record is where its .json is, so a crash in between leaves it pending (a replay is idempotent).
      renameSync(join(this.dir, `${id}.rb`), join(done, `${id}.rb`));
      renameSync(join(this.dir, `${id}.json`), join(done, `${id}.json`));
      fsyncDir(done);
      fsyncDir(this.dir);
      record.state = 'replayed';
    }
    return record;
  }

  /** Deletes a record and its rows for good. */
  drop(id: string): QuarantineRecord {
    const where = this.locate(id);
    let record: QuarantineRecord;
    try {
      record = this.read(where, id);
    } catch (err) {
      record = damagedRecord(id, where.state, err); // dropping is how a damaged record goes
    }
    unlinkQuietly(join(where.dir, `${id}.json`));
    unlinkQuietly(join(where.dir, `${id}.rb`));
    fsyncDir(where.dir);
    return record;
  }

  private locate(id: string): { dir: string; state: QuarantineRecord['state'] } {
    checkQuarantineId(id);
    // By either file: an orphan .rb (its .json never written) is a record too.
    const has = (dir: string) => existsSync(join(dir, `${id}.json`)) || existsSync(join(dir, `${id}.rb`));
    if (has(this.dir)) return { dir: this.dir, state: 'pending' };
    if (has(join(this.dir, REPLAYED))) return { dir: join(this.dir, REPLAYED), state: 'replayed' };
    throw new QuarantineRecordNotFoundError(`no quarantine record ${id} in ${this.dir}`);
  }

  /** Its `.json`, or for an orphan `.rb` the record rebuilt from its rows. */
  private read(where: { dir: string; state: QuarantineRecord['state'] }, id: string): QuarantineRecord {
    const json = join(where.dir, `${id}.json`);
    return existsSync(json) ? readRecord(json, where.state) : this.rebuild(where.dir, id, where.state);
  }

  private scan(dir: string, state: QuarantineRecord['state']): QuarantineRecord[] {
    if (!existsSync(dir)) return [];
    const names = new Set(readdirSync(dir));
    const out: QuarantineRecord[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp')) continue;
      const id = name.replace(/\.(json|rb)$/, '');
      if (!ID.test(id)) continue;
      try {
        if (name.endsWith('.json')) out.push(readRecord(join(dir, name), state));
        else if (name.endsWith('.rb') && !names.has(`${id}.json`)) out.push(this.rebuild(dir, id, state));
      } catch (err) {
        // One damaged file must not hide the other records: it is listed as what it is.
        out.push(damagedRecord(id, state, err));
      }
    }
    return out;
  }

  /** A `.rb` whose `.json` was never written: the rows say what is missing; the error is unknown. */
  private rebuild(dir: string, id: string, state: QuarantineRecord['state']): QuarantineRecord {
    const segment = readSegmentFile(join(dir, `${id}.rb`));
    const rows = decodeDepthRows(segment.payload);
    const record: QuarantineRecord = {
      id,
      state,
      database: '',
      table: 'depth',
      pod: rows[0]?.pod ?? '',
      quarantinedAt: idTime(id),
      rows: segment.rows,
      bytes: segment.payload.length,
      error: { kind: 'unrecorded', message: 'ibflow stopped while quarantining this batch; the server error was not recorded' },
      attempts: 0,
      streams: quarantinedStreams(rows),
      replays: [],
    };
    writeJsonDurably(join(dir, `${id}.json`), record);
    return record;
  }
}

/** The id's time, `q-20260101T120000123Z-…` → ISO. */
function idTime(id: string): string {
  const stamp = /^q-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id)!;
  return `${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}.${stamp[7]}Z`;
}

/** A record whose files cannot be read (a damaged disk, a hand edit): listed so it can be dropped, never replayed. */
function damagedRecord(id: string, state: QuarantineRecord['state'], err: unknown): QuarantineRecord {
  const reason = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return {
    id,
    state,
    database: '',
    table: 'depth',
    pod: '',
    quarantinedAt: idTime(id),
    rows: 0,
    bytes: 0,
    error: { kind: 'unrecorded', message: `damaged quarantine record, its rows cannot be read (${reason}); drop it: ibflow depth quarantine drop ${id}` },
    attempts: 0,
    streams: [],
    replays: [],
  };
}

function readRecord(file: string, state: QuarantineRecord['state']): QuarantineRecord {
  const record = JSON.parse(readFileSync(file, 'utf8')) as QuarantineRecord;
  return { ...record, state };
}

function writeJsonDurably(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

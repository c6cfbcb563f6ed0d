/**
 * Disk spill for the depth sink: sealed RowBinary batches written as numbered segment files while
 * ClickHouse is unreachable, replayed (oldest first) when it is back, also by the next process.
 *
 * Segment file `seg-<16-digit number>.rb`: a 44-byte header — magic `IBFSPL1\n`, u32 rows, u32
 * payload bytes, u32 CRC-32 of the payload, u64 batch id (this process's; informational), u64
 * first and u64 last row receipt time (ns) — then the batch's RowBinary bytes, exactly as they
 * would have been inserted (so a replay writes identical row identities).
 *
 * Durability (fsync policy): a segment is written to `<name>.tmp`, `fsync`ed, renamed to its final
 * name, and the directory is `fsync`ed, all before `append` returns. So once `append` has returned,
 * the segment survives a process crash and a power loss (as far as the disk honours fsync), and a
 * crash mid-write leaves only a `.tmp` file, which `open` deletes. Nothing else is fsynced: rows
 * still in the sink's memory (not yet spilled) are not durable.
 *
 * Bounded: `append` refuses (throws {@link SpillFullError}) when the segment would take the
 * spill's bytes over `maxBytes`; the caller then keeps the batch in memory (backpressure).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

const MAGIC = Buffer.from('IBFSPL1\n', 'latin1');
export const SPILL_HEADER_BYTES = 8 + 4 + 4 + 4 + 8 + 8 + 8;
const SEGMENT_NAME = /^seg-(\d{16})\.rb$/;

export class SpillFullError extends Error {
  override readonly name = 'SpillFullError';
}

export class SpillCorruptError extends Error {
  override readonly name = 'SpillCorruptError';
}

export interface SpillSegment {
  number: number;
  file: string;
  rows: number;
  /** File size, header included. */
  bytes: number;
  /** The sink batch id when spilled by this process; 0 for segments found on disk at open. */
  batchId: number;
  firstNs: bigint;
  lastNs: bigint;
}

export interface SpillBatch {
  id: number;
  rows: number;
  bytes: Buffer;
  firstNs: bigint;
  lastNs: bigint;
}

export interface SpillStoreOptions {
  dir: string;
  maxBytes: number;
}

export class SpillStore {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly segments: SpillSegment[] = [];
  private totalBytes = 0;
  private nextNumber = 1;

  constructor(opts: SpillStoreOptions) {
    if (!(opts.maxBytes > SPILL_HEADER_BYTES)) throw new RangeError(`SpillStore maxBytes: ${opts.maxBytes}`);
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes;
    mkdirSync(this.dir, { recursive: true });
    this.scan();
  }

  /** Segments waiting to be replayed. */
  get count(): number {
    return this.segments.length;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get rows(): number {
    let n = 0;
    for (const s of this.segments) n += s.rows;
    return n;
  }

  head(): SpillSegment | undefined {
    return this.segments[0];
  }

  /** Writes one batch as a new segment, durably (see the file header). Throws {@link SpillFullError}. */
  append(batch: SpillBatch): SpillSegment {
    const size = SPILL_HEADER_BYTES + batch.bytes.length;
    if (this.totalBytes + size > this.maxBytes) {
      throw new SpillFullError(
        `depth spill full: ${this.totalBytes} of ${this.maxBytes} bytes used in ${this.dir}, a ${size}-byte batch does not fit; ` +
          'rows are held in memory (the stream is throttled) until ClickHouse is reachable again — raise depth.spillMaxBytes or free the disk',
      );
    }
    const number = this.nextNumber++;
    const file = join(this.dir, segmentName(number));
    writeSegmentFile(file, batch);
    fsyncDir(this.dir);
    const segment: SpillSegment = { number, file, rows: batch.rows, bytes: size, batchId: batch.id, firstNs: batch.firstNs, lastNs: batch.lastNs };
    this.segments.push(segment);
    this.totalBytes += size;
    return segment;
  }

  /** The RowBinary payload of a segment; throws {@link SpillCorruptError} when it fails its checks. */
  read(segment: SpillSegment): Buffer {
    return readSegmentFile(segment.file).payload;
  }

  /**
   * Forgets the head segment once it is inserted and deletes its file. A file that cannot be deleted
   * is replayed by the next sink; the row identity makes that a no-op in ClickHouse (FINAL).
   */
  removeHead(): void {
    const segment = this.segments.shift();
    if (!segment) return;
    this.totalBytes -= segment.bytes;
    unlinkSync(segment.file);
  }

  /** Renames a segment that cannot be read to `*.corrupt` (kept for a human) and forgets it. */
  setAsideCorruptHead(): string | undefined {
    const segment = this.segments.shift();
    if (!segment) return undefined;
    this.totalBytes -= segment.bytes;
    const target = `${segment.file}.corrupt`;
    renameSync(segment.file, target);
    return target;
  }

  private scan(): void {
    const names = readdirSync(this.dir);
    for (const name of names) if (name.endsWith('.tmp')) unlinkSync(join(this.dir, name)); // a crash mid-write
    const found: SpillSegment[] = [];
    for (const name of names) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const file = join(this.dir, name);
      const size = statSync(file).size;
      let rows = 0;
      let firstNs = 0n;
      let lastNs = 0n;
      try {
        const fd = openSync(file, 'r');
        try {
          const head = Buffer.alloc(SPILL_HEADER_BYTES);
          const n = readFd(fd, head);
          const h = parseHeader(head.subarray(0, n), file);
          rows = h.rows;
          firstNs = h.firstNs;
          lastNs = h.lastNs;
        } finally {
          closeSync(fd);
        }
      } catch {
        // Left for read() to report and quarantine in order.
      }
      found.push({ number: Number(m[1]), file, rows, bytes: size, batchId: 0, firstNs, lastNs });
    }
    found.sort((a, b) => a.number - b.number);
    for (const s of found) {
      this.segments.push(s);
      this.totalBytes += s.bytes;
    }
    this.nextNumber = found.length > 0 ? found[found.length - 1]!.number + 1 : 1;
  }
}

/**
 * Writes a batch as a segment file (header + RowBinary payload) at `file`: to `<file>.tmp`,
 * fsynced, then renamed. The caller fsyncs the directory. On a disk error nothing half-written
 * stays behind and the error is rethrown.
 */
export function writeSegmentFile(file: string, batch: SpillBatch): void {
  const header = Buffer.alloc(SPILL_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(batch.rows, 8);
  header.writeUInt32LE(batch.bytes.length, 12);
  header.writeUInt32LE(crc32(batch.bytes), 16);
  header.writeBigUInt64LE(BigInt(batch.id), 20);
  header.writeBigUInt64LE(batch.firstNs, 28);
  header.writeBigUInt64LE(batch.lastNs, 36);
  const tmp = `${file}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeAll(fd, header);
      writeAll(fd, batch.bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was created
    }
    throw err;
  }
}

/** A segment file's header and payload; throws {@link SpillCorruptError} when it fails its checks. */
export function readSegmentFile(file: string): { rows: number; firstNs: bigint; lastNs: bigint; payload: Buffer } {
  const buf = readFileSync(file);
  const header = parseHeader(buf, file);
  const payload = buf.subarray(SPILL_HEADER_BYTES);
  if (payload.length !== header.length) throw new SpillCorruptError(`${file}: ${payload.length} payload bytes, header says ${header.length}`);
  if (crc32(payload) !== header.crc) throw new SpillCorruptError(`${file}: CRC mismatch`);
  return { rows: header.rows, firstNs: header.firstNs, lastNs: header.lastNs, payload };
}

/** fsyncs a directory so a rename in it is durable. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is then as durable as they make it.
  }
}

function segmentName(n: number): string {
  return `seg-${String(n).padStart(16, '0')}.rb`;
}

function parseHeader(buf: Buffer, file: string): { rows: number; length: number; crc: number; firstNs: bigint; lastNs: bigint } {
  if (buf.length < SPILL_HEADER_BYTES || !buf.subarray(0, 8).equals(MAGIC)) throw new SpillCorruptError(`${file}: not a spill segment (bad header)`);
  return {
    rows: buf.readUInt32LE(8),
    length: buf.readUInt32LE(12),
    crc: buf.readUInt32LE(16),
    firstNs: buf.readBigUInt64LE(28),
    lastNs: buf.readBigUInt64LE(36),
  };
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

function readFd(fd: number, buf: Buffer): number {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

/**
 * RowBinary encoding of {@link DepthRow}s in exactly the column order of the `depth` table.
 *
 * Column order (see migrations.ts, `DEPTH_COLUMNS`):
 *   date Date (UInt16 days since 1970-01-01, from receivedNs, UTC), received_ns UInt64,
 *   connection String, pod String, conid UInt32, stream_id String, seq UInt64, kind Enum8,
 *   side Enum8, level UInt16, price Float64, size Float64.
 * Strings are an unsigned LEB128 byte length followed by UTF-8 bytes; numbers are little-endian.
 *
 * One buffer is grown by doubling while rows are written; numbers go through a DataView, which V8
 * inlines. Rows of one frame share everything up to `seq` (date … seq, the "head"): when a row's
 * head equals the previous row's, those bytes are copied from it instead of being encoded again;
 * strings that repeat across frames (connection, pod, stream id) are copied likewise.
 */
import type { BookSide, DepthRow, DepthRowKind } from '../book/depthRow';

/** The depth table's columns in RowBinary order. INSERTs must name them in this order. */
export const DEPTH_COLUMNS = [
  'date',
  'received_ns',
  'connection',
  'pod',
  'conid',
  'stream_id',
  'seq',
  'kind',
  'side',
  'level',
  'price',
  'size',
] as const;

/** Enum8 codes of `depth.kind`; must match the table definition. */
export const KIND_CODES: Readonly<Record<DepthRowKind, number>> = { snapshot: 1, update: 2, gap: 3 };
/** Enum8 codes of `depth.side`; must match the table definition. */
export const SIDE_CODES: Readonly<Record<BookSide, number>> = { none: 0, bid: 1, ask: 2, trade: 3 };

const NS_PER_DAY = 86_400_000_000_000n;
/** Largest day number a ClickHouse Date (UInt16) holds: 2149-06-06. */
const MAX_DATE_DAYS = 0xffff;
const TWO_POW_32 = 0x1_0000_0000;
/** Fixed-width bytes per row: Date 2 + UInt64 8 + UInt32 4 + UInt64 8 + 2×Enum8 1 + UInt16 2 + 2×Float64 8. */
const FIXED_BYTES_PER_ROW = 2 + 8 + 4 + 8 + 1 + 1 + 2 + 8 + 8;
/** kind, side, level, price, size. */
const TAIL_BYTES = 1 + 1 + 2 + 8 + 8;

/** Thrown for a row that cannot be stored; the message names the row and field. */
export class DepthRowEncodeError extends RangeError {
  override readonly name = 'DepthRowEncodeError';
}

function fail(index: number, field: string, value: unknown): never {
  const shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
  throw new DepthRowEncodeError(`rows[${index}].${field}: ${shown} is out of range or of the wrong type`);
}

/** Largest receipt time whose day still fits a ClickHouse Date (far below UInt64's maximum, so it bounds both). */
const MAX_RECEIVED_NS = (BigInt(MAX_DATE_DAYS) + 1n) * NS_PER_DAY - 1n;

/** Checks one row against the column types; throws {@link DepthRowEncodeError} naming the field. */
export function validateDepthRow(row: DepthRow, index = 0): void {
  checkReceivedNs(row.receivedNs, index);
  validateDepthRowAfterNs(row, index);
}

function checkReceivedNs(ns: unknown, index: number): void {
  if (typeof ns !== 'bigint' || ns < 0n || ns > MAX_RECEIVED_NS) fail(index, 'receivedNs', ns);
}

/** Every check but the receipt time's (which rows of one frame share: checked once per run of equal values). */
function validateDepthRowAfterNs(row: DepthRow, index: number): void {
  if (typeof row.connection !== 'string') fail(index, 'connection', row.connection);
  if (typeof row.pod !== 'string') fail(index, 'pod', row.pod);
  if (typeof row.streamId !== 'string') fail(index, 'streamId', row.streamId);
  const { conid, seq, level, price, size } = row;
  if (!Number.isInteger(conid) || conid < 0 || conid >= TWO_POW_32) fail(index, 'conid', conid);
  if (!Number.isSafeInteger(seq) || seq < 0) fail(index, 'seq', seq);
  const { kind, side } = row;
  if (kind !== 'snapshot' && kind !== 'update' && kind !== 'gap') fail(index, 'kind', kind);
  if (side !== 'bid' && side !== 'ask' && side !== 'trade' && side !== 'none') fail(index, 'side', side);
  if (!Number.isInteger(level) || level < 0 || level > 0xffff) fail(index, 'level', level);
  if (typeof price !== 'number' || !Number.isFinite(price)) fail(index, 'price', price);
  if (typeof size !== 'number' || !Number.isFinite(size)) fail(index, 'size', size);
}

/** Checks every row; throws on the first bad one (nothing is written). */
export function validateDepthRows(rows: readonly DepthRow[], start = 0, end = rows.length): void {
  // Rows of one frame share their receipt time: its BigInt range checks run once per run of equal values.
  let checkedNs: bigint | undefined;
  for (let i = start; i < end; i++) {
    const row = rows[i]!;
    const ns = row.receivedNs;
    if (ns !== checkedNs) {
      checkReceivedNs(ns, i);
      checkedNs = ns;
    }
    validateDepthRowAfterNs(row, i);
  }
}

/** Remembers where a string was last written so the next identical value is a byte copy. */
interface StringSlot {
  value: string | undefined;
  /** Offset of the LEB128 prefix of the last copy written. */
  start: number;
  /** Bytes of prefix + payload. */
  length: number;
}

/**
 * Appends depth rows to one growing RowBinary buffer. Used directly by the sink (one writer per
 * batch) and through {@link encodeDepthRows}.
 */
export class DepthRowBinaryWriter {
  private buf: Buffer;
  private view: DataView;
  private offset = 0;
  private rowCount = 0;
  private readonly slots: [StringSlot, StringSlot, StringSlot] = [
    { value: undefined, start: 0, length: 0 },
    { value: undefined, start: 0, length: 0 },
    { value: undefined, start: 0, length: 0 },
  ];
  // Day cache: rows of one batch nearly always share a UTC day, so skip the BigInt division.
  private dayStartNs = 1n;
  private dayEndNs = 0n;
  private dayNumber = 0;
  // Head cache: the previous row and where its head bytes are.
  private prevRow: DepthRow | null = null;
  private prevHeadStart = 0;
  private prevHeadLength = 0;

  /** `reuse`: a buffer to write into (from an earlier batch, done with), instead of a new one. */
  constructor(initialBytes = 64 * 1024, reuse?: Buffer) {
    this.buf = reuse !== undefined && reuse.length >= 64 ? reuse : Buffer.allocUnsafe(Math.max(64, initialBytes));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Rows written so far. */
  get rows(): number {
    return this.rowCount;
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.offset;
  }

  /**
   * Appends `rows[start..end)`. With `validate` (the default) each row is checked first; if one is
   * bad the writer is rolled back to where it was before this call, so a call is all-or-nothing.
   */
  write(rows: readonly DepthRow[], start = 0, end = rows.length, validate = true): void {
    const startOffset = this.offset;
    const startRows = this.rowCount;
    try {
      if (validate) validateDepthRows(rows, start, end);
      for (let i = start; i < end; i++) this.writeRow(rows[i]!);
    } catch (err) {
      this.offset = startOffset;
      this.rowCount = startRows;
      // Cached positions may point into the rolled-back region.
      for (const slot of this.slots) slot.value = undefined;
      this.prevRow = null;
      throw err;
    }
  }

  /**
   * The encoded bytes. A view of the writer's buffer when that is mostly used, else a right-sized
   * copy (so a small batch waiting in a queue does not pin a large buffer). Do not write afterwards.
   */
  finish(): Buffer {
    const used = this.buf.subarray(0, this.offset);
    return this.offset >= this.buf.length / 2 ? used : Buffer.from(used);
  }

  /** The buffer the writer wrote into (the last one, if it grew): `finish()` returns a view of it or a copy. */
  get backing(): Buffer {
    return this.buf;
  }

  private ensure(extra: number): void {
    const need = this.offset + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  private writeRow(row: DepthRow): void {
    const prev = this.prevRow;
    let o: number;
    if (
      prev !== null &&
      row.seq === prev.seq &&
      row.conid === prev.conid &&
      row.receivedNs === prev.receivedNs &&
      row.streamId === prev.streamId &&
      row.connection === prev.connection &&
      row.pod === prev.pod
    ) {
      const length = this.prevHeadLength;
      this.ensure(length + TAIL_BYTES);
      const start = this.prevHeadStart;
      o = this.offset;
      if (length <= 128) {
        // Four bytes at a time through the DataView (integers: no NaN canonicalisation), then the rest.
        const view = this.view;
        const words = length & ~3;
        let k = 0;
        for (; k < words; k += 4) view.setUint32(o + k, view.getUint32(start + k));
        const buf = this.buf;
        for (; k < length; k++) buf[o + k] = buf[start + k]!;
      } else {
        this.buf.copyWithin(o, start, start + length);
      }
      this.prevHeadStart = o;
      o += length;
    } else {
      o = this.writeHead(row);
    }
    this.prevRow = row;
    const view = this.view;
    const kind = row.kind;
    const side = row.side;
    // Same codes as KIND_CODES / SIDE_CODES, spelled out: faster than a keyed lookup.
    view.setInt8(o, kind === 'snapshot' ? 1 : kind === 'update' ? 2 : 3);
    view.setInt8(o + 1, side === 'bid' ? 1 : side === 'ask' ? 2 : side === 'trade' ? 3 : 0);
    view.setUint16(o + 2, row.level, true);
    view.setFloat64(o + 4, row.price, true);
    view.setFloat64(o + 12, row.size, true);
    this.offset = o + TAIL_BYTES;
    this.rowCount++;
  }

  /** Writes date … seq at the current offset (room for the tail included); returns where the tail goes. */
  private writeHead(row: DepthRow): number {
    const connection = row.connection;
    const pod = row.pod;
    const streamId = row.streamId;
    // Worst case: 3 UTF-8 bytes per UTF-16 unit, 5 LEB128 bytes per string.
    this.ensure(FIXED_BYTES_PER_ROW + 15 + 3 * (connection.length + pod.length + streamId.length));
    const view = this.view;

    const ns = row.receivedNs;
    if (ns < this.dayStartNs || ns >= this.dayEndNs) {
      const day = ns / NS_PER_DAY;
      this.dayNumber = Number(day);
      this.dayStartNs = day * NS_PER_DAY;
      this.dayEndNs = this.dayStartNs + NS_PER_DAY;
    }
    const start = this.offset;
    let o = start;
    view.setUint16(o, this.dayNumber, true);
    view.setBigUint64(o + 2, ns, true);
    o = this.writeString(o + 10, connection, this.slots[0]);
    o = this.writeString(o, pod, this.slots[1]);
    view.setUint32(o, row.conid, true);
    o = this.writeString(o + 4, streamId, this.slots[2]);
    const seq = row.seq;
    view.setUint32(o, seq % TWO_POW_32, true);
    view.setUint32(o + 4, Math.floor(seq / TWO_POW_32), true);
    o += 8;
    this.prevHeadStart = start;
    this.prevHeadLength = o - start;
    return o;
  }

  /** Writes LEB128 length + UTF-8 bytes at `o`; returns the offset after them. */
  private writeString(o: number, value: string, slot: StringSlot): number {
    const buf = this.buf;
    if (slot.value === value) {
      const { start, length } = slot;
      if (length <= 16) {
        for (let k = 0; k < length; k++) buf[o + k] = buf[start + k]!;
      } else {
        buf.copy(buf, o, start, start + length);
      }
      slot.start = o;
      return o + length;
    }
    let end: number;
    if (value.length < 43) {
      // At most 126 UTF-8 bytes: the length fits in one LEB128 byte, written after the payload.
      const written = value.length === 0 ? 0 : buf.write(value, o + 1);
      buf[o] = written;
      end = o + 1 + written;
    } else {
      let n = Buffer.byteLength(value, 'utf8');
      let p = o;
      while (n >= 0x80) {
        buf[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      buf[p++] = n;
      end = p + buf.write(value, p);
    }
    slot.value = value;
    slot.start = o;
    slot.length = end - o;
    return end;
  }
}

/** Encodes rows as RowBinary in {@link DEPTH_COLUMNS} order. Throws {@link DepthRowEncodeError} on a bad row. */
export function encodeDepthRows(rows: readonly DepthRow[]): Buffer {
  const writer = new DepthRowBinaryWriter(rows.length * 72 + 64);
  writer.write(rows);
  return writer.finish();
}

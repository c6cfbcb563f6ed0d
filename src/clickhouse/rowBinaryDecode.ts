/**
 * Reads depth rows back from the RowBinary bytes the sink inserts (src/clickhouse/rowBinary.ts, the
 * same column order). Used where only a sealed batch's bytes exist: a quarantined batch's gap
 * markers and `ibflow depth quarantine show`. Bytes that are not whole depth rows throw
 * {@link DepthRowDecodeError} naming the row and column.
 */
import type { BookSide, DepthRow, DepthRowKind } from '../book/depthRow';
import { KIND_CODES, SIDE_CODES } from './rowBinary';

export class DepthRowDecodeError extends RangeError {
  override readonly name = 'DepthRowDecodeError';
}

const KIND_BY_CODE = new Map<number, DepthRowKind>(Object.entries(KIND_CODES).map(([k, v]) => [v, k as DepthRowKind]));
const SIDE_BY_CODE = new Map<number, BookSide>(Object.entries(SIDE_CODES).map(([k, v]) => [v, k as BookSide]));

/** Decodes every row of `bytes`; `limit` stops early (a preview). */
export function decodeDepthRows(bytes: Buffer, limit = Number.POSITIVE_INFINITY): DepthRow[] {
  const rows: DepthRow[] = [];
  let o = 0;
  let row = 0;
  let column = 'date';
  const need = (n: number) => {
    if (o + n > bytes.length) throw new DepthRowDecodeError(`row ${row}, column ${column}: needs ${n} bytes at offset ${o}, only ${bytes.length - o} left`);
  };
  const string = (): string => {
    let length = 0;
    let shift = 0;
    for (;;) {
      need(1);
      const b = bytes[o++]!;
      length += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
      if (shift > 35) throw new DepthRowDecodeError(`row ${row}, column ${column}: string length does not end`);
    }
    need(length);
    const value = bytes.toString('utf8', o, o + length);
    o += length;
    return value;
  };
  while (o < bytes.length && rows.length < limit) {
    column = 'date';
    need(10);
    o += 2; // the day number follows from received_ns
    column = 'received_ns';
    const receivedNs = bytes.readBigUInt64LE(o);
    o += 8;
    column = 'connection';
    const connection = string();
    column = 'pod';
    const pod = string();
    column = 'conid';
    need(4);
    const conid = bytes.readUInt32LE(o);
    o += 4;
    column = 'stream_id';
    const streamId = string();
    column = 'seq';
    need(8 + 20);
    const seq = Number(bytes.readBigUInt64LE(o));
    o += 8;
    column = 'kind';
    const kind = KIND_BY_CODE.get(bytes.readInt8(o));
    if (!kind) throw new DepthRowDecodeError(`row ${row}, column kind: code ${bytes.readInt8(o)} is not a depth row kind`);
    column = 'side';
    const side = SIDE_BY_CODE.get(bytes.readInt8(o + 1));
    if (!side) throw new DepthRowDecodeError(`row ${row}, column side: code ${bytes.readInt8(o + 1)} is not a book side`);
    const level = bytes.readUInt16LE(o + 2);
    const price = bytes.readDoubleLE(o + 4);
    const size = bytes.readDoubleLE(o + 12);
    o += 20;
    rows.push({ receivedNs, connection, pod, conid, streamId, seq, kind, side, level, price, size });
    row++;
  }
  return rows;
}

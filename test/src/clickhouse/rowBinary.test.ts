import type { DepthRow } from '../../../src/book/depthRow';
import { DEPTH_COLUMNS, DepthRowBinaryWriter, DepthRowEncodeError, encodeDepthRows } from '../../../src/clickhouse/rowBinary';

const row: DepthRow = {
  receivedNs: 1_700_000_000_123_456_789n, // 2023-11-14T22:13:20.123456789Z, day 19675
  connection: 'conn-é',
  pod: 'p1',
  conid: 265598,
  streamId: 's',
  seq: 2 ** 32 + 7,
  kind: 'update',
  side: 'ask',
  level: 3,
  price: 171.39,
  size: 1200.5,
};

// Hand-assembled, column by column.
const expectedHex = [
  'db4c', // date: UInt16 19675
  '15cd853dfe9c9717', // received_ns: UInt64 LE
  '07' + Buffer.from('conn-é', 'utf8').toString('hex'), // connection: LEB128 7 + UTF-8 (é is 2 bytes)
  '02' + '7031', // pod 'p1'
  '7e0d0400', // conid: UInt32 265598
  '01' + '73', // stream_id 's'
  '0700000001000000', // seq: UInt64 2^32 + 7
  '02', // kind: Enum8 update = 2
  '02', // side: Enum8 ask = 2
  '0300', // level: UInt16 3
  '14ae47e17a6c6540', // price: Float64 171.39
  '0000000000c29240', // size: Float64 1200.5
].join('');

describe('encodeDepthRows', () => {
  it('encodes one row byte for byte in depth column order', () => {
    expect(encodeDepthRows([row]).toString('hex')).toBe(expectedHex);
  });

  it('lists the columns in table order', () => {
    expect(DEPTH_COLUMNS).toEqual(['date', 'received_ns', 'connection', 'pod', 'conid', 'stream_id', 'seq', 'kind', 'side', 'level', 'price', 'size']);
  });

  it('repeats identical rows exactly (string cache) and handles empty input', () => {
    expect(encodeDepthRows([row, row, row]).toString('hex')).toBe(expectedHex.repeat(3));
    expect(encodeDepthRows([]).length).toBe(0);
  });

  it('writes multi-byte LEB128 lengths for long strings', () => {
    const long = 'x'.repeat(300); // 300 = 0xac 0x02
    const buf = encodeDepthRows([{ ...row, connection: long }]);
    expect(buf.subarray(10, 13).toString('hex')).toBe('ac0278');
    expect(buf.length).toBe(expectedHex.length / 2 - 8 + 302);
  });

  it('writes each kind and side code', () => {
    const codeAt = (r: DepthRow) => {
      const b = encodeDepthRows([{ ...r, connection: '', pod: '', streamId: '' }]);
      // 2 date + 8 ns + 1 + 1 + 4 conid + 1 + 8 seq = offset 25
      return [b[25], b[26]];
    };
    expect(codeAt({ ...row, kind: 'snapshot', side: 'none' })).toEqual([1, 0]);
    expect(codeAt({ ...row, kind: 'gap', side: 'bid' })).toEqual([3, 1]);
    expect(codeAt({ ...row, kind: 'update', side: 'trade' })).toEqual([2, 3]);
  });

  it('grows its buffer across many rows and keeps every byte', () => {
    const writer = new DepthRowBinaryWriter(64);
    const rows = Array.from({ length: 1000 }, (_, i) => ({ ...row, seq: i, connection: i % 7 === 0 ? `c${i}` : 'c' }));
    writer.write(rows);
    const oneByOne = Buffer.concat(rows.map((r) => encodeDepthRows([r])));
    expect(writer.finish().equals(oneByOne)).toBe(true);
    expect(writer.rows).toBe(1000);
  });

  it('copies shared heads (rows of one frame) byte-exactly, short and long', () => {
    for (const connection of ['c', 'long-'.repeat(40)]) {
      const frame = (seq: number) => [0, 1, 2].map((level) => ({ ...row, connection, seq, level, side: 'bid' as const, price: 100 - level }));
      const rows = [...frame(1), ...frame(2), { ...row, connection }, ...frame(3)];
      const oneByOne = Buffer.concat(rows.map((r) => encodeDepthRows([r])));
      expect(encodeDepthRows(rows).equals(oneByOne)).toBe(true);
    }
  });

  it.each([
    ['conid', { conid: -1 }],
    ['conid', { conid: 2 ** 32 }],
    ['conid', { conid: 1.5 }],
    ['seq', { seq: Number.MAX_SAFE_INTEGER + 1 }],
    ['level', { level: 65536 }],
    ['price', { price: Number.NaN }],
    ['size', { size: Infinity }],
    ['kind', { kind: 'delta' }],
    ['side', { side: 'toString' }],
    ['receivedNs', { receivedNs: 5 }],
    ['receivedNs', { receivedNs: -1n }],
    ['connection', { connection: undefined }],
  ])('refuses a bad %s', (field, patch) => {
    const bad = { ...row, ...patch } as unknown as DepthRow;
    expect(() => encodeDepthRows([row, bad])).toThrow(DepthRowEncodeError);
    expect(() => encodeDepthRows([row, bad])).toThrow(`rows[1].${field}:`);
  });

  it('rolls a writer back when a call fails, keeping earlier calls', () => {
    const writer = new DepthRowBinaryWriter();
    writer.write([row]);
    expect(() => writer.write([row, { ...row, level: -1 }])).toThrow(DepthRowEncodeError);
    writer.write([row]);
    expect(writer.finish().toString('hex')).toBe(expectedHex.repeat(2));
  });
});

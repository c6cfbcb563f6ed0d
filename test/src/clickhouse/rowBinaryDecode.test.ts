import type { DepthRow } from '../../../src/book/depthRow';
import { encodeDepthRows } from '../../../src/clickhouse/rowBinary';
import { decodeDepthRows, DepthRowDecodeError } from '../../../src/clickhouse/rowBinaryDecode';

const rows: DepthRow[] = [
  { receivedNs: 1_767_225_600_123_456_789n, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId: 's1', seq: 0, kind: 'gap', side: 'none', level: 0, price: 0, size: 0 },
  { receivedNs: 1_767_225_600_200_000_000n, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId: 's1', seq: 1, kind: 'snapshot', side: 'bid', level: 0, price: 99.95, size: 100 },
  { receivedNs: 1_767_225_600_200_000_000n, connection: 'paper-1', pod: 'pod-a', conid: 265598, streamId: 's1', seq: 1, kind: 'snapshot', side: 'ask', level: 3, price: 100.05, size: 0.5 },
  { receivedNs: 1_767_225_601_000_000_000n, connection: 'ü'.repeat(80), pod: 'pod-a', conid: 4_000_000_000, streamId: 'x'.repeat(200), seq: 2 ** 40, kind: 'update', side: 'trade', level: 65535, price: -1.5, size: 1e300 },
];

describe('decodeDepthRows', () => {
  it('reads back exactly what the encoder wrote, long strings and large numbers included', () => {
    expect(decodeDepthRows(encodeDepthRows(rows))).toEqual(rows);
  });

  it('stops at a limit (a preview)', () => {
    expect(decodeDepthRows(encodeDepthRows(rows), 2)).toEqual(rows.slice(0, 2));
  });

  it('names the row and column of a cut-off or foreign payload', () => {
    const bytes = encodeDepthRows(rows);
    expect(() => decodeDepthRows(bytes.subarray(0, bytes.length - 3))).toThrow(/row 3, column seq/);
    const bad = Buffer.from(encodeDepthRows(rows.slice(1, 2)));
    bad[bad.length - 20] = 9; // the kind byte
    expect(() => decodeDepthRows(bad)).toThrow(DepthRowDecodeError);
    expect(() => decodeDepthRows(bad)).toThrow(/row 0, column kind: code 9/);
  });
});

import { DepthBook } from '../../../src/book/depthBook';
import { DepthFrameError } from '../../../src/book/normaliseDepthFrame';
import { instrumentsKey, nextThresholdInMs, planDepthAssignment } from '../../../workflows/depthPlan';

const ctx = (seq: number) => ({ receivedNs: 1_700_000_000_000_000_000n + BigInt(seq), connection: 'c', pod: 'p', streamId: 's', seq });
const topic = 'sbd+DU1+265598';
const full = {
  topic,
  data: [
    { row: 0, focus: 0, price: '10.02', ask: '300' },
    { row: 1, focus: 0, price: '10.01', ask: '200' },
    { row: 2, focus: 1, price: '5 @ 10.00' },
    { row: 3, focus: 0, price: '9.99', bid: '100' },
    { row: 4, focus: 0, price: '9.98', bid: '400' },
  ],
};
const pick = (rows: { kind: string; side: string; level: number; price: number; size: number }[]) => rows.map((r) => [r.kind, r.side, r.level, r.price, r.size]);

describe('DepthBook', () => {
  test('the first frame is a snapshot; a delta becomes update rows levelled in the whole ladder', () => {
    const book = new DepthBook();
    expect(pick(book.apply(full, ctx(1)))).toEqual([
      ['snapshot', 'bid', 0, 9.99, 100],
      ['snapshot', 'bid', 1, 9.98, 400],
      ['snapshot', 'ask', 0, 10.01, 200],
      ['snapshot', 'ask', 1, 10.02, 300],
      ['snapshot', 'trade', 0, 10, 5],
    ]);
    // Only row 4 (second bid level) and row 0 (second ask level) changed.
    const rows = book.apply({ topic, data: [{ row: 0, focus: 0, price: '10.02', ask: 350 }, { row: 4, focus: 0, price: '9.98', bid: 450 }] }, ctx(2));
    expect(pick(rows)).toEqual([
      ['update', 'bid', 1, 9.98, 450],
      ['update', 'ask', 1, 10.02, 350],
    ]);
    expect(book.lastKind).toBe('update');
    // The rebuilt book carries the last frame's seq and both changes.
    const snap = book.snapshot();
    expect(snap.every((r) => r.seq === 2 && r.kind === 'snapshot')).toBe(true);
    expect(pick(snap)).toEqual([
      ['snapshot', 'bid', 0, 9.99, 100],
      ['snapshot', 'bid', 1, 9.98, 450],
      ['snapshot', 'ask', 0, 10.01, 200],
      ['snapshot', 'ask', 1, 10.02, 350],
      ['snapshot', 'trade', 0, 10, 5],
    ]);
  });

  test('a frame with every row is a full ladder again; an empty delta writes nothing', () => {
    const book = new DepthBook();
    book.apply(full, ctx(1));
    expect(book.apply({ topic, data: [] }, ctx(2))).toEqual([]);
    expect(pick(book.apply(full, ctx(3))).every(([k]) => k === 'snapshot')).toBe(true);
    expect(book.lastKind).toBe('snapshot');
  });

  test('frames without row numbers are always full ladders', () => {
    const book = new DepthBook();
    const plain = { topic, data: full.data.map(({ row: _row, ...rest }) => rest) };
    book.apply(plain, ctx(1));
    const rows = book.apply({ topic, data: [{ price: '9.99', bid: '1' }] }, ctx(2));
    expect(pick(rows)).toEqual([['snapshot', 'bid', 0, 9.99, 1]]);
  });

  test('a malformed delta throws and leaves the book unchanged', () => {
    const book = new DepthBook();
    book.apply(full, ctx(1));
    expect(() => book.apply({ topic, data: [{ row: 0, price: 'abc', ask: '1' }] }, ctx(2))).toThrow(DepthFrameError);
    expect(pick(book.snapshot())).toEqual(pick(book.apply(full, ctx(3))).map(([, s, l, p, z]) => ['snapshot', s, l, p, z]));
  });

  test('snapshot before any frame is empty', () => {
    expect(new DepthBook().snapshot()).toEqual([]);
  });
});

describe('planDepthAssignment (the coordinator rule)', () => {
  const defaults = [
    { connectionId: 'a', instruments: [{ conid: 1 }] },
    { connectionId: 'b', instruments: [{ conid: 2 }] },
    { connectionId: 'c', instruments: [] },
  ];
  const opts = { maxLaddersPerAccount: 1, moveAfterMs: 60_000 };

  test('healthy or recently lost: the default stands', () => {
    const plan = planDepthAssignment(defaults, { a: { usable: false, sinceMs: 0 }, b: { usable: true, sinceMs: 0 }, c: { usable: true, sinceMs: 0 } }, 59_999, opts);
    expect(plan.assignment).toEqual({ a: [{ conid: 1 }], b: [{ conid: 2 }], c: [] });
    expect(plan.failed).toEqual([]);
  });

  test('unusable past the threshold: instruments move to a usable connection with room, in config order', () => {
    const plan = planDepthAssignment(defaults, { a: { usable: false, sinceMs: 0 }, b: { usable: true, sinceMs: 0 }, c: { usable: true, sinceMs: 0 } }, 60_000, opts);
    expect(plan.assignment).toEqual({ a: [], b: [{ conid: 2 }], c: [{ conid: 1 }] });
    expect(plan.moved).toEqual([{ conid: 1, from: 'a', to: 'c' }]);
  });

  test('no room within the ladder limit (or no usable target): unplaced, reported', () => {
    const plan = planDepthAssignment(defaults, { a: { usable: false, sinceMs: 0 }, b: { usable: true, sinceMs: 0 }, c: { usable: false, sinceMs: 50_000 } }, 60_000, opts);
    expect(plan.unplaced).toEqual([{ conid: 1, from: 'a' }]);
    expect(plan.assignment.b).toEqual([{ conid: 2 }]);
  });

  test('recovery moves them back (the plan is the default again)', () => {
    const plan = planDepthAssignment(defaults, { a: { usable: true, sinceMs: 70_000 }, b: { usable: true, sinceMs: 0 }, c: { usable: true, sinceMs: 0 } }, 80_000, opts);
    expect(plan.assignment).toEqual({ a: [{ conid: 1 }], b: [{ conid: 2 }], c: [] });
  });

  test('next threshold and instrument keys', () => {
    expect(nextThresholdInMs({ a: { usable: false, sinceMs: 1000 }, b: { usable: true, sinceMs: 0 } }, 31_000, 60_000)).toBe(30_000);
    expect(nextThresholdInMs({ a: { usable: true, sinceMs: 0 } }, 0, 60_000)).toBeUndefined();
    expect(instrumentsKey(null)).toBe('default');
    expect(instrumentsKey([{ conid: 1, exchange: 'SMART' }, { conid: 2 }])).toBe('1@SMART,2');
  });
});

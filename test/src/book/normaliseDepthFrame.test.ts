import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DepthRow } from '../../../src/book/depthRow';
import { DepthFrameError, gapMarkerRow, normaliseDepthFrame, parseDepthTopic, type DepthFrameContext } from '../../../src/book/normaliseDepthFrame';

interface Fixtures {
  cases: { name: string; frame: unknown; rows: Omit<DepthRow, 'receivedNs' | 'connection' | 'pod' | 'streamId' | 'seq'>[] }[];
  errors: { name: string; frame: unknown; message: string }[];
}

const fixtures = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'sbd-frames.json'), 'utf8')) as Fixtures;

const ctx: DepthFrameContext = { receivedNs: 1_700_000_000_123_456_789n, connection: 'paper-1', pod: 'pod-a', streamId: 'stream-7', seq: 42 };

describe('normaliseDepthFrame: recorded frames replay to exact rows', () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const expected = c.rows.map((r) => ({ receivedNs: ctx.receivedNs, connection: ctx.connection, pod: ctx.pod, streamId: ctx.streamId, seq: ctx.seq, ...r }));
    expect(normaliseDepthFrame(c.frame, ctx)).toEqual(expected);
  });

  it('produces the same rows from the JSON text as from the object (a real replay)', () => {
    for (const c of fixtures.cases) {
      expect(normaliseDepthFrame(JSON.parse(JSON.stringify(c.frame)), ctx)).toEqual(normaliseDepthFrame(c.frame, ctx));
    }
  });
});

describe('normaliseDepthFrame: bad input throws DepthFrameError naming the field', () => {
  it.each(fixtures.errors.map((e) => [e.name, e] as const))('%s', (_name, e) => {
    let thrown: unknown;
    try {
      normaliseDepthFrame(e.frame, ctx);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DepthFrameError);
    expect((thrown as Error).message).toBe(e.message);
    expect((thrown as DepthFrameError).field).toBe(e.message.slice(0, e.message.indexOf(':')));
  });

  it('refuses non-finite numbers and a bad context', () => {
    const frame = { topic: 'sbd+DU1+5', data: [{ row: 0, price: Number.NaN, ask: 1 }] };
    expect(() => normaliseDepthFrame(frame, ctx)).toThrow('data[0].price: NaN is not a finite number');
    const ok = { topic: 'sbd+DU1+5', data: [] };
    expect(() => normaliseDepthFrame(ok, { ...ctx, seq: 0 })).toThrow(/^ctx\.seq:/);
    expect(() => normaliseDepthFrame(ok, { ...ctx, receivedNs: 5 as unknown as bigint })).toThrow(/^ctx\.receivedNs:/);
  });

  it('shortens long values in messages', () => {
    const frame = { topic: 'sbd+DU1+5', data: [{ row: 0, price: 'x'.repeat(500), ask: '1' }] };
    expect(() => normaliseDepthFrame(frame, ctx)).toThrow(/^data\[0\]\.price: "x{56}\.\.\. is not a number$/);
  });
});

describe('parseDepthTopic', () => {
  it.each([
    ['sbd+DU12345+265598', { account: 'DU12345', conid: 265598 }],
    ['sbd+DU12345+265598+SMART', { account: 'DU12345', conid: 265598, exchange: 'SMART' }],
    ['sbd+U1234567+4294967295', { account: 'U1234567', conid: 4294967295 }],
    ['sbd+DU1+4294967296', null],
    ['sbd+DU1+0', null],
    ['sbd+DU1+012', null],
    ['sbd+DU1', null],
    ['sbd++265598', null],
    ['sbd+DU1+265598+', null],
    ['sbd+DU1+265598+ARCA+x', null],
    ['sbd+DU1+265598+{}', null],
    ['smd+265598', null],
    ['', null],
  ])('%s', (topic, expected) => {
    expect(parseDepthTopic(topic)).toEqual(expected);
  });
});

describe('gapMarkerRow', () => {
  it('makes the gap row for a stream and conid', () => {
    expect(gapMarkerRow({ receivedNs: 5n, connection: 'c', pod: 'p', streamId: 's', conid: 265598 })).toEqual({
      receivedNs: 5n, connection: 'c', pod: 'p', conid: 265598, streamId: 's', seq: 0, kind: 'gap', side: 'none', level: 0, price: 0, size: 0,
    });
    expect(() => gapMarkerRow({ receivedNs: 5n, connection: 'c', pod: 'p', streamId: 's', conid: -1 })).toThrow(DepthFrameError);
  });
});

describe('number parsing matches Number() exactly', () => {
  it('for many decimal strings', () => {
    const samples: string[] = ['0', '-0', '+7', '.5', '-.25', '1.', '007.50', '123456789012345', '1234567890123456789', '0.000000000000001', '99999999999999.9', '-171.39'];
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const intPart = String(x % 100000);
      const frac = String(x).slice(0, (x % 9) + 1);
      samples.push(`${intPart}.${frac}`, `${x % 1000}.${String(x % 100).padStart(2, '0')}`);
    }
    for (const text of samples) {
      const rows = normaliseDepthFrame({ topic: 'sbd+DU1+5', data: [{ row: 0, price: text, bid: '1' }] }, ctx);
      expect(Object.is(rows[0]!.price, Number(text))).toBe(true);
    }
  });
});

/** The soak's audit rules (docs/reliability.md) on hand-made subscriptions and streams. */
import { needlesOf, scanBuffer, scanObject, canaryActivationCode, canaryPassword } from '../../soak/canary';
import { auditConnection, auditFailures, type StreamStat, type SubStat } from '../../soak/depthAudit';

const rules = { inFlightAllowance: 20, unconfirmedSlack: 5 };
const sub = (order: number, lastSeq: number, active = false, sizeSum = lastSeq * 10): SubStat => ({ id: `x-${order}`, order, frames: lastSeq, lastSeq: lastSeq || null, sizeSum, active });
const stream = (n: number, frames: number, over: Partial<StreamStat> = {}): StreamStat => ({
  streamId: `s${n}`,
  startNs: BigInt(n * 1000),
  gapRows: 1,
  frames,
  minSeq: frames ? 1 : 0,
  maxSeq: frames,
  sizeSum: frames * 10,
  rows: frames * 11 + 1,
  rawRows: frames * 11 + 1,
  ...over,
});

test('complete streams are clean; re-sent rows that collapsed are only counted', () => {
  const a = auditConnection('c', 't', [sub(1, 100), sub(2, 50, true)], [stream(1, 100, { rawRows: 2000 }), stream(2, 50)], rules);
  expect(auditFailures(a)).toEqual([]);
  expect(a.collapsedRows).toBe(2000 - 1101);
});

test('a short tail of an ended subscription is in flight; a long one or an active one is lost', () => {
  expect(auditConnection('c', 't', [sub(1, 110)], [stream(1, 100)], rules)).toMatchObject({ inFlight: 10, lost: 0 });
  expect(auditConnection('c', 't', [sub(1, 150)], [stream(1, 100)], rules)).toMatchObject({ inFlight: 0, lost: 50 });
  expect(auditConnection('c', 't', [sub(1, 101, true)], [stream(1, 100)], rules)).toMatchObject({ lost: 1 });
});

test('holes, missing gap markers, phantom streams and unmatched subscriptions fail', () => {
  expect(auditConnection('c', 't', [sub(1, 100)], [stream(1, 97, { maxSeq: 100 })], rules).unmarkedGapFrames).toBe(3);
  expect(auditConnection('c', 't', [sub(1, 100)], [stream(1, 100, { gapRows: 0 })], rules).streamsWithoutGapMarker).toBe(1);
  expect(auditConnection('c', 't', [sub(1, 100)], [stream(1, 100), stream(2, 30)], rules).duplicated).toBe(30);
  const unmatched = auditConnection('c', 't', [sub(1, 100), sub(2, 300), sub(3, 40)], [stream(1, 100), stream(3, 40)], rules);
  expect(unmatched.unmatchedFrames).toBe(300);
  expect(unmatched.lost).toBe(0);
  expect(auditConnection('c', 't', [sub(1, 100)], [stream(1, 100, { sizeSum: 999 })], rules).contentMismatches).toBe(1);
});

test('a stream refused a subscription (no rows) and a subscription killed before any insert align around the others', () => {
  const a = auditConnection('c', 't', [sub(1, 80), sub(2, 3), sub(3, 60, true)], [stream(1, 80), stream(2, 0), stream(3, 0), stream(4, 60)], rules);
  expect(auditFailures(a)).toEqual([]);
  expect(a.inFlight).toBe(3);
});

test('a refused batch replayed leaves gap markers inside its stream (clean); one never replayed leaves a hole the audit counts', () => {
  // The quarantine's gap rows stay after a replay: more than one marker per stream, at seq > 1.
  expect(auditFailures(auditConnection('c', 't', [sub(1, 100, true)], [stream(1, 100, { gapRows: 4 })], rules))).toEqual([]);
  const pending = auditConnection('c', 't', [sub(1, 100, true)], [stream(1, 88, { gapRows: 4, maxSeq: 100 })], rules);
  expect(pending.unmarkedGapFrames).toBe(12);
  expect(auditFailures(pending)).toHaveLength(1);
});

test('frames stored beyond the simulator confirmed count are tolerated up to the slack', () => {
  expect(auditConnection('c', 't', [sub(1, 100)], [stream(1, 102)], rules)).toMatchObject({ unconfirmed: 2, duplicated: 0 });
});

test('canaries are found raw, in base64 at any alignment, and inside byte arrays of decoded objects', () => {
  const pw = canaryPassword('1');
  const code = canaryActivationCode();
  expect(code).toMatch(/^[A-Z2-7]{32}$/);
  const needles = needlesOf([{ label: 'pw', value: pw }, { label: 'code', value: code }]);
  for (const prefix of ['', 'a', 'ab', '{"password":"']) {
    const b64 = Buffer.from(`${prefix}${pw}"}`).toString('base64');
    expect(scanBuffer(Buffer.from(`xx${b64}yy`), needles, 'f').map((h) => h.what)).toContain('pw (base64)');
  }
  expect(scanObject({ events: [{ payload: { data: new Uint8Array(Buffer.from(`["${code}"]`)) } }] }, needles, 'h')).toHaveLength(1);
  expect(scanBuffer(Buffer.from('nothing here'), needles, 'f')).toEqual([]);
});

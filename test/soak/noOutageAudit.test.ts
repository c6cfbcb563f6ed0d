/** The audit of faults that must cost nothing (an injected 429, a noisy co-tenant), on hand-made evidence. */
import { DEPTH_SILENCE_LIMIT_MS, judgeNoOutage, type NoOutageEvidence, type StatusSample } from '../../soak/noOutageAudit';

const usable = (t: number, pacing = false): StatusSample => ({ t, state: 'usable', pacing, reason: pacing ? 'REST requests paused until 12:00:00' : 'keepalive ok' });
const evidence = (over: Partial<NoOutageEvidence> = {}): NoOutageEvidence => ({
  fromMs: 0,
  toMs: 20_000,
  samples: Array.from({ length: 20 }, (_, i) => usable(i * 1000)),
  loginsBefore: 3,
  loginsAfter: 3,
  depthFlowingBefore: true,
  longestSilenceMs: 400,
  pacingOpenAtEnd: false,
  ...over,
});
const strictOneRefusal = { pacingAllowed: false };
const coTenant = { pacingAllowed: true };

test('usable throughout, no login, depth steady: ok', () => {
  const v = judgeNoOutage(evidence(), strictOneRefusal, []);
  expect(v).toMatchObject({ ok: true, problems: [], excused: [] });
  expect(v.seen).toMatch(/usable 20\/20, penalty not shown, logins \+0, longest depth silence 0\.4 s/);
});

test('a blip, a login and a depth silence fail on their own and are excused by another fault at the same time', () => {
  const bad = evidence({ samples: [usable(0), { t: 1000, state: 'reconnecting', pacing: false, reason: 'bridge lost' }, usable(2000)], loginsAfter: 4, longestSilenceMs: DEPTH_SILENCE_LIMIT_MS + 1 });
  const alone = judgeNoOutage(bad, coTenant, []);
  expect(alone.ok).toBe(false);
  expect(alone.problems).toEqual(['not usable in 1 of 3 samples (reconnecting)', '1 login(s) meanwhile', 'depth silent for 5.0 s']);
  const during = judgeNoOutage(bad, coTenant, ['temporal-restart']);
  expect(during.ok).toBe(true);
  expect(during.excused).toHaveLength(3);
  expect(during.excused[0]).toMatch(/\(during temporal-restart\)$/);
});

test('a rate-limited outage is never excused', () => {
  const v = judgeNoOutage(evidence({ samples: [usable(0), { t: 1000, state: 'unavailable', pacing: false, reason: 'RateLimited: /v1/api/tickle: rate limited (429)' }] }), coTenant, ['temporal-restart']);
  expect(v.ok).toBe(false);
  expect(v.problems).toEqual(['the status turned a refusal into a rate-limited outage']);
});

test('a penalty is a finding after one refusal, expected from a co-tenant flood, and must end by itself', () => {
  const shown = evidence({ samples: [usable(0), usable(1000, true), usable(2000)] });
  expect(judgeNoOutage(shown, strictOneRefusal, []).problems).toEqual(['a single refusal was shown as a penalty box']);
  const v = judgeNoOutage(shown, coTenant, []);
  expect(v.ok).toBe(true);
  expect(v.seen).toMatch(/penalty shown and ended/);
  const open = judgeNoOutage(evidence({ samples: [usable(0, true)], pacingOpenAtEnd: true }), coTenant, ['clickhouse-restart']);
  expect(open.problems).toEqual(['the penalty did not end by itself in time']);
});

test('depth is judged only when it flowed before; unreadable rows count as a problem; no readable status at all too', () => {
  expect(judgeNoOutage(evidence({ depthFlowingBefore: false, longestSilenceMs: null }), coTenant, []).ok).toBe(true);
  expect(judgeNoOutage(evidence({ longestSilenceMs: null }), coTenant, []).problems).toEqual(['depth rows of the window could not be read']);
  expect(judgeNoOutage(evidence({ samples: [{ t: 0, state: null, pacing: false, reason: '' }] }), coTenant, []).problems).toEqual(['no session status could be read']);
});

/** The audit of "IBKR unreachable" (the pod cut off from IBKR for minutes), on hand-made evidence. */
import { judgeIbkrUnreachable, NAMED_IF_CUT_AT_LEAST_MS, type IbkrUnreachableEvidence, type IbkrUnreachableTarget, type ReachSample } from '../../soak/ibkrUnreachableAudit';

const CUT_MS = 60_000;
const usable = (t: number): ReachSample => ({ t, state: 'usable', reason: 'keepalive ok', outageKind: null });
const namedOutage = (t: number): ReachSample => ({
  t,
  state: 'unavailable',
  reason: 'IbkrUnreachable: /tickle: no answer within 10000 ms; IBKR unreachable through the gateway for 20 s (since …), no login attempted meanwhile',
  outageKind: 'ibkr_unreachable',
});
/** Usable for 20 s, the outage named until the restore, usable again 10 s later. */
const goodSamples = (): ReachSample[] => [
  ...Array.from({ length: 20 }, (_, i) => usable(i * 1000)),
  ...Array.from({ length: CUT_MS / 1000 - 20 + 10 }, (_, i) => namedOutage(20_000 + i * 1000)),
  usable(CUT_MS + 10_000),
];
const target = (over: Partial<IbkrUnreachableTarget> = {}): IbkrUnreachableTarget => ({
  connection: 'soak-paper-1',
  samples: goodSamples(),
  loginsBefore: { ok: 2, failed: 1 },
  loginsAfter: { ok: 2, failed: 1 },
  usableAfterRestoreMs: 10_000,
  depthFlowingAfter: true,
  explainedDuringCut: [],
  explainedDuringWatch: [],
  ...over,
});
const evidence = (over: Partial<IbkrUnreachableTarget> = {}, cutMs = CUT_MS): IbkrUnreachableEvidence => ({ pod: 'pod-a', cutFromMs: 0, cutToMs: cutMs, targets: [target(over)] });
const loggingIn = (t: number): ReachSample => ({ t, state: 'logging_in', reason: 'IBKR answers, the session is gone: browser login', outageKind: null });

test('named as IBKR unreachable, no login, no charge, back by itself with depth: ok', () => {
  const v = judgeIbkrUnreachable(evidence());
  expect(v).toMatchObject({ ok: true, problems: [], excused: [] });
  expect(v.seen).toBe('soak-paper-1: outage named ibkr_unreachable after 20 s, logging_in while cut 0, logins ok +0 failed +0, usable 10 s after the restore, depth flowing');
});

test('a fresh login after the restore (IBKR ended the idle session) is fine', () => {
  const samples = [...goodSamples().slice(0, -1), loggingIn(CUT_MS + 1_000), usable(CUT_MS + 10_000)];
  const v = judgeIbkrUnreachable(evidence({ samples, loginsAfter: { ok: 3, failed: 1 } }));
  expect(v.ok).toBe(true);
  expect(v.seen).toMatch(/logins ok \+1 failed \+0/);
});

test('a login while cut off fails, unless another fault on the connection overlapped the cut', () => {
  const samples = goodSamples().map((s) => (s.t === 30_000 ? loggingIn(s.t) : s));
  const alone = judgeIbkrUnreachable(evidence({ samples }));
  expect(alone.ok).toBe(false);
  expect(alone.problems).toEqual(['soak-paper-1: logging_in in 1 sample(s) while cut off (first 30 s in: IBKR answers, the session is gone: browser login)']);
  const during = judgeIbkrUnreachable(evidence({ samples, explainedDuringCut: ['session-drop'] }));
  expect(during.ok).toBe(true);
  expect(during.excused).toEqual([expect.stringMatching(/logging_in in 1 sample\(s\) while cut off .* \(during session-drop\)$/)]);
});

test('a failed login charged to the budget fails, unless another fault on the connection explains it', () => {
  const charged = { loginsAfter: { ok: 2, failed: 2 } };
  expect(judgeIbkrUnreachable(evidence(charged)).problems).toEqual(['soak-paper-1: 1 failed login(s) charged to the budget']);
  expect(judgeIbkrUnreachable(evidence({ ...charged, explainedDuringWatch: ['failed-login'] })).ok).toBe(true);
});

test('manual_action_required fails; only an injected failed login on the connection excuses it', () => {
  const samples = [...goodSamples(), { t: CUT_MS + 11_000, state: 'manual_action_required', reason: 'LoginFailed: …', outageKind: null }];
  expect(judgeIbkrUnreachable(evidence({ samples, explainedDuringWatch: ['temporal-restart'] })).problems).toEqual(['soak-paper-1: manual_action_required (LoginFailed: …)']);
  expect(judgeIbkrUnreachable(evidence({ samples, explainedDuringWatch: ['failed-login'] })).ok).toBe(true);
});

test('never named: fails when the cut was long enough to find out, not judged for a shorter one', () => {
  const unnamed = goodSamples().map((s): ReachSample => (s.state === 'unavailable' ? { ...s, outageKind: null, reason: 'GatewayUnavailable: /tickle: no answer' } : s));
  const v = judgeIbkrUnreachable(evidence({ samples: unnamed }));
  expect(v.ok).toBe(false);
  expect(v.problems).toEqual(['soak-paper-1: the outage was never named (no sample unavailable with status.outage ibkr_unreachable; seen while cut off: usable/unavailable)']);
  expect(v.seen).toMatch(/outage not named/);
  // The outage kind alone is not enough either: the reason must say so too.
  const wordless = goodSamples().map((s): ReachSample => (s.state === 'unavailable' ? { ...s, reason: 'no answer' } : s));
  expect(judgeIbkrUnreachable(evidence({ samples: wordless })).ok).toBe(false);
  const short = Array.from({ length: 30 }, (_, i) => usable(i * 1000));
  expect(judgeIbkrUnreachable(evidence({ samples: short }, NAMED_IF_CUT_AT_LEAST_MS - 1)).ok).toBe(true);
});

test('not back: not usable in time, or usable without depth, fails whatever overlapped', () => {
  const notBack = judgeIbkrUnreachable(evidence({ usableAfterRestoreMs: null, depthFlowingAfter: false, explainedDuringWatch: ['temporal-restart'] }));
  expect(notBack.problems).toEqual(['soak-paper-1: not usable within 180 s after IBKR answered again']);
  expect(notBack.seen).toMatch(/not back$/);
  expect(judgeIbkrUnreachable(evidence({ depthFlowingAfter: false })).problems).toEqual(['soak-paper-1: usable again but depth not flowing']);
});

test('every connection of the pod is judged, and a pod without any is a problem', () => {
  const e = evidence();
  e.targets.push(target({ connection: 'soak-paper-4', usableAfterRestoreMs: null }));
  const v = judgeIbkrUnreachable(e);
  expect(v.problems).toEqual(['soak-paper-4: not usable within 180 s after IBKR answered again']);
  expect(v.seen.split('; ')).toHaveLength(2);
  expect(judgeIbkrUnreachable({ ...e, targets: [] }).problems).toEqual(['no connection on pod-a to watch']);
});

/**
 * How the pod reads the gateway's 429s: one refusal holds back its path briefly, a second soon
 * after means the address is boxed (no REST until its expected end, then one probe), and any
 * answer that is not a 429 ends it. On a fake clock.
 */
import { CO_TENANT_CAUSE, PENALTY_DEFAULTS, PenaltyBox, pathKey } from '../../../src/gateway/penaltyBox';
import type { PacingPenalty } from '../../../src/contract/sessionStatus';

function clock(start = Date.parse('2026-12-02T10:00:00Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

test('one refusal holds back only its path, for its Retry-After or 2 s', () => {
  const c = clock();
  const box = new PenaltyBox({ now: c.now });
  expect(box.refused('/v1/api/tickle')).toEqual({ scope: 'path', waitMs: PENALTY_DEFAULTS.pathBackoffMs });
  expect(box.blockedForMs('/v1/api/tickle')).toBe(PENALTY_DEFAULTS.pathBackoffMs);
  expect(box.blockedForMs('/v1/portal/tickle?x=1')).toBe(PENALTY_DEFAULTS.pathBackoffMs); // the same path to IBKR
  expect(box.blockedForMs('/v1/api/iserver/auth/status')).toBe(0);
  expect(box.penalty).toBeNull();
  c.advance(2_000);
  expect(box.blockedForMs('/v1/api/tickle')).toBe(0);

  const withHeader = new PenaltyBox({ now: c.now });
  withHeader.refused('/v1/api/sso/validate', 7_000);
  expect(withHeader.blockedForMs('/v1/api/sso/validate')).toBe(7_000);
});

test('a second refusal soon after boxes the address: every path waits 15 minutes, listeners hear the start and the end', () => {
  const c = clock();
  const heard: (PacingPenalty | null)[] = [];
  const box = new PenaltyBox({ now: c.now });
  box.subscribe((p) => heard.push(p));
  box.refused('/v1/api/tickle');
  c.advance(2_500);
  expect(box.refused('/v1/api/iserver/auth/status')).toEqual({ scope: 'box', waitMs: 15 * 60_000 });
  expect(box.penalty).toEqual({ since: '2026-12-02T10:00:02.500Z', until: '2026-12-02T10:15:02.500Z', cause: CO_TENANT_CAUSE, path: '/iserver/auth/status' });
  expect(box.blockedForMs('/v1/api/iserver/accounts')).toBe(15 * 60_000);
  c.advance(15 * 60_000);
  // Past the expected end the probe may go; the box is still believed in until an answer says otherwise.
  expect(box.blockedForMs('/v1/api/tickle')).toBe(0);
  expect(box.penalty).not.toBeNull();
  box.answered('/v1/api/tickle');
  expect(box.penalty).toBeNull();
  expect(heard.map((p) => p && p.path)).toEqual(['/iserver/auth/status', null]);
});

test('refusals far apart are each their own, never a box', () => {
  const c = clock();
  const box = new PenaltyBox({ now: c.now });
  for (let i = 0; i < 5; i++) {
    expect(box.refused('/v1/api/tickle').scope).toBe('path');
    c.advance(PENALTY_DEFAULTS.escalateWithinMs + 1);
  }
  expect(box.penalty).toBeNull();
});

test('an answer between two refusals starts the count again', () => {
  const c = clock();
  const box = new PenaltyBox({ now: c.now });
  box.refused('/v1/api/tickle');
  c.advance(3_000);
  box.answered('/v1/api/tickle');
  c.advance(1_000);
  expect(box.refused('/v1/api/tickle').scope).toBe('path');
});

test('a probe refused after the expected end waits the re-probe time (or its Retry-After), keeping the box\'s start', () => {
  const c = clock();
  const heard: (PacingPenalty | null)[] = [];
  const box = new PenaltyBox({ now: c.now, boxMs: 60_000, reprobeMs: 30_000 });
  box.subscribe((p) => heard.push(p));
  box.refused('/v1/api/tickle');
  box.refused('/v1/api/tickle', undefined);
  const since = box.penalty!.since;
  c.advance(60_000);
  expect(box.refused('/v1/api/tickle')).toEqual({ scope: 'box', waitMs: 30_000 });
  expect(box.blockedForMs('/v1/api/tickle')).toBe(30_000);
  expect(box.penalty!.since).toBe(since);
  c.advance(30_000);
  box.refused('/v1/api/tickle', 120_000);
  expect(box.blockedForMs('/v1/api/tickle')).toBe(120_000);
  expect(heard).toHaveLength(3); // start and two extensions
});

test('every refusal is reported with the scope it was read as', () => {
  const seen: string[] = [];
  const box = new PenaltyBox({ now: clock().now, onRefused: (scope, path) => seen.push(`${scope} ${path}`) });
  box.refused('/v1/api/tickle');
  box.refused('/v1/portal/sso/validate?a=1');
  expect(seen).toEqual(['path /tickle', 'box /sso/validate']);
});

test('pathKey: the api and portal spellings and query strings are one path', () => {
  expect(pathKey('/v1/api/iserver/auth/status')).toBe('/iserver/auth/status');
  expect(pathKey('/v1/portal/iserver/auth/status?x')).toBe('/iserver/auth/status');
});

import { computeUptime, sessionEventsSql, stateBeforeSql } from '../../../src/operations/uptimeQueries';

const S = 1_767_225_600_000;
const H = 3_600_000;

test('usable time counts from the state at the window start, drops and logins are counted, replays ignored', () => {
  const events = [
    { connection: 'paper-1', ts_ms: S + 600_000, state: 'reconnecting' },
    { connection: 'paper-1', ts_ms: S + 600_000, state: 'reconnecting' }, // replayed
    { connection: 'paper-1', ts_ms: S + 700_000, state: 'logging_in' },
    { connection: 'paper-1', ts_ms: S + 900_000, state: 'usable' },
    { connection: 'live-1', ts_ms: S + 1_800_000, state: 'usable' },
    { connection: 'live-1', ts_ms: S + 2_700_000, state: 'competing' },
  ];
  const result = computeUptime(events, new Map([['paper-1', 'usable']]), S, S + H);
  expect(result).toEqual([
    { connection: 'live-1', usableSeconds: 900, usablePercent: 25, drops: 1, logins: 0, stateAtEnd: 'competing', knownFrom: '2026-01-01T00:30:00.000Z' },
    { connection: 'paper-1', usableSeconds: 600 + 2700, usablePercent: 91.67, drops: 1, logins: 1, stateAtEnd: 'usable', knownFrom: '2026-01-01T00:00:00.000Z' },
  ]);
});

test('a connection known only from before the window stays in its state all window long', () => {
  expect(computeUptime([], new Map([['x', 'paused']]), S, S + H)).toEqual([
    { connection: 'x', usableSeconds: 0, usablePercent: 0, drops: 0, logins: 0, stateAtEnd: 'paused', knownFrom: '2026-01-01T00:00:00.000Z' },
  ]);
});

test('the two queries split the events at the window start', () => {
  const p = { database: 'ibflow', fromMs: S + 0.7, toMs: S + H, connection: 'live-1' };
  expect(stateBeforeSql(p)).toContain(`WHERE ts_ms < ${S} AND connection = 'live-1'`);
  expect(sessionEventsSql(p)).toContain(`WHERE ts_ms >= ${S} AND ts_ms < ${S + H} AND connection = 'live-1'`);
});

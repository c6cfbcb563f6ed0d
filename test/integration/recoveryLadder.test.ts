/**
 * Each rung of the recovery ladder, with the fault injected through the simulator's control plane,
 * on the real stack: competing login elsewhere, gateway errors, websocket loss, a login that hangs,
 * and a login page that changed.
 */
import { startConnectionWorkflows } from '../../src/operations/connectionWorkflows';
import { DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { SessionState, SessionStatus } from '../../src/contract/sessionStatus';
import { forceReloginSignal, statusQuery } from '../../workflows/messages';
import { simControl, startTestStack, waitFor, type TestStack } from '../support/testStack';

jest.setTimeout(300_000);

const paper = DEMO_CONNECTIONS[0];
const live = DEMO_CONNECTIONS[1];
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    editConfig: (c) => ({
      ...c,
      session: { ...c.session, keepaliveIntervalMs: 3_000, competingCooldownMs: 4_000 },
      browser: { ...c.browser, loginTimeoutMs: 10_000 },
    }),
  });
  await startConnectionWorkflows(stack.config, () => undefined);
});

afterAll(async () => {
  await stack?.stop();
});

async function status(username: string): Promise<SessionStatus> {
  return stack.client.workflow.getHandle(sessionWorkflowId(username)).query(statusQuery);
}

/** Waits until the session has been in `state` (seen by polling or in its event log) and returns. */
async function waitState(username: string, state: SessionState, timeoutMs = 60_000): Promise<SessionStatus> {
  return waitFor(`${username} ${state}`, async () => {
    const s = await status(username);
    return s.state === state ? s : null;
  }, timeoutMs, 100);
}

async function eventsSeen(connection: string, sinceMs: number): Promise<{ state: string; reason: string }[]> {
  const rs = await stack.clickhouse.query({
    query: `SELECT state, reason FROM ${stack.config.clickhouse.database}.session_events WHERE connection = '${connection}' AND ts_ms >= ${sinceMs} ORDER BY ts_ms`,
    format: 'JSONEachRow',
  });
  return rs.json<{ state: string; reason: string }>();
}

async function statesSeen(connection: string, sinceMs: number): Promise<string[]> {
  const rs = await stack.clickhouse.query({
    query: `SELECT state FROM ${stack.config.clickhouse.database}.session_events WHERE connection = '${connection}' AND ts_ms >= ${sinceMs} ORDER BY ts_ms`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ state: string }>()).map((r) => r.state);
}

test('a competing login elsewhere: the session waits its cool-down, then takes the session back by itself', async () => {
  const before = await waitState(paper.username, 'usable');
  const since = Date.now();
  await simControl(stack.sims.get(paper.pod)!, 'POST', '/sim/control/compete', { username: paper.username });
  const competing = await waitState(paper.username, 'competing', 30_000);
  expect(competing.reason).toMatch(/elsewhere|took the session/);
  const back = await waitState(paper.username, 'usable', 60_000);
  // The read-only portal session survived the loss: ssodh/init took it back, no browser login.
  expect(back.lastLoginAt).toBe(before.lastLoginAt);
  await waitFor('the competing state in the event log', async () => (await statesSeen(paper.id, since)).includes('competing'), 20_000);
});

test('a short Temporal server restart leaves a healthy session and its depth stream alone', async () => {
  const before = await waitState(live.username, 'usable');
  const db = stack.config.clickhouse.database;
  const streams = async () => {
    const rs = await stack.clickhouse.query({ query: `SELECT uniqExact(stream_id) AS n FROM ${db}.depth WHERE connection = '${live.id}'`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0].n);
  };
  await waitFor('depth flowing', async () => (await streams()) > 0, 60_000);
  const streamsBefore = await streams();
  const since = Date.now();
  // Long enough (with the server's own stop and start) that a keepalive heartbeating only every
  // 24 s (the SDK's default throttle at a 30 s heartbeat timeout) would be timed out by the restarted server.
  await stack.restartTemporal(12_000);
  // Give the heartbeat timeout (30 s) time to fire if heartbeats were lost.
  await new Promise((r) => setTimeout(r, 35_000));
  const after = await status(live.username);
  expect(after.state).toBe('usable');
  expect(after.lastLoginAt).toBe(before.lastLoginAt);
  expect(await statesSeen(live.id, since)).toEqual([]);
  expect(await streams()).toBe(streamsBefore);
});

test('session events of a recovery during a ClickHouse outage reach ClickHouse once it is back', async () => {
  const sim = stack.sims.get(paper.pod)!;
  await waitState(paper.username, 'usable');
  const since = Date.now();
  const startClickHouse = await stack.stopClickHouse();
  try {
    await simControl(sim, 'POST', '/sim/control/drop', { username: paper.username, kind: 'bridge' });
    await waitState(paper.username, 'reconnecting', 30_000);
    await waitState(paper.username, 'usable', 60_000);
    // Longer than the old five-attempt retry budget of the event activity (~15 s).
    await new Promise((r) => setTimeout(r, 25_000));
  } finally {
    await startClickHouse();
  }
  const seen = await waitFor(
    'the recovery in the event log',
    async () => {
      const states = await statesSeen(paper.id, since);
      return states.includes('reconnecting') && states.includes('usable') ? states : null;
    },
    // The event activity's retries back off to a minute apart while ClickHouse is away; on a loaded
    // machine its restart and that last wait can take most of two minutes.
    150_000,
    1_000,
  );
  expect(seen.indexOf('reconnecting')).toBeLessThan(seen.lastIndexOf('usable'));
});

test('gateway errors (500 on every API call) make the session unavailable; it recovers when they stop', async () => {
  const sim = stack.sims.get(paper.pod)!;
  await waitState(paper.username, 'usable');
  const fault = await simControl<{ id: string }>(sim, 'POST', '/sim/control/faults', { path: '/v1/api/*', status: 500 });
  expect(fault.id).toBeTruthy();
  const down = await waitState(paper.username, 'unavailable', 30_000);
  expect(down.reason).toContain('GatewayUnavailable');
  expect(down.nextAttemptAt).not.toBeNull();
  await simControl(sim, 'DELETE', '/sim/control/faults');
  await waitState(paper.username, 'usable', 90_000);
});

test('a killed websocket does not lose the session; depth resumes on a new stream', async () => {
  const sim = stack.sims.get(live.pod)!;
  await waitState(live.username, 'usable');
  const db = stack.config.clickhouse.database;
  const streams = async () => {
    const rs = await stack.clickhouse.query({ query: `SELECT uniqExact(stream_id) AS n FROM ${db}.depth WHERE connection = '${live.id}'`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0].n);
  };
  const before = await streams();
  const killed = await simControl<{ killed: number }>(sim, 'POST', '/sim/control/ws/kill', { username: live.username });
  expect(killed.killed).toBeGreaterThanOrEqual(1);
  await waitFor('a new depth stream', async () => (await streams()) > before, 60_000);
  expect((await status(live.username)).state).toBe('usable');
});

test('a login that hangs is retried with backoff; a changed login page stops for a human', async () => {
  const sim = stack.sims.get(paper.pod)!;
  await waitState(paper.username, 'usable');
  await simControl(sim, 'POST', '/sim/control/login-faults', { kind: 'timeout', count: 1 });
  const droppedAt = new Date().toISOString();
  await simControl(sim, 'POST', '/sim/control/drop', { username: paper.username, kind: 'expire' });
  // The hung login times out (browser.loginTimeoutMs), counts as a failed login, and the next try succeeds.
  const recovered = await waitFor('a fresh login after the drop', async () => {
    const s = await status(paper.username);
    return s.state === 'usable' && s.lastLoginAt !== null && s.lastLoginAt > droppedAt ? s : null;
  }, 180_000, 100);
  expect(recovered.state).toBe('usable');
  // The story in the event log, in order: a login that failed as LoginFailed and backed off
  // (reconnecting with that reason), then a second login that made the session usable.
  const events = await waitFor('the recovery in the event log', async () => {
    const rows = await eventsSeen(paper.id, Date.parse(droppedAt));
    return rows.some((r) => r.state === 'usable') ? rows : null;
  }, 30_000, 500);
  const failedAt = events.findIndex((r) => r.state === 'reconnecting' && /^LoginFailed: login did not finish within 10000 ms/.test(r.reason));
  expect(failedAt).toBeGreaterThan(events.findIndex((r) => r.state === 'logging_in'));
  expect(events.slice(failedAt).map((r) => r.state)).toEqual(expect.arrayContaining(['logging_in', 'usable']));
  expect(events.filter((r) => r.state === 'logging_in').length).toBeGreaterThanOrEqual(2);
  expect(events.map((r) => r.state).lastIndexOf('usable')).toBeGreaterThan(failedAt);

  await simControl(sim, 'POST', '/sim/control/login-faults', { kind: 'page-change', count: 1 });
  await simControl(sim, 'POST', '/sim/control/drop', { username: paper.username, kind: 'expire' });
  const stuck = await waitState(paper.username, 'manual_action_required', 90_000);
  expect(stuck.reason).toContain('LoginPageChanged');
  expect(stuck.reason).toMatch(/evidence: .*\.png/);

  await stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).signal(forceReloginSignal);
  await waitState(paper.username, 'usable', 60_000);
});

/**
 * The gateway is shared with the user's own programs (issue "Share the gateway"): on the real
 * stack — Temporal, ClickHouse, Chromium logins, the simulator, the workers — a co-tenant that
 * overdoes IBKR's pacing never costs ibflow its depth or its session, in either of the simulator's
 * pacing modes, and the same traffic through the pod's app port never reaches the gateway over its
 * limits.
 */
import { runNoise, type NoiseSummary } from '../../sim/noise';
import { clearSimPacing, setSimPacing, simPacing } from '../../sim/controlClient';
import { runDoctor } from '../../cli/commands/doctor';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { startConnectionWorkflows } from '../../src/operations/connectionWorkflows';
import { DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { statusQuery } from '../../workflows/messages';
import { simControl, startTestStack, waitFor, type TestStack } from '../support/testStack';

jest.setTimeout(300_000);

const paper = DEMO_CONNECTIONS[0];
/** Short boxes on both sides (IBKR's is 15 minutes), so that a box's end is seen. */
const BOX_MS = 15_000;
let stack: TestStack;

const sim = () => stack.sims.get(paper.pod)!;
const status = (): Promise<SessionStatus> => stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).query(statusQuery);
const logins = async () => (await simControl<{ logins: Record<string, { ok: number }> }>(sim(), 'GET', '/sim/control/stats')).logins[paper.username]?.ok ?? 0;

/** Samples the session's state and penalty every 500 ms until stopped. */
function watchSession() {
  const seen: { state: string; pacing: boolean; reason: string }[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      const s = await status().catch(() => null);
      if (s) seen.push({ state: s.state, pacing: Boolean(s.pacing), reason: s.reason });
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    seen,
    stop: async () => {
      on = false;
      await done;
      return seen;
    },
  };
}

/** The longest stretch of [fromMs, toMs] without a depth row of the connection (by receive time). */
async function longestDepthSilenceMs(fromMs: number, toMs: number): Promise<number> {
  const db = stack.config.clickhouse.database;
  // Rows are stamped when received; wait until the sink has written everything up to toMs.
  await waitFor('depth rows after the window', async () => {
    const rs = await stack.clickhouse.query({ query: `SELECT count() AS n FROM ${db}.depth WHERE connection = '${paper.id}' AND kind != 'gap' AND received_ns > ${toMs}000000`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0].n) > 0;
  }, 30_000);
  const rs = await stack.clickhouse.query({
    query: `SELECT intDiv(received_ns, 1000000) AS ms FROM ${db}.depth WHERE connection = '${paper.id}' AND kind != 'gap' AND received_ns BETWEEN ${fromMs}000000 AND ${toMs}000000 GROUP BY ms ORDER BY ms`,
    format: 'JSONEachRow',
  });
  const stamps = [fromMs, ...(await rs.json<{ ms: string }>()).map((r) => Number(r.ms)), toMs];
  let longest = 0;
  for (let i = 1; i < stamps.length; i++) longest = Math.max(longest, stamps[i] - stamps[i - 1]);
  return longest;
}

async function pacingEvents(sinceMs: number): Promise<string[]> {
  const db = stack.config.clickhouse.database;
  const rs = await stack.clickhouse.query({
    query: `SELECT reason FROM ${db}.session_events WHERE connection = '${paper.id}' AND ts_ms >= ${sinceMs} AND reason LIKE 'pacing penalty%' ORDER BY ts_ms`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ reason: string }>()).map((r) => r.reason);
}

const answered = (n: NoiseSummary) => Object.values(n.byStatus).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  stack = await startTestStack({
    editConfig: (c) => ({ ...c, session: { ...c.session, keepaliveIntervalMs: 5_000, penaltyBoxMs: BOX_MS } }),
  });
  await startConnectionWorkflows(stack.config, () => undefined);
  await waitFor('demo-paper usable', async () => ((await status().catch(() => null))?.state === 'usable' ? true : null), 90_000);
  await waitFor('depth rows of demo-paper', async () => {
    const rs = await stack.clickhouse.query({ query: `SELECT count() AS n FROM ${stack.config.clickhouse.database}.depth WHERE connection = '${paper.id}' AND kind = 'snapshot'`, format: 'JSONEachRow' });
    return Number((await rs.json<{ n: string }>())[0].n) > 0 ? true : null;
  }, 60_000);
});

afterAll(async () => {
  await stack?.stop();
});

afterEach(async () => {
  await clearSimPacing(sim());
  await setSimPacing(sim(), { mode: 'lenient' });
});

test('lenient gateway: a co-tenant tickling twice within a second is refused once; ibflow notices nothing', async () => {
  const from = Date.now();
  const loginsBefore = await logins();
  const watch = watchSession();
  const noise = await runNoise({ target: sim().url, pattern: 'pair', rate: 1, durationMs: 1_000, insecure: true });
  expect(noise.byStatus[429] ?? 0).toBeGreaterThanOrEqual(1);
  await new Promise((r) => setTimeout(r, 12_000)); // two keepalives and more
  const seen = await watch.stop();
  expect((await simPacing(sim())).penaltyBox).toEqual({});
  expect(seen.every((s) => s.state === 'usable' && !s.pacing)).toBe(true);
  expect(await longestDepthSilenceMs(from, Date.now())).toBeLessThan(3_000);
  expect(await logins()).toBe(loginsBefore);
});

test('strict gateway: the same pair boxes the address; depth streams and the session lives through the whole box, whose start and end are shown and recorded', async () => {
  await setSimPacing(sim(), { mode: 'strict', penaltyMs: BOX_MS });
  const from = Date.now();
  const loginsBefore = await logins();
  const watch = watchSession();
  const noise = await runNoise({ target: sim().url, pattern: 'pair', rate: 1, durationMs: 1_000, insecure: true });
  expect(noise.byStatus[429] ?? 0).toBeGreaterThanOrEqual(1);
  expect(Object.keys((await simPacing(sim())).penaltyBox)).toHaveLength(1);

  const boxed = await waitFor('the penalty in the status', async () => ((await status()).pacing ? status() : null), 30_000);
  expect(boxed.state).toBe('usable');
  expect(boxed.pacing!.cause).toMatch(/another client on this gateway exceeded IBKR's pacing/);
  expect(boxed.reason).toMatch(/REST requests paused until .*kept alive over the websocket/);
  // doctor names it, without a request to the gateway's API.
  const doctor = await runDoctor(stack.config, { skip: new Set(['clickhouse', 'gateways', 'secrets', 'chromium']) });
  expect(doctor.find((c) => c.name === `session ${paper.id}`)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/penalty box/) });

  await waitFor('the penalty over', async () => ((await status()).pacing ? null : true), 2 * BOX_MS + 20_000);
  expect((await simPacing(sim())).penaltyBox).toEqual({});
  await new Promise((r) => setTimeout(r, 6_000)); // a REST keepalive after the box
  const seen = await watch.stop();
  expect(seen.some((s) => s.pacing)).toBe(true);
  expect(seen.filter((s) => s.state !== 'usable')).toEqual([]);
  expect(await logins()).toBe(loginsBefore);
  expect(await longestDepthSilenceMs(from, Date.now())).toBeLessThan(3_000);
  const events = await waitFor('both events recorded', async () => {
    const e = await pacingEvents(from);
    return e.some((r) => r.startsWith('pacing penalty over')) ? e : null;
  }, 30_000);
  expect(events[0]).toMatch(/^pacing penalty \(refused /);
  expect(events.at(-1)).toMatch(/^pacing penalty over: .*without a new login/);
});

test('through the app port, 10 tickles/s plus bursts of 30 mixed requests never reach the gateway over its limits (strict mode), every request is answered, ibflow is unaffected', async () => {
  await setSimPacing(sim(), { mode: 'strict', penaltyMs: 15 * 60_000 });
  const appPort = stack.config.connections.find((c) => c.id === paper.id)!.gateway.appPort;
  expect(typeof appPort).toBe('number');
  const target = `https://127.0.0.1:${String(appPort)}`;
  const rejectedBefore = (await simPacing(sim())).rejected;
  const from = Date.now();
  const loginsBefore = await logins();
  const watch = watchSession();
  const [tickles, bursts] = await Promise.all([
    runNoise({ target, pattern: 'tickle', rate: 10, durationMs: 10_000, insecure: true }),
    runNoise({ target, pattern: 'burst', rate: 30, everyMs: 1_000, durationMs: 10_000, insecure: true }),
  ]);
  const seen = await watch.stop();
  // The gateway never saw an over-limit request: no 429 from it, no box.
  expect((await simPacing(sim())).rejected).toBe(rejectedBefore);
  expect((await simPacing(sim())).penaltyBox).toEqual({});
  // Every request got an answer: from the gateway, or from ibflow (a tickle, or a local 429 with Retry-After).
  for (const n of [tickles, bursts]) {
    expect(n.errors).toBe(0);
    expect(answered(n)).toBe(n.sent);
  }
  expect(tickles.sent).toBeGreaterThanOrEqual(90);
  expect(tickles.byStatus[200]).toBe(tickles.sent);
  expect(bursts.sent).toBeGreaterThanOrEqual(270);
  expect(seen.filter((s) => s.state !== 'usable' || s.pacing)).toEqual([]);
  expect(await logins()).toBe(loginsBefore);
  expect(await longestDepthSilenceMs(from, Date.now())).toBeLessThan(3_000);
});

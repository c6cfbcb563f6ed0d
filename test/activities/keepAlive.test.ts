/**
 * The keepAlive activity against the simulator over HTTPS: it tickles and heartbeats while the
 * session is healthy and returns only when the session needs attention (or to refresh itself);
 * gateway trouble becomes typed, retryable failures; cancellation ends it.
 */
import { CancelledFailure } from '@temporalio/activity';
import { createKeepAlive } from '../../activities/keepAlive';
import { FailureType } from '../../src/contract/failureTypes';
import type { GatewayClient } from '../../src/gateway/gatewayClient';
import { eventually, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from '../sim/simTestKit';
import type { PacingPenalty } from '../../src/contract/sessionStatus';
import { control, failureOf, podDeps, recordingEnvironment, runIn, simGateway, type SentSignal } from './activityTestKit';

const INTERVAL_MS = 40;
let sim: TestSim;
let gateway: GatewayClient;

beforeEach(async () => {
  sim = await startTestSim({ authDelayMs: 0 });
  gateway = simGateway(sim);
  await loginViaHttp(sim, PAPER_USER);
  await eventually(async () => (await gateway.authStatus()).authenticated, 3000, 'brokerage session');
});
afterEach(async () => {
  gateway.close();
  await sim.stop();
});

/** Starts the keepalive and resolves once it has tickled successfully `tickles` times (seen in heartbeats). */
async function startKeepAlive(opts: { maxDurationMs?: number } = {}, tickles = 2) {
  const { env, heartbeats } = recordingEnvironment();
  const run = runIn(env, createKeepAlive(podDeps(gateway)), 'paper-1', { intervalMs: INTERVAL_MS, ...opts });
  run.catch(() => undefined); // observed by the test; keeps an early failure from going unhandled
  const tickled = () => new Set(heartbeats.map((h) => (h as { lastTickleAt: string | null }).lastTickleAt).filter(Boolean)).size;
  await eventually(() => tickled() >= tickles, 5000, `${tickles} tickles`);
  return { env, heartbeats, run };
}

test('while healthy it tickles and heartbeats the last tickle, then ends itself with refresh', async () => {
  const startedAt = Date.now();
  const { env, heartbeats } = recordingEnvironment();
  const ended = await runIn(env, createKeepAlive(podDeps(gateway)), 'paper-1', { intervalMs: INTERVAL_MS, maxDurationMs: 300 });
  expect(ended.reason).toBe('refresh');
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
  const tickleTimes = new Set(heartbeats.map((h) => (h as { lastTickleAt: string }).lastTickleAt));
  expect(tickleTimes.size).toBeGreaterThanOrEqual(3);
  expect(ended.lastTickleAt).toBe((heartbeats.at(-1) as { lastTickleAt: string }).lastTickleAt);
  expect(Date.parse(ended.lastTickleAt ?? '')).toBeGreaterThanOrEqual(startedAt);
  // Every heartbeat carries the last tickle and nothing else (no session id, no cookie).
  for (const h of heartbeats) expect(Object.keys(h as object)).toEqual(['lastTickleAt']);
});

test('a login elsewhere ends it with competing, keeping the last good tickle', async () => {
  const { run, heartbeats } = await startKeepAlive();
  expect((await control.compete(sim, PAPER_USER.username)).status).toBe(200);
  const ended = await run;
  expect(ended.reason).toBe('competing');
  expect(ended.lastTickleAt).toBe((heartbeats.at(-1) as { lastTickleAt: string }).lastTickleAt);
});

test('a lost brokerage session (SSO still there) ends it with not_authenticated', async () => {
  const { run } = await startKeepAlive();
  expect((await control.drop(sim, PAPER_USER.username, 'bridge')).status).toBe(200);
  const ended = await run;
  expect(ended).toEqual({ reason: 'not_authenticated', lastTickleAt: expect.any(String) });
});

test('an ended SSO session (401) ends it with sso_gone', async () => {
  const { run } = await startKeepAlive();
  expect((await control.drop(sim, PAPER_USER.username, 'expire')).status).toBe(200);
  expect(await run).toEqual({ reason: 'sso_gone', lastTickleAt: expect.any(String) });
});

test('a gateway that answers a tickle without a session with 200 {"error":"no session"} ends it with sso_gone too', async () => {
  const variant = await startTestSim({ authDelayMs: 0, tickleWithoutSession: 'no-session-200' });
  const client = simGateway(variant);
  try {
    await loginViaHttp(variant, PAPER_USER);
    await eventually(async () => (await client.authStatus()).authenticated, 3000, 'brokerage session');
    const { env, heartbeats } = recordingEnvironment();
    const run = runIn(env, createKeepAlive(podDeps(client)), 'paper-1', { intervalMs: INTERVAL_MS });
    await eventually(() => heartbeats.length >= 2, 5000, 'tickles');
    expect((await control.drop(variant, PAPER_USER.username, 'expire')).status).toBe(200);
    expect(await run).toEqual({ reason: 'sso_gone', lastTickleAt: expect.any(String) });
    expect(client.knowledge.sessionId).toBeNull(); // nothing stale is kept for the websocket or the app port
  } finally {
    client.close();
    await variant.stop();
  }
});

test('a gateway restart loses the session: not running while down (retryable), sso_gone once back', async () => {
  const { run } = await startKeepAlive();
  const { port, stateDir } = sim;
  await sim.close();
  const down = await failureOf(run);
  expect(down.type).toBe(FailureType.GatewayNotRunning);
  expect(down.nonRetryable).toBe(false);
  expect(down.message).toMatch(/tickle: gateway not running: nothing listens at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);

  // The restarted gateway on the same address has no session: the next keepalive hands back at once.
  const restarted = await startTestSim({ port, stateDir, authDelayMs: 0 });
  try {
    const { env } = recordingEnvironment();
    expect(await runIn(env, createKeepAlive(podDeps(gateway)), 'paper-1', { intervalMs: INTERVAL_MS })).toEqual({ reason: 'sso_gone', lastTickleAt: null });
  } finally {
    await restarted.stop();
  }
});

describe('a refused tickle (429) is not a lost session', () => {
  let boxed: GatewayClient;
  beforeEach(() => {
    // IBKR's box is 15 minutes; here it is short so that its end is seen.
    boxed = simGateway(sim, { boxMs: 600, reprobeMs: 200 });
  });
  afterEach(() => boxed.close());

  function startBoxed() {
    const { env, heartbeats } = recordingEnvironment();
    const signals: SentSignal[] = [];
    const run = runIn(env, createKeepAlive(podDeps(boxed, [], signals)), 'paper-1', { intervalMs: INTERVAL_MS });
    run.catch(() => undefined);
    const tickled = () => new Set(heartbeats.map((h) => (h as { lastTickleAt: string | null }).lastTickleAt).filter(Boolean)).size;
    return { env, run, signals, tickled };
  }
  const pacingSignals = (signals: SentSignal[]) => signals.filter((s) => s.name === 'pacing').map((s) => s.args[0] as PacingPenalty | null);

  test('through a penalty box it keeps the session alive over the websocket, tells the workflow of the start and the end, and resumes REST tickles', async () => {
    const { env, run, signals, tickled } = startBoxed();
    await eventually(() => tickled() >= 2, 5000, 'REST tickles');
    await control.fault(sim, { path: '/v1/api/tickle', status: 429, count: 10_000 });
    await eventually(() => pacingSignals(signals).some((p) => p !== null), 5000, 'the penalty box reported');
    const penalty = pacingSignals(signals).find((p) => p !== null)!;
    expect(penalty).toEqual({ since: expect.any(String), until: expect.any(String), path: '/tickle', cause: expect.stringMatching(/another client on this gateway/) });
    // Keepalives go on while every REST tickle is refused: they are websocket `tic`s now.
    const during = tickled();
    await eventually(() => tickled() >= during + 3, 5000, 'keepalives over the websocket');
    expect(boxed.knowledge.websocketAuthenticated(5_000)).toBe(true);
    await control.clearFaults(sim);
    await eventually(() => pacingSignals(signals).at(-1) === null, 5000, 'the end of the box reported');
    const after = tickled();
    await eventually(() => tickled() >= after + 2, 5000, 'REST tickles again');
    env.cancel();
    await expect(run).rejects.toThrow();
  });

  test('a loss the websocket pushes while boxed ends it (competing)', async () => {
    const { run, signals, tickled } = startBoxed();
    await eventually(() => tickled() >= 1, 5000, 'a REST tickle');
    await control.fault(sim, { path: '/v1/api/tickle', status: 429, count: 10_000 });
    await eventually(() => pacingSignals(signals).some((p) => p !== null), 5000, 'the penalty box reported');
    expect((await control.compete(sim, PAPER_USER.username)).status).toBe(200);
    expect((await run).reason).toBe('competing');
  });

  test('refused before any websocket session is known, it fails RateLimited (retryable) with the wait', async () => {
    await control.fault(sim, { path: '/v1/api/tickle', status: 429, count: 1 });
    const { run } = startBoxed();
    const err = await failureOf(run);
    expect(err.type).toBe(FailureType.RateLimited);
    expect(err.nonRetryable).toBe(false);
    const wait = (err.details as [{ retryAfterMs: number }])[0].retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(2_000); // one refusal holds back its path only: not a 15-minute box
  });
});

test('a 5xx is GatewayUnavailable and retryable, not a lost session', async () => {
  const { run } = await startKeepAlive();
  await control.fault(sim, { path: '/v1/api/tickle', status: 503, count: 1 });
  const err = await failureOf(run);
  expect(err.type).toBe(FailureType.GatewayUnavailable);
  expect(err.nonRetryable).toBe(false);
  expect(err.message).toMatch(/503/);
});

test('cancellation ends it between tickles, and it tickles no more', async () => {
  const { env, run, heartbeats } = await startKeepAlive();
  env.cancel();
  const err = await failureOf(run);
  expect(err).toBeInstanceOf(CancelledFailure);
  // It heartbeats after every tickle and every wait: three intervals without one mean it stopped.
  const beatsAtCancel = heartbeats.length;
  await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));
  expect(heartbeats.length).toBe(beatsAtCancel);
});

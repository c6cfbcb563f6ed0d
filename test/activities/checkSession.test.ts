/**
 * The checkSession activity against the simulator over HTTPS: the four kinds the workflow picks its
 * recovery step from, the gateway's clock skew on `usable`, and gateway trouble as typed failures.
 */
import { createCheckSession } from '../../activities/checkSession';
import { FailureType } from '../../src/contract/failureTypes';
import type { GatewayClient } from '../../src/gateway/gatewayClient';
import { eventually, http, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from '../sim/simTestKit';
import { control, failureOf, podDeps, recordingEnvironment, runIn, simGateway } from './activityTestKit';

let sim: TestSim;
let gateway: GatewayClient;

beforeAll(async () => {
  // The brokerage session never opens by itself here: the tests open it when they need it.
  sim = await startTestSim({ authDelayMs: 600_000, competingDelayMs: 60_000 });
  gateway = simGateway(sim);
});
afterAll(async () => {
  gateway.close();
  await sim.stop();
});
afterEach(async () => {
  jest.restoreAllMocks();
  await control.clearFaults(sim);
});

const check = () => runIn(recordingEnvironment().env, createCheckSession(podDeps(gateway)), 'paper-1');
const openBridge = () => http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });

test('before any login (401) the SSO session is gone', async () => {
  expect(await check()).toEqual({ kind: 'sso_gone' });
});

test('logged in without a brokerage session is no_bridge; with one it is usable, with server name and clock skew', async () => {
  await loginViaHttp(sim, PAPER_USER);
  expect(await check()).toEqual({ kind: 'no_bridge' });
  await openBridge();
  const usable = await check();
  expect(usable).toEqual({ kind: 'usable', serverName: expect.stringMatching(/\S/), clockSkewMs: expect.any(Number), pacing: null });
  // Same machine, one-second Date header resolution.
  expect(Math.abs((usable as { clockSkewMs: number }).clockSkewMs)).toBeLessThanOrEqual(1_500);
});

test('a pod clock 45 s ahead of the gateway shows as a skew of about -45 s', async () => {
  await loginViaHttp(sim, PAPER_USER);
  await openBridge();
  const realNow = Date.now.bind(Date);
  // The gateway's Date header comes from Node's own clock; only this pod's reading moves.
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 45_000);
  const usable = (await check()) as { kind: string; clockSkewMs: number };
  expect(usable.kind).toBe('usable');
  expect(Math.abs(usable.clockSkewMs + 45_000)).toBeLessThanOrEqual(1_500);
});

test('a login elsewhere is competing', async () => {
  await loginViaHttp(sim, PAPER_USER);
  await openBridge();
  expect((await control.compete(sim, PAPER_USER.username)).status).toBe(200);
  expect(await eventually(async () => ((await check()).kind === 'competing' ? 'competing' : undefined), 3000, 'competing')).toBe('competing');
});

test('after a logout (auth status all false) the SSO session is gone', async () => {
  await loginViaHttp(sim, PAPER_USER);
  expect((await control.drop(sim, PAPER_USER.username, 'logout')).status).toBe(200);
  expect(await check()).toEqual({ kind: 'sso_gone' });
});

test('a 429 with no websocket session known yet is RateLimited with its wait; a 5xx and an unexpected status are GatewayUnavailable; all retryable', async () => {
  await loginViaHttp(sim, PAPER_USER);
  await control.fault(sim, { path: '/v1/api/iserver/auth/status', status: 429, count: 1 });
  const fresh = simGateway(sim); // has never tickled: no websocket session to ask instead
  const limited = await failureOf(runIn(recordingEnvironment().env, createCheckSession(podDeps(fresh)), 'paper-1'));
  fresh.close();
  expect({ type: limited.type, nonRetryable: limited.nonRetryable, details: limited.details }).toEqual({
    type: FailureType.RateLimited,
    nonRetryable: false,
    details: [{ retryAfterMs: expect.any(Number) }],
  });
  // One refusal holds back only its path, briefly (no Retry-After): not IBKR's 15-minute box.
  const wait = (limited.details![0] as { retryAfterMs: number }).retryAfterMs;
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(2_000);
  for (const status of [500, 503, 404]) {
    await control.fault(sim, { path: '/v1/api/iserver/auth/status', status, count: 1 });
    const err = await failureOf(check());
    expect({ status, type: err.type, nonRetryable: err.nonRetryable }).toEqual({ status, type: FailureType.GatewayUnavailable, nonRetryable: false });
  }
  // Faults used up: the session itself was never lost.
  expect(await check()).toEqual({ kind: 'no_bridge' });
});

test('a gateway that is not running is GatewayNotRunning, retryable', async () => {
  const nobody = simGateway({ url: 'https://127.0.0.1:1' });
  try {
    const err = await failureOf(runIn(recordingEnvironment().env, createCheckSession(podDeps(nobody)), 'paper-1'));
    expect(err.type).toBe(FailureType.GatewayNotRunning);
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toBe('/v1/api/iserver/auth/status: gateway not running: nothing listens at https://127.0.0.1:1 (ECONNREFUSED)');
  } finally {
    nobody.close();
  }
});

test('while auth/status is refused, a session the websocket shows alive is usable — no recovery starts on a 429', async () => {
  await loginViaHttp(sim, PAPER_USER);
  await openBridge();
  const client = simGateway(sim);
  try {
    await eventually(async () => (await client.tickle()).authStatus.authenticated, 3000, 'tickle learns the websocket session');
    await control.fault(sim, { path: '/v1/api/iserver/auth/status', status: 429, count: 5 });
    const deps = podDeps(client);
    const first = await runIn(recordingEnvironment().env, createCheckSession(deps), 'paper-1');
    expect(first).toEqual({ kind: 'usable', serverName: expect.any(String), clockSkewMs: null, pacing: null });
    // Held back now: the next check sends no REST request at all and asks the websocket again.
    const sent = jest.spyOn(client as unknown as { send: () => unknown }, 'send');
    expect(await runIn(recordingEnvironment().env, createCheckSession(deps), 'paper-1')).toMatchObject({ kind: 'usable' });
    expect(sent).not.toHaveBeenCalled();
  } finally {
    client.close();
  }
});

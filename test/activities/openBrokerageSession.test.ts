/**
 * The openBrokerageSession activity (ssodh/init, then auth status until authenticated) against the
 * simulator over HTTPS: it opens the session, polls while the gateway is still opening it
 * (heartbeating), and ends with a typed failure when it cannot.
 */
import { CancelledFailure } from '@temporalio/activity';
import { createOpenBrokerageSession } from '../../activities/openBrokerageSession';
import { FailureType } from '../../src/contract/failureTypes';
import type { GatewayClient } from '../../src/gateway/gatewayClient';
import { eventually, http, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from '../sim/simTestKit';
import { control, failureOf, podDeps, recordingEnvironment, runIn, simGateway } from './activityTestKit';

let sim: TestSim;
let gateway: GatewayClient;

beforeEach(async () => {
  // The brokerage session opens by itself only 400 ms after a reauthenticate (never after a login
  // within these tests): ssodh/init is what opens it.
  sim = await startTestSim({ authDelayMs: 400, competingDelayMs: 50 });
  gateway = simGateway(sim);
  await loginViaHttp(sim, PAPER_USER);
  await control.drop(sim, PAPER_USER.username, 'bridge'); // also cancels the bridge the login scheduled
});
afterEach(async () => {
  jest.restoreAllMocks();
  gateway.close();
  await sim.stop();
});

function open(compete: boolean, client: GatewayClient = gateway) {
  const { env, heartbeats } = recordingEnvironment();
  const run = runIn(env, createOpenBrokerageSession(podDeps(client)), 'paper-1', { compete });
  run.catch(() => undefined);
  return { env, heartbeats, run };
}

/**
 * The gateway answers ssodh/init but has not opened the session yet: the first auth status after
 * ssodh/init finds the bridge dropped again (control plane), and `then` decides what follows.
 */
function openingLate(then: () => Promise<unknown>): GatewayClient {
  let first = true;
  const authStatus = gateway.authStatus.bind(gateway);
  return Object.assign(Object.create(gateway) as GatewayClient, {
    authStatus: async () => {
      if (first) {
        first = false;
        await control.drop(sim, PAPER_USER.username, 'bridge');
        await then();
      }
      return authStatus();
    },
  });
}

test('ssodh/init opens the brokerage session at once and returns the server name', async () => {
  expect((await gateway.authStatus()).authenticated).toBe(false);
  const { run } = open(false);
  expect(await run).toEqual({ serverName: expect.stringMatching(/\S/) });
  expect((await gateway.authStatus()).authenticated).toBe(true);
});

test('while the gateway is still opening the session it polls, heartbeating, until authenticated', async () => {
  // Reauthenticate: the simulator opens the bridge 400 ms later, i.e. after one or two polls.
  const client = openingLate(() => http(sim.url, 'POST', '/v1/api/iserver/reauthenticate?force=true'));
  const startedAt = Date.now();
  const { run, heartbeats } = open(false, client);
  expect(await run).toEqual({ serverName: expect.stringMatching(/\S/) });
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(400);
  expect(heartbeats.length).toBeGreaterThanOrEqual(1);
});

test('a session that never opens is NoBridge after 15 s, not retryable', async () => {
  // Nothing reopens the bridge; this pod's clock jumps past the 15 s deadline after the first poll.
  const realNow = Date.now.bind(Date);
  const client = openingLate(async () => {
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 16_000);
  });
  const err = await failureOf(open(true, client).run);
  expect(err.type).toBe(FailureType.NoBridge);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toMatch(/did not open within 15 s of ssodh\/init/);
});

test('without compete, a session held elsewhere is CompetingSession, not retryable; compete takes it back', async () => {
  await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
  expect((await control.compete(sim, PAPER_USER.username)).status).toBe(200);
  // Wait for the loss itself: until competingDelay passes the old session still reads authenticated.
  await eventually(async () => {
    const s = await gateway.authStatus();
    return s.competing && !s.authenticated;
  }, 3000, 'the session lost to the competing login');
  const err = await failureOf(open(false).run);
  expect(err.type).toBe(FailureType.CompetingSession);
  expect(err.nonRetryable).toBe(true);
  expect(await open(true).run).toEqual({ serverName: expect.any(String) });
  expect(await gateway.authStatus()).toMatchObject({ authenticated: true, competing: false });
});

test('an SSO session gone before ssodh/init is SessionExpired, not retryable (a browser login is needed)', async () => {
  await control.drop(sim, PAPER_USER.username, 'expire');
  const err = await failureOf(open(true).run);
  expect(err.type).toBe(FailureType.SessionExpired);
  expect(err.nonRetryable).toBe(true);
});

test('a 5xx from ssodh/init is GatewayUnavailable and a 429 is RateLimited, both retryable', async () => {
  await control.fault(sim, { path: '/v1/api/iserver/auth/ssodh/init', status: 503, count: 1 });
  const unavailable = await failureOf(open(true).run);
  expect({ type: unavailable.type, nonRetryable: unavailable.nonRetryable }).toEqual({ type: FailureType.GatewayUnavailable, nonRetryable: false });
  await control.fault(sim, { path: '/v1/api/iserver/auth/ssodh/init', status: 429, count: 1 });
  const limited = await failureOf(open(true).run);
  expect({ type: limited.type, nonRetryable: limited.nonRetryable, details: limited.details }).toEqual({
    type: FailureType.RateLimited,
    nonRetryable: false,
    details: [{ retryAfterMs: 2_000 }], // one refusal holds back its path briefly; a penalty box would say 15 minutes
  });
});

test('cancellation while polling ends it as cancelled, not as a gateway failure', async () => {
  const client = openingLate(async () => undefined); // never opens
  const { env, run, heartbeats } = open(false, client);
  await eventually(() => heartbeats.length >= 1, 3000, 'a polling heartbeat');
  env.cancel();
  expect(await failureOf(run)).toBeInstanceOf(CancelledFailure);
});

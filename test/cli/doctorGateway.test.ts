/**
 * What `ibflow doctor` says of a gateway, against the simulator serving the real gateway's expired
 * certificate: answering (with IBKR's clock from the login page it passes on), IBKR unreachable
 * behind it, not running, a skewed clock, and no Date header anywhere.
 */
import type { ConnectionConfig } from '../../src/config/schema';
import { setIbkrReachability } from '../../sim/controlClient';
import { checkGateway } from '../../cli/commands/doctor';
import { startTestSim, type TestSim } from '../sim/simTestKit';

jest.setTimeout(60_000);

let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim();
});
afterAll(async () => {
  await sim?.stop();
});
afterEach(async () => {
  await setIbkrReachability(sim, { reachable: true, clockOffsetMs: 0 });
});

const connection = (url: string): ConnectionConfig => ({ id: 'paper-1', pod: 'pod-a', gateway: { url, verifyTls: false } }) as unknown as ConnectionConfig;
const byName = (checks: { name: string }[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

test('answering: the gateway and IBKR behind it answer; the expired certificate is accepted on loopback; the clock is checked against IBKR\'s', async () => {
  const checks = byName(await checkGateway(connection(sim.url)));
  expect(checks['gateway paper-1']).toMatchObject({ status: 'ok', detail: expect.stringMatching(/answers \(HTTP 302\); IBKR answers through it \(login page HTTP 200 in \d+ ms\)$/) });
  expect(checks['gateway paper-1 tls']).toEqual({ name: 'gateway paper-1 tls', status: 'ok', detail: 'self-signed certificate (CERT_HAS_EXPIRED) accepted: verifyTls false on loopback' });
  expect(checks['gateway paper-1 clock']).toMatchObject({ status: 'ok', detail: expect.stringMatching(/by about \d\.\d s \(Date of the login page passed on from IBKR\)$/) });
});

test('verifyTls true against the expired certificate fails and says why', async () => {
  const checks = byName(await checkGateway({ ...connection(sim.url), gateway: { url: sim.url, verifyTls: true } } as ConnectionConfig));
  expect(checks['gateway paper-1 tls']).toMatchObject({ status: 'fail', detail: 'certificate not trusted (CERT_HAS_EXPIRED)', fix: expect.stringMatching(/expired in 2019/) });
});

test('IBKR unreachable: the gateway runs (its own redirect answers), the login page it passes on does not', async () => {
  await setIbkrReachability(sim, { reachable: false, forMs: 60_000 });
  const checks = byName(await checkGateway(connection(sim.url)));
  expect(checks['gateway paper-1']).toMatchObject({
    status: 'fail',
    detail: expect.stringMatching(/^gateway running, IBKR unreachable: .*its own redirect answered in \d+ ms \(HTTP 302\), the login page it passes on got no answer within 8 s$/),
    fix: expect.stringMatching(/internet connection/),
  });
  expect(checks['gateway paper-1 clock']).toBeUndefined();
});

test('not running: nothing listens there', async () => {
  const checks = byName(await checkGateway(connection('https://127.0.0.1:1')));
  expect(checks['gateway paper-1']).toMatchObject({ status: 'fail', detail: 'gateway not running: nothing listens at https://127.0.0.1:1 (ECONNREFUSED)', fix: expect.stringMatching(/start the Client Portal Gateway on pod pod-a/) });
});

test("IBKR's clock 30 s behind this pod's fails the clock check with the NTP fix", async () => {
  await setIbkrReachability(sim, { clockOffsetMs: -30_000 });
  const checks = byName(await checkGateway(connection(sim.url)));
  expect(checks['gateway paper-1 clock']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^local clock ahead of IBKR's by about 3\d\.\d s/), fix: expect.stringMatching(/NTP/) });
});

test('no Date header on any answer: the clock check says so and where the skew is measured instead', async () => {
  const dateless = await startTestSim({ ibkrDateHeader: false });
  try {
    const checks = byName(await checkGateway(connection(dateless.url)));
    expect(checks['gateway paper-1 clock']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/no Date header .* websocket heartbeat/) });
  } finally {
    await dateless.stop();
  }
});

/** Request pacing: per-endpoint and global limits, 429, and the per-IP penalty box (sim clock). */
import { http, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from './simTestKit';

const MIN = 60_000;

describe('pacing', () => {
  let sim: TestSim;
  afterEach(async () => {
    await sim.stop();
  });

  test('a second tickle within a second is a 429 and puts the client in the penalty box until it is over', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(200);
    const second = await http(sim.url, 'POST', '/v1/api/tickle');
    expect(second.status).toBe(429);
    // In the box every API request is refused, not just tickle.
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(429);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json().penaltyBox['127.0.0.1']).toBeGreaterThan(14 * MIN);
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 14 * MIN } });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(429);
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 2 * MIN } });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(200);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().pacing.rejected).toBe(3);
  });

  test('per-endpoint limits: sso/validate 1/min, portfolio/accounts 1 per 5 s', async () => {
    sim = await startTestSim({ pacing: { enabled: true, penaltyMs: 1000 }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    expect((await http(sim.url, 'GET', '/v1/api/sso/validate')).status).toBe(200);
    expect((await http(sim.url, 'GET', '/v1/portal/sso/validate')).status).toBe(429);
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 2000 } }); // out of the 1 s box
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(200);
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(429);
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 5000 } });
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(200);
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 55_000 } });
    expect((await http(sim.url, 'GET', '/v1/api/sso/validate')).status).toBe(200);
  });

  test('global limit: the 11th API request within a (frozen) second is refused; the login page is not paced', async () => {
    // timeScale tiny: the sim clock all but stands still, so the requests fall in one simulated second.
    sim = await startTestSim({ pacing: { enabled: true }, timeScale: 0.000001 });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
    expect((await http(sim.url, 'GET', '/sso/Login')).status).toBe(200);
  });

  test('pacing off (load tests): no 429', async () => {
    sim = await startTestSim({ pacing: { enabled: false }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    for (let i = 0; i < 15; i++) expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(200);
  });
});

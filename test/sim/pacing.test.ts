/** Request pacing: per-endpoint and global limits, 429, the lenient and strict penalty box (sim clock). */
import { http, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from './simTestKit';

const MIN = 60_000;
const IP = '127.0.0.1';
const advance = (sim: TestSim, ms: number) => http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: ms } });
const pacingView = async (sim: TestSim) => (await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json();
const tickle = (sim: TestSim) => http(sim.url, 'POST', '/v1/api/tickle');
const authStatus = (sim: TestSim) => http(sim.url, 'GET', '/v1/api/iserver/auth/status');

describe('pacing', () => {
  let sim: TestSim;
  afterEach(async () => {
    await sim.stop();
  });

  test('lenient (the default): a second tickle within a second is refused on its own; a second later tickle passes; the address is not boxed', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    expect((await tickle(sim)).status).toBe(200);
    const second = await tickle(sim);
    expect(second.status).toBe(429);
    expect(second.json()).toEqual({ error: 'Too Many Requests', statusCode: 429 });
    expect(second.headers['retry-after']).toBeUndefined(); // retryAfter: 'none' by default
    // Other paths still pass: only that request was refused.
    expect((await authStatus(sim)).status).toBe(200);
    expect(await pacingView(sim)).toMatchObject({ mode: 'lenient', rejected: 1, boxes: 0, penaltyBox: {}, violations: { [IP]: 1 } });
    await advance(sim, 1000);
    expect((await tickle(sim)).status).toBe(200);
    expect((await pacingView(sim)).penaltyBox).toEqual({});
  });

  test('lenient: sustained violation (boxAfterViolations refusals within violationWindowMs) boxes the address; refusals older than the window do not count', async () => {
    sim = await startTestSim({ pacing: { enabled: true, boxAfterViolations: 3, violationWindowMs: 10_000, penaltyMs: 5 * MIN }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    expect((await tickle(sim)).status).toBe(200);
    expect([(await tickle(sim)).status, (await tickle(sim)).status]).toEqual([429, 429]);
    expect((await pacingView(sim)).violations).toEqual({ [IP]: 2 });
    await advance(sim, 11_000); // both refusals leave the window
    expect((await pacingView(sim)).violations).toEqual({});
    expect((await tickle(sim)).status).toBe(200);
    expect([(await tickle(sim)).status, (await tickle(sim)).status]).toEqual([429, 429]);
    expect((await authStatus(sim)).status).toBe(200); // 2 of 3: not yet
    expect((await tickle(sim)).status).toBe(429); // the third within the window
    expect((await authStatus(sim)).status).toBe(429); // boxed: every path
    const view = await pacingView(sim);
    expect(view.penaltyBox[IP]).toBeGreaterThan(4 * MIN);
    expect(view.boxes).toBe(1);
    await advance(sim, 5 * MIN + 1000);
    expect((await authStatus(sim)).status).toBe(200);
  });

  test('strict: one over-limit request boxes the client until the box time is over', async () => {
    sim = await startTestSim({ pacing: { enabled: true, mode: 'strict' }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    expect((await tickle(sim)).status).toBe(200);
    expect((await tickle(sim)).status).toBe(429);
    // In the box every API request is refused, not just tickle.
    expect((await authStatus(sim)).status).toBe(429);
    expect((await pacingView(sim)).penaltyBox[IP]).toBeGreaterThan(14 * MIN);
    await advance(sim, 14 * MIN);
    expect((await authStatus(sim)).status).toBe(429); // requests in the box do not extend it by default...
    await advance(sim, 2 * MIN);
    expect((await authStatus(sim)).status).toBe(200); // ...so it ends 15 min after it began
    expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().pacing).toEqual({ rejected: 3, boxes: 1 });
  });

  test('extendBoxOnRequest: every request in the box restarts it', async () => {
    sim = await startTestSim({ pacing: { enabled: true, mode: 'strict', penaltyMs: 10 * MIN, extendBoxOnRequest: true }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    await tickle(sim);
    expect((await tickle(sim)).status).toBe(429);
    await advance(sim, 9 * MIN);
    expect((await authStatus(sim)).status).toBe(429); // restarts the 10 minutes
    await advance(sim, 9 * MIN); // 18 min after the box began
    expect((await authStatus(sim)).status).toBe(429);
    await advance(sim, 10 * MIN + 1000); // quiet for the whole box
    expect((await authStatus(sim)).status).toBe(200);
  });

  test("retryAfter 'remaining': Retry-After says when the request could pass, or when the box ends", async () => {
    sim = await startTestSim({ pacing: { enabled: true, retryAfter: 'remaining' }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    await tickle(sim);
    const refused = await tickle(sim);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1'); // the tickle slot frees within a second
    await http(sim.controlUrl, 'PUT', '/sim/control/pacing', { body: { mode: 'strict' } });
    await advance(sim, 1000);
    await tickle(sim);
    expect((await tickle(sim)).headers['retry-after']).toBe('900'); // the 15-minute box it just started
    await advance(sim, 5 * MIN);
    expect(Number((await authStatus(sim)).headers['retry-after'])).toBeGreaterThan(595);
    expect(Number((await authStatus(sim)).headers['retry-after'])).toBeLessThanOrEqual(600);
  });

  test('per-endpoint limits: sso/validate 1/min, portfolio/accounts 1 per 5 s (both spellings share the limit)', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    expect((await http(sim.url, 'GET', '/v1/api/sso/validate')).status).toBe(200);
    expect((await http(sim.url, 'GET', '/v1/portal/sso/validate')).status).toBe(429);
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(200);
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(429);
    await advance(sim, 5000);
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(200);
    expect((await http(sim.url, 'GET', '/v1/api/sso/validate')).status).toBe(429);
    await advance(sim, 55_000);
    expect((await http(sim.url, 'GET', '/v1/api/sso/validate')).status).toBe(200);
  });

  test('global limit: the 11th API request within a (frozen) second is refused; a refused request uses no budget; the login page is not paced', async () => {
    // timeScale tiny: the sim clock all but stands still, so the requests fall in one simulated second.
    sim = await startTestSim({ pacing: { enabled: true }, timeScale: 0.000001 });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await authStatus(sim)).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
    expect((await http(sim.url, 'GET', '/sso/Login')).status).toBe(200);

    // An endpoint refusal must not charge the global window either.
    await http(sim.controlUrl, 'DELETE', '/sim/control/pacing');
    expect((await tickle(sim)).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await tickle(sim)).status).toBe(429);
    const rest: number[] = [];
    for (let i = 0; i < 10; i++) rest.push((await authStatus(sim)).status);
    expect(rest.filter((s) => s === 401)).toHaveLength(9); // 1 tickle + 9 = the 10 admitted
    expect(rest[9]).toBe(429);
  });

  test('pacing off (load tests): no 429', async () => {
    sim = await startTestSim({ pacing: { enabled: false }, authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    for (let i = 0; i < 15; i++) expect((await tickle(sim)).status).toBe(200);
  });
});

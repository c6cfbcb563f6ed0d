/** Shapes of the REST endpoints against the documented examples (IBKR-CPAPI.md), incl. the secdef search. */
import { eventually, http, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from './simTestKit';

const NO_BRIDGE = { error: 'Bad Request: no bridge', statusCode: 400 };

describe('REST shapes', () => {
  let sim: TestSim;
  beforeEach(async () => {
    sim = await startTestSim({ authDelayMs: 60_000 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  test('secdef search: 401 before login, no bridge without the brokerage session, then the documented array', async () => {
    expect((await http(sim.url, 'GET', '/v1/api/iserver/secdef/search?symbol=AAPL')).status).toBe(401);
    await loginViaHttp(sim, PAPER_USER);
    const early = await http(sim.url, 'GET', '/v1/api/iserver/secdef/search?symbol=AAPL');
    expect(early.status).toBe(400);
    expect(early.json()).toEqual(NO_BRIDGE);
    await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });

    const aapl = await http(sim.url, 'GET', '/v1/api/iserver/secdef/search?symbol=AAPL');
    expect(aapl.status).toBe(200);
    expect(aapl.json()[0]).toEqual({
      conid: '265598',
      companyHeader: 'APPLE INC - NASDAQ',
      companyName: 'APPLE INC',
      symbol: 'AAPL',
      description: 'NASDAQ',
      restricted: null,
      fop: null,
      opt: expect.any(String),
      war: expect.any(String),
      sections: expect.arrayContaining([{ secType: 'STK' }, expect.objectContaining({ secType: 'OPT', months: expect.any(String), exchange: expect.any(String) })]),
    });
    const ibm = await http(sim.url, 'POST', '/v1/portal/iserver/secdef/search', { body: { symbol: 'ibm', name: false } });
    expect(ibm.json().map((e: { conid: string; symbol: string }) => [e.conid, e.symbol])).toEqual([['8314', 'IBM']]);
    const byName = await http(sim.url, 'GET', '/v1/api/iserver/secdef/search?symbol=apple&name=true');
    expect(byName.json()[0].conid).toBe('265598');
    expect((await http(sim.url, 'GET', '/v1/api/iserver/secdef/search?symbol=ZZZZ')).json()).toEqual({ error: 'No symbol found' });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/secdef/search')).status).toBe(400);
  });

  test('ssodh/init without publish is a 500; auth status, tickle and validate carry the documented fields', async () => {
    await loginViaHttp(sim, PAPER_USER);
    expect((await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: false } })).status).toBe(500);
    expect((await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: '' })).json()).toMatchObject({ authenticated: true, established: true });
    const validate = (await http(sim.url, 'GET', '/v1/api/sso/validate')).json();
    for (const key of ['USER_ID', 'USER_NAME', 'RESULT', 'AUTH_TIME', 'SF_ENABLED', 'IS_FREE_TRIAL', 'CREDENTIAL', 'IP', 'EXPIRES', 'LANDING_APP', 'IS_MASTER', 'lastAccessed', 'LOGIN_TYPE', 'PAPER_USER_NAME', 'features', 'region']) {
      expect(validate).toHaveProperty(key);
    }
    const accounts = await eventually(async () => {
      const r = await http(sim.url, 'GET', '/v1/api/iserver/accounts');
      return r.status === 200 ? r.json() : undefined;
    });
    expect(accounts).toMatchObject({ accounts: ['DU111111'], selectedAccount: 'DU111111', isPaper: true });
    const portfolio = (await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).json();
    expect(portfolio[0]).toMatchObject({ id: 'DU111111', accountId: 'DU111111', currency: 'USD', type: 'DEMO' });
  });
});

describe('tickle without a session', () => {
  let sim: TestSim;
  afterEach(async () => {
    await sim.stop();
  });

  test("default 'unauthorized': 401 before any login and after the session is gone", async () => {
    sim = await startTestSim({ authDelayMs: 50 });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    await loginViaHttp(sim, PAPER_USER);
    await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'expire' } });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
  });

  test("'no-session-200': HTTP 200 {\"error\":\"no session\"} as some real gateways answer; other paths keep their 401", async () => {
    sim = await startTestSim({ authDelayMs: 50, tickleWithoutSession: 'no-session-200' });
    const before = await http(sim.url, 'POST', '/v1/api/tickle');
    expect([before.status, before.json()]).toEqual([200, { error: 'no session' }]);
    await loginViaHttp(sim, PAPER_USER);
    expect((await http(sim.url, 'GET', '/v1/api/tickle')).json().session).toMatch(/^[0-9a-f]{32}$/);
    await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'logout' } });
    const after = await http(sim.url, 'GET', '/v1/portal/tickle');
    expect([after.status, after.json()]).toEqual([200, { error: 'no session' }]);
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(401);
  });
});

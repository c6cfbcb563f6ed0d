import { http, loginViaHttp, PAPER_USER, LIVE_USER, startTestSim, eventually, type TestSim } from './simTestKit';

const NO_BRIDGE = { error: 'Bad Request: no bridge', statusCode: 400 };

describe('SSO and brokerage session endpoints', () => {
  let sim: TestSim;
  beforeEach(async () => {
    // Long enough that the checks made before the bridge opens are done first, even on a loaded 2-core box.
    sim = await startTestSim({ authDelayMs: 1500 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  test('bridge opens by itself after authDelay; iserver/* answers no bridge until then', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const before = await http(sim.url, 'POST', '/v1/api/iserver/auth/status');
    expect(before.status).toBe(200);
    expect(before.json()).toMatchObject({ authenticated: false, connected: true, competing: false });
    const accounts = await http(sim.url, 'GET', '/v1/api/iserver/accounts');
    expect(accounts.status).toBe(400);
    expect(accounts.json()).toEqual(NO_BRIDGE);
    const unknownIserver = await http(sim.url, 'GET', '/v1/api/iserver/marketdata/snapshot?conids=1');
    expect(unknownIserver.json()).toEqual(NO_BRIDGE);
    // portfolio/accounts works without the brokerage session.
    expect((await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).status).toBe(200);

    const after = await eventually(async () => {
      const s = (await http(sim.url, 'GET', '/v1/portal/iserver/auth/status')).json();
      return s.authenticated ? s : undefined;
    }, 8000, 'bridge');
    expect(after).toEqual({
      authenticated: true,
      competing: false,
      connected: true,
      message: '',
      MAC: expect.any(String),
      serverInfo: { serverName: expect.any(String), serverVersion: expect.any(String) },
      hardware_info: expect.any(String),
      fail: '',
      established: true,
    });
    const acc = await http(sim.url, 'GET', '/v1/api/iserver/accounts');
    expect(acc.status).toBe(200);
    expect(acc.json()).toMatchObject({ accounts: ['DU111111'], selectedAccount: 'DU111111', isPaper: true, aliases: { DU111111: 'DU111111' } });
    expect(acc.json().sessionId).toMatch(/^[0-9a-f]{8}\.[0-9a-f]{8}$/);
  });

  test('tickle: session constant for the life of the session, sliding ssoExpires, auth status inside', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const a = (await http(sim.url, 'POST', '/v1/api/tickle')).json();
    expect(a).toEqual({
      session: expect.stringMatching(/^[0-9a-f]{32}$/),
      ssoExpires: expect.any(Number),
      collission: false,
      userId: expect.any(Number),
      hmds: expect.any(Object),
      iserver: { authStatus: expect.objectContaining({ authenticated: false, competing: false, connected: true, serverInfo: expect.any(Object) }) },
    });
    expect(a.ssoExpires).toBeGreaterThan(5 * 60_000);
    expect(a.ssoExpires).toBeLessThanOrEqual(6 * 60_000);
    // Once the bridge opens (authDelay), the same session reports itself authenticated.
    const b = await eventually(async () => {
      const t = (await http(sim.url, 'GET', '/v1/portal/tickle')).json();
      return t.iserver.authStatus.authenticated ? t : undefined;
    }, 8000, 'authenticated tickle');
    expect(b.session).toBe(a.session);
    expect(b.ssoExpires).toBeGreaterThan(5 * 60_000);
  });

  test('sso/validate reports LOGIN_TYPE 2 for paper and 1 for live; portfolio/accounts lists the accounts', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const paper = (await http(sim.url, 'GET', '/v1/portal/sso/validate')).json();
    expect(paper).toMatchObject({ USER_NAME: 'paperuser', RESULT: true, LOGIN_TYPE: 2, PAPER_USER_NAME: 'paperuser' });
    expect(typeof paper.USER_ID).toBe('number');
    await loginViaHttp(sim, LIVE_USER);
    const live = (await http(sim.url, 'GET', '/v1/api/sso/validate')).json();
    expect(live).toMatchObject({ USER_NAME: 'liveuser', LOGIN_TYPE: 1, SF_ENABLED: true });
    const accounts = (await http(sim.url, 'GET', '/v1/api/portfolio/accounts')).json();
    expect(accounts.map((a: { id: string }) => a.id)).toEqual(['U2222222', 'U3333333']);
    expect(accounts[0]).toMatchObject({ id: 'U2222222', accountId: 'U2222222', currency: 'USD', type: 'INDIVIDUAL' });
  });

  test('a new login of the same user replaces the session (new tickle session id)', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const first = (await http(sim.url, 'POST', '/v1/api/tickle')).json().session;
    await loginViaHttp(sim, PAPER_USER);
    const second = (await http(sim.url, 'POST', '/v1/api/tickle')).json().session;
    expect(second).not.toBe(first);
    // A client pinned to the old session by the api cookie is no longer authorised.
    const pinned = await http(sim.url, 'POST', '/v1/api/tickle', { headers: { Cookie: `api={"session":"${first}"}` } });
    expect(pinned.status).toBe(401);
    const current = await http(sim.url, 'POST', '/v1/api/tickle', { headers: { Cookie: `api=${second}` } });
    expect(current.json().session).toBe(second);
  });

  test('reauthenticate answers triggered and reopens a lost bridge', async () => {
    await loginViaHttp(sim, PAPER_USER);
    await eventually(async () => (await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().authenticated, 8000, 'bridge');
    await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'bridge' } });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(400);
    const res = await http(sim.url, 'POST', '/v1/portal/iserver/reauthenticate?force=true');
    expect(res.json()).toEqual({ message: 'triggered' });
    await eventually(async () => (await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status === 200, 8000, 'bridge reopened');
  });

  test('logout ends the session: status all false with MAC null, other APIs 401', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const out = await http(sim.url, 'POST', '/v1/api/logout');
    expect(out.json()).toEqual({ status: true });
    const status = await http(sim.url, 'POST', '/v1/api/iserver/auth/status');
    expect(status.status).toBe(200);
    expect(status.json()).toMatchObject({ authenticated: false, connected: false, competing: false, MAC: null });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(401);
    expect((await http(sim.url, 'POST', '/v1/api/iserver/reauthenticate')).json()).toEqual({ error: 'not logged in' });
  });
});

describe('ssodh/init (bridge would otherwise take a minute)', () => {
  let sim: TestSim;
  beforeEach(async () => {
    sim = await startTestSim({ authDelayMs: 60_000 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  test('ssodh/init with the JSON body opens the bridge at once; publish:false is a 500', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const refused = await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: false, compete: true } });
    expect(refused.status).toBe(500);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().authenticated).toBe(false);
    const res = await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ authenticated: true, connected: true, competing: false });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(200);
  });

  test('ssodh/init with an empty body (Content-Length: 0) opens the bridge too', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const res = await http(sim.url, 'POST', '/v1/portal/iserver/auth/ssodh/init', { body: '' });
    expect(res.status).toBe(200);
    expect(res.json().authenticated).toBe(true);
  });
});

test('idle expiry ends the session; requests keep it alive', async () => {
  // On the sim clock: five tickles 8 min apart outlive a 10 min idle timeout; 10 min of silence does not.
  const MIN = 60_000;
  const sim = await startTestSim({ idleTimeoutMs: 10 * MIN, authDelayMs: 50 });
  const advance = (ms: number) => http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: ms } });
  try {
    await loginViaHttp(sim, PAPER_USER);
    for (let i = 0; i < 5; i++) {
      await advance(8 * MIN);
      expect({ i, status: (await http(sim.url, 'POST', '/v1/api/tickle')).status }).toEqual({ i, status: 200 });
    }
    await advance(10 * MIN - 1000);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser).toMatchObject({ sso: true });
    await advance(1000);
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser).toMatchObject({ sso: false, bridge: false, competing: false });
    expect(sim.logs.some((l) => l.msg === 'session ended' && l.fields?.reason === 'idle')).toBe(true);
  } finally {
    await sim.stop();
  }
});

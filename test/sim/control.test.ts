import { http, loginViaHttp, PAPER_USER, sleep, startTestSim, WsProbe, type TestSim } from './simTestKit';

/** The session-loss push exactly as IBKR-CPAPI.md records it (not the connect-time sts with more fields). */
const isLossPush = (f: { topic?: string; args?: object }) => f.topic === 'sts' && JSON.stringify(f.args) === '{"authenticated":false}';

describe('fault control plane', () => {
  let sim: TestSim;
  let ws: WsProbe;

  /** Logs the paper user in, waits for the bridge, and subscribes a ladder on a fresh socket. */
  async function usableWithLadder(): Promise<void> {
    await loginViaHttp(sim, PAPER_USER);
    ws = await WsProbe.open(sim.url);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    ws.send('sbd+DU111111+265598');
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598', 2);
  }

  async function sessions() {
    return (await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser;
  }

  async function ladderStopped(): Promise<void> {
    await sleep(100);
    const n = ws.frames.filter((f) => f.data.topic === 'sbd+DU111111+265598').length;
    await sleep(150);
    expect(ws.frames.filter((f) => f.data.topic === 'sbd+DU111111+265598').length).toBe(n);
  }

  beforeEach(async () => {
    sim = await startTestSim({ authDelayMs: 100, depth: { intervalMs: 20 }, competingDelayMs: 300 });
  });
  afterEach(async () => {
    await ws?.close();
    await sim.stop();
  });

  test('bridge: SSO stays, bridge lost, not reopened by itself; ssodh/init fixes it', async () => {
    await usableWithLadder();
    const res = await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'bridge' } });
    expect(res.status).toBe(200);
    await ws.waitFor(isLossPush);
    await ladderStopped();
    expect(await sessions()).toMatchObject({ sso: true, bridge: false, competing: false });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json()).toMatchObject({ connected: true, authenticated: false });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(400);
    await sleep(300); // longer than authDelay: still no bridge
    expect((await sessions()).bridge).toBe(false);
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(200);

    const init = await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(init.json().authenticated).toBe(true);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true, 2);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(200);
  });

  test.each(['expire', 'logout'] as const)('%s: SSO gone, APIs 401, needs a new login', async (kind) => {
    await usableWithLadder();
    await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind } });
    await ws.waitFor(isLossPush);
    await ladderStopped();
    expect(await sessions()).toMatchObject({ sso: false, bridge: false, competing: false });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(401);
    expect((await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: '' })).status).toBe(401);
    await loginViaHttp(sim, PAPER_USER);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true, 2);
    expect((await sessions()).sso).toBe(true);
  });

  test('competing: competing:true first, then authenticated:false; the portal session survives until compete:true takes it back', async () => {
    await usableWithLadder();
    await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'competing' } });
    await ws.waitFor((f) => f.topic === 'sts' && f.args.competing === true);
    expect(await sessions()).toMatchObject({ sso: true, bridge: true, competing: true });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().competing).toBe(true);
    await ladderStopped();
    await ws.waitFor(isLossPush);
    const sts = ws.frames.map((f) => f.data).filter((d) => d.topic === 'sts');
    expect(sts.slice(-2)).toEqual([
      { topic: 'sts', args: { competing: true } },
      { topic: 'sts', args: { authenticated: false } },
    ]);
    expect(await sessions()).toMatchObject({ sso: true, bridge: false, competing: true });
    const tickle = await http(sim.url, 'POST', '/v1/api/tickle');
    expect(tickle.status).toBe(200);
    expect(tickle.json().iserver.authStatus).toMatchObject({ authenticated: false, competing: true, connected: true });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/accounts')).status).toBe(400);

    // Without compete the other side keeps the brokerage session; with it, it comes back.
    const polite = await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: false } });
    expect(polite.json()).toMatchObject({ authenticated: false, competing: true });
    const reclaimed = await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(reclaimed.json()).toMatchObject({ authenticated: true, competing: false });
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true, 2);
  });

  test('PUT /sim/control/pacing switches modes on a running simulator; DELETE empties the box', async () => {
    await loginViaHttp(sim, PAPER_USER);
    // The test kit starts with pacing off; turn it on in the default (lenient) mode.
    const on = await http(sim.controlUrl, 'PUT', '/sim/control/pacing', { body: { enabled: true } });
    expect(on.json()).toMatchObject({ enabled: true, mode: 'lenient', boxAfterViolations: 10, violationWindowMs: 60_000, retryAfter: 'none', penaltyBox: {}, violations: {} });
    await http(sim.url, 'POST', '/v1/api/tickle');
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(429);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(200); // lenient: not boxed

    const strict = await http(sim.controlUrl, 'PUT', '/sim/control/pacing', { body: { mode: 'strict', penaltyMs: 120_000 } });
    expect(strict.json()).toMatchObject({ mode: 'strict', penaltyMs: 120_000 });
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 1000 } });
    await http(sim.url, 'POST', '/v1/api/tickle');
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(429);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(429); // strict: boxed
    const boxed = (await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json();
    expect(boxed.penaltyBox['127.0.0.1']).toBeGreaterThan(100_000);
    expect(boxed.rejected).toBe(3);

    expect((await http(sim.controlUrl, 'DELETE', '/sim/control/pacing')).json()).toEqual({ cleared: true });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(200);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json()).toMatchObject({ mode: 'strict', penaltyBox: {}, violations: {} });
  });

  test.each([
    [{ mode: 'harsh' }, 'mode'],
    [{ penaltyMs: -1 }, 'penaltyMs'],
    [{ boxAfterViolations: 0 }, 'boxAfterViolations'],
    [{ violationWindowMs: 'long' }, 'violationWindowMs'],
    [{ retryAfter: 'always' }, 'retryAfter'],
    [{ penaltyBoxMinutes: 15 }, 'penaltyBoxMinutes'],
  ])('PUT /sim/control/pacing %j is a 400 naming the field', async (bad, field) => {
    const res = await http(sim.controlUrl, 'PUT', '/sim/control/pacing', { body: bad });
    expect(res.status).toBe(400);
    expect(res.json().error).toContain(field);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json()).toMatchObject({ enabled: false, mode: 'lenient', penaltyMs: 900_000 });
  });

  test('bad control requests are rejected', async () => {
    expect((await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'nuke' } })).status).toBe(400);
    expect((await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'ghost', kind: 'logout' } })).status).toBe(404);
    expect((await http(sim.controlUrl, 'POST', '/sim/control/drop', { body: { username: 'paperuser', kind: 'logout' } })).status).toBe(409);
    expect((await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: { paused: 'yes' } })).status).toBe(400);
    expect((await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: {} })).status).toBe(400);
    const badRate = await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: { framesPerSecond: -5 } });
    expect(badRate.status).toBe(400);
    expect(badRate.json().error).toContain('framesPerSecond');
    const sessionsView = (await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json();
    expect(Object.keys(sessionsView).sort()).toEqual(['liveuser', 'multiuser', 'paperuser']);
    expect(JSON.stringify(sessionsView)).not.toMatch(/pw|JBSWY/);
  });
});

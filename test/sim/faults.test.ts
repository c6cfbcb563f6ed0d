/** Control-plane faults: websocket kill, login faults, path faults (5xx, 429, latency), competing login, clock. */
import { http, loginViaHttp, PAPER_USER, startTestSim, WsProbe, type TestSim } from './simTestKit';

describe('control-plane faults', () => {
  let sim: TestSim;
  const probes: WsProbe[] = [];
  beforeEach(async () => {
    sim = await startTestSim({ authDelayMs: 50, competingDelayMs: 200, depth: { intervalMs: 20 } });
  });
  afterEach(async () => {
    await Promise.all(probes.splice(0).map((p) => p.close()));
    await sim.stop();
  });
  const control = (method: string, path: string, body?: object | string) => http(sim.controlUrl, method, `/sim/control/${path}`, body === undefined ? {} : { body });

  test('ws/kill drops a user\'s websockets; the session stays', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await WsProbe.open(sim.url);
    probes.push(ws);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    const closed = new Promise<number>((resolve) => ws.ws.once('close', (code) => resolve(code)));
    expect((await control('POST', 'ws/kill', { username: 'paperuser' })).json()).toEqual({ killed: 1 });
    expect(await closed).toBe(1006);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser.sso).toBe(true);
  });

  test('login faults: the next logins fail with a wrong password, a timeout, a changed page', async () => {
    expect((await control('POST', 'login-faults', { kind: 'wrong-password', count: 2 })).json()).toEqual({ pending: ['wrong-password', 'wrong-password'] });
    for (let i = 0; i < 2; i++) {
      const r = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'paperuser', password: 'paper-pw', paper: true } });
      expect(r.json()).toEqual({ status: 'error', message: 'Invalid username password combination' });
    }
    await loginViaHttp(sim, PAPER_USER); // the third works

    await control('POST', 'login-faults', { kind: 'timeout' });
    const hanging = http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'paperuser', password: 'paper-pw', paper: true } }).catch((e: Error) => e);
    const raced = await Promise.race([hanging, new Promise((r) => setTimeout(() => r('still waiting'), 300))]);
    expect(raced).toBe('still waiting');

    await control('POST', 'login-faults', { kind: 'page-change' });
    const page = { headers: { Accept: 'text/html,application/xhtml+xml' } }; // a browser's page load
    expect((await http(sim.url, 'GET', '/sso/Login')).text).toContain('id="xyz-field-username"'); // a probe does not use it up
    const changed = (await http(sim.url, 'GET', '/sso/Login', page)).text;
    expect(changed).not.toContain('xyz-field-username');
    expect(changed).not.toContain('xyz-button-login');
    expect((await http(sim.url, 'GET', '/sso/Login', page)).text).toContain('id="xyz-field-username"');
    expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().logins.paperuser).toMatchObject({ failed: 2, ok: 1 });
    await sim.close(); // ends the hanging request
    expect(await hanging).toHaveProperty('message'); // the request failed, it was never answered
  });

  test('path faults: 5xx and 429 on a glob or prefix, for a number of requests, and latency', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const added = (await control('POST', 'faults', { path: '/v1/*/tickle', status: 503, count: 2 })).json();
    expect(added).toMatchObject({ id: expect.any(Number), path: '/v1/*/tickle', status: 503, remaining: 2 });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(503);
    expect((await http(sim.url, 'POST', '/v1/portal/tickle')).status).toBe(503);
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(200);

    await control('POST', 'faults', { path: '/v1/api/iserver/', status: 429 });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(429);
    expect((await http(sim.url, 'GET', '/v1/portal/iserver/accounts')).status).toBe(429); // same endpoint, portal spelling
    expect((await control('GET', 'faults')).json().paths).toHaveLength(1);
    expect((await control('DELETE', 'faults')).json()).toEqual({ cleared: true });
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).status).toBe(200);

    await control('POST', 'faults', { path: '/v1/api/sso/validate', latencyMs: 400, count: 1 });
    const started = Date.now();
    expect((await http(sim.url, 'GET', '/v1/api/sso/validate')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390); // a delay was added (lower bound only)
    expect((await control('POST', 'faults', { path: '/x' })).status).toBe(400);
  });

  test('compete: a login elsewhere makes the session competing, then unauthenticated; ssodh/init takes it back', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await WsProbe.open(sim.url);
    probes.push(ws);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    expect((await control('POST', 'compete', { username: 'paperuser' })).status).toBe(200);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.competing === true);
    expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().competing).toBe(true);
    await ws.waitFor((f) => f.topic === 'sts' && JSON.stringify(f.args) === '{"authenticated":false}');
    expect((await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser).toMatchObject({ sso: true, bridge: false, competing: true });
    const init = await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    expect(init.json()).toMatchObject({ authenticated: true, competing: false });
    await http(sim.url, 'POST', '/v1/api/logout');
    expect((await control('POST', 'compete', { username: 'paperuser' })).status).toBe(409);
    expect((await control('POST', 'compete', { username: 'ghost' })).status).toBe(404);
  });

  test('clock: advance moves the sim clock; bad bodies are refused', async () => {
    const before = (await control('GET', 'clock')).json().now;
    const after = (await control('POST', 'clock', { advanceMs: 3_600_000 })).json().now;
    expect(after - before).toBeGreaterThanOrEqual(3_600_000);
    expect((await control('POST', 'clock', { advanceMs: -1 })).status).toBe(400);
    expect((await control('POST', 'login-faults', { kind: 'nope' })).status).toBe(400);
  });
});

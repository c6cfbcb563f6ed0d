/** Session rules on the sim clock: competing across instances, idle expiry, maximum age, daily reset, maintenance, lockout. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, http, loginViaHttp, PAPER_USER, startTestSim, WsProbe, type TestSim } from './simTestKit';

const MIN = 60_000;
const advance = (sim: TestSim, ms: number) => http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: ms } });
const sessionOf = async (sim: TestSim) => (await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser;
const authenticated = async (sim: TestSim) => (await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().authenticated === true;

/** HH:MM in UTC, `minutes` from now. */
function utcTimeIn(minutes: number): string {
  const d = new Date(Date.now() + minutes * MIN);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

describe('one brokerage session per username across simulators sharing a stateDir', () => {
  let dir: string;
  let a: TestSim;
  let b: TestSim;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ibflow-sim-shared-'));
    a = await startTestSim({ stateDir: dir, authDelayMs: 50, competingDelayMs: 200 });
    b = await startTestSim({ stateDir: dir, authDelayMs: 50, competingDelayMs: 200 });
  });
  afterEach(async () => {
    await a.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a login on the second makes the first competing, then unauthenticated, pushed as sts', async () => {
    await loginViaHttp(a, PAPER_USER);
    await eventually(() => authenticated(a), 3000, 'bridge on a');
    const ws = await WsProbe.open(a.url);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    await loginViaHttp(b, PAPER_USER);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.competing === true);
    await ws.waitFor((f) => f.topic === 'sts' && JSON.stringify(f.args) === '{"authenticated":false}');
    // The brokerage session is gone; the read-only portal session survives.
    expect(await sessionOf(a)).toMatchObject({ sso: true, bridge: false, competing: true });
    expect((await http(a.url, 'POST', '/v1/api/tickle')).json().iserver.authStatus).toMatchObject({ authenticated: false, competing: true });
    // The second keeps its session.
    await eventually(() => authenticated(b), 3000, 'bridge on b');
    expect(await sessionOf(b)).toMatchObject({ sso: true, competing: false });
    await ws.close();
  });
});

describe('time rules', () => {
  let sim: TestSim;
  afterEach(async () => {
    await sim.stop();
  });

  test('idle expiry without tickle (6 min default), tickle keeps the session', async () => {
    sim = await startTestSim({ authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    for (let i = 0; i < 3; i++) {
      await advance(sim, 5 * MIN);
      expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(200);
    }
    await advance(sim, 6 * MIN + 1000);
    expect((await sessionOf(sim)).sso).toBe(false);
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
  });

  test('sessions end at the maximum age (24 h) even when tickled', async () => {
    sim = await startTestSim({ authDelayMs: 50, idleTimeoutMs: 30 * MIN });
    await loginViaHttp(sim, PAPER_USER);
    for (let i = 0; i < 4 * 24 - 1; i++) {
      await advance(sim, 15 * MIN);
      expect({ i, status: (await http(sim.url, 'GET', '/v1/api/tickle')).status }).toEqual({ i, status: 200 });
    }
    await advance(sim, 15 * MIN);
    expect((await sessionOf(sim)).sso).toBe(false);
    expect(sim.logs.some((l) => l.msg === 'session ended' && l.fields?.reason === 'maxAge')).toBe(true);
  });

  test('daily reset at a configured local time and zone ends older sessions', async () => {
    sim = await startTestSim({ authDelayMs: 50, dailyReset: { time: utcTimeIn(3), timeZone: 'UTC' } });
    await loginViaHttp(sim, PAPER_USER);
    const ws = await WsProbe.open(sim.url);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    await advance(sim, 1 * MIN);
    expect((await sessionOf(sim)).sso).toBe(true);
    await advance(sim, 3 * MIN);
    expect((await sessionOf(sim)).sso).toBe(false);
    await ws.waitFor((f) => f.topic === 'sts' && JSON.stringify(f.args) === '{"authenticated":false}');
    // A session opened after the reset lives on.
    await loginViaHttp(sim, PAPER_USER);
    await advance(sim, 1 * MIN);
    expect((await sessionOf(sim)).sso).toBe(true);
    await ws.close();
  });

  test('the control plane triggers the daily reset', async () => {
    sim = await startTestSim({ authDelayMs: 50 });
    await loginViaHttp(sim, PAPER_USER);
    const res = await http(sim.controlUrl, 'POST', '/sim/control/daily-reset', { body: '' });
    expect(res.json()).toEqual({ ended: ['paperuser'] });
    expect((await sessionOf(sim)).sso).toBe(false);
  });

  test('weekly maintenance window ends sessions and refuses logins until it is over', async () => {
    const now = new Date(Date.now() + 2 * MIN);
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    const at = (d: Date) => `${days[d.getUTCDay()]} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    sim = await startTestSim({ authDelayMs: 50, maintenance: { start: at(now), end: at(new Date(now.getTime() + 60 * MIN)), timeZone: 'UTC' } });
    await loginViaHttp(sim, PAPER_USER);
    await advance(sim, 3 * MIN);
    expect((await sessionOf(sim)).sso).toBe(false);
    const refused = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'paperuser', password: 'paper-pw', paper: true } });
    expect(refused.json()).toEqual({ status: 'error', message: expect.stringContaining('maintenance') });
    await advance(sim, 60 * MIN);
    await loginViaHttp(sim, PAPER_USER);
    expect((await sessionOf(sim)).sso).toBe(true);
  });

  test('random drops at the configured rate (here: certain within a simulated minute)', async () => {
    sim = await startTestSim({ authDelayMs: 50, randomDrop: { ratePerHour: 6000, kind: 'bridge' } });
    await loginViaHttp(sim, PAPER_USER);
    await advance(sim, 1000); // opens the bridge
    await advance(sim, MIN);
    expect(await sessionOf(sim)).toMatchObject({ sso: true, bridge: false });
  });

  test('timeScale runs the clock faster', async () => {
    sim = await startTestSim({ timeScale: 1000 });
    const a = (await http(sim.controlUrl, 'GET', '/sim/control/clock')).json();
    await eventually(async () => (await http(sim.controlUrl, 'GET', '/sim/control/clock')).json().now - a.now > 60_000, 5000, 'a simulated minute');
    expect(a.timeScale).toBe(1000);
  });
});

describe('failed-login lockout', () => {
  test('N failures lock the user; the lock survives a restart and ends after its duration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibflow-sim-lock-'));
    const opts = { stateDir: dir, authDelayMs: 50, lockout: { maxFailures: 3, durationMs: 60 * MIN } };
    let sim = await startTestSim(opts);
    try {
      const attempt = (password: string) => http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'paperuser', password, paper: true } });
      for (let i = 0; i < 3; i++) expect((await attempt('wrong')).json().message).toBe('Invalid username password combination');
      const locked = (await attempt('paper-pw')).json();
      expect(locked.status).toBe('error');
      expect(locked.message).toMatch(/locked/);
      expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().logins.paperuser).toEqual({ ok: 0, failed: 3, locked: 1, lockouts: 1 });
      expect((await sessionOf(sim)).locked).toBe(true);

      await sim.close();
      sim = await startTestSim(opts);
      expect((await attempt('paper-pw')).json().message).toMatch(/locked/);
      await advance(sim, 61 * MIN);
      expect((await attempt('paper-pw')).json().status).toBe('ok');
      // The control plane can lift a lock too.
      for (let i = 0; i < 3; i++) await attempt('wrong');
      expect((await attempt('paper-pw')).json().message).toMatch(/locked/);
      await http(sim.controlUrl, 'POST', '/sim/control/unlock', { body: { username: 'paperuser' } });
      expect((await attempt('paper-pw')).json().status).toBe('ok');
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

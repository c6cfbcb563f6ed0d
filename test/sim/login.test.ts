import { totpCodeAt } from '../../sim/totpEngine';
import { http, LIVE_USER, loginViaHttp, MULTI_FACTOR_USER, PAPER_USER, startTestSim, totpCode, type TestSim } from './simTestKit';

const PAPER_FOR_LIVE = 'You have selected the Paper Trading Account Mode, but the specified user is a Live Account user. Please select the correct Login mode.';
const LIVE_FOR_PAPER = 'You have selected the Live Account Mode, but the specified user is a Paper Trading user. Please select the correct Login mode.';

async function stats(sim: TestSim) {
  return (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
}

test('the TOTP engine matches the RFC 6238 SHA1 test vectors', () => {
  // RFC 6238 appendix B, secret "12345678901234567890", 8-digit codes truncated to the 6 we use.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  expect(totpCodeAt(secret, 59)).toBe('287082');
  expect(totpCodeAt(secret, 1111111109)).toBe('081804');
  expect(totpCodeAt(secret, 2000000000)).toBe('279037');
});

describe('browser login flow over plain HTTP', () => {
  let sim: TestSim;
  beforeEach(async () => {
    sim = await startTestSim();
  });
  afterEach(async () => {
    await sim.stop();
  });

  test('paper user: Authenticator then Dispatcher answers "Client login succeeds"', async () => {
    const { dispatcher, steps } = await loginViaHttp(sim, PAPER_USER);
    expect(steps).toHaveLength(1);
    expect(steps[0].json()).toMatchObject({ status: 'ok' });
    expect(dispatcher.status).toBe(200);
    expect(dispatcher.headers['content-type']).toMatch(/^text\/plain/);
    expect(dispatcher.text).toBe('Client login succeeds');
    expect((await stats(sim)).logins.paperuser).toMatchObject({ ok: 1, failed: 0 });
    expect((await http(sim.controlUrl, 'GET', '/sim/control/sessions')).json().paperuser).toMatchObject({ sso: true, bridge: false, competing: false });
  });

  test('wrong password and wrong mode are refused with the page texts and counted as failures', async () => {
    const wrong = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'paperuser', password: 'nope', paper: true } });
    expect(wrong.json()).toEqual({ status: 'error', message: 'Invalid username password combination' });
    const unknown = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'nobody', password: 'x', paper: true } });
    expect(unknown.json().message).toBe('Invalid username password combination');
    const liveMode = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'paperuser', password: 'paper-pw', paper: false } });
    expect(liveMode.json()).toEqual({ status: 'error', message: LIVE_FOR_PAPER });
    const paperMode = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'liveuser', password: 'live-pw', paper: true } });
    expect(paperMode.json()).toEqual({ status: 'error', message: PAPER_FOR_LIVE });
    const s = await stats(sim);
    expect(s.logins.paperuser).toMatchObject({ ok: 0, failed: 2 });
    expect(s.logins.liveuser).toMatchObject({ ok: 0, failed: 1 });
    expect(s.logins['(unknown)']).toMatchObject({ ok: 0, failed: 1 });
    // The password never reaches the log sink.
    expect(JSON.stringify(sim.logs)).not.toContain('paper-pw');
    expect(JSON.stringify(sim.logs)).not.toContain('nope');
  });

  test('form-encoded credentials work like the JSON post', async () => {
    const res = await http(sim.url, 'POST', '/sso/Authenticator', { form: { username: 'paperuser', password: 'paper-pw', paper: 'on' } });
    expect(res.json()).toMatchObject({ status: 'ok' });
  });

  test('live user: second factor with an otplib TOTP, replayed and wrong codes fail with "failed"', async () => {
    const first = await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'liveuser', password: 'live-pw', paper: false } });
    const step1 = first.json();
    expect(step1).toMatchObject({ status: 'second_factor', factors: ['Mobile Authenticator App'] });

    const nearby = [-1, 0, 1].map((o) => totpCode(undefined, o));
    const wrongCode = ['000000', '111111', '222222', '333333'].find((c) => !nearby.includes(c)) ?? '';
    const bad = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: step1.tx, code: wrongCode } });
    expect(bad.json()).toEqual({ status: 'error', message: 'failed' });

    // Not completed yet: Dispatcher refuses.
    const early = await http(sim.url, 'POST', '/sso/Dispatcher', { form: { tx: step1.tx } });
    expect(early.status).toBe(401);
    expect(early.text).not.toContain('Client login succeeds');

    const code = totpCode();
    const good = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: step1.tx, code } });
    expect(good.json()).toMatchObject({ status: 'ok' });
    const dispatcher = await http(sim.url, 'POST', '/sso/Dispatcher', { form: { tx: step1.tx } });
    expect(dispatcher.text).toBe('Client login succeeds');

    // The same code again, in a new login transaction: rejected as a replay.
    const again = (await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'liveuser', password: 'live-pw', paper: false } })).json();
    const replay = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: again.tx, code } });
    expect(replay.json()).toEqual({ status: 'error', message: 'failed' });
    // A code of the neighbouring step is still accepted (current step ±1).
    const next = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: again.tx, code: totpCode(undefined, +1) } });
    expect(next.json()).toMatchObject({ status: 'ok' });

    expect((await stats(sim)).logins.liveuser).toMatchObject({ ok: 1, failed: 2 });
    expect(JSON.stringify(sim.logs)).not.toContain(code);
  });

  test('users with several factors get the device list; codes two steps away are rejected', async () => {
    const first = (await http(sim.url, 'POST', '/sso/Authenticator', { body: { username: 'multiuser', password: 'multi-pw', paper: false } })).json();
    expect(first).toMatchObject({ status: 'second_factor', factors: MULTI_FACTOR_USER.secondFactors });
    const stale = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: first.tx, code: totpCode(undefined, -2) } });
    expect(stale.json().message).toBe('failed');
  });

  test('a second-factor post for an unknown transaction asks the page to start over', async () => {
    const res = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: 'bogus', code: '123456' } });
    expect(res.json().status).toBe('restart');
  });

  test('a live login then opens the session like a paper one', async () => {
    await loginViaHttp(sim, LIVE_USER);
    const status = await http(sim.url, 'GET', '/v1/api/iserver/auth/status');
    expect(status.status).toBe(200);
    expect(status.json()).toMatchObject({ connected: true });
  });
});

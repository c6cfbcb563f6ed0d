/**
 * ibflow's own browser login (src/browser) against the simulator's page in real Chromium: each
 * answer of the page becomes the right failure kind, so the session workflow picks the right rung.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrowserLoginError, loginWithBrowser, type BrowserLoginRequest } from '../../../src/browser/browserLogin';
import { http, PAPER_USER, LIVE_USER, startTestSim, type TestSim } from '../../sim/simTestKit';

jest.setTimeout(60_000);

let sim: TestSim | undefined;
let evidenceDir: string;

beforeEach(() => {
  evidenceDir = mkdtempSync(join(tmpdir(), 'ibflow-browser-'));
});
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  rmSync(evidenceDir, { recursive: true, force: true });
});

function request(over: Partial<BrowserLoginRequest>): BrowserLoginRequest {
  return {
    gatewayUrl: sim!.url,
    verifyTls: false,
    mode: 'paper',
    username: PAPER_USER.username,
    password: PAPER_USER.password,
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeoutMs: 15_000,
    evidenceDir,
    redact: [],
    ...over,
  };
}

async function failureOf(req: BrowserLoginRequest): Promise<unknown> {
  try {
    await loginWithBrowser(req);
  } catch (err) {
    return err;
  }
  throw new Error('the login succeeded');
}

test('a locked user is reported as account_locked, not as a wrong password', async () => {
  sim = await startTestSim({ lockout: { maxFailures: 1, durationMs: 3_600_000 } });
  const wrong = await failureOf(request({ password: 'not-it' }));
  expect((wrong as BrowserLoginError).kind).toBe('invalid_credentials');
  const locked = await failureOf(request({}));
  expect(locked).toBeInstanceOf(BrowserLoginError);
  expect((locked as BrowserLoginError).kind).toBe('account_locked');
  expect((locked as BrowserLoginError).evidence?.screenshot).toMatch(/\.png$/);
});

test('a login refused for maintenance is login_unavailable (transient), not a credential failure', async () => {
  // A weekly window that covers every moment of the week.
  sim = await startTestSim({ maintenance: { start: 'Sun 00:00', end: 'Sat 23:59', timeZone: 'UTC' } });
  const err = await failureOf(request({}));
  expect((err as BrowserLoginError).kind).toBe('login_unavailable');
});

test('an error of the code callback reaches the caller unchanged, not as a page change', async () => {
  sim = await startTestSim();
  class BadSecret extends Error {}
  const err = await failureOf(
    request({
      mode: 'live',
      username: LIVE_USER.username,
      password: LIVE_USER.password,
      totpCode: async () => {
        throw new BadSecret('activation code is not base32');
      },
    }),
  );
  expect(err).toBeInstanceOf(BadSecret);
  const stats = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
  expect(stats.logins[LIVE_USER.username]?.ok ?? 0).toBe(0);
});

/**
 * The `loginWithBrowser` activity with a malformed activation code: it fails as InvalidTotpSecret
 * before any login reaches the gateway (no attempt counts toward IBKR's lock), and says nothing secret.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createLoginWithBrowser } from '../../activities/loginWithBrowser';
import type { PodDependencies } from '../../activities/podDependencies';
import type { IbflowConfig } from '../../src/config/schema';
import { createLogger } from '../../src/logging/logger';
import { SecretResolver } from '../../src/secrets/secretResolver';
import { http, LIVE_USER, startTestSim, type TestSim } from '../sim/simTestKit';

jest.setTimeout(60_000);

const BAD_CODE = 'NOT-BASE32-CANARY-1!';
let sim: TestSim;
let stateDir: string;

beforeAll(async () => {
  sim = await startTestSim();
  stateDir = mkdtempSync(join(tmpdir(), 'ibflow-login-activity-'));
});
afterAll(async () => {
  await sim?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Pod dependencies for one live connection to the simulator, its secrets from the environment. */
function liveDeps(activationCode: string, extra: Partial<PodDependencies> & { logged?: string[] } = {}): PodDependencies {
  const connection = {
    id: 'live-1',
    mode: 'live',
    username: LIVE_USER.username,
    passwordRef: 'env:LIVE_PASSWORD',
    totpSecretRef: 'env:LIVE_TOTP',
    pod: 'pod-a',
    gateway: { url: sim.url, verifyTls: false },
    instruments: [],
  };
  const config = { stateDir, browser: { executablePath: '/usr/bin/chromium', headless: true, loginTimeoutMs: 20_000 }, connections: [connection] } as unknown as IbflowConfig;
  const { logged = [], ...overrides } = extra;
  return {
    pod: 'pod-a',
    config: () => config,
    connection: () => connection,
    secrets: new SecretResolver(stateDir, { LIVE_PASSWORD: LIVE_USER.password, LIVE_TOTP: activationCode }),
    log: createLogger('test', new Writable({ write: (chunk: Buffer, _e, cb) => (logged.push(chunk.toString()), cb()) })),
    ...overrides,
  } as unknown as PodDependencies;
}

async function loginFailure(deps: PodDependencies): Promise<(Error & { type?: string; nonRetryable?: boolean }) | null> {
  return new MockActivityEnvironment().run(createLoginWithBrowser(deps), 'live-1', { lastTotpStep: null }).then(
    () => null,
    (e: unknown) => e as Error & { type?: string; nonRetryable?: boolean },
  );
}

test('a malformed activation code fails as InvalidTotpSecret without a login attempt', async () => {
  const logged: string[] = [];
  const err = await loginFailure(liveDeps(BAD_CODE, { logged }));
  expect(err?.type).toBe('InvalidTotpSecret');
  expect(err?.nonRetryable).toBe(true);
  expect(err?.message).not.toMatch(/CANARY/i);
  expect(logged.join('')).not.toMatch(/CANARY/i);
  const stats = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
  expect(stats.logins[LIVE_USER.username]).toBeUndefined();
});

test('a rejected authenticator code names a skewed pod clock as the likely cause', async () => {
  // A well-formed activation code that is not the user's: the gateway rejects the code. The
  // keepalive's client saw the gateway's Date header 45 s behind this pod's clock.
  const err = await loginFailure(liveDeps('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', { gateway: (() => ({ lastClockSkewMs: -45_000 })) as never }));
  expect(err?.type).toBe('TotpRejected');
  expect(err?.message).toMatch(/clock is 45 s ahead of the gateway's Date header — fix NTP/);
});

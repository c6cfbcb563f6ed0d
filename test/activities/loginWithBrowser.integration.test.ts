/**
 * The `loginWithBrowser` activity in real Chromium against the simulator: success with the TOTP
 * step it used, and every failure the simulator can produce as its typed Temporal failure
 * (retryable or not, totpStep in details, evidence named, nothing secret in message or log).
 * A malformed activation code fails as InvalidTotpSecret before any login reaches the gateway.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createLoginWithBrowser } from '../../activities/loginWithBrowser';
import type { PodDependencies } from '../../activities/podDependencies';
import type { IbflowConfig } from '../../src/config/schema';
import { createLogger } from '../../src/logging/logger';
import { SecretResolver } from '../../src/secrets/secretResolver';
import { http, LIVE_USER, PAPER_USER, startTestSim, TOTP_SECRET, type TestSim } from '../sim/simTestKit';

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

type Failure = Error & { type?: string; nonRetryable?: boolean; details?: unknown[] };

/** Pod dependencies for one connection of `user` to `gatewayUrl`; `activationCode` undefined = no second factor configured. */
function connectionDeps(opts: { user: typeof PAPER_USER; mode: 'paper' | 'live'; activationCode?: string; gatewayUrl?: string; loginTimeoutMs?: number; logged?: string[] }): PodDependencies {
  const connection = {
    id: 'conn-1',
    mode: opts.mode,
    username: opts.user.username,
    passwordRef: 'env:PASSWORD',
    ...(opts.activationCode !== undefined ? { totpSecretRef: 'env:TOTP' } : {}),
    pod: 'pod-a',
    gateway: { url: opts.gatewayUrl ?? sim.url, verifyTls: false },
    instruments: [],
  };
  const config = { stateDir, browser: { executablePath: '/usr/bin/chromium', headless: true, loginTimeoutMs: opts.loginTimeoutMs ?? 20_000 }, connections: [connection] } as unknown as IbflowConfig;
  const logged = opts.logged ?? [];
  return {
    pod: 'pod-a',
    config: () => config,
    connection: () => connection,
    gateway: () => ({ lastClockSkewMs: 0 }),
    secrets: new SecretResolver(stateDir, { PASSWORD: opts.user.password, ...(opts.activationCode !== undefined ? { TOTP: opts.activationCode } : {}) }),
    log: createLogger('test', new Writable({ write: (chunk: Buffer, _e, cb) => (logged.push(chunk.toString()), cb()) })),
  } as unknown as PodDependencies;
}

async function attempt(deps: PodDependencies, lastTotpStep: number | null = null): Promise<{ totpStep: number | null } | Failure> {
  const run = new MockActivityEnvironment().run(createLoginWithBrowser(deps), 'conn-1', { lastTotpStep }) as Promise<{ totpStep: number | null }>;
  return run.catch((e: unknown) => e as Failure);
}

/** The failure, checked for what every failure must hold: typed, nothing secret in message or log, evidence on disk when named. */
async function failureOf(deps: PodDependencies, logged: string[], secrets: string[]): Promise<Failure> {
  const result = await attempt(deps);
  expect(result).toBeInstanceOf(Error);
  const err = result as Failure;
  for (const secret of secrets) {
    expect(err.message).not.toContain(secret);
    expect(logged.join('')).not.toContain(secret);
  }
  const evidence = /\(evidence: (.+\.png)\)$/.exec(err.message)?.[1];
  if (evidence) {
    expect(existsSync(evidence)).toBe(true);
    const dom = readFileSync(evidence.replace(/\.png$/, '.html'), 'utf8');
    for (const secret of secrets) expect(dom).not.toContain(secret);
  }
  return err;
}

const control = (path: string, body: object) => http(sim.controlUrl, 'POST', `/sim/control/${path}`, { body });

test('a live login answers the authenticator code and returns the TOTP step it used', async () => {
  const result = await attempt(connectionDeps({ user: LIVE_USER, mode: 'live', activationCode: TOTP_SECRET }));
  expect(result).toEqual({ totpStep: expect.any(Number) });
  expect(Math.abs((result as { totpStep: number }).totpStep - Math.floor(Date.now() / 30_000))).toBeLessThanOrEqual(1);
});

test('a rejected password is InvalidCredentials, not retryable, totpStep null, evidence named', async () => {
  await control('login-faults', { kind: 'wrong-password' });
  const logged: string[] = [];
  const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', logged }), logged, [PAPER_USER.password]);
  expect({ type: err.type, nonRetryable: err.nonRetryable, details: err.details }).toEqual({ type: 'InvalidCredentials', nonRetryable: true, details: [{ totpStep: null }] });
  expect(err.message).toMatch(/^the gateway rejected the username or password \(evidence: .+\/evidence\/conn-1\/login-.+\.png\)$/);
});

test('the wrong paper/live mode is InvalidCredentials, not retryable', async () => {
  const logged: string[] = [];
  const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'live', logged }), logged, [PAPER_USER.password]);
  expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'InvalidCredentials', nonRetryable: true });
  expect(err.message).toMatch(/paper\/live mode does not match/);
});

test('a live user without an activation code configured is InvalidTotpSecret, not retryable', async () => {
  const logged: string[] = [];
  const err = await failureOf(connectionDeps({ user: LIVE_USER, mode: 'live', logged }), logged, [LIVE_USER.password]);
  expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'InvalidTotpSecret', nonRetryable: true });
  expect(err.message).toMatch(/asks for a second factor but the connection has no activation code/);
});

test('a rejected code is TotpRejected with the step it used in details', async () => {
  const logged: string[] = [];
  const otherCode = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const err = await failureOf(connectionDeps({ user: LIVE_USER, mode: 'live', activationCode: otherCode, logged }), logged, [LIVE_USER.password, otherCode]);
  expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'TotpRejected', nonRetryable: true });
  expect(err.details).toEqual([{ totpStep: expect.any(Number) }]);
  expect(err.message).not.toMatch(/clock/); // no skew measured here
});

test('a changed login page is LoginPageChanged, not retryable, evidence named', async () => {
  await control('login-faults', { kind: 'page-change' });
  const logged: string[] = [];
  // The login timeout bounds the wait for a username field that never comes.
  const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', loginTimeoutMs: 3_000, logged }), logged, [PAPER_USER.password]);
  expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'LoginPageChanged', nonRetryable: true });
  expect(err.message).toMatch(/\(evidence: .+\.png\)$/);
});

test('a login the gateway never answers is LoginFailed after the login timeout, not retryable', async () => {
  await control('login-faults', { kind: 'timeout' });
  const logged: string[] = [];
  const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', loginTimeoutMs: 3_000, logged }), logged, [PAPER_USER.password]);
  expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'LoginFailed', nonRetryable: true });
  expect(err.message).toMatch(/did not finish within 3000 ms/);
});

test('a locked user is AccountLocked, not retryable', async () => {
  const locking = await startTestSim({ lockout: { maxFailures: 1 } });
  try {
    await http(locking.url, 'POST', '/sso/Authenticator', { body: { username: PAPER_USER.username, password: 'wrong', paper: true } });
    const logged: string[] = [];
    const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', gatewayUrl: locking.url, logged }), logged, [PAPER_USER.password]);
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'AccountLocked', nonRetryable: true });
  } finally {
    await locking.stop();
  }
});

test('logins refused during maintenance are GatewayUnavailable and retryable', async () => {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const at = (d: Date) => `${days[d.getUTCDay()]} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  const now = Date.now();
  const closed = await startTestSim({ maintenance: { start: at(new Date(now - 60_000)), end: at(new Date(now + 60 * 60_000)), timeZone: 'UTC' } });
  try {
    const logged: string[] = [];
    const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', gatewayUrl: closed.url, logged }), logged, [PAPER_USER.password]);
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'GatewayUnavailable', nonRetryable: false });
    expect(err.message).toMatch(/maintenance/);
  } finally {
    await closed.stop();
  }
});

test('a secret missing from the store is SecretMissing, not retryable, before any browser starts', async () => {
  const deps = connectionDeps({ user: PAPER_USER, mode: 'paper' });
  const missing = { ...deps, secrets: new SecretResolver(stateDir, {}) } as PodDependencies;
  const err = (await attempt(missing)) as Failure;
  expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'SecretMissing', nonRetryable: true });
});

describe('a login page that cannot load is an outage, not a failed login', () => {
  const cut = (reachable: boolean) => http(sim.controlUrl, 'PUT', '/sim/control/ibkr', { body: reachable ? { reachable } : { reachable, forMs: 60_000 } });
  afterEach(async () => {
    await cut(true);
  });

  test('IBKR unreachable: IbkrUnreachable, retryable, and no browser starts (nothing reaches the login, no evidence)', async () => {
    await cut(false);
    const logged: string[] = [];
    const before = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().logins[PAPER_USER.username];
    const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', logged }), logged, [PAPER_USER.password]);
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'IbkrUnreachable', nonRetryable: false });
    expect(err.message).toMatch(/^browser login not started: gateway running, IBKR unreachable: the gateway at https:\/\/127\.0\.0\.1:\d+ answers its own pages/);
    expect(logged.join('')).toMatch(/browser login not started: the login page cannot load/);
    expect(logged.join('')).not.toMatch(/browser login failed/);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json().logins[PAPER_USER.username]).toEqual(before);
  });

  test('IBKR going away during a login: the timeout is the outage (IbkrUnreachable with the step used), not LoginFailed', async () => {
    await control('login-faults', { kind: 'timeout' });
    const logged: string[] = [];
    const pending = failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', loginTimeoutMs: 4_000, logged }), logged, [PAPER_USER.password]);
    await new Promise((r) => setTimeout(r, 1_500)); // the page has loaded and the form is submitted
    await cut(false);
    const err = await pending;
    expect({ type: err.type, nonRetryable: err.nonRetryable, details: err.details }).toEqual({ type: 'IbkrUnreachable', nonRetryable: false, details: [{ totpStep: null }] });
    expect(err.message).toMatch(/^browser login interrupted \(it timed out\): gateway running, IBKR unreachable/);
  });

  test('the gateway not running: GatewayNotRunning, retryable, no browser', async () => {
    const logged: string[] = [];
    const err = await failureOf(connectionDeps({ user: PAPER_USER, mode: 'paper', gatewayUrl: 'https://127.0.0.1:1', logged }), logged, [PAPER_USER.password]);
    expect({ type: err.type, nonRetryable: err.nonRetryable }).toEqual({ type: 'GatewayNotRunning', nonRetryable: false });
    expect(err.message).toBe('browser login not started: gateway not running: nothing listens at https://127.0.0.1:1');
  });
});

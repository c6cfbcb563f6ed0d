import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBody, parseCookies, readBody, sendHtml, sendJson, sendText } from './httpUtil';
import type { Faults } from './faults';
import type { LockoutStore } from './lockoutStore';
import { CHANGED_LOGIN_PAGE_HTML, LOGIN_PAGE_HTML } from './loginPage';
import type { LoginTransactions } from './loginTransactions';
import type { SessionStore } from './sessionStore';
import { UNKNOWN_USER_BUCKET, type SimStats } from './simStats';
import type { TotpVerifier } from './totpVerifier';
import type { SimUser } from './types';

export const LOGIN_REDIRECT = '/sso/Login?forwardTo=22&RL=1&ip2loc=US';
export const DISPATCHER_SUCCESS_TEXT = 'Client login succeeds';

/** Error texts shown in `.xyz-errormessage` (the first and the live-mode one are recorded from IBKR). */
export const LOGIN_ERRORS = {
  badCredentials: 'Invalid username password combination',
  badSecondFactor: 'failed',
  liveSelectedForPaperUser:
    'You have selected the Live Account Mode, but the specified user is a Paper Trading user. Please select the correct Login mode.',
  paperSelectedForLiveUser:
    'You have selected the Paper Trading Account Mode, but the specified user is a Live Account user. Please select the correct Login mode.',
  transactionExpired: 'Your login session has expired. Please log in again.',
  // Made up: IBKR's wording for a locked user is not on record.
  locked: 'This account is temporarily locked because of too many failed login attempts. Please try again later or contact Client Services.',
  // Made up: what the page says during the weekly maintenance window.
  maintenance: 'The system is unavailable due to scheduled maintenance. Please try again later.',
} as const;

const TX_COOKIE = 'ibsim_tx';

export interface LoginDeps {
  users: Map<string, SimUser>;
  transactions: LoginTransactions;
  totp: TotpVerifier;
  sessions: SessionStore;
  stats: SimStats;
  lockouts: LockoutStore;
  faults: Faults;
  secureCookies: boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Handles `/` and `/sso/*`; returns false when the path is not a login route. */
export async function handleLoginRoute(deps: LoginDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  if (path === '/' && req.method === 'GET') {
    res.writeHead(302, { Location: LOGIN_REDIRECT, 'Content-Length': 0 });
    res.end();
    return true;
  }
  if (path === '/sso/Login' && req.method === 'HEAD') {
    // The page's headers only: nothing rendered, no fault used up.
    res.writeHead(200, { 'Content-Type': 'text/html;charset=utf-8', 'Content-Length': Buffer.byteLength(LOGIN_PAGE_HTML), 'Cache-Control': 'no-store' });
    res.end();
    return true;
  }
  if (path === '/sso/Login' && req.method === 'GET') {
    // A changed page is served to a browser's page load (it accepts HTML), not to a probe of the
    // page (ibflow's reachability check, doctor), so the fault reaches the login it was meant for.
    const browserLoad = String(req.headers.accept ?? '').includes('text/html');
    const changed = browserLoad && deps.faults.takeLogin(['page-change']) !== undefined;
    if (changed) deps.log('login fault injected', { kind: 'page-change' });
    sendHtml(res, 200, changed ? CHANGED_LOGIN_PAGE_HTML : LOGIN_PAGE_HTML, { 'Cache-Control': 'no-store' });
    return true;
  }
  if (path === '/sso/Authenticator' && req.method === 'POST') {
    const body = parseBody(req, await readBody(req)) ?? {};
    await authenticate(deps, req, res, body);
    return true;
  }
  if (path === '/sso/Dispatcher' && req.method === 'POST') {
    const body = parseBody(req, await readBody(req)) ?? {};
    dispatch(deps, req, res, body);
    return true;
  }
  return false;
}

function txCookie(deps: LoginDeps, token: string, maxAgeS: number): string {
  return `${TX_COOKIE}=${token}; Path=/sso; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${deps.secureCookies ? '; Secure' : ''}`;
}

/** Counts a refused attempt; credential and code failures also count towards the user's lock. */
function failed(deps: LoginDeps, user: SimUser | undefined, reason: string, countsForLock = false): void {
  deps.stats.login(user ? user.username : UNKNOWN_USER_BUCKET, false);
  deps.log('login failed', { username: user ? user.username : UNKNOWN_USER_BUCKET, reason });
  if (user && countsForLock && deps.lockouts.recordFailure(user.username)) {
    deps.stats.lockout(user.username);
    deps.log('user locked', { username: user.username });
  }
}

function needsSecondFactor(user: SimUser): boolean {
  return user.mode === 'live' || Boolean(user.totpSecret);
}

function isTruthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 'on' || v === '1' || v === 1;
}

/** Step 1 (username, password, paper toggle) or step 2 (tx + authenticator code). */
async function authenticate(deps: LoginDeps, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const code = body.code ?? body['silver-response'];
  if (code !== undefined) {
    const token = typeof body.tx === 'string' && body.tx ? body.tx : parseCookies(req)[TX_COOKIE];
    const tx = deps.transactions.get(token);
    if (!tx) {
      sendJson(res, 200, { status: 'restart', message: LOGIN_ERRORS.transactionExpired });
      return;
    }
    if (deps.lockouts.isLocked(tx.user.username)) {
      deps.stats.lockedAttempt(tx.user.username);
      sendJson(res, 200, { status: 'error', message: LOGIN_ERRORS.locked });
      return;
    }
    const ok = await deps.totp.check(tx.user.username, tx.user.totpSecret, String(code).trim());
    if (!ok) {
      failed(deps, tx.user, 'second factor', true);
      sendJson(res, 200, { status: 'error', message: LOGIN_ERRORS.badSecondFactor });
      return;
    }
    tx.complete = true;
    sendJson(res, 200, { status: 'ok', tx: tx.token });
    return;
  }

  const username = typeof body.username === 'string' ? body.username.trim() : '';
  const password = typeof body.password === 'string' ? body.password : '';
  const paperSelected = isTruthy(body.paper);
  const user = deps.users.get(username);
  const fault = deps.faults.takeLogin(['wrong-password', 'timeout']);
  if (fault === 'timeout') {
    // Never answered: the client's own timeout ends it (or the simulator's close).
    deps.log('login fault injected', { kind: fault });
    return;
  }
  if (fault === 'wrong-password') {
    deps.log('login fault injected', { kind: fault });
    failed(deps, user, 'injected');
    sendJson(res, 200, { status: 'error', message: LOGIN_ERRORS.badCredentials });
    return;
  }
  if (deps.sessions.maintenanceActive()) {
    sendJson(res, 200, { status: 'error', message: LOGIN_ERRORS.maintenance });
    return;
  }
  if (user && deps.lockouts.isLocked(user.username)) {
    deps.stats.lockedAttempt(user.username);
    deps.log('login refused: user locked', { username: user.username });
    sendJson(res, 200, { status: 'error', message: LOGIN_ERRORS.locked });
    return;
  }
  if (!user || user.password !== password) {
    failed(deps, user, 'credentials', true);
    sendJson(res, 200, { status: 'error', message: LOGIN_ERRORS.badCredentials });
    return;
  }
  if (paperSelected !== (user.mode === 'paper')) {
    failed(deps, user, 'login mode');
    const message = paperSelected ? LOGIN_ERRORS.paperSelectedForLiveUser : LOGIN_ERRORS.liveSelectedForPaperUser;
    sendJson(res, 200, { status: 'error', message });
    return;
  }
  const secondFactor = needsSecondFactor(user);
  const tx = deps.transactions.create(user, !secondFactor);
  const cookie = txCookie(deps, tx.token, 300);
  if (!secondFactor) {
    sendJson(res, 200, { status: 'ok', tx: tx.token }, { 'Set-Cookie': cookie });
    return;
  }
  const factors = user.secondFactors && user.secondFactors.length > 0 ? user.secondFactors : ['Mobile Authenticator App'];
  sendJson(res, 200, { status: 'second_factor', tx: tx.token, factors }, { 'Set-Cookie': cookie });
}

/** The final navigation of a successful login; the gateway answers with plain text. */
function dispatch(deps: LoginDeps, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
  const token = typeof body.tx === 'string' && body.tx ? body.tx : parseCookies(req)[TX_COOKIE];
  const tx = deps.transactions.get(token);
  if (!tx || !tx.complete) {
    sendText(res, 401, 'Login failed: no completed login transaction');
    return;
  }
  deps.transactions.consume(tx.token);
  deps.lockouts.recordSuccess(tx.user.username);
  deps.sessions.login(tx.user);
  deps.stats.login(tx.user.username, true);
  deps.log('login succeeded', { username: tx.user.username, mode: tx.user.mode });
  sendText(res, 200, DISPATCHER_SUCCESS_TEXT, 'text/plain;charset=utf-8', { 'Set-Cookie': txCookie(deps, '', 0) });
}

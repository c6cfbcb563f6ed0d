import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBody, parseCookies, readBody, sendHtml, sendJson, sendText } from './httpUtil';
import { LOGIN_PAGE_HTML } from './loginPage';
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
} as const;

const TX_COOKIE = 'ibsim_tx';

export interface LoginDeps {
  users: Map<string, SimUser>;
  transactions: LoginTransactions;
  totp: TotpVerifier;
  sessions: SessionStore;
  stats: SimStats;
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
  if (path === '/sso/Login' && req.method === 'GET') {
    sendHtml(res, 200, LOGIN_PAGE_HTML, { 'Cache-Control': 'no-store' });
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

function failed(deps: LoginDeps, user: SimUser | undefined, reason: string): void {
  deps.stats.login(user ? user.username : UNKNOWN_USER_BUCKET, false);
  deps.log('login failed', { username: user ? user.username : UNKNOWN_USER_BUCKET, reason });
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
    const ok = await deps.totp.check(tx.user.username, tx.user.totpSecret, String(code).trim());
    if (!ok) {
      failed(deps, tx.user, 'second factor');
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
  if (!user || user.password !== password) {
    failed(deps, user, 'credentials');
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
  deps.sessions.login(tx.user);
  deps.stats.login(tx.user.username, true);
  deps.log('login succeeded', { username: tx.user.username, mode: tx.user.mode });
  sendText(res, 200, DISPATCHER_SUCCESS_TEXT, 'text/plain;charset=utf-8', { 'Set-Cookie': txCookie(deps, '', 0) });
}

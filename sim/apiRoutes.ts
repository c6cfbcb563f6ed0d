import type { IncomingMessage, ServerResponse } from 'node:http';
import { authStatus, iserverAccounts, loggedOutAuthStatus, portfolioAccounts, ssoValidate, tickle } from './apiShapes';
import { apiCookieSession, parseBody, readBody, sendHtml, sendJson, sendText } from './httpUtil';
import { secdefSearch } from './instruments';
import type { SessionStore, UserSession } from './sessionStore';
import type { TickleWithoutSession } from './types';

export interface ApiDeps {
  sessions: SessionStore;
  authDelayMs: number;
  tickleWithoutSession: TickleWithoutSession;
  /** False while the pod cannot reach IBKR: only the gateway's local answers get this far then. */
  ibkrReachable: () => boolean;
}

/** Who a REST call acts for: nobody ever logged in, a session that is gone, or a live session. */
type Caller = { state: 'never' } | { state: 'gone' } | { state: 'active'; session: UserSession };

const NOT_FOUND_HTML = '<html><head><title>Error</title></head><body><h1>Resource not found</h1></body></html>';
const NO_BRIDGE = { error: 'Bad Request: no bridge', statusCode: 400 };

type Handler = (deps: ApiDeps, session: UserSession, req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Endpoints needing an SSO session; `bridge` ones also need the brokerage session. */
const ROUTES: Record<string, { methods: string[]; bridge: boolean; handler: Handler }> = {
  tickle: {
    methods: ['GET', 'POST'],
    bridge: false,
    handler: (deps, s, _req, res) => sendJson(res, 200, tickle(s, deps.sessions.ssoExpiresMs(s))),
  },
  'iserver/auth/ssodh/init': { methods: ['POST'], bridge: false, handler: ssodhInit },
  logout: {
    methods: ['GET', 'POST'],
    bridge: false,
    handler: (deps, s, _req, res) => {
      deps.sessions.end(s.user.username, 'logout');
      sendJson(res, 200, { status: true });
    },
  },
  'sso/validate': {
    methods: ['GET', 'POST'],
    bridge: false,
    handler: (deps, s, req, res) => sendJson(res, 200, ssoValidate(s, req.socket.remoteAddress ?? '', deps.sessions.ssoExpiresMs(s))),
  },
  'portfolio/accounts': {
    methods: ['GET'],
    bridge: false,
    handler: (_deps, s, _req, res) => sendJson(res, 200, portfolioAccounts(s)),
  },
  'iserver/accounts': {
    methods: ['GET'],
    bridge: true,
    handler: (_deps, s, _req, res) => sendJson(res, 200, iserverAccounts(s)),
  },
  'iserver/secdef/search': { methods: ['GET', 'POST'], bridge: true, handler: secdefSearchRoute },
};

/** `GET ?symbol=AAPL[&name=true]` or `POST {"symbol":"AAPL","name":false}`. */
async function secdefSearchRoute(_deps: ApiDeps, _s: UserSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://sim').searchParams;
  let symbol: unknown = query.get('symbol');
  let name: unknown = query.get('name');
  if (req.method === 'POST') {
    const body = parseBody(req, await readBody(req)) ?? {};
    symbol = body.symbol ?? symbol;
    name = body.name ?? name;
  }
  if (typeof symbol !== 'string' || symbol.trim() === '') {
    return sendJson(res, 400, { error: 'Bad Request: symbol required', statusCode: 400 });
  }
  const found = secdefSearch(symbol, name === true || name === 'true');
  if (found.length === 0) return sendJson(res, 200, { error: 'No symbol found' });
  sendJson(res, 200, found);
}

function callerOf(deps: ApiDeps, req: IncomingMessage): Caller {
  const cookieSession = apiCookieSession(req);
  const session = cookieSession ? deps.sessions.bySessionId(cookieSession) : deps.sessions.current();
  if (session) return { state: 'active', session };
  return deps.sessions.currentUsername === null ? { state: 'never' } : { state: 'gone' };
}

function unauthorized(res: ServerResponse): void {
  sendText(res, 401, 'Unauthorized: not authenticated');
}

/** Handles one `/v1/api/<apiPath>` request (the `/v1/portal` spelling is mapped before). */
export async function handleApiRoute(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, apiPath: string): Promise<void> {
  const method = req.method ?? 'GET';
  const caller = callerOf(deps, req);
  // Without IBKR nothing reaches the session (its idle timer keeps running).
  const reachable = deps.ibkrReachable();
  if (caller.state === 'active' && reachable) deps.sessions.touch(caller.session);

  // Answered by the gateway itself, also before any login (see localAnswers.ts).
  if (apiPath === 'iserver/reauthenticate' && (method === 'POST' || method === 'GET')) {
    if (caller.state !== 'active') return sendJson(res, 200, { error: 'not logged in' });
    // Triggered all the same; without IBKR the attempt goes nowhere.
    if (!caller.session.bridge && reachable) deps.sessions.scheduleBridge(caller.session, deps.authDelayMs);
    return sendJson(res, 200, { message: 'triggered' });
  }
  if (apiPath === 'iserver/auth/status' && (method === 'POST' || method === 'GET')) {
    if (caller.state === 'never') return unauthorized(res);
    if (caller.state === 'gone') return sendJson(res, 200, loggedOutAuthStatus());
    return sendJson(res, 200, authStatus(caller.session));
  }

  // Some real gateways answer a tickle without a session with 200 and an error body (Voyz/ibeam#242).
  if (apiPath === 'tickle' && caller.state !== 'active' && deps.tickleWithoutSession === 'no-session-200' && ROUTES.tickle!.methods.includes(method)) {
    return sendJson(res, 200, { error: 'no session' });
  }

  const route = ROUTES[apiPath];
  const isIserver = apiPath.startsWith('iserver/');
  // The gateway's router rejects paths it does not know before looking at the session;
  // iserver/* is proxied as a whole, so unknown iserver paths still need the session and bridge.
  if ((!route || !route.methods.includes(method)) && !isIserver) return sendHtml(res, 404, NOT_FOUND_HTML);
  if (caller.state !== 'active') return unauthorized(res);
  if ((isIserver && !route) || route?.bridge) {
    if (!caller.session.bridge) return sendJson(res, 400, NO_BRIDGE);
  }
  if (!route || !route.methods.includes(method)) return sendHtml(res, 404, NOT_FOUND_HTML);
  await route.handler(deps, caller.session, req, res);
}

/** Opens the brokerage session on demand. Accepts an empty body or `{"publish":true,...}`. */
async function ssodhInit(deps: ApiDeps, session: UserSession, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = await readBody(req);
  // An empty body is what many clients send to fix "login succeeded but not authenticated".
  let compete = true;
  if (text.trim() !== '') {
    const body = parseBody(req, text);
    if (!body || body.publish !== true) {
      return sendJson(res, 500, { error: 'publish must be true', statusCode: 500 });
    }
    compete = body.compete !== false && body.compete !== 'false';
  }
  deps.sessions.openBridge(session, compete);
  sendJson(res, 200, authStatus(session));
}

export { NOT_FOUND_HTML };

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { GatewayError } from './gatewayError';
import { GatewayPacer } from './gatewayPacer';
import { describeReach, gatewayAnswersLocally, isNotRunningCode, ReachTracker, reachWithoutAnswer } from './gatewayReach';
import { PenaltyBox, retryAfterMs } from './penaltyBox';
import { SessionKnowledge } from './sessionKnowledge';

export interface AuthStatus {
  authenticated: boolean;
  connected: boolean;
  competing: boolean;
  established?: boolean;
  serverName: string;
}

export interface TickleResult {
  /** Websocket session id; constant for the session's life. Not a credential by itself, but kept out of logs. */
  session: string;
  ssoExpiresMs: number | null;
  authStatus: AuthStatus;
}

export interface GatewayClientOptions {
  baseUrl: string;
  verifyTls: boolean;
  timeoutMs?: number;
  /** Shared by every caller of this gateway in the process; default: IBKR's published limits. */
  pacer?: GatewayPacer;
  /** The pod's reading of the gateway's 429s; shared with the app port. */
  penalty?: PenaltyBox;
  /** What ibflow last learned of the session; shared with the app port. */
  knowledge?: SessionKnowledge;
  /** How far the pod's requests get (gateway down, IBKR unreachable, answering); shared with metrics. */
  reach?: ReachTracker;
}

interface RawResponse {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

/**
 * A small Client Portal Gateway REST client. It keeps one keep-alive agent per gateway and turns
 * every failure into a GatewayError whose kind says what to do next; it never logs bodies.
 */
export class GatewayClient {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly base: URL;
  private readonly timeoutMs: number;
  readonly pacer: GatewayPacer;
  readonly penalty: PenaltyBox;
  readonly knowledge: SessionKnowledge;
  readonly reach: ReachTracker;
  /**
   * IBKR's clock minus ours: from the `Date` header of answers the gateway passed on from IBKR
   * (1 s resolution; its own answers carry none), or from the websocket's `system` heartbeat.
   */
  lastClockSkewMs: number | null = null;

  constructor(readonly opts: GatewayClientOptions) {
    this.pacer = opts.pacer ?? new GatewayPacer();
    this.penalty = opts.penalty ?? new PenaltyBox();
    this.knowledge = opts.knowledge ?? new SessionKnowledge();
    this.reach = opts.reach ?? new ReachTracker();
    this.base = new URL(opts.baseUrl);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.agent =
      this.base.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, rejectUnauthorized: opts.verifyTls })
        : new HttpAgent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  /** A clock reading of IBKR's (ms since the epoch) received at `receivedAtMs` of ours. */
  recordServerClock(gatewayMs: number, receivedAtMs = Date.now()): void {
    if (Number.isFinite(gatewayMs)) this.lastClockSkewMs = gatewayMs - receivedAtMs;
  }

  async authStatus(): Promise<AuthStatus> {
    const res = await this.call('POST', '/v1/api/iserver/auth/status');
    const body = this.json(res, 'auth/status');
    if (isObject(body)) this.knowledge.recordAuthStatus(body);
    return parseAuthStatus(body);
  }

  async tickle(): Promise<TickleResult> {
    const res = await this.call('POST', '/v1/api/tickle');
    const body = this.json(res, 'tickle') as Record<string, unknown>;
    if (typeof body.error === 'string') {
      // `{"error":"no session"}` arrives with 200 on some gateways.
      this.knowledge.forgetSession();
      throw new GatewayError('unauthorized', `tickle: gateway reports "${body.error}"`, res.status);
    }
    if (isObject(body)) this.knowledge.recordTickle(body);
    const iserver = (body.iserver ?? {}) as Record<string, unknown>;
    return {
      session: String(body.session ?? ''),
      ssoExpiresMs: typeof body.ssoExpires === 'number' ? body.ssoExpires : null,
      authStatus: parseAuthStatus(iserver.authStatus ?? {}),
    };
  }

  /** Opens the brokerage session; `compete: true` takes it over from other sessions. */
  async openBrokerageSession(compete: boolean): Promise<AuthStatus> {
    const res = await this.call('POST', '/v1/api/iserver/auth/ssodh/init', { publish: true, compete });
    return parseAuthStatus(this.json(res, 'ssodh/init'));
  }

  async accounts(): Promise<{ accounts: string[]; selectedAccount: string | null }> {
    const res = await this.call('GET', '/v1/api/iserver/accounts');
    const body = this.json(res, 'iserver/accounts') as Record<string, unknown>;
    const accounts = Array.isArray(body.accounts) ? body.accounts.map(String) : [];
    if (accounts.length > 0) this.knowledge.recordAccounts(accounts);
    return { accounts, selectedAccount: typeof body.selectedAccount === 'string' ? body.selectedAccount : null };
  }

  async logout(): Promise<void> {
    await this.call('POST', '/v1/api/logout', {});
  }

  private json(res: RawResponse, what: string): unknown {
    try {
      return JSON.parse(res.body);
    } catch {
      throw new GatewayError('bad_response', `${what}: gateway answered ${res.status} with a body that is not JSON`, res.status);
    }
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RawResponse> {
    // Refused lately: sending now would be refused again and could prolong IBKR's penalty box.
    const heldMs = this.penalty.blockedForMs(path);
    if (heldMs > 0) throw new GatewayError('rate_limited', `${path}: held back ${Math.ceil(heldMs / 1000)} s more (the gateway is refusing this address)`, undefined, heldMs, true);
    await this.pacer.acquire(path);
    try {
      const res = await this.send(method, path, body);
      this.penalty.answered(path);
      if (res.status === 401) this.knowledge.forgetSession();
      return checkStatus(path, res);
    } catch (err) {
      if (err instanceof GatewayError && err.kind === 'rate_limited') {
        const { scope, waitMs } = this.penalty.refused(path, err.retryAfterMs);
        throw new GatewayError('rate_limited', `${err.message}${scope === 'box' ? ' again: IBKR is refusing this address (penalty box)' : ''}`, 429, waitMs);
      }
      throw err;
    } finally {
      this.pacer.finished(path);
    }
  }

  private send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RawResponse> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? (method === 'POST' ? '' : undefined) : JSON.stringify(body);
    const headers: Record<string, string> = { 'User-Agent': 'ibflow' };
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload)); // the gateway answers 411 without it
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<RawResponse>((resolve, reject) => {
      let answered = false;
      const req = send(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new GatewayError('unavailable', `${path}: ${err.message}`)));
        res.on('end', () => {
          const raw: RawResponse = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers };
          const gatewayTime = Date.parse(String(res.headers.date ?? ''));
          // Date has 1 s resolution and is cut, not rounded: its middle is half a second later.
          if (Number.isFinite(gatewayTime)) this.recordServerClock(gatewayTime + 500);
          this.reach.set('answering');
          if (raw.status === 429) reject(rateLimited(path, raw));
          else resolve(raw);
        });
      });
      let timedOut = false;
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error(`no answer within ${this.timeoutMs} ms`));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!answered) void this.unanswered(path, err, timedOut).then(reject);
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Names why a request got no answer. A refused connection: the gateway is not running. A wait
   * that ran out: one of the gateway's own pages tells whether the gateway itself answers (then
   * IBKR, behind it, does not) or not even that.
   */
  private async unanswered(path: string, err: NodeJS.ErrnoException, timedOut: boolean): Promise<GatewayError> {
    const where = this.base.origin;
    if (isNotRunningCode(err.code)) {
      this.reach.set('not_running');
      return new GatewayError('unavailable', `${path}: ${describeReach('not_running', where)} (${err.code})`, undefined, undefined, false, 'not_running');
    }
    if (!timedOut) return new GatewayError('unavailable', `${path}: gateway unreachable (${err.code ?? err.message})`);
    const reach = reachWithoutAnswer(await gatewayAnswersLocally(this.opts.baseUrl, this.opts.verifyTls));
    this.reach.set(reach);
    return new GatewayError('unavailable', `${path}: no answer within ${this.timeoutMs} ms; ${describeReach(reach, where)}`, undefined, undefined, false, reach);
  }
}

function checkStatus(path: string, res: RawResponse): RawResponse {
  if (res.status >= 200 && res.status < 300) return res;
  if (res.status === 401) throw new GatewayError('unauthorized', `${path}: not logged in (401)`, 401);
  if (res.status === 429) throw rateLimited(path, res);
  if (res.status === 400 && res.body.includes('no bridge')) {
    throw new GatewayError('no_bridge', `${path}: no brokerage session (no bridge)`, 400);
  }
  if (res.status >= 500) throw new GatewayError('unavailable', `${path}: gateway error ${res.status}`, res.status);
  throw new GatewayError('bad_response', `${path}: unexpected status ${res.status}`, res.status);
}

/** A 429, with its Retry-After when the gateway sent one (how long is then the penalty box's to say). */
function rateLimited(path: string, res: RawResponse): GatewayError {
  return new GatewayError('rate_limited', `${path}: rate limited (429)`, 429, retryAfterMs(res.headers));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseAuthStatus(raw: unknown): AuthStatus {
  const o = (raw ?? {}) as Record<string, unknown>;
  const serverInfo = (o.serverInfo ?? {}) as Record<string, unknown>;
  return {
    authenticated: o.authenticated === true,
    connected: o.connected === true,
    competing: o.competing === true,
    established: typeof o.established === 'boolean' ? o.established : undefined,
    serverName: typeof serverInfo.serverName === 'string' ? serverInfo.serverName : '',
  };
}

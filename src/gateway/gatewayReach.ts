/**
 * How far a request to the gateway gets. The Client Portal Gateway answers a few paths itself (the
 * `/` redirect to the login page, `iserver/reauthenticate`, its IP filter) and passes everything
 * else on to IBKR. With the pod cut off from IBKR (an internet outage, or IBKR down) it still
 * accepts connections and answers those few paths, but every request it passes on hangs for 90 s
 * or more. So three very different situations look alike to a client that only sees a timeout:
 *
 * - `not_running`: nothing listens at the gateway's address (connection refused);
 * - `ibkr_unreachable`: the gateway answers its own pages, what it passes on gets no answer;
 * - `unresponsive`: not even the gateway's own pages answer (a hung or overloaded gateway).
 *
 * `answering` means IBKR answered through the gateway — the session may still be gone, which the
 * answer itself says.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type GatewayReach = 'answering' | 'not_running' | 'ibkr_unreachable' | 'unresponsive';

export const GATEWAY_REACHES: readonly GatewayReach[] = ['answering', 'not_running', 'ibkr_unreachable', 'unresponsive'];

/** A path every gateway answers by itself, without IBKR: the redirect to the login page. */
export const LOCAL_PATH = '/';
/**
 * A path the gateway passes on to IBKR without spending the API's pacing: the login page, fetched
 * like a browser would (GET; the body is discarded) — the one request real gateways are known to
 * pass on for every login.
 */
export const PASSED_ON_PATH = '/sso/Login?forwardTo=22&RL=1&ip2loc=on';

/** Connection errors that mean nothing listens there (or the host is gone). */
const NOT_RUNNING_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export function isNotRunningCode(code: string | undefined): boolean {
  return code !== undefined && NOT_RUNNING_CODES.has(code);
}

export interface ProbeAnswer {
  status?: number;
  headers?: IncomingHttpHeaders;
  /** Set when no answer came: the error code (ETIMEDOUT when the wait ran out). */
  code?: string;
  message?: string;
  sentAtMs: number;
  receivedAtMs: number;
}

/**
 * One request on a fresh connection (never a pooled socket that may be stuck), body discarded.
 * Never rejects: a failure is an answer with `code`.
 */
export function probeOnce(url: URL, opts: { verifyTls: boolean; timeoutMs: number; method?: 'GET' | 'HEAD' }): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    const sentAtMs = Date.now();
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: opts.method ?? 'GET', rejectUnauthorized: opts.verifyTls, timeout: opts.timeoutMs, agent: false, headers: { 'User-Agent': 'ibflow' } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, sentAtMs, receivedAtMs: Date.now() });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code ?? 'ERROR', message: err.message, sentAtMs, receivedAtMs: Date.now() }));
    req.end();
  });
}

/** Whether the gateway answers one of its own pages, quickly. */
export async function gatewayAnswersLocally(baseUrl: string, verifyTls: boolean, timeoutMs = 3_000): Promise<ProbeAnswer> {
  return probeOnce(new URL(LOCAL_PATH, baseUrl), { verifyTls, timeoutMs });
}

export interface ReachReport {
  reach: GatewayReach;
  local: ProbeAnswer;
  /** Absent when the local probe already settled it (not running). */
  passedOn?: ProbeAnswer;
}

/**
 * Asks the gateway one of its own pages and one it passes on to IBKR, at the same time (the slow
 * one bounds the wait), and names the situation.
 */
export async function probeGatewayReach(baseUrl: string, opts: { verifyTls: boolean; timeoutMs: number }): Promise<ReachReport> {
  const [local, passedOn] = await Promise.all([
    gatewayAnswersLocally(baseUrl, opts.verifyTls, opts.timeoutMs),
    probeOnce(new URL(PASSED_ON_PATH, baseUrl), opts),
  ]);
  const unanswered = reachWithoutAnswer(local);
  if (unanswered === 'not_running') return { reach: 'not_running', local };
  if (passedOn.code === undefined) return { reach: 'answering', local, passedOn };
  return { reach: unanswered, local, passedOn };
}

/** What a passed-on request that got no answer means, given how one of the gateway's own pages answered. */
export function reachWithoutAnswer(local: ProbeAnswer): Exclude<GatewayReach, 'answering'> {
  if (local.code === undefined) return 'ibkr_unreachable';
  return isNotRunningCode(local.code) ? 'not_running' : 'unresponsive';
}

/** The words ibflow uses for each situation (status reasons, doctor, logs). */
export function describeReach(reach: GatewayReach, where: string): string {
  switch (reach) {
    case 'answering':
      return `the gateway at ${where} answers, and so does IBKR through it`;
    case 'not_running':
      return `gateway not running: nothing listens at ${where}`;
    case 'ibkr_unreachable':
      return `gateway running, IBKR unreachable: the gateway at ${where} answers its own pages, but what it passes on to IBKR gets no answer (an internet outage on this pod, or IBKR down)`;
    case 'unresponsive':
      return `gateway unresponsive: the gateway at ${where} accepts connections but does not answer even its own pages (hung or overloaded)`;
  }
}

/**
 * The latest reach of one gateway as the pod's requests found it, and since when; listeners hear
 * each change (metrics).
 */
export class ReachTracker {
  private value: GatewayReach | null = null;
  private sinceMs: number | null = null;
  private readonly listeners = new Set<(reach: GatewayReach, sinceMs: number) => void>();

  constructor(private readonly now: () => number = Date.now) {}

  get current(): GatewayReach | null {
    return this.value;
  }

  get since(): number | null {
    return this.sinceMs;
  }

  set(reach: GatewayReach): void {
    if (reach === this.value) return;
    this.value = reach;
    this.sinceMs = this.now();
    for (const l of this.listeners) l(reach, this.sinceMs);
  }

  subscribe(listener: (reach: GatewayReach, sinceMs: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

import type { ServerResponse } from 'node:http';
import type { FreshAnswer, SafeStatus } from './appPortGateway';
import type { PacerRefusalLike } from './pacerRefusal';

/** An answer the port gives itself, without the gateway seeing the request. */
export interface LocalAnswer {
  status: number;
  body: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** Marks every answer the port made itself, so an app (or a person with curl) can tell. */
export const LOCAL_ANSWER_HEADER = 'X-Ibflow-Answer';

/** When ibflow has no next attempt time to offer, apps are asked to come back after this long. */
const DEFAULT_RETRY_AFTER_S = 10;

function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export function notGatewayPath(path: string): LocalAnswer {
  return { status: 404, body: { error: `ibflow app port: ${path} is not a gateway API path (only /v1/api/..., /v1/portal/... and the websocket /v1/api/ws are served)` } };
}

export function logoutRefused(): LocalAnswer {
  return { status: 403, body: { error: 'ibflow app port: logout refused, it would end the brokerage session ibflow keeps for every program on this gateway' } };
}

export function sessionNotUsable(status: SafeStatus, now: number): LocalAnswer {
  const next = status.nextAttemptAt === null ? NaN : Date.parse(status.nextAttemptAt);
  return {
    status: 503,
    body: {
      error: `ibflow app port: the brokerage session on this gateway is ${status.state}: ${status.reason}`,
      ibflow: { connection: status.connectionId, state: status.state, reason: status.reason, nextAttemptAt: status.nextAttemptAt },
    },
    retryAfterSeconds: Number.isFinite(next) && next > now ? retryAfterSeconds(next - now) : DEFAULT_RETRY_AFTER_S,
  };
}

export function pathBlocked(path: string, blockedForMs: number): LocalAnswer {
  return {
    status: 429,
    body: { error: `ibflow app port: the gateway is refusing ${path} for now (a rate limit or IBKR's penalty box); held here so the penalty is not prolonged`, retryAfterMs: blockedForMs },
    retryAfterSeconds: retryAfterSeconds(blockedForMs),
  };
}

export function pacerRefused(path: string, refusal: PacerRefusalLike): LocalAnswer {
  const why = refusal.why === 'queue_full' ? 'the pacing queue is full' : 'it could not be sent within the wait limit';
  return {
    status: 429,
    body: { error: `ibflow app port: ${path} would exceed IBKR's pacing and ${why}; the gateway did not see it`, retryAfterMs: refusal.retryAfterMs },
    retryAfterSeconds: retryAfterSeconds(refusal.retryAfterMs),
  };
}

export function gatewayUnreachable(baseUrl: string, code: string | undefined): LocalAnswer {
  return { status: 502, body: { error: `ibflow app port: the gateway at ${baseUrl} is unreachable`, ...(code ? { code } : {}) } };
}

/** ibflow's own fresh tickle answer, with `ssoExpires` (ms left) counted down by the answer's age. */
export function localTickle(fresh: FreshAnswer): LocalAnswer {
  const body = { ...fresh.body };
  if (typeof body.ssoExpires === 'number') body.ssoExpires = Math.max(0, body.ssoExpires - fresh.ageMs);
  return { status: 200, body };
}

/** ibflow's own fresh auth status, else the one inside its fresh tickle; null when it has neither. */
export function localAuthStatus(freshAuth: FreshAnswer | null, freshTickle: FreshAnswer | null): LocalAnswer | null {
  if (freshAuth) return { status: 200, body: { ...freshAuth.body } };
  const iserver = freshTickle?.body.iserver;
  const fromTickle = typeof iserver === 'object' && iserver !== null ? (iserver as Record<string, unknown>).authStatus : undefined;
  if (typeof fromTickle === 'object' && fromTickle !== null) return { status: 200, body: { ...(fromTickle as Record<string, unknown>) } };
  return null;
}

export function sendLocalAnswer(res: ServerResponse, answer: LocalAnswer): void {
  const text = JSON.stringify(answer.body);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    [LOCAL_ANSWER_HEADER]: 'local',
  };
  if (answer.retryAfterSeconds !== undefined) headers['Retry-After'] = answer.retryAfterSeconds;
  res.writeHead(answer.status, headers);
  res.end(text);
}

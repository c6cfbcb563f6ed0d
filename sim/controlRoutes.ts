import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Faults } from './faults';
import { parseBody, readBody, sendJson } from './httpUtil';
import type { IbkrLink } from './ibkrLink';
import type { LockoutStore } from './lockoutStore';
import type { Pacer } from './pacing';
import { pacingSchema } from './rulesFile';
import type { SessionRegistry } from './sessionRegistry';
import type { SessionStore } from './sessionStore';
import type { SimClock } from './simClock';
import type { SimStats } from './simStats';
import type { SimUser } from './types';
import type { WsHub } from './wsHub';

/** Fault injection and observation, not part of IBKR: `/sim/control/*` on its own port, plain JSON. */
export interface ControlDeps {
  users: Map<string, SimUser>;
  sessions: SessionStore;
  registry: SessionRegistry;
  stats: SimStats;
  hub: WsHub;
  clock: SimClock;
  faults: Faults;
  lockouts: LockoutStore;
  pacer: Pacer;
  ibkr: IbkrLink;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

const username = z.string().min(1);
const depthBody = z.strictObject({ paused: z.boolean().optional(), framesPerSecond: z.number().positive().max(1_000_000).optional() }).refine((b) => b.paused !== undefined || b.framesPerSecond !== undefined, 'give paused or framesPerSecond');
const dropBody = z.object({ username, kind: z.enum(['bridge', 'expire', 'competing', 'logout']) });
const userBody = z.object({ username });
const killBody = z.object({ username: username.optional() });
const clockBody = z.object({ advanceMs: z.number().min(0).max(400 * 24 * 3600_000) });
const loginFaultBody = z.object({ kind: z.enum(['wrong-password', 'timeout', 'page-change']), count: z.number().int().min(1).max(1000).default(1) });
const pathFaultBody = z
  .object({
    path: z.string().min(1).startsWith('/'),
    status: z.number().int().min(400).max(599).optional(),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    count: z.number().int().min(1).optional(),
  })
  .refine((b) => b.status !== undefined || b.latencyMs !== undefined, { message: 'status or latencyMs is required' });

const WEEK_MS = 7 * 24 * 3600_000;
const ibkrBody = z
  .object({
    reachable: z.boolean().optional(),
    forMs: z.number().int().min(1).max(WEEK_MS).optional(),
    clockOffsetMs: z.number().int().min(-WEEK_MS).max(WEEK_MS).optional(),
  })
  .strict()
  .refine((b) => b.reachable !== undefined || b.clockOffsetMs !== undefined, { message: 'reachable or clockOffsetMs is required' })
  .refine((b) => b.forMs === undefined || b.reachable === false, { message: 'is only allowed with reachable: false', path: ['forMs'] });

function badRequest(res: ServerResponse, error: z.ZodError): void {
  sendJson(res, 400, { error: error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') });
}

async function body<T>(req: IncomingMessage, res: ServerResponse, schema: z.ZodType<T>): Promise<T | undefined> {
  const parsed = schema.safeParse(parseBody(req, await readBody(req)));
  if (!parsed.success) {
    badRequest(res, parsed.error);
    return undefined;
  }
  return parsed.data;
}

/** Settings, counters, the box and the violation counts per IP (msLeft / refusals in the window). */
function pacingView(pacer: Pacer) {
  return { ...pacer.current, rejected: pacer.rejected, boxes: pacer.boxes, penaltyBox: pacer.boxedIps(), violations: pacer.violationCounts() };
}

export async function handleControlRoute(deps: ControlDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'GET /sim/control/stats':
      return sendJson(res, 200, deps.stats.snapshot());
    case 'GET /sim/control/sessions': {
      const out: Record<string, { sso: boolean; bridge: boolean; competing: boolean; locked: boolean }> = {};
      for (const name of deps.users.keys()) {
        const s = deps.sessions.get(name);
        out[name] = { sso: Boolean(s), bridge: Boolean(s?.bridge), competing: Boolean(s?.competing), locked: deps.lockouts.isLocked(name) };
      }
      return sendJson(res, 200, out);
    }
    case 'POST /sim/control/depth': {
      const b = await body(req, res, depthBody);
      if (!b) return;
      if (b.paused !== undefined) deps.hub.setDepthPaused(b.paused);
      if (b.framesPerSecond !== undefined) deps.hub.setDepthFramesPerSecond(b.framesPerSecond);
      return sendJson(res, 200, deps.hub.depthSettings());
    }
    case 'POST /sim/control/drop': {
      const b = await body(req, res, dropBody);
      if (!b) return;
      if (!deps.users.has(b.username)) return sendJson(res, 404, { error: 'unknown username' });
      if (!deps.sessions.drop(b.username, b.kind)) return sendJson(res, 409, { error: 'user has no session' });
      return sendJson(res, 200, { dropped: b.kind, username: b.username });
    }
    case 'POST /sim/control/compete': {
      // A login of this username somewhere else (TWS, mobile, another gateway).
      const b = await body(req, res, userBody);
      if (!b) return;
      if (!deps.users.has(b.username)) return sendJson(res, 404, { error: 'unknown username' });
      if (!deps.sessions.get(b.username)) return sendJson(res, 409, { error: 'user has no session' });
      deps.registry.claim(b.username, deps.clock.now(), 'external');
      deps.sessions.sweep(true);
      return sendJson(res, 200, { competing: true, username: b.username });
    }
    case 'POST /sim/control/ws/kill': {
      const b = await body(req, res, killBody);
      if (!b) return;
      return sendJson(res, 200, { killed: deps.hub.killSockets(b.username) });
    }
    case 'POST /sim/control/daily-reset':
      return sendJson(res, 200, { ended: deps.sessions.resetAll('reset') });
    case 'GET /sim/control/clock':
      return sendJson(res, 200, { now: deps.clock.now(), timeScale: deps.clock.timeScale });
    case 'POST /sim/control/clock': {
      const b = await body(req, res, clockBody);
      if (!b) return;
      deps.log('clock advanced', { advanceMs: b.advanceMs });
      return sendJson(res, 200, { now: deps.clock.advance(b.advanceMs), timeScale: deps.clock.timeScale });
    }
    case 'POST /sim/control/login-faults': {
      const b = await body(req, res, loginFaultBody);
      if (!b) return;
      deps.faults.addLogins(b.kind, b.count);
      return sendJson(res, 200, { pending: deps.faults.pendingLogins() });
    }
    case 'GET /sim/control/faults':
      return sendJson(res, 200, { paths: deps.faults.listPaths(), logins: deps.faults.pendingLogins() });
    case 'POST /sim/control/faults': {
      const b = await body(req, res, pathFaultBody);
      if (!b) return;
      const { count, ...rest } = b;
      return sendJson(res, 200, deps.faults.addPath({ ...rest, remaining: count }));
    }
    case 'DELETE /sim/control/faults':
      deps.faults.clear();
      return sendJson(res, 200, { cleared: true });
    case 'POST /sim/control/unlock': {
      const b = await body(req, res, userBody);
      if (!b) return;
      if (!deps.users.has(b.username)) return sendJson(res, 404, { error: 'unknown username' });
      deps.lockouts.unlock(b.username);
      return sendJson(res, 200, { unlocked: b.username });
    }
    case 'GET /sim/control/pacing':
      return sendJson(res, 200, pacingView(deps.pacer));
    case 'PUT /sim/control/pacing': {
      const b = await body(req, res, pacingSchema);
      if (!b) return;
      deps.pacer.configure(b);
      deps.log('pacing changed', { ...b });
      return sendJson(res, 200, pacingView(deps.pacer));
    }
    case 'GET /sim/control/ibkr':
      return sendJson(res, 200, deps.ibkr.view());
    case 'PUT /sim/control/ibkr': {
      const b = await body(req, res, ibkrBody);
      if (!b) return;
      return sendJson(res, 200, deps.ibkr.apply(b));
    }
    case 'DELETE /sim/control/pacing':
      deps.pacer.clearPenalties();
      return sendJson(res, 200, { cleared: true });
    default:
      return sendJson(res, 404, { error: 'unknown control endpoint' });
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseBody, readBody, sendJson } from './httpUtil';
import type { SessionStore } from './sessionStore';
import type { SimStats } from './simStats';
import type { SimUser } from './types';
import type { WsHub } from './wsHub';

/** Fault injection and observation, not part of IBKR: `/sim/control/*`, plain JSON. */
export interface ControlDeps {
  users: Map<string, SimUser>;
  sessions: SessionStore;
  stats: SimStats;
  hub: WsHub;
}

const depthBody = z.object({ paused: z.boolean() });
const dropBody = z.object({ username: z.string().min(1), kind: z.enum(['bridge', 'expire', 'competing', 'logout']) });

function badRequest(res: ServerResponse, error: z.ZodError): void {
  sendJson(res, 400, { error: error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') });
}

export async function handleControlRoute(deps: ControlDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'GET /sim/control/stats':
      return sendJson(res, 200, deps.stats.snapshot());
    case 'GET /sim/control/sessions': {
      const out: Record<string, { sso: boolean; bridge: boolean; competing: boolean }> = {};
      for (const username of deps.users.keys()) {
        const s = deps.sessions.get(username);
        out[username] = { sso: Boolean(s), bridge: Boolean(s?.bridge), competing: Boolean(s?.competing) };
      }
      return sendJson(res, 200, out);
    }
    case 'POST /sim/control/depth': {
      const parsed = depthBody.safeParse(parseBody(req, await readBody(req)));
      if (!parsed.success) return badRequest(res, parsed.error);
      deps.hub.setDepthPaused(parsed.data.paused);
      return sendJson(res, 200, { paused: parsed.data.paused });
    }
    case 'POST /sim/control/drop': {
      const parsed = dropBody.safeParse(parseBody(req, await readBody(req)));
      if (!parsed.success) return badRequest(res, parsed.error);
      const { username, kind } = parsed.data;
      if (!deps.users.has(username)) return sendJson(res, 404, { error: 'unknown username' });
      const dropped = deps.sessions.drop(username, kind);
      if (!dropped) return sendJson(res, 409, { error: 'user has no session' });
      return sendJson(res, 200, { dropped: kind, username });
    }
    default:
      return sendJson(res, 404, { error: 'unknown control endpoint' });
  }
}

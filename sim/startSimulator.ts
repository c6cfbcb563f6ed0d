import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { handleApiRoute, NOT_FOUND_HTML } from './apiRoutes';
import { handleControlRoute } from './controlRoutes';
import { DepthLadders } from './depthLadder';
import { sendHtml, sendJson, sendText } from './httpUtil';
import { handleLoginRoute } from './loginRoutes';
import { LoginTransactions } from './loginTransactions';
import { SessionStore } from './sessionStore';
import { SimStats } from './simStats';
import { loadOrCreateTlsCert } from './tlsCert';
import { TotpVerifier } from './totpVerifier';
import type { SimHandle, SimulatorOptions, SimUser } from './types';
import { WS_PATHS, WsHub } from './wsHub';

const API_PREFIX = '/v1/api/';
const PORTAL_PREFIX = '/v1/portal/';

/** Starts one simulated Client Portal Gateway (one per simulated pod). */
export async function startSimulator(opts: SimulatorOptions): Promise<SimHandle> {
  const host = opts.host ?? '127.0.0.1';
  const tls = opts.tls ?? true;
  const authDelayMs = opts.authDelayMs ?? 3000;
  const log = opts.log ?? (() => undefined);
  mkdirSync(opts.stateDir, { recursive: true });

  const users = new Map<string, SimUser>(opts.users.map((u) => [u.username, u]));
  const stats = new SimStats();
  const sessions = new SessionStore({
    authDelayMs,
    idleTimeoutMs: opts.idleTimeoutMs ?? 6 * 60_000,
    competingDelayMs: opts.competingDelayMs ?? 1000,
    log,
  });
  const levels = opts.depth?.levels ?? 5;
  const hub = new WsHub({
    sessions,
    ladders: new DepthLadders(levels),
    stats,
    depthIntervalMs: opts.depth?.intervalMs ?? 100,
    heartbeatMs: opts.heartbeatMs ?? 10_000,
    textFrames: opts.wsTextFrames ?? false,
    log,
  });
  const loginDeps = { users, transactions: new LoginTransactions(), totp: new TotpVerifier(), sessions, stats, secureCookies: tls, log };
  const apiDeps = { sessions, authDelayMs };
  const controlDeps = { users, sessions, stats, hub };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    // The gateway refuses bodies of unknown length.
    if (req.method === 'POST' && req.headers['content-length'] === undefined) {
      return sendText(res, 411, 'Length Required');
    }
    if (path.startsWith('/sim/control/')) return handleControlRoute(controlDeps, req, res, path);
    if (path.startsWith(API_PREFIX)) return handleApiRoute(apiDeps, req, res, path.slice(API_PREFIX.length));
    if (path.startsWith(PORTAL_PREFIX)) return handleApiRoute(apiDeps, req, res, path.slice(PORTAL_PREFIX.length));
    if (await handleLoginRoute(loginDeps, req, res, path)) return;
    sendHtml(res, 404, NOT_FOUND_HTML);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((err: unknown) => {
      log('request failed', { path: (req.url ?? '').split('?')[0], error: (err as Error).message });
      if (!res.headersSent) sendJson(res, 500, { error: 'failed to process request' });
      else res.destroy();
    });
  };

  let server: Server;
  if (tls) {
    const { cert, key } = await loadOrCreateTlsCert(opts.stateDir);
    server = createHttpsServer({ cert, key }, onRequest);
  } else {
    server = createHttpServer(onRequest);
  }
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (WS_PATHS.has(path)) return hub.handleUpgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}:${port}`;
  log('simulator listening', { url, users: opts.users.length });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close: () => {
      closing ??= (async () => {
        sessions.close();
        await hub.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

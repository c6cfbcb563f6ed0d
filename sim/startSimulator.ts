import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { handleApiRoute, NOT_FOUND_HTML } from './apiRoutes';
import { handleControlRoute, type ControlDeps } from './controlRoutes';
import { DEFAULT_VARIANT, DepthLadders } from './depthLadder';
import { Faults } from './faults';
import { sendAccessDenied, sendHtml, sendJson, sendText } from './httpUtil';
import { IbkrLink } from './ibkrLink';
import { ipAllowed } from './ipFilter';
import { isLocalAnswer } from './localAnswers';
import { LockoutStore } from './lockoutStore';
import { handleLoginRoute } from './loginRoutes';
import { LoginTransactions } from './loginTransactions';
import { Pacer } from './pacing';
import { SessionRegistry } from './sessionRegistry';
import { SessionStore } from './sessionStore';
import { SimClock } from './simClock';
import { SimStats } from './simStats';
import { loadOrCreateTlsCert, SIM_CERTIFICATE_KINDS } from './tlsCert';
import { TotpVerifier } from './totpVerifier';
import type { SimHandle, SimulatorOptions, SimUser } from './types';
import { WS_PATHS, WsHub } from './wsHub';

const API_PREFIX = '/v1/api/';
const PORTAL_PREFIX = '/v1/portal/';
const DAY_MS = 24 * 3600_000;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Starts one simulated Client Portal Gateway (one per simulated pod) and its control plane. */
export async function startSimulator(opts: SimulatorOptions): Promise<SimHandle> {
  const host = opts.host ?? '127.0.0.1';
  const tls = opts.tls ?? true;
  const authDelayMs = opts.authDelayMs ?? 3000;
  const log = opts.log ?? (() => undefined);
  const certificate = opts.certificate ?? 'expired';
  if (!SIM_CERTIFICATE_KINDS.includes(certificate)) throw new Error(`certificate must be one of ${SIM_CERTIFICATE_KINDS.join(', ')} (got "${String(certificate)}")`);
  const ibkrDateHeader = opts.ibkrDateHeader ?? true;
  const ibkrClockOffsetMs = opts.ibkrClockOffsetMs ?? 0;
  if (!Number.isFinite(ibkrClockOffsetMs)) throw new Error('ibkrClockOffsetMs must be a finite number of milliseconds');
  mkdirSync(opts.stateDir, { recursive: true });

  const instanceId = randomBytes(6).toString('hex');
  const clock = new SimClock(opts.timeScale ?? 1);
  const users = new Map<string, SimUser>(opts.users.map((u) => [u.username, u]));
  const stats = new SimStats();
  const registry = new SessionRegistry(opts.stateDir, instanceId);
  const sessions = new SessionStore({
    clock,
    registry,
    authDelayMs,
    idleTimeoutMs: opts.idleTimeoutMs ?? 6 * 60_000,
    competingDelayMs: opts.competingDelayMs ?? 1000,
    maxAgeMs: opts.maxSessionAgeMs ?? DAY_MS,
    dailyReset: opts.dailyReset === undefined ? { time: '00:00', timeZone: 'America/New_York' } : opts.dailyReset,
    maintenance: opts.maintenance ?? null,
    randomDrop: opts.randomDrop && opts.randomDrop.ratePerHour > 0 ? { ratePerHour: opts.randomDrop.ratePerHour, kind: opts.randomDrop.kind ?? 'bridge' } : null,
    log,
  });
  const lockouts = new LockoutStore(opts.stateDir, { maxFailures: opts.lockout?.maxFailures ?? 5, durationMs: opts.lockout?.durationMs ?? DAY_MS }, () => clock.now());
  const pacer = new Pacer(opts.pacing ?? {}, () => clock.now());
  stats.pacingRejected = () => pacer.rejected;
  stats.pacingBoxes = () => pacer.boxes;
  const faults = new Faults();
  const ibkr = new IbkrLink({ reachable: opts.ibkrReachable ?? true, clockOffsetMs: ibkrClockOffsetMs }, log);
  const variant = { ...DEFAULT_VARIANT, ...(opts.depth?.variant ?? {}) };
  const hub = new WsHub({
    sessions,
    ladders: new DepthLadders(opts.depth?.levels ?? 5, opts.depth?.tickSize ?? 0.01, variant.sizes),
    stats,
    clock,
    depthFramesPerSecond: opts.depth?.framesPerSecond ?? 1000 / (opts.depth?.intervalMs ?? 100),
    maxLaddersPerAccount: opts.depth?.maxLaddersPerAccount ?? 3,
    variant,
    heartbeatMs: opts.heartbeatMs ?? 10_000,
    smdIntervalMs: opts.smdIntervalMs ?? 500,
    textFrames: opts.wsTextFrames ?? false,
    instanceTag: instanceId.slice(0, 6),
    ibkrNow: () => ibkr.now(),
    pongWhileStalled: opts.wsPongWhileUnreachable ?? true,
    log,
  });
  hub.setStalled(!ibkr.reachable);
  ibkr.onChange((reachable) => hub.setStalled(!reachable));
  const loginDeps = {
    users,
    transactions: new LoginTransactions(() => clock.now()),
    totp: new TotpVerifier(Date.now, opts.stateDir), // TOTP codes follow real time, like the phone computing them
    sessions,
    stats,
    lockouts,
    faults,
    secureCookies: tls,
    log,
  };
  const apiDeps = { sessions, authDelayMs, tickleWithoutSession: opts.tickleWithoutSession ?? 'unauthorized', ibkrReachable: () => ibkr.reachable };
  const controlDeps: ControlDeps = { users, sessions, registry, stats, hub, clock, faults, lockouts, pacer, ibkr, log };

  /** IBKR unreachable: the request went on and nothing comes back, not even a status line, until the client gives up. */
  function holdUnanswered(req: IncomingMessage, res: ServerResponse): void {
    const release = ibkr.hold();
    res.once('close', release);
    req.resume(); // the body is read (and lost) as the gateway would forward it
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    // The gateway's own answers carry no Date header (Node would add one by itself).
    res.sendDate = false;
    if (!ipAllowed(opts.ips, req.socket.remoteAddress ?? '')) return sendAccessDenied(res);
    // The gateway refuses bodies of unknown length.
    if (req.method === 'POST' && req.headers['content-length'] === undefined) {
      return sendText(res, 411, 'Length Required');
    }
    if (!isLocalAnswer(req.method ?? 'GET', path)) {
      if (!ibkr.reachable) return holdUnanswered(req, res);
      // Passed on from IBKR, with IBKR's Date (its clock may differ from the pod's).
      if (ibkrDateHeader) res.setHeader('Date', new Date(ibkr.now()).toUTCString());
    }
    const apiPath = path.startsWith(API_PREFIX) ? path.slice(API_PREFIX.length) : path.startsWith(PORTAL_PREFIX) ? path.slice(PORTAL_PREFIX.length) : undefined;
    const fault = faults.takePath(apiPath === undefined ? [path] : [path, API_PREFIX + apiPath, PORTAL_PREFIX + apiPath]);
    if (fault) {
      if (fault.latencyMs) await sleep(fault.latencyMs);
      if (fault.status === 429) return sendJson(res, 429, { error: 'Too Many Requests', statusCode: 429 });
      if (fault.status !== undefined) return sendJson(res, fault.status, { error: 'failed to process request', statusCode: fault.status });
    }
    if (apiPath !== undefined) {
      const verdict = pacer.check(req.socket.remoteAddress ?? '', apiPath);
      if (!verdict.ok) {
        log(verdict.boxed ? 'penalty box started' : 'request paced', { path: apiPath, reason: verdict.reason, mode: pacer.current.mode });
        return sendJson(res, 429, { error: 'Too Many Requests', statusCode: 429 }, pacer.retryAfterHeader(verdict));
      }
      return handleApiRoute(apiDeps, req, res, apiPath);
    }
    if (await handleLoginRoute(loginDeps, req, res, path)) return;
    sendHtml(res, 404, NOT_FOUND_HTML);
  }

  const guard =
    (fn: (req: IncomingMessage, res: ServerResponse) => Promise<void>) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      fn(req, res).catch((err: unknown) => {
        log('request failed', { path: (req.url ?? '').split('?')[0], error: (err as Error).message });
        if (!res.headersSent) sendJson(res, 500, { error: 'failed to process request' });
        else res.destroy();
      });
    };

  let server: Server;
  if (tls) {
    const { cert, key } = await loadOrCreateTlsCert(opts.stateDir, certificate);
    server = createHttpsServer({ cert, key }, guard(route));
  } else {
    server = createHttpServer(guard(route));
  }
  // Upgrades held while IBKR is unreachable: no 101, no answer, until the client gives up.
  const heldUpgrades = new Set<Duplex>();
  function holdUpgrade(socket: Duplex): void {
    const release = ibkr.hold();
    heldUpgrades.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      release();
      heldUpgrades.delete(socket);
    });
    socket.resume();
  }
  // Websockets bypass the IP filter, as on the real gateway.
  server.on('upgrade', (req, socket, head) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (WS_PATHS.has(path)) {
      if (!ibkr.reachable) return holdUpgrade(socket);
      return hub.handleUpgrade(req, socket, head);
    }
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  const controlServer = createHttpServer(
    guard(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://sim').pathname;
      if (req.method === 'POST' && req.headers['content-length'] === undefined) return sendText(res, 411, 'Length Required');
      if (path.startsWith('/sim/control/')) return handleControlRoute(controlDeps, req, res, path);
      sendJson(res, 404, { error: 'unknown control endpoint' });
    }),
  );

  let port: number;
  let controlPort: number;
  try {
    port = await listen(server, opts.port, host);
    controlPort = await listen(controlServer, opts.controlPort ?? 0, '127.0.0.1');
  } catch (err) {
    sessions.close();
    ibkr.close();
    await hub.close();
    await Promise.all([closeServer(server), closeServer(controlServer)]);
    throw err;
  }
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}:${port}`;
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  log('simulator listening', { url, controlUrl, users: opts.users.length });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    controlUrl,
    close: () => {
      closing ??= (async () => {
        sessions.close();
        ibkr.close();
        for (const socket of heldUpgrades) socket.destroy(); // upgraded sockets are no longer the server's to close
        await hub.close();
        await Promise.all([closeServer(server), closeServer(controlServer)]);
      })();
      return closing;
    },
  };
}

import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { createProxyServer } from 'http-proxy-3';
import { metrics } from '../metrics/metrics';
import type { AppPortGateway } from './appPortGateway';
import { loadOrCreateAppPortCert } from './appPortCertificate';
import {
  gatewayUnreachable,
  localAuthStatus,
  localTickle,
  logoutRefused,
  notGatewayPath,
  pacerRefused,
  pathBlocked,
  sendLocalAnswer,
  sessionNotUsable,
  type LocalAnswer,
} from './localAnswers';
import { metricPath, OTHER_PATH } from './metricPath';
import { isPacerRefusal, type PacerRefusalLike } from './pacerRefusal';
import { classifyRequest, isWebsocketPath, WEBSOCKET_PATH } from './requestClassification';

/** pino's call shape; the port logs plain fields only (method, normalised path, status, outcome, duration). */
export interface AppPortLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface AppPortOptions {
  pod: string;
  gateway: AppPortGateway;
  /** 0 = any free port. */
  port: number;
  host?: string;
  /** Where the port's self-signed certificate lives (made on first start, reused after). */
  certDir: string;
  log: AppPortLogger;
  /** How long a request may wait for a pacing slot before it is answered 429 locally. */
  maxWaitMs?: number;
  /** How old ibflow's own tickle / auth status answer may be to be served to an app. */
  localAnswerMaxAgeMs?: number;
  /** Forward `/logout`; off by default, it would end the session ibflow keeps for everyone. */
  allowLogout?: boolean;
}

export interface AppPortHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Outcome =
  | 'forwarded'
  | 'answered_locally'
  | 'refused_not_gateway_path'
  | 'refused_logout'
  | 'refused_not_usable'
  | 'refused_blocked'
  | 'refused_paced'
  | 'gateway_unreachable'
  | 'client_gone'
  | 'failed';

/**
 * Shorter than the idle timeout of Node's HTTP server (5 s, the simulator's): an idle upstream
 * connection is dropped by us first, so a request never lands on a socket the gateway is closing.
 */
const UPSTREAM_IDLE_MS = 4_000;

/**
 * The app port: an HTTPS reverse proxy on the pod for the user's own programs, with the gateway's
 * own paths, so a client library works by changing only its port. Every forwarded REST request
 * waits its turn in the pod's one pacer; what would go over IBKR's limits, or could not help while
 * the session is not usable, is answered here and never reaches the gateway.
 */
export async function startAppPort(opts: AppPortOptions): Promise<AppPortHandle> {
  const { pod, gateway, log } = opts;
  const host = opts.host ?? '127.0.0.1';
  const maxWaitMs = opts.maxWaitMs ?? 5_000;
  const localAnswerMaxAgeMs = opts.localAnswerMaxAgeMs ?? 60_000;
  const allowLogout = opts.allowLogout ?? false;

  const tls = await loadOrCreateAppPortCert(opts.certDir);
  const upstreamIsHttps = new URL(gateway.baseUrl).protocol === 'https:';
  const agentOptions = { keepAlive: true, timeout: UPSTREAM_IDLE_MS };
  const agent = upstreamIsHttps ? new HttpsAgent({ ...agentOptions, rejectUnauthorized: gateway.verifyTls }) : new HttpAgent(agentOptions);
  const proxy = createProxyServer({
    target: gateway.baseUrl,
    secure: gateway.verifyTls,
    agent,
    // The gateway sees the Host a direct client would send.
    changeOrigin: true,
    xfwd: false,
    proxyTimeout: 30_000,
  });
  /** Client sockets of forwarded websockets: the HTTP server no longer tracks them, close() ends them. */
  const upgraded = new Set<Duplex>();
  /** Per forwarded request: what to do when the gateway's answer (its status line and headers) arrives. */
  const onAnswer = new WeakMap<IncomingMessage, (answer: IncomingMessage) => void>();
  proxy.on('proxyRes', (answer, req) => onAnswer.get(req)?.(answer));
  // Errors of requests given a callback go to it; this catches the rest (and keeps the proxy from throwing).
  proxy.on('error', (err, _req, resOrSocket) => {
    log.warn({ outcome: 'gateway_unreachable', code: (err as NodeJS.ErrnoException).code }, 'app port proxy error');
    resOrSocket.destroy();
  });
  proxy.on('econnreset', () => undefined);

  function count(kind: 'forwarded' | 'queued' | 'local' | 'unreachable', path: string): void {
    const labels = { pod, path };
    if (kind === 'forwarded') metrics.appPortForwarded.inc(labels);
    else if (kind === 'queued') metrics.appPortQueued.inc(labels);
    else if (kind === 'local') metrics.appPortAnsweredLocally.inc(labels);
    else metrics.appPortUpstreamErrors.inc(labels);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const { kind, path } = classifyRequest(method, url);
    const label = kind === 'notGateway' ? OTHER_PATH : metricPath(path);
    let outcome: Outcome = 'failed';
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 0;
      log.info({ method, path: label, status, outcome: res.writableFinished ? outcome : 'client_gone', durationMs: Math.round((performance.now() - startedAt) * 10) / 10 }, 'app port request');
    });

    const answerHere = (answer: LocalAnswer, why: Outcome): void => {
      outcome = why;
      if (why === 'answered_locally') count('local', label);
      else metrics.appPortRefused.inc({ pod, path: label, status: String(answer.status) });
      sendLocalAnswer(res, answer);
    };

    if (kind === 'notGateway') return answerHere(notGatewayPath(path), 'refused_not_gateway_path');
    if (kind === 'logout' && !allowLogout) return answerHere(logoutRefused(), 'refused_logout');
    const status = gateway.safeStatus();
    if (status !== null && status.state !== 'usable') return answerHere(sessionNotUsable(status, Date.now()), 'refused_not_usable');
    if (status?.state === 'usable') {
      const tickle = kind === 'tickle' || kind === 'authStatus' ? gateway.freshTickle(localAnswerMaxAgeMs) : null;
      if (kind === 'tickle' && tickle) return answerHere(localTickle(tickle), 'answered_locally');
      const auth = kind === 'authStatus' ? localAuthStatus(gateway.freshAuthStatus(localAnswerMaxAgeMs), tickle) : null;
      if (auth) return answerHere(auth, 'answered_locally');
    }
    const blockedMs = gateway.blockedForMs(url);
    if (blockedMs > 0) return answerHere(pathBlocked(path, blockedMs), 'refused_blocked');

    const turn = await waitForTurn(gateway, url, maxWaitMs);
    if (turn.queued) count('queued', label);
    if (turn.refusal) return answerHere(pacerRefused(path, turn.refusal), 'refused_paced');

    // From here the slot is ours: `finished` exactly once, whatever becomes of the request.
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      gateway.finished(url);
    };
    if (res.destroyed || req.destroyed) {
      release();
      outcome = 'client_gone';
      return;
    }
    res.once('close', release);
    onAnswer.set(req, (answer) => {
      gateway.observeAnswer(url, answer.statusCode ?? 0, answer.headers);
      release();
    });
    outcome = 'forwarded';
    count('forwarded', label);
    proxy.web(req, res, {}, (err) => {
      release();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      outcome = 'gateway_unreachable';
      count('unreachable', label);
      sendLocalAnswer(res, gatewayUnreachable(gateway.baseUrl, (err as NodeJS.ErrnoException).code));
    });
  }

  /** Websockets are not paced by IBKR: the one gateway websocket path is forwarded as it is. */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const method = req.method ?? 'GET';
    if (!isWebsocketPath(req.url ?? '/')) {
      metrics.appPortRefused.inc({ pod, path: OTHER_PATH, status: '404' });
      log.info({ method, path: OTHER_PATH, status: 404, outcome: 'refused_not_gateway_path', durationMs: 0 }, 'app port websocket');
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    upgraded.add(socket);
    const startedAt = performance.now();
    socket.once('close', () => {
      upgraded.delete(socket);
      log.info({ method, path: WEBSOCKET_PATH, status: 101, outcome: 'forwarded', durationMs: Math.round(performance.now() - startedAt) }, 'app port websocket closed');
    });
    count('forwarded', WEBSOCKET_PATH);
    // A fresh upstream connection per websocket: it is held for the socket's life, never pooled.
    proxy.ws(req, socket, head, { agent: false }, (err) => {
      count('unreachable', WEBSOCKET_PATH);
      log.warn({ method, path: WEBSOCKET_PATH, outcome: 'gateway_unreachable', code: (err as NodeJS.ErrnoException).code }, 'app port websocket');
      socket.destroy();
    });
  }

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ method: req.method, outcome: 'failed', error: (err as Error)?.name }, 'app port request failed');
      if (!res.headersSent) sendLocalAnswer(res, { status: 500, body: { error: 'ibflow app port: internal error' } });
      else res.destroy();
    });
  });
  server.on('upgrade', upgrade);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log.info({ pod, port }, 'app port listening');

  return {
    url: `https://${urlHost}:${port}`,
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}

/**
 * Waits for the pacer and says whether that took a turn in its queue: a slot granted at once
 * resolves before the next event-loop turn, so anything later had to wait.
 */
async function waitForTurn(gateway: AppPortGateway, url: string, maxWaitMs: number): Promise<{ queued: boolean; refusal?: PacerRefusalLike }> {
  let settled = false;
  const slot = gateway.acquire(url, { maxWaitMs, priority: 'app' });
  slot.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  const queued = !settled;
  try {
    await slot;
    return { queued };
  } catch (err) {
    if (isPacerRefusal(err)) return { queued, refusal: err };
    throw err;
  }
}


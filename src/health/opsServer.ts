import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { registry as defaultRegistry } from '../metrics/metrics';

export interface ReadinessCheck {
  name: string;
  /** true = ready; a string = not ready, and why (ibflow's own words; never secrets). */
  check: () => boolean | string | Promise<boolean | string>;
}

export interface OpsServerOptions {
  port: number;
  /** Default 0.0.0.0 so Prometheus and kubelet probes reach it; nothing secret is served. */
  host?: string;
  registry?: Registry;
  readiness?: ReadinessCheck[];
}

export interface OpsServer {
  port: number;
  url: string;
  /** After this, /healthz and /readyz answer 503 (graceful shutdown). */
  markStopping(): void;
  close(): Promise<void>;
}

/**
 * One small HTTP server per worker process:
 * - `GET /metrics` Prometheus text format;
 * - `GET /healthz` liveness: 200 while the process serves requests and is not shutting down;
 * - `GET /readyz` readiness: 200 when every readiness check passes, else 503 with the reasons.
 */
export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const registry = opts.registry ?? defaultRegistry;
  const checks = opts.readiness ?? [];
  let stopping = false;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(200, text, registry.contentType),
        () => send(500, 'metrics unavailable\n'),
      );
      return;
    }
    if (path === '/healthz' || path === '/livez') return stopping ? send(503, 'stopping\n') : send(200, 'ok\n');
    if (path === '/readyz') {
      if (stopping) return send(503, JSON.stringify({ ready: false, checks: { process: 'stopping' } }) + '\n', 'application/json');
      void Promise.all(
        checks.map(async (c) => {
          try {
            return [c.name, await c.check()] as const;
          } catch {
            return [c.name, 'check failed'] as const;
          }
        }),
      ).then((results) => {
        const ready = results.every(([, r]) => r === true);
        const body = Object.fromEntries(results.map(([n, r]) => [n, r === true ? 'ok' : r === false ? 'not ready' : r]));
        send(ready ? 200 : 503, JSON.stringify({ ready, checks: body }) + '\n', 'application/json');
      });
      return;
    }
    send(404, 'not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    markStopping() {
      stopping = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

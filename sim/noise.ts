/**
 * A co-tenant traffic generator: another program on the pod calling the gateway's REST API the
 * way trading bots, notebooks and session keepers do, to rehearse a shared pacing budget
 * (issue 12). A library (the soak imports it) and `ibflow sim-noise`. Importing it starts nothing.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export const NOISE_PATTERNS = ['tickle', 'pair', 'mixed', 'burst'] as const;
export type NoisePattern = (typeof NOISE_PATTERNS)[number];

export interface NoiseOptions {
  /** Base URL of the gateway (or of an app port), e.g. https://localhost:5000. */
  target: string;
  /**
   * `tickle`: tickles per second. `pair`: pairs per second (unless `everyMs`). `mixed`: requests
   * per second over five paths. `burst`: requests per burst, sent within one second.
   */
  rate: number;
  pattern: NoisePattern;
  durationMs: number;
  /** Accept the gateway's self-signed certificate; only for localhost, 127.0.0.1 and ::1. */
  insecure?: boolean;
  signal?: AbortSignal;
  /** `pair`: time between the starts of two pairs (default 1000/rate). `burst`: between the starts of two bursts (default 5000). */
  everyMs?: number;
  /** `pair`: time between the two tickles of a pair (default 100 ms, i.e. "within a second"). */
  pairGapMs?: number;
  /** A request without an answer after this long counts as an error (default 10 s). */
  requestTimeoutMs?: number;
  /** Called with the running totals every `progressEveryMs` (default 1000). */
  onProgress?: (summary: NoiseSummary) => void;
  progressEveryMs?: number;
}

export interface NoiseSummary {
  pattern: NoisePattern;
  /** requests started */
  sent: number;
  /** answers by HTTP status, e.g. {"200": 41, "429": 9} */
  byStatus: Record<string, number>;
  /** requests without an answer (connection refused, TLS, timeout) */
  errors: number;
  /** errors by kind (e.g. ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, ETIMEDOUT) */
  errorKinds: Record<string, number>;
  /** request start → end of the answer, over answered requests (0 without any) */
  latencyMs: { p50: number; p99: number };
  /** answers by API path and status, e.g. {"tickle": {"200": 10, "429": 10}} */
  byPath: Record<string, Record<string, number>>;
  elapsedMs: number;
}

export interface NoiseRequest {
  method: 'GET' | 'POST';
  /** path after /v1/api/ */
  path: string;
}

const TICKLE: NoiseRequest = { method: 'POST', path: 'tickle' };
/** What a typical client does besides tickling: status, accounts, validate. */
export const MIXED_REQUESTS: readonly NoiseRequest[] = [
  { method: 'GET', path: 'iserver/auth/status' },
  TICKLE,
  { method: 'GET', path: 'iserver/accounts' },
  { method: 'GET', path: 'portfolio/accounts' },
  { method: 'GET', path: 'sso/validate' },
];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Checks options; errors name the option at fault. */
export function validateNoiseOptions(opts: NoiseOptions): URL {
  let url: URL;
  try {
    url = new URL(opts.target);
  } catch {
    throw new Error(`target: "${opts.target}" is not a URL; use e.g. https://localhost:5000`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`target: must be an http:// or https:// URL (got ${url.protocol})`);
  if (opts.insecure && url.protocol === 'https:' && !LOOPBACK_HOSTS.has(url.hostname.toLowerCase())) {
    throw new Error(`insecure: TLS checks may only be skipped for localhost, 127.0.0.1 or ::1 (got ${url.hostname})`);
  }
  if (!(NOISE_PATTERNS as readonly string[]).includes(opts.pattern)) throw new Error(`pattern: must be one of ${NOISE_PATTERNS.join(', ')} (got "${opts.pattern}")`);
  if (!(opts.rate > 0) || !Number.isFinite(opts.rate) || opts.rate > 10_000) throw new Error(`rate: must be a number above 0 and at most 10000 (got ${opts.rate})`);
  if (!(opts.durationMs > 0) || !Number.isFinite(opts.durationMs)) throw new Error(`duration: must be more than zero (got ${opts.durationMs} ms)`);
  if (opts.everyMs !== undefined && !(opts.everyMs > 0)) throw new Error(`everyMs: must be more than zero (got ${opts.everyMs})`);
  return url;
}

/** When each request of a pattern is sent, in ms from the start, up to `durationMs` (excluded). */
export function* noisePlan(opts: Pick<NoiseOptions, 'pattern' | 'rate' | 'durationMs' | 'everyMs' | 'pairGapMs'>): Generator<{ atMs: number; request: NoiseRequest }> {
  const { rate, durationMs } = opts;
  switch (opts.pattern) {
    case 'tickle':
      for (let i = 0; i * (1000 / rate) < durationMs; i++) yield { atMs: i * (1000 / rate), request: TICKLE };
      return;
    case 'mixed':
      for (let i = 0; i * (1000 / rate) < durationMs; i++) yield { atMs: i * (1000 / rate), request: MIXED_REQUESTS[i % MIXED_REQUESTS.length]! };
      return;
    case 'pair': {
      // "A tickle, then a health check that tickles again": two tickles less than a second apart.
      const every = opts.everyMs ?? 1000 / rate;
      const gap = opts.pairGapMs ?? 100;
      for (let start = 0; start < durationMs; start += every) {
        yield { atMs: start, request: TICKLE };
        if (start + gap < durationMs) yield { atMs: start + gap, request: TICKLE };
      }
      return;
    }
    case 'burst': {
      const every = Math.max(opts.everyMs ?? 5000, 1000);
      const n = Math.max(1, Math.round(rate));
      let k = 0;
      for (let start = 0; start < durationMs; start += every) {
        for (let i = 0; i < n && start + (i * 1000) / n < durationMs; i++) {
          yield { atMs: start + (i * 1000) / n, request: MIXED_REQUESTS[k++ % MIXED_REQUESTS.length]! };
        }
      }
      return;
    }
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
  const wait = deadline - Date.now();
  if (wait <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, wait);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Sends the pattern's requests on time (not waiting for answers, like an independent program) and sums up the answers. */
export async function runNoise(opts: NoiseOptions): Promise<NoiseSummary> {
  const base = validateNoiseOptions(opts);
  const tls = base.protocol === 'https:';
  const agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: !opts.insecure }) : new HttpAgent({ keepAlive: true, maxSockets: 32 });
  const send = tls ? httpsRequest : httpRequest;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const started = Date.now();
  const latencies: number[] = [];
  const summary: NoiseSummary = { pattern: opts.pattern, sent: 0, byStatus: {}, errors: 0, errorKinds: {}, latencyMs: { p50: 0, p99: 0 }, byPath: {}, elapsedMs: 0 };
  const inFlight = new Set<Promise<void>>();
  const snapshot = (): NoiseSummary => {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      ...summary,
      byStatus: { ...summary.byStatus },
      errorKinds: { ...summary.errorKinds },
      byPath: Object.fromEntries(Object.entries(summary.byPath).map(([k, v]) => [k, { ...v }])),
      latencyMs: { p50: Math.round(percentile(sorted, 50) * 10) / 10, p99: Math.round(percentile(sorted, 99) * 10) / 10 },
      elapsedMs: Date.now() - started,
    };
  };

  const fire = (r: NoiseRequest): void => {
    summary.sent += 1;
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => {
      const finish = (res?: IncomingMessage, err?: NodeJS.ErrnoException) => {
        if (res) {
          const status = String(res.statusCode ?? 0);
          summary.byStatus[status] = (summary.byStatus[status] ?? 0) + 1;
          const perPath = (summary.byPath[r.path] ??= {});
          perPath[status] = (perPath[status] ?? 0) + 1;
          latencies.push(performance.now() - t0);
        } else {
          summary.errors += 1;
          const kind = err?.code ?? err?.message ?? 'error';
          summary.errorKinds[kind] = (summary.errorKinds[kind] ?? 0) + 1;
        }
        resolve();
      };
      // Every request carries a Content-Length: the gateway refuses bodies of unknown length.
      const req = send(new URL(`/v1/api/${r.path}`, base), { method: r.method, agent, headers: { 'Content-Length': '0', Accept: 'application/json' } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => finish(res));
        res.on('error', (e: NodeJS.ErrnoException) => finish(undefined, e));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => finish(undefined, e));
      req.end();
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const progress = opts.onProgress ? setInterval(() => opts.onProgress!(snapshot()), opts.progressEveryMs ?? 1000) : undefined;
  try {
    for (const { atMs, request } of noisePlan(opts)) {
      if (opts.signal?.aborted) break;
      await sleepUntil(started + atMs, opts.signal);
      if (opts.signal?.aborted) break;
      fire(request);
    }
    // The run lasts its whole duration even when the last request goes out early.
    await sleepUntil(started + opts.durationMs, opts.signal);
    await Promise.all([...inFlight]);
  } finally {
    if (progress) clearInterval(progress);
    agent.destroy();
  }
  return snapshot();
}

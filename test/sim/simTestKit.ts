/** Helpers for the simulator tests: real HTTPS/ws clients against a simulator on a free port. */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CERTIFICATE_FILES, loadOrCreateTlsCert, type SimCertificateKind } from '../../sim/tlsCert';
import { totpCodeAt } from '../../sim/totpEngine';
import { startSimulator, type SimHandle, type SimulatorOptions, type SimUser } from '../../sim';

export const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

export const PAPER_USER: SimUser = { username: 'paperuser', password: 'paper-pw', mode: 'paper', accounts: ['DU111111'] };
export const LIVE_USER: SimUser = { username: 'liveuser', password: 'live-pw', mode: 'live', totpSecret: TOTP_SECRET, accounts: ['U2222222', 'U3333333'] };
export const MULTI_FACTOR_USER: SimUser = {
  username: 'multiuser',
  password: 'multi-pw',
  mode: 'live',
  totpSecret: TOTP_SECRET,
  secondFactors: ['IB Key', 'Mobile Authenticator App'],
  accounts: ['U4444444'],
};

export interface TestSim extends SimHandle {
  stateDir: string;
  logs: { msg: string; fields?: Record<string, unknown> }[];
  stop(): Promise<void>;
}

/**
 * Generating a 2048-bit self-signed certificate takes 0.5-1.5 s; every test simulator would pay it.
 * One certificate of each kind, made once in a shared temp folder, is copied into each new
 * stateDir's `tls/` (where the simulator caches its own), so the simulator loads it as it would its cached one.
 */
const SHARED_TLS_DIRS: Record<SimCertificateKind, string> = {
  fresh: join(tmpdir(), 'ibflow-test-sim-tls'),
  expired: join(tmpdir(), 'ibflow-test-sim-tls-expired'),
};
async function sharedCertificateDir(kind: SimCertificateKind): Promise<string> {
  const shared = SHARED_TLS_DIRS[kind];
  if (existsSync(join(shared, CERTIFICATE_FILES[kind].certFile))) return shared;
  // Made aside and renamed into place whole, so a concurrent run never pairs one key with another cert.
  const scratch = mkdtempSync(join(tmpdir(), 'ibflow-test-sim-tls-'));
  await loadOrCreateTlsCert(scratch, kind);
  try {
    renameSync(join(scratch, 'tls'), shared);
  } catch {
    // Another run got there first; its folder is complete.
  }
  rmSync(scratch, { recursive: true, force: true });
  return shared;
}
async function seedCertificate(stateDir: string, kind: SimCertificateKind): Promise<void> {
  const { certFile, keyFile } = CERTIFICATE_FILES[kind];
  const target = join(stateDir, 'tls');
  if (existsSync(join(target, certFile))) return;
  const shared = await sharedCertificateDir(kind);
  mkdirSync(target, { recursive: true });
  copyFileSync(join(shared, keyFile), join(target, keyFile));
  copyFileSync(join(shared, certFile), join(target, certFile));
}

export interface TestSimOptions extends Partial<SimulatorOptions> {
  /** Let the simulator generate its own certificate (the test of that path); default: a shared one. */
  generateCertificate?: boolean;
}

export async function startTestSim(options: TestSimOptions = {}): Promise<TestSim> {
  const { generateCertificate = false, ...overrides } = options;
  const stateDir = overrides.stateDir ?? mkdtempSync(join(tmpdir(), 'ibflow-sim-'));
  if (overrides.tls !== false && !generateCertificate) await seedCertificate(stateDir, overrides.certificate ?? 'expired');
  const logs: TestSim['logs'] = [];
  const handle = await startSimulator({
    port: 0,
    stateDir,
    users: [PAPER_USER, LIVE_USER, MULTI_FACTOR_USER],
    authDelayMs: 150,
    // Tests poll quickly; pacing has its own tests. No daily reset at an unlucky wall-clock time.
    pacing: { enabled: false },
    dailyReset: null,
    log: (msg, fields) => logs.push({ msg, fields }),
    ...overrides,
  });
  return {
    ...handle,
    stateDir,
    logs,
    stop: async () => {
      await handle.close();
      if (!overrides.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface HttpOptions {
  body?: string | object;
  headers?: Record<string, string>;
  /** Send the body chunked, i.e. without Content-Length. */
  chunked?: boolean;
  form?: Record<string, string>;
}

export function http(baseUrl: string, method: string, path: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const url = new URL(path, baseUrl);
  let body: string | undefined;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (typeof opts.body === 'string') {
    body = opts.body;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  if (method === 'POST' && !opts.chunked) headers['Content-Length'] = String(Buffer.byteLength(body ?? ''));
  const requestFn = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = requestFn(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.chunked) req.setHeader('Transfer-Encoding', 'chunked');
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The authenticator-app code (otplib's TOTP engine) for a step offset (-1, 0, +1) from now. */
export function totpCode(secret: string = TOTP_SECRET, stepOffset = 0): string {
  return totpCodeAt(secret, Math.floor(Date.now() / 1000) + stepOffset * 30);
}

/** What the login page's script does, as plain HTTP: Authenticator (credentials, code) → Dispatcher. */
export async function loginViaHttp(sim: { url: string }, user: SimUser, opts: { code?: string; paper?: boolean } = {}): Promise<{ dispatcher: HttpResult; steps: HttpResult[] }> {
  const steps: HttpResult[] = [];
  const first = await http(sim.url, 'POST', '/sso/Authenticator', {
    body: { username: user.username, password: user.password, paper: opts.paper ?? user.mode === 'paper' },
  });
  steps.push(first);
  let result = first.json<{ status: string; tx?: string; message?: string }>();
  if (result.status === 'second_factor') {
    const second = await http(sim.url, 'POST', '/sso/Authenticator', { body: { tx: result.tx, code: opts.code ?? totpCode(user.totpSecret) } });
    steps.push(second);
    result = second.json();
  }
  if (result.status !== 'ok') throw new Error(`login failed at Authenticator: ${JSON.stringify(result)}`);
  const dispatcher = await http(sim.url, 'POST', '/sso/Dispatcher', { form: { tx: result.tx ?? '' } });
  return { dispatcher, steps };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until the predicate holds (or fails the test after timeoutMs). */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export interface ReceivedFrame {
  binary: boolean;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A websocket client that records every frame it receives. */
export class WsProbe {
  readonly frames: ReceivedFrame[] = [];
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
      this.frames.push({ binary: isBinary, data: JSON.parse(text) });
    });
  }

  static open(baseUrl: string, path = '/v1/api/ws', headers: Record<string, string> = {}): Promise<WsProbe> {
    const url = baseUrl.replace(/^http/, 'ws') + path;
    const ws = new WebSocket(url, { rejectUnauthorized: false, headers });
    const probe = new WsProbe(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(probe));
      ws.once('error', reject);
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Frames matching the predicate; waits until at least `count` arrived. */
  async waitFor(pred: (f: any) => boolean, count = 1, timeoutMs = 5000): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return eventually(() => {
      const found = this.frames.map((f) => f.data).filter(pred);
      return found.length >= count ? found : undefined;
    }, timeoutMs, `websocket frames (${count})`);
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.terminate();
    });
  }
}

/**
 * The app port in front of a real in-process simulator: forwarding, TLS, websocket and bodies are
 * real; the pod's view of the gateway is a fake around a real GatewayPacer.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAppPort, type AppPortHandle, type AppPortLogger } from '../../../src/appPort/appPortServer';
import { CERT_FILE } from '../../../src/appPort/appPortCertificate';
import { registry, resetMetrics } from '../../../src/metrics/metrics';
import { eventually, http, loginViaHttp, PAPER_USER, startTestSim, WsProbe, type HttpResult, type TestSim } from '../../sim/simTestKit';
import { PacerRefusal } from '../../../src/gateway/gatewayPacer';
import { FakeAppPortGateway, USABLE } from './fakeAppPortGateway';

interface LogLine {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  msg: string;
}

function recordingLogger(lines: LogLine[]): AppPortLogger {
  return {
    info: (fields, msg) => lines.push({ level: 'info', fields, msg }),
    warn: (fields, msg) => lines.push({ level: 'warn', fields, msg }),
  };
}

let certDir: string;

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), 'ibflow-app-port-cert-'));
});
afterAll(() => rmSync(certDir, { recursive: true, force: true }));

interface Rig {
  sim: TestSim;
  gateway: FakeAppPortGateway;
  port: AppPortHandle;
  logs: LogLine[];
  stop(): Promise<void>;
}

async function startRig(opts: { pacing?: boolean; maxWaitMs?: number; allowLogout?: boolean; verifyTls?: boolean; login?: boolean } = {}): Promise<Rig> {
  const sim = await startTestSim(opts.pacing ? { pacing: { enabled: true } } : {});
  if (opts.login !== false) {
    await loginViaHttp(sim, PAPER_USER);
    await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
    await eventually(async () => (await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().authenticated === true, 5000, 'brokerage session');
  }
  const gateway = new FakeAppPortGateway(sim.url, { verifyTls: opts.verifyTls });
  const logs: LogLine[] = [];
  const port = await startAppPort({ pod: 'pod-a', gateway, port: 0, certDir, log: recordingLogger(logs), maxWaitMs: opts.maxWaitMs, allowLogout: opts.allowLogout });
  return {
    sim,
    gateway,
    port,
    logs,
    stop: async () => {
      await port.close();
      await sim.stop();
    },
  };
}

async function simPacingRejected(sim: TestSim): Promise<number> {
  return (await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json<{ rejected: number }>().rejected;
}

/** A GET with the path exactly as given (a URL parser would resolve `..` before sending). */
function rawGet(baseUrl: string, path: string): Promise<HttpResult> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ hostname, port, path, method: 'GET', rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('app port forwarding', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(() => rig.stop());
  beforeEach(() => {
    rig.gateway.status = null;
    rig.gateway.tickle = null;
    rig.gateway.authStatus = null;
    rig.gateway.blocked.clear();
    rig.gateway.acquireOverride = null;
  });

  test('query strings and request bodies reach the gateway intact, through the pacer, with one finished per request', async () => {
    const before = { acquired: rig.gateway.acquired.length, finished: rig.gateway.finishedPaths.length };
    const byQuery = await http(rig.port.url, 'GET', '/v1/api/iserver/secdef/search?symbol=AAPL');
    const noQuery = await http(rig.port.url, 'GET', '/v1/api/iserver/secdef/search');
    const byBody = await http(rig.port.url, 'POST', '/v1/api/iserver/secdef/search', { body: { symbol: 'AAPL' } });
    const emptyBody = await http(rig.port.url, 'POST', '/v1/api/iserver/secdef/search', { body: {} });
    expect(byQuery.status).toBe(200);
    expect(byQuery.json()[0]).toMatchObject({ symbol: 'AAPL' });
    expect(noQuery.status).toBe(400);
    expect(byBody.status).toBe(200);
    expect(byBody.json()[0]).toMatchObject({ symbol: 'AAPL' });
    expect(emptyBody.status).toBe(400);
    expect(rig.gateway.acquired.slice(before.acquired).map((a) => a.path)).toEqual([
      '/v1/api/iserver/secdef/search?symbol=AAPL',
      '/v1/api/iserver/secdef/search',
      '/v1/api/iserver/secdef/search',
      '/v1/api/iserver/secdef/search',
    ]);
    expect(rig.gateway.acquired.at(-1)?.opts).toEqual({ maxWaitMs: 5_000, priority: 'app' });
    expect(rig.gateway.finishedPaths.length - before.finished).toBe(4);
    expect(rig.gateway.observed.slice(-4).map((o) => o.status)).toEqual([200, 400, 200, 400]);
  });

  test('the /v1/portal spelling is forwarded too, and the answer is not marked local', async () => {
    const res = await http(rig.port.url, 'GET', '/v1/portal/portfolio/accounts');
    expect(res.status).toBe(200);
    expect(res.json()[0]).toMatchObject({ id: 'DU111111' });
    expect(res.headers['x-ibflow-answer']).toBeUndefined();
  });

  test('an unknown safe status (null) forwards; a tickle without a fresh one of ibflow is forwarded too', async () => {
    const res = await http(rig.port.url, 'POST', '/v1/api/tickle');
    expect(res.status).toBe(200);
    expect(res.headers['x-ibflow-answer']).toBeUndefined();
    expect(res.json()).toHaveProperty('session');
  });

  test('a 429 from the gateway is passed on and fed to observeAnswer', async () => {
    await http(rig.sim.controlUrl, 'POST', '/sim/control/faults', { body: { path: '/v1/api/iserver/accounts', status: 429, count: 1 } });
    const res = await http(rig.port.url, 'GET', '/v1/api/iserver/accounts');
    expect(res.status).toBe(429);
    expect(rig.gateway.observed.at(-1)).toMatchObject({ path: '/v1/api/iserver/accounts', status: 429 });
  });

  test('paths that are not the gateway API get a 404 naming the path and never reach the pacer', async () => {
    const acquired = rig.gateway.acquired.length;
    for (const path of ['/sso/Login', '/v1/api/../sso/Login', '/v1/api/%2e%2e/sso/Dispatcher', '/metrics']) {
      const res = await rawGet(rig.port.url, path);
      expect(res.status).toBe(404);
      expect(res.json().error).toContain(path);
      expect(res.headers['x-ibflow-answer']).toBe('local');
    }
    expect(rig.gateway.acquired.length).toBe(acquired);
  });

  test('logout is refused locally and the session stays', async () => {
    for (const method of ['POST', 'GET']) {
      const res = await http(rig.port.url, method, '/v1/api/logout');
      expect(res.status).toBe(403);
      expect(res.json().error).toMatch(/logout refused/);
    }
    expect((await http(rig.sim.url, 'GET', '/v1/api/tickle')).status).toBe(200);
  });

  test('not usable: 503 with the safe status and Retry-After, nothing forwarded', async () => {
    const acquired = rig.gateway.acquired.length;
    const nextAttemptAt = new Date(Date.now() + 90_000).toISOString();
    rig.gateway.status = { connectionId: 'demo-paper', state: 'unavailable', reason: 'another client on this gateway exceeded IBKR pacing', nextAttemptAt };
    for (const path of ['/v1/api/iserver/accounts', '/v1/api/tickle', '/v1/portal/iserver/auth/status']) {
      const res = await http(rig.port.url, 'GET', path);
      expect(res.status).toBe(503);
      expect(res.json().ibflow).toEqual({ connection: 'demo-paper', state: 'unavailable', reason: 'another client on this gateway exceeded IBKR pacing', nextAttemptAt });
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(89);
    }
    rig.gateway.status = { connectionId: 'demo-paper', state: 'manual_action_required', reason: 'a person must log in', nextAttemptAt: null };
    const manual = await http(rig.port.url, 'GET', '/v1/api/iserver/accounts');
    expect(manual.status).toBe(503);
    expect(manual.json().ibflow.state).toBe('manual_action_required');
    expect(Number(manual.headers['retry-after'])).toBeGreaterThan(0);
    expect(rig.gateway.acquired.length).toBe(acquired);
  });

  test('tickles far faster than every 100 ms are answered from ibflow’s fresh tickle; the gateway sees none', async () => {
    rig.gateway.status = USABLE;
    rig.gateway.tickle = { body: { session: 'abc', ssoExpires: 500_000, collission: false, iserver: { authStatus: { authenticated: true, competing: false, connected: true } } }, receivedAt: Date.now() - 2_000 };
    const acquired = rig.gateway.acquired.length;
    const answers: HttpResult[] = [];
    for (let i = 0; i < 20; i++) answers.push(await http(rig.port.url, i % 2 ? 'GET' : 'POST', i % 3 ? '/v1/api/tickle' : '/v1/portal/tickle'));
    answers.push(...(await Promise.all(Array.from({ length: 10 }, () => http(rig.port.url, 'POST', '/v1/api/tickle')))));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers['x-ibflow-answer']).toBe('local');
      expect(res.json().session).toBe('abc');
      expect(res.json().ssoExpires).toBeLessThanOrEqual(498_000);
      expect(res.json().ssoExpires).toBeGreaterThan(400_000);
    }
    expect(rig.gateway.acquired.length).toBe(acquired);
  });

  test('auth status is answered from ibflow’s own, else from its fresh tickle; a stale one is forwarded', async () => {
    rig.gateway.status = USABLE;
    rig.gateway.authStatus = { body: { authenticated: true, competing: false, connected: true, message: 'own' }, receivedAt: Date.now() };
    const own = await http(rig.port.url, 'GET', '/v1/api/iserver/auth/status');
    expect(own.headers['x-ibflow-answer']).toBe('local');
    expect(own.json().message).toBe('own');

    rig.gateway.authStatus = null;
    rig.gateway.tickle = { body: { session: 'abc', iserver: { authStatus: { authenticated: true, message: 'from tickle' } } }, receivedAt: Date.now() };
    const fromTickle = await http(rig.port.url, 'POST', '/v1/portal/iserver/auth/status');
    expect(fromTickle.headers['x-ibflow-answer']).toBe('local');
    expect(fromTickle.json().message).toBe('from tickle');

    rig.gateway.tickle = { body: { session: 'abc', iserver: { authStatus: { authenticated: true } } }, receivedAt: Date.now() - 120_000 };
    const acquired = rig.gateway.acquired.length;
    const forwarded = await http(rig.port.url, 'GET', '/v1/api/iserver/auth/status');
    expect(forwarded.headers['x-ibflow-answer']).toBeUndefined();
    expect(forwarded.json()).toHaveProperty('serverInfo');
    expect(rig.gateway.acquired.length).toBe(acquired + 1);
  });

  test('a blocked path gets a local 429 with Retry-After in whole seconds; the pacer is not asked', async () => {
    rig.gateway.blocked.set('/v1/api/iserver/accounts', 4_200);
    const acquired = rig.gateway.acquired.length;
    const res = await http(rig.port.url, 'GET', '/v1/api/iserver/accounts?x=1');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['x-ibflow-answer']).toBe('local');
    expect(res.json().error).toMatch(/refusing \/v1\/api\/iserver\/accounts/);
    expect(rig.gateway.acquired.length).toBe(acquired);
  });

  test('a pacer refusal becomes a local 429 with Retry-After from retryAfterMs', async () => {
    rig.gateway.acquireOverride = () => Promise.reject(new PacerRefusal('/iserver/accounts', 'queue_full', 2_500, 'test'));
    const res = await http(rig.port.url, 'GET', '/v1/api/iserver/accounts');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    expect(res.json().error).toMatch(/queue is full/);
    expect(res.json().retryAfterMs).toBe(2_500);
  });

  test('a client gone while waiting for the pacer: nothing is forwarded and the slot is released once', async () => {
    let grant!: () => void;
    rig.gateway.acquireOverride = () => new Promise<void>((resolve) => (grant = resolve));
    const finished = rig.gateway.finishedPaths.length;
    const observed = rig.gateway.observed.length;
    const url = new URL('/v1/api/iserver/accounts', rig.port.url);
    const req = httpsRequest(url, { rejectUnauthorized: false, agent: false });
    req.on('error', () => undefined);
    req.end();
    await eventually(() => grant !== undefined, 5000, 'the request to reach the pacer');
    req.destroy();
    await eventually(() => rig.logs.some((l) => l.fields.outcome === 'client_gone'), 5000, 'the port to see the client go');
    grant();
    await eventually(() => rig.gateway.finishedPaths.length === finished + 1, 5000, 'finished');
    expect(rig.gateway.observed.length).toBe(observed);
  });

  test('a client gone while the gateway is answering: finished exactly once', async () => {
    // A path without a pacing rule of its own: an earlier test's request cannot hold it back.
    await http(rig.sim.controlUrl, 'POST', '/sim/control/faults', { body: { path: '/v1/api/one/user', latencyMs: 2_000, count: 1 } });
    const finished = rig.gateway.finishedPaths.length;
    const req = httpsRequest(new URL('/v1/api/one/user', rig.port.url), { rejectUnauthorized: false, agent: false });
    req.on('error', () => undefined);
    req.end();
    await eventually(() => rig.gateway.granted.at(-1) === '/v1/api/one/user' && rig.gateway.finishedPaths.length === finished, 15_000, 'the request to be forwarded');
    req.destroy();
    await eventually(() => rig.gateway.finishedPaths.length === finished + 1, 5000, 'finished');
    // The gateway's late answer (if the request reached it before the client left) must not count the slot a second time.
    await new Promise((r) => setTimeout(r, 2_300));
    await http(rig.sim.controlUrl, 'DELETE', '/sim/control/faults');
    await http(rig.port.url, 'GET', '/v1/api/iserver/accounts');
    expect(rig.gateway.finishedPaths.length).toBe(finished + 2);
  });

  test('metrics count forwarded, answered locally and refused per pod and normalised path', async () => {
    resetMetrics();
    rig.gateway.status = USABLE;
    rig.gateway.tickle = { body: { session: 'abc', ssoExpires: 1000 }, receivedAt: Date.now() };
    await http(rig.port.url, 'GET', '/v1/api/iserver/contract/265598/info');
    await http(rig.port.url, 'GET', '/v1/api/iserver/contract/8314/info');
    await http(rig.port.url, 'POST', '/v1/api/tickle');
    await http(rig.port.url, 'POST', '/v1/api/logout');
    await http(rig.port.url, 'GET', '/no/such/path/12345');
    const text = await registry.metrics();
    expect(metricValue(text, 'ibflow_app_port_forwarded_total', { pod: 'pod-a', path: '/v1/api/iserver/contract/:id/info' })).toBe(2);
    expect(metricValue(text, 'ibflow_app_port_answered_locally_total', { pod: 'pod-a', path: '/v1/api/tickle' })).toBe(1);
    expect(metricValue(text, 'ibflow_app_port_refused_total', { pod: 'pod-a', path: '/v1/api/logout', status: '403' })).toBe(1);
    expect(metricValue(text, 'ibflow_app_port_refused_total', { pod: 'pod-a', path: 'other', status: '404' })).toBe(1);
    expect(text).not.toContain('265598');
    expect(text).not.toContain('12345');
  });

  test('the websocket is forwarded unpaced: the greeting arrives and tic is answered', async () => {
    const acquired = rig.gateway.acquired.length;
    const probe = await WsProbe.open(rig.port.url);
    try {
      await probe.waitFor((f) => f.topic === 'system' && f.success === PAPER_USER.username);
      probe.send('tic');
      const [tic] = await probe.waitFor((f) => f.topic === 'tic');
      expect(tic.alive).toBe(true);
    } finally {
      await probe.close();
    }
    expect(rig.gateway.acquired.length).toBe(acquired);
    await expect(WsProbe.open(rig.port.url, '/v1/api/other')).rejects.toThrow(/404/);
  });

  test('the log has method, normalised path, status, outcome and duration, and never a cookie, header, query or body value', async () => {
    rig.logs.length = 0;
    rig.gateway.status = USABLE;
    rig.gateway.tickle = { body: { session: 'abc', ssoExpires: 1000 }, receivedAt: Date.now() };
    const secret = { headers: { Cookie: 'canary=CANARY-COOKIE-7f3a; x=1', 'X-Session-Token': 'CANARY-HEADER-91bd', Authorization: 'Bearer CANARY-AUTH-22c1' } };
    await http(rig.port.url, 'POST', '/v1/api/iserver/secdef/search?symbol=AAPL&token=CANARY-QUERY-5e0d', { ...secret, body: { symbol: 'AAPL', note: 'CANARY-BODY-0a9e' } });
    await http(rig.port.url, 'GET', '/v1/api/iserver/contract/265598/info?k=CANARY-QUERY-5e0d', secret);
    await http(rig.port.url, 'POST', '/v1/api/tickle', secret);
    await http(rig.port.url, 'GET', '/v1/api/logout?CANARY-QUERY-5e0d', secret);
    await http(rig.port.url, 'GET', '/CANARY-PATH-44aa?CANARY-QUERY-5e0d', secret);
    const probe = await WsProbe.open(rig.port.url, '/v1/api/ws?CANARY-QUERY-5e0d', secret.headers);
    await probe.waitFor((f) => f.topic === 'system');
    await probe.close();
    await eventually(() => rig.logs.some((l) => l.msg === 'app port websocket closed'), 5000, 'the websocket log line');
    const text = JSON.stringify(rig.logs);
    expect(text).not.toMatch(/CANARY/);
    const forwarded = rig.logs.find((l) => l.fields.path === '/v1/api/iserver/contract/:id/info');
    expect(forwarded?.fields).toEqual({ method: 'GET', path: '/v1/api/iserver/contract/:id/info', status: 404, outcome: 'forwarded', durationMs: expect.any(Number) });
    expect(rig.logs.find((l) => l.fields.path === '/v1/api/tickle')?.fields.outcome).toBe('answered_locally');
    expect(rig.logs.find((l) => l.fields.path === '/v1/api/logout')?.fields).toMatchObject({ status: 403, outcome: 'refused_logout' });
  });
});

describe('app port pacing under a burst (simulator pacing on)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ pacing: true, maxWaitMs: 1_000 });
  });
  afterAll(() => rig.stop());

  test('30 mixed requests at once: every one answered, some 429 locally with Retry-After, the gateway never rejects one', async () => {
    // Setup's own requests went straight to the simulator; start the burst from a clean window.
    await http(rig.sim.controlUrl, 'DELETE', '/sim/control/pacing');
    const rejectedBefore = await simPacingRejected(rig.sim);
    const mix: [string, string][] = [
      ['POST', '/v1/api/tickle'],
      ['GET', '/v1/api/iserver/accounts'],
      ['GET', '/v1/portal/portfolio/accounts'],
      ['GET', '/v1/api/iserver/secdef/search?symbol=AAPL'],
      ['POST', '/v1/api/iserver/auth/status'],
      ['GET', '/v1/portal/sso/validate'],
    ];
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => http(rig.port.url, mix[i % mix.length][0], mix[i % mix.length][1])));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const local429 = answers.filter((a) => a.status === 429);
    expect(local429.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    for (const res of local429) {
      expect(res.headers['x-ibflow-answer']).toBe('local');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(await simPacingRejected(rig.sim)).toBe(rejectedBefore);
    expect(rig.gateway.observed.some((o) => o.status === 429)).toBe(false);
    const metricsText = await registry.metrics();
    expect(metricsText).toMatch(/ibflow_app_port_queued_total\{pod="pod-a",path="[^"]+"\} [1-9]/);
  });
});

describe('app port TLS', () => {
  test('its own certificate verifies for 127.0.0.1 with the certificate as CA', async () => {
    const rig = await startRig({ login: false });
    try {
      const ca = readFileSync(join(certDir, CERT_FILE), 'utf8');
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(new URL('/v1/api/tickle', rig.port.url), { ca, rejectUnauthorized: true, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(401); // the simulator's answer without a session, through a verified connection
    } finally {
      await rig.stop();
    }
  });

  test('with verifyTls the simulator’s self-signed certificate is refused: 502 naming the gateway, slot released', async () => {
    const rig = await startRig({ verifyTls: true, login: false });
    try {
      const res = await http(rig.port.url, 'GET', '/v1/api/iserver/accounts');
      expect(res.status).toBe(502);
      expect(res.json().error).toContain(rig.sim.url);
      expect(res.text).not.toMatch(/at .*\.js/);
      expect(rig.gateway.finishedPaths).toEqual(['/v1/api/iserver/accounts']);
    } finally {
      await rig.stop();
    }
  });

  test('an unreachable gateway: 502 JSON naming it, no stack trace, finished once', async () => {
    const deadPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gateway = new FakeAppPortGateway(`https://127.0.0.1:${deadPort}`);
    const logs: LogLine[] = [];
    const port = await startAppPort({ pod: 'pod-b', gateway, port: 0, certDir, log: recordingLogger(logs) });
    try {
      const res = await http(port.url, 'POST', '/v1/api/tickle');
      expect(res.status).toBe(502);
      expect(res.json()).toEqual({ error: `ibflow app port: the gateway at https://127.0.0.1:${deadPort} is unreachable`, code: 'ECONNREFUSED' });
      expect(gateway.finishedPaths).toEqual(['/v1/api/tickle']);
      expect(logs.find((l) => l.msg === 'app port request')?.fields).toMatchObject({ status: 502, outcome: 'gateway_unreachable' });
    } finally {
      await port.close();
    }
  });
});

describe('app port with allowLogout', () => {
  test('logout is forwarded and ends the session', async () => {
    const rig = await startRig({ allowLogout: true });
    try {
      const res = await http(rig.port.url, 'POST', '/v1/api/logout');
      expect(res.status).toBe(200);
      expect((await http(rig.sim.url, 'GET', '/v1/api/tickle')).status).not.toBe(200);
    } finally {
      await rig.stop();
    }
  });
});

import { request } from 'node:http';
import { startOpsServer, type OpsServer } from '../../../src/health/opsServer';
import { addDepthRows, metrics, observeTickle, recordLoginFailure, recordSessionState, recordSinkStats, registry, resetMetrics } from '../../../src/metrics/metrics';

function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    })
      .on('error', reject)
      .end();
  });
}

let ready: boolean | string = true;
let server: OpsServer;
beforeAll(async () => {
  server = await startOpsServer({ port: 0, host: '127.0.0.1', readiness: [{ name: 'temporal-worker', check: () => ready }] });
});
afterAll(() => server.close());
beforeEach(() => resetMetrics());

test('/metrics serves the registry in Prometheus text format', async () => {
  recordSessionState('demo-live', 'logging_in');
  recordSessionState('demo-live', 'usable');
  addDepthRows('demo-live', 11);
  metrics.depthRows.inc({ connection: 'demo-live' }, 4);
  recordLoginFailure('demo-live', 'InvalidCredentials');
  observeTickle('demo-live', 0.012);
  recordSinkStats('pod-a', { lagSeconds: 0.4, bufferedRows: 20, spillBytes: 4096 });
  const res = await get(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.type).toContain('text/plain');
  for (const line of [
    'ibflow_session_state{connection="demo-live",state="usable"} 1',
    'ibflow_session_state{connection="demo-live",state="logging_in"} 0',
    'ibflow_depth_rows_total{connection="demo-live"} 15',
    'ibflow_login_failures_total{connection="demo-live",type="InvalidCredentials"} 1',
    'ibflow_tickle_latency_seconds_count{connection="demo-live"} 1',
    'ibflow_sink_lag_seconds{pod="pod-a"} 0.4',
    'ibflow_spill_bytes{pod="pod-a"} 4096',
  ]) {
    expect(res.body).toContain(line);
  }
});

test('a recovery is counted when a session becomes usable again after a loss, not at the first login', async () => {
  recordSessionState('c', 'logging_in');
  recordSessionState('c', 'usable');
  recordSessionState('c', 'usable');
  expect((await registry.getSingleMetricAsString('ibflow_session_recoveries_total'))).not.toContain('connection="c"');
  recordSessionState('c', 'reconnecting');
  recordSessionState('c', 'usable');
  expect(await registry.getSingleMetricAsString('ibflow_session_recoveries_total')).toContain('ibflow_session_recoveries_total{connection="c"} 1');
});

test('/healthz and /readyz follow the readiness checks and shutdown', async () => {
  ready = true;
  expect(await get(`${server.url}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' });
  const ok = await get(`${server.url}/readyz`);
  expect(ok.status).toBe(200);
  expect(JSON.parse(ok.body)).toEqual({ ready: true, checks: { 'temporal-worker': 'ok' } });
  ready = 'temporal worker is draining';
  const notReady = await get(`${server.url}/readyz`);
  expect(notReady.status).toBe(503);
  expect(JSON.parse(notReady.body).checks['temporal-worker']).toBe('temporal worker is draining');
  expect((await get(`${server.url}/nope`)).status).toBe(404);
});

test('after markStopping both probes answer 503', async () => {
  const s = await startOpsServer({ port: 0, host: '127.0.0.1' });
  try {
    s.markStopping();
    expect((await get(`${s.url}/healthz`)).status).toBe(503);
    expect((await get(`${s.url}/readyz`)).status).toBe(503);
  } finally {
    await s.close();
  }
});

test('metrics carry ids and states only: a canary secret passed nowhere never shows up', async () => {
  const CANARY = 'CANARY-metrics-5b1f';
  recordSessionState('demo-paper', 'manual_action_required');
  recordLoginFailure('demo-paper', 'SecretMissing');
  const text = await registry.metrics();
  expect(text).not.toContain(CANARY);
  expect(text).not.toMatch(/password|totpSecret|cookie/i);
});

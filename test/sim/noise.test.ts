/** The co-tenant traffic generator against an in-process simulator: each pattern's requests and the answers they get. */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { noisePlan, runNoise, validateNoiseOptions, type NoiseOptions } from '../../sim/noise';
import { http, loginViaHttp, PAPER_USER, startTestSim, type TestSim } from './simTestKit';

/** The sim clock all but stands still: every request of a short run falls into one simulated second. */
const FROZEN = 0.000001;

async function loggedInWithBridge(sim: TestSim): Promise<void> {
  await loginViaHttp(sim, PAPER_USER);
  await http(sim.url, 'POST', '/v1/api/iserver/auth/ssodh/init', { body: { publish: true, compete: true } });
  await http(sim.controlUrl, 'DELETE', '/sim/control/pacing'); // the setup's own requests leave no trace in the windows
}

const run = (sim: TestSim, o: Omit<NoiseOptions, 'target' | 'insecure'>) => runNoise({ target: sim.url, insecure: true, ...o });

describe('noisePlan', () => {
  test('each pattern sends what it says, within the duration', () => {
    const paths = (o: Parameters<typeof noisePlan>[0]) => [...noisePlan(o)].map((p) => `${Math.round(p.atMs)} ${p.request.method} ${p.request.path}`);
    expect(paths({ pattern: 'tickle', rate: 4, durationMs: 1000 })).toEqual(['0 POST tickle', '250 POST tickle', '500 POST tickle', '750 POST tickle']);
    expect(paths({ pattern: 'pair', rate: 1, durationMs: 2000 })).toEqual(['0 POST tickle', '100 POST tickle', '1000 POST tickle', '1100 POST tickle']);
    expect(paths({ pattern: 'mixed', rate: 5, durationMs: 1000 })).toEqual([
      '0 GET iserver/auth/status',
      '200 POST tickle',
      '400 GET iserver/accounts',
      '600 GET portfolio/accounts',
      '800 GET sso/validate',
    ]);
    const burst = [...noisePlan({ pattern: 'burst', rate: 30, durationMs: 10_000, everyMs: 5000 })];
    expect(burst).toHaveLength(60);
    expect(burst.filter((p) => p.atMs < 1000)).toHaveLength(30);
    expect(burst.filter((p) => p.atMs >= 1000 && p.atMs < 5000)).toHaveLength(0); // the pause
  });

  test('bad options name the option', () => {
    const base = { target: 'https://localhost:5000', rate: 1, pattern: 'tickle', durationMs: 1000 } as const;
    expect(() => validateNoiseOptions({ ...base, target: 'localhost:5000x' })).toThrow(/^target: /);
    expect(() => validateNoiseOptions({ ...base, target: 'https://gw.example.com', insecure: true })).toThrow(/^insecure: .*gw\.example\.com/);
    expect(() => validateNoiseOptions({ ...base, rate: 0 })).toThrow(/^rate: /);
    expect(() => validateNoiseOptions({ ...base, pattern: 'storm' as never })).toThrow(/^pattern: /);
    expect(() => validateNoiseOptions({ ...base, durationMs: 0 })).toThrow(/^duration: /);
    expect(validateNoiseOptions({ ...base, insecure: true }).hostname).toBe('localhost');
  });
});

describe('runNoise against the simulator', () => {
  let sim: TestSim;
  afterEach(async () => {
    await sim?.stop();
  });

  test('tickle: 5 tickles/s in one (simulated) second: one 200, four 429; lenient pacing boxes nobody', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, timeScale: FROZEN });
    await loggedInWithBridge(sim);
    const s = await run(sim, { pattern: 'tickle', rate: 5, durationMs: 1000 });
    expect(s).toMatchObject({ sent: 5, byStatus: { 200: 1, 429: 4 }, errors: 0, byPath: { tickle: { 200: 1, 429: 4 } } });
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
    expect(s.latencyMs.p50).toBeGreaterThan(0);
    expect(s.elapsedMs).toBeGreaterThanOrEqual(1000);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/pacing')).json()).toMatchObject({ penaltyBox: {}, violations: { '127.0.0.1': 4 } });
  });

  test('pair: a tickle and another 100 ms later, every 1.5 s: the second of each pair is refused', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, authDelayMs: 50 });
    await loggedInWithBridge(sim);
    const s = await run(sim, { pattern: 'pair', rate: 1, everyMs: 1500, durationMs: 3000 });
    expect(s).toMatchObject({ sent: 4, byStatus: { 200: 2, 429: 2 }, errors: 0 });
  });

  test('mixed: 10 requests over five paths in one second: tickle, portfolio/accounts and sso/validate refused the second time', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, timeScale: FROZEN });
    await loggedInWithBridge(sim);
    const s = await run(sim, { pattern: 'mixed', rate: 10, durationMs: 1000 });
    expect(s.sent).toBe(10);
    expect(s.byStatus).toEqual({ 200: 7, 429: 3 });
    expect(s.byPath).toEqual({
      'iserver/auth/status': { 200: 2 },
      tickle: { 200: 1, 429: 1 },
      'iserver/accounts': { 200: 2 },
      'portfolio/accounts': { 200: 1, 429: 1 },
      'sso/validate': { 200: 1, 429: 1 },
    });
  });

  test('burst: 12 mixed requests in one second, then a pause', async () => {
    sim = await startTestSim({ pacing: { enabled: true }, timeScale: FROZEN });
    await loggedInWithBridge(sim);
    const s = await run(sim, { pattern: 'burst', rate: 12, everyMs: 1000, durationMs: 1000 });
    // 8 pass; the second tickle, portfolio/accounts and sso/validate and the third tickle are refused.
    expect(s).toMatchObject({ sent: 12, byStatus: { 200: 8, 429: 4 }, errors: 0 });
  });

  test('strict mode: the first refusal boxes the address and the rest of the run is refused', async () => {
    sim = await startTestSim({ pacing: { enabled: true, mode: 'strict' }, timeScale: FROZEN });
    await loggedInWithBridge(sim);
    const s = await run(sim, { pattern: 'mixed', rate: 10, durationMs: 1000 });
    // Six pass; the 7th (the second tickle) is refused and starts the box, so the last three are refused too.
    expect(s.byStatus).toEqual({ 200: 6, 429: 4 });
  });

  test('without --insecure the self-signed certificate is refused; a closed port is counted as errors; an abort ends the run early', async () => {
    sim = await startTestSim({ pacing: { enabled: false } });
    const tls = await runNoise({ target: sim.url, pattern: 'tickle', rate: 4, durationMs: 500 });
    expect(tls).toMatchObject({ sent: 2, errors: 2, byStatus: {} });
    expect(Object.keys(tls.errorKinds).join()).toMatch(/CERT|SIGNED/);

    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const closed = await runNoise({ target: `http://127.0.0.1:${port}`, pattern: 'tickle', rate: 4, durationMs: 500 });
    expect(closed).toMatchObject({ sent: 2, errors: 2, errorKinds: { ECONNREFUSED: 2 } });

    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const t0 = Date.now();
    const aborted = await run(sim, { pattern: 'tickle', rate: 10, durationMs: 60_000, signal: stop.signal });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(aborted.sent).toBeGreaterThan(0);
    expect(aborted.sent).toBeLessThan(20);
    expect(aborted.byStatus['401']).toBe(aborted.sent); // no login: the tickles are answered 401
  });
});

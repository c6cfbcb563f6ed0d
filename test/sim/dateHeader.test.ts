import { ibkrReachability, setIbkrReachability } from '../../sim';
import { isLocalAnswer } from '../../sim/localAnswers';
import { http, loginViaHttp, PAPER_USER, startTestSim, WsProbe, type HttpResult, type TestSim } from './simTestKit';

/** How far the answer's Date header is from the pod's clock, ms (Date has whole seconds). */
function dateSkewMs(res: HttpResult): number {
  const date = res.headers['date'];
  if (typeof date !== 'string') throw new Error(`no Date header (status ${res.status})`);
  return new Date(date).getTime() - Date.now();
}

describe('which answers are the gateway’s own', () => {
  test('GET / and reauthenticate in both spellings are local; the rest is passed on from IBKR', () => {
    expect(isLocalAnswer('GET', '/')).toBe(true);
    expect(isLocalAnswer('POST', '/v1/api/iserver/reauthenticate')).toBe(true);
    expect(isLocalAnswer('get', '/v1/portal/iserver/reauthenticate')).toBe(true);
    expect(isLocalAnswer('POST', '/')).toBe(false);
    expect(isLocalAnswer('POST', '/v1/api/tickle')).toBe(false);
    expect(isLocalAnswer('GET', '/sso/Login')).toBe(false);
    expect(isLocalAnswer('DELETE', '/v1/api/iserver/reauthenticate')).toBe(false);
  });
});

describe('Date header', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await startTestSim();
  });
  afterAll(async () => {
    await sim.stop();
  });

  test('the gateway’s own answers carry none: the 302 of /, reauthenticate, the 411', async () => {
    const answers = [
      await http(sim.url, 'GET', '/'),
      await http(sim.url, 'POST', '/v1/api/iserver/reauthenticate'),
      await http(sim.url, 'GET', '/v1/portal/iserver/reauthenticate?force=true'),
      await http(sim.url, 'POST', '/v1/api/tickle', { body: '{}', chunked: true }),
    ];
    expect(answers.map((a) => a.status)).toEqual([302, 200, 200, 411]);
    for (const a of answers) expect(a.headers['date']).toBeUndefined();
  });

  test('answers passed on from IBKR carry one: tickle, auth status, /sso/Login, an unknown path', async () => {
    const answers = [
      await http(sim.url, 'POST', '/v1/api/tickle'),
      await http(sim.url, 'GET', '/v1/portal/iserver/auth/status'),
      await http(sim.url, 'GET', '/sso/Login?forwardTo=22&RL=1&ip2loc=on'),
      await http(sim.url, 'GET', '/v1/api/no/such/thing'),
    ];
    expect(answers.map((a) => a.status)).toEqual([401, 401, 200, 404]);
    for (const a of answers) expect(Math.abs(dateSkewMs(a))).toBeLessThan(3000);
  });
});

describe('IBKR’s clock', () => {
  test('ibkrClockOffsetMs -30 s: the tickle’s Date and the websocket hb and tic run 30 s behind; the control plane changes it', async () => {
    const sim = await startTestSim({ ibkrClockOffsetMs: -30_000, heartbeatMs: 200 });
    try {
      await loginViaHttp(sim, PAPER_USER);
      const tickle = await http(sim.url, 'POST', '/v1/api/tickle');
      expect(tickle.status).toBe(200);
      expect(dateSkewMs(tickle)).toBeGreaterThan(-32_000);
      expect(dateSkewMs(tickle)).toBeLessThan(-28_000);

      const ws = await WsProbe.open(sim.url);
      try {
        const [hb] = await ws.waitFor((f) => typeof f.hb === 'number');
        expect(hb.hb - Date.now()).toBeGreaterThan(-32_000);
        expect(hb.hb - Date.now()).toBeLessThan(-28_000);
        ws.send('tic');
        const [tic] = await ws.waitFor((f) => f.topic === 'tic' && f.alive === true);
        expect(tic.lastAccessed - Date.now()).toBeGreaterThan(-32_000);
        expect(tic.lastAccessed - Date.now()).toBeLessThan(-28_000);

        expect(await setIbkrReachability(sim, { clockOffsetMs: 60_000 })).toMatchObject({ reachable: true, clockOffsetMs: 60_000 });
        expect(dateSkewMs(await http(sim.url, 'GET', '/v1/api/iserver/auth/status'))).toBeGreaterThan(58_000);
        await ws.waitFor((f) => typeof f.hb === 'number' && f.hb - Date.now() > 58_000);
      } finally {
        await ws.close();
      }
      expect((await ibkrReachability(sim.controlUrl)).clockOffsetMs).toBe(60_000);
      expect(sim.logs.some((l) => l.msg === 'ibkr clock offset changed')).toBe(true);
    } finally {
      await sim.stop();
    }
  });

  test('ibkrDateHeader:false: passed-on answers carry no Date either', async () => {
    const sim = await startTestSim({ ibkrDateHeader: false });
    try {
      expect((await http(sim.url, 'POST', '/v1/api/tickle')).headers['date']).toBeUndefined();
      expect((await http(sim.url, 'GET', '/sso/Login')).headers['date']).toBeUndefined();
    } finally {
      await sim.stop();
    }
  });
});

import { request as httpsRequest } from 'node:https';
import WebSocket from 'ws';
import { ibkrReachability, setIbkrReachability, simControl } from '../../sim';
import { eventually, http, loginViaHttp, PAPER_USER, sleep, startTestSim, WsProbe, type TestSim } from './simTestKit';

/** A request that gives up after `timeoutMs`: its status, or 'no answer' when not even a status line came. */
function requestWithin(sim: TestSim, method: string, path: string, timeoutMs: number): { answer: Promise<number | 'no answer'>; abort: () => void } {
  let abort = () => undefined as void;
  const answer = new Promise<number | 'no answer'>((resolve, reject) => {
    const req = httpsRequest(new URL(path, sim.url), { method, rejectUnauthorized: false, agent: false, headers: method === 'POST' ? { 'Content-Length': '0' } : {} }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    abort = () => {
      req.destroy();
      resolve('no answer');
    };
    req.setTimeout(timeoutMs, abort);
    req.on('error', (err) => (req.destroyed ? resolve('no answer') : reject(err)));
    req.end();
  });
  return { answer, abort };
}

async function hungRequests(sim: TestSim): Promise<number> {
  return (await ibkrReachability(sim)).hungRequests;
}

/** Frames received from now on, until `ms` have passed. */
async function framesDuring(ws: WsProbe, ms: number): Promise<unknown[]> {
  const before = ws.frames.length;
  await sleep(ms);
  return ws.frames.slice(before).map((f) => f.data);
}

function pongWithin(ws: WsProbe, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.ws.off('pong', onPong);
      resolve(false);
    }, ms);
    const onPong = () => {
      clearTimeout(timer);
      resolve(true);
    };
    ws.ws.once('pong', onPong);
    ws.ws.ping();
  });
}

describe('IBKR unreachable: HTTP', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await startTestSim();
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(async () => {
    await setIbkrReachability(sim, { reachable: true });
  });

  test('local answers come back; passed-on requests get no answer at all and are counted until the client gives up', async () => {
    expect(await ibkrReachability(sim)).toEqual({ reachable: true, since: null, until: null, hungRequests: 0, clockOffsetMs: 0 });
    const cut = await setIbkrReachability(sim, { reachable: false });
    expect(cut).toMatchObject({ reachable: false, until: null, hungRequests: 0 });
    expect(new Date(cut.since ?? '').getTime()).toBeGreaterThan(Date.now() - 5000);

    expect((await http(sim.url, 'GET', '/')).status).toBe(302);
    expect((await http(sim.url, 'POST', '/v1/portal/iserver/reauthenticate?force=true')).json()).toEqual({ error: 'not logged in' });
    expect((await http(sim.url, 'POST', '/v1/api/tickle', { body: '{}', chunked: true })).status).toBe(411);
    expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).status).toBe(200); // the control plane is not behind IBKR

    expect(await requestWithin(sim, 'POST', '/v1/api/tickle', 1500).answer).toBe('no answer');
    expect(await requestWithin(sim, 'GET', '/sso/Login?forwardTo=22&RL=1&ip2loc=on', 1500).answer).toBe('no answer');

    const held = requestWithin(sim, 'GET', '/v1/api/iserver/auth/status', 60_000);
    await eventually(async () => (await hungRequests(sim)) >= 1, 5000, 'a held request');
    held.abort();
    expect(await held.answer).toBe('no answer');
    await eventually(async () => (await hungRequests(sim)) === 0, 5000, 'the held request released');
    expect(sim.logs.some((l) => l.msg === 'ibkr unreachable')).toBe(true);
  });

  test('a request held when IBKR comes back stays unanswered; new ones are answered', async () => {
    await setIbkrReachability(sim, { reachable: false });
    const held = requestWithin(sim, 'POST', '/v1/api/tickle', 60_000);
    await eventually(async () => (await hungRequests(sim)) === 1, 5000, 'a held request');
    expect(await setIbkrReachability(sim, { reachable: true })).toMatchObject({ reachable: true, since: null, hungRequests: 1 });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    expect(await Promise.race([held.answer, sleep(500).then(() => 'still held')])).toBe('still held');
    held.abort();
    await eventually(async () => (await hungRequests(sim)) === 0, 5000, 'the held request released');
    expect(sim.logs.find((l) => l.msg === 'ibkr reachable again')?.fields).toMatchObject({ why: 'control plane' });
  });

  test('forMs: reachable again by itself', async () => {
    const cut = await setIbkrReachability(sim, { reachable: false, forMs: 300 });
    expect(new Date(cut.until ?? '').getTime()).toBeGreaterThan(Date.now());
    await eventually(async () => (await ibkrReachability(sim)).reachable, 5000, 'the link restored');
    expect(await ibkrReachability(sim)).toMatchObject({ since: null, until: null });
    expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    expect(sim.logs.find((l) => l.msg === 'ibkr reachable again' && l.fields?.why === 'forMs elapsed')).toBeDefined();
  });

  test('a bad body is a 400 naming the field at fault', async () => {
    const bad: [unknown, string][] = [
      [{ reachable: 'no' }, 'reachable'],
      [{ reachable: true, forMs: 1000 }, 'forMs'],
      [{ reachable: false, forMs: -5 }, 'forMs'],
      [{ clockOffsetMs: 1.5 }, 'clockOffsetMs'],
      [{ reachable: false, bogus: 1 }, 'bogus'],
      [{}, 'reachable or clockOffsetMs'],
    ];
    for (const [body, field] of bad) {
      const res = await http(sim.controlUrl, 'PUT', '/sim/control/ibkr', { body: body as object });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.json().error).toContain(field);
    }
    expect((await ibkrReachability(sim)).reachable).toBe(true);
  });
});

describe('IBKR unreachable: websockets', () => {
  test('an established socket stalls (no hb, no depth, no replies) but answers pings; it resumes with its subscriptions', async () => {
    const sim = await startTestSim({ heartbeatMs: 200, depth: { framesPerSecond: 20 } });
    try {
      await loginViaHttp(sim, PAPER_USER);
      const ws = await WsProbe.open(sim.url);
      await ws.waitFor((f) => f.topic === 'sts' && f.args?.authenticated === true);
      ws.send('sbd+DU111111+265598');
      const [first] = await ws.waitFor((f) => typeof f._simSub === 'string');
      await ws.waitFor((f) => typeof f.hb === 'number');

      await setIbkrReachability(sim, { reachable: false });
      await sleep(100); // frames already on the way
      ws.send('ech+hb');
      ws.send('tic');
      expect(await framesDuring(ws, 1000)).toEqual([]);
      expect(ws.ws.readyState).toBe(WebSocket.OPEN);
      expect(await pongWithin(ws, 1000)).toBe(true);

      await setIbkrReachability(sim, { reachable: true });
      const after = await framesDuring(ws, 600);
      expect(after.some((f) => typeof (f as { hb?: unknown }).hb === 'number')).toBe(true);
      const depth = after.filter((f) => (f as { _simSub?: string })._simSub === first._simSub) as { _simSeq: number }[];
      expect(depth.length).toBeGreaterThan(0);
      expect(depth[0]._simSeq).toBeGreaterThan(first._simSeq);
      await ws.close();
    } finally {
      await sim.stop();
    }
  });

  test('wsPongWhileUnreachable:false: no pong during the stall', async () => {
    const sim = await startTestSim({ wsPongWhileUnreachable: false });
    try {
      const ws = await WsProbe.open(sim.url);
      expect(await pongWithin(ws, 1000)).toBe(true);
      await setIbkrReachability(sim, { reachable: false });
      expect(await pongWithin(ws, 1000)).toBe(false);
      await setIbkrReachability(sim, { reachable: true });
      expect(await pongWithin(ws, 1000)).toBe(true);
      await ws.close();
    } finally {
      await sim.stop();
    }
  });

  test('a new upgrade gets no 101 while unreachable and is counted until the client gives up', async () => {
    const sim = await startTestSim({ ibkrReachable: false });
    try {
      expect((await ibkrReachability(sim)).since).not.toBeNull();
      const ws = new WebSocket(`${sim.url.replace(/^http/, 'ws')}/v1/api/ws`, { rejectUnauthorized: false, handshakeTimeout: 1500 });
      const outcome = new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'));
        ws.once('unexpected-response', () => resolve('answered'));
        ws.once('error', (err) => resolve(err.message));
      });
      await eventually(async () => (await hungRequests(sim)) === 1, 5000, 'a held upgrade');
      expect(await outcome).toMatch(/handshake has timed out/);
      await eventually(async () => (await hungRequests(sim)) === 0, 5000, 'the held upgrade released');
    } finally {
      await sim.stop();
    }
  });
});

describe('IBKR unreachable: the session', () => {
  test('nothing reaches the session store, so the idle timeout ends the SSO session during a long cut', async () => {
    const sim = await startTestSim({ idleTimeoutMs: 60_000 });
    try {
      await loginViaHttp(sim, PAPER_USER);
      expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(200);
      await setIbkrReachability(sim, { reachable: false });
      // Each gap is shorter than the idle timeout; only the requests in between could have kept it alive.
      await simControl(sim, 'POST', '/sim/control/clock', { advanceMs: 40_000 });
      expect((await http(sim.url, 'POST', '/v1/api/iserver/reauthenticate')).json()).toEqual({ message: 'triggered' });
      const tickle = requestWithin(sim, 'POST', '/v1/api/tickle', 60_000);
      await eventually(async () => (await hungRequests(sim)) === 1, 5000, 'a held tickle');
      tickle.abort();
      await simControl(sim, 'POST', '/sim/control/clock', { advanceMs: 30_000 });
      await setIbkrReachability(sim, { reachable: true });
      expect((await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json()).toMatchObject({ authenticated: false, connected: false });
      expect((await http(sim.url, 'POST', '/v1/api/tickle')).status).toBe(401);
    } finally {
      await sim.stop();
    }
  });
});

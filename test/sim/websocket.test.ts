import { eventually, http, loginViaHttp, LIVE_USER, PAPER_USER, sleep, startTestSim, WsProbe, type TestSim } from './simTestKit';

/** Checks one sbd frame against the ladder shape the simulator promises (docs/simulator.md). */
function expectWellFormedLadder(frame: { topic: string; data: Record<string, unknown>[] }, levels: number): { asks: number[]; bids: number[]; sizeSum: number } {
  expect(frame.data).toHaveLength(2 * levels + 1);
  const asks: number[] = [];
  const bids: number[] = [];
  let sizeSum = 0;
  frame.data.forEach((row, i) => {
    expect(row.row).toBe(i);
    if (i < levels) {
      expect(row).toEqual({ row: i, focus: 0, price: expect.stringMatching(/^\d+\.\d{2}$/), ask: expect.stringMatching(/^\d+$/) });
      asks.push(Number(row.price));
      sizeSum += Number(row.ask);
    } else if (i === levels) {
      expect(row).toEqual({ row: i, focus: 1, price: expect.stringMatching(/^\d+ @ \d+\.\d{2}$/) });
    } else {
      expect(row).toEqual({ row: i, focus: 0, price: expect.stringMatching(/^\d+\.\d{2}$/), bid: expect.stringMatching(/^\d+$/) });
      bids.push(Number(row.price));
      sizeSum += Number(row.bid);
    }
  });
  // Highest price first; every ask strictly above every bid; one tick apart.
  const prices = [...asks, ...bids];
  for (let i = 1; i < prices.length; i++) expect(prices[i]).toBeLessThan(prices[i - 1]);
  expect(Math.min(...asks)).toBeGreaterThan(Math.max(...bids));
  const last = Number(String(frame.data[levels].price).split(' @ ')[1]);
  expect(last).toBeLessThan(Math.min(...asks));
  expect(last).toBeGreaterThan(Math.max(...bids));
  return { asks, bids, sizeSum };
}

/**
 * The socket handles messages and writes frames in order: once the answer to a `tic` sent now
 * arrives, every earlier message was handled and every frame sent before it has arrived too.
 */
async function drained(ws: WsProbe): Promise<void> {
  const answers = () => ws.frames.filter((f) => f.data.topic === 'tic').length;
  const before = answers();
  ws.send('tic');
  await eventually(() => answers() > before, 3000, 'tic answer');
}

/** Five depth intervals (30 ms each in these tests): a live subscription would get frames in this time. */
const FIVE_DEPTH_TICKS_MS = 150;

describe('gateway websocket', () => {
  let sim: TestSim;
  const probes: WsProbe[] = [];
  const open = async (path = '/v1/api/ws', headers: Record<string, string> = {}) => {
    const p = await WsProbe.open(sim.url, path, headers);
    probes.push(p);
    return p;
  };

  beforeEach(async () => {
    sim = await startTestSim({ authDelayMs: 100, heartbeatMs: 200, depth: { intervalMs: 30, levels: 4 } });
  });
  afterEach(async () => {
    await Promise.all(probes.splice(0).map((p) => p.close()));
    await sim.stop();
  });

  test('without a session the socket hears "waiting for session", then the greeting once logged in', async () => {
    const ws = await open();
    await ws.waitFor((f) => f.message === 'waiting for session');
    await loginViaHttp(sim, PAPER_USER);
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    const topics = ws.frames.map((f) => f.data.topic ?? 'message');
    expect(topics.indexOf('system')).toBeLessThan(topics.indexOf('act'));
  });

  test('on connect: binary frames system, act, sts; heartbeats; tic answered', async () => {
    await loginViaHttp(sim, PAPER_USER);
    await eventually(async () => (await http(sim.url, 'GET', '/v1/api/iserver/auth/status')).json().authenticated, 3000, 'bridge');
    const session = (await http(sim.url, 'POST', '/v1/api/tickle')).json().session;
    const ws = await open('/v1/portal/ws');
    const [sts] = await ws.waitFor((f) => f.topic === 'sts');
    const first3 = ws.frames.slice(0, 3).map((f) => f.data);
    expect(first3[0]).toEqual({ topic: 'system', success: 'paperuser', isFT: false, isPaper: true });
    expect(first3[1]).toMatchObject({ topic: 'act', args: { accounts: ['DU111111'], selectedAccount: 'DU111111', isPaper: true } });
    expect(sts).toEqual({
      topic: 'sts',
      args: { connected: true, authenticated: true, established: true, competing: false, message: '', fail: '', serverName: expect.any(String), serverVersion: expect.any(String), username: 'paperuser' },
    });
    const hb = await ws.waitFor((f) => f.topic === 'system' && typeof f.hb === 'number', 2);
    expect(hb[0].hb).toBeGreaterThan(Date.now() - 10_000);
    ws.send('tic');
    const [tic] = await ws.waitFor((f) => f.topic === 'tic');
    expect(tic).toEqual({ topic: 'tic', alive: true, id: session, lastAccessed: expect.any(Number) });
    expect(ws.frames.every((f) => f.binary)).toBe(true);
  });

  test('authorisation by api cookie and by a first {"session":...} message', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const session = (await http(sim.url, 'POST', '/v1/api/tickle')).json().session;
    const byCookie = await open('/v1/api/ws', { Cookie: `api={"session":"${session}"}` });
    const [greeting] = await byCookie.waitFor((f) => f.topic === 'system' && f.success === 'paperuser');
    expect(greeting).toMatchObject({ topic: 'system', success: 'paperuser', isPaper: true });
    const stale = await open('/v1/api/ws', { Cookie: 'api=0123456789abcdef0123456789abcdef' });
    await stale.waitFor((f) => f.message === 'waiting for session');
    expect(stale.frames.some((f) => f.data.success === 'paperuser')).toBe(false);
    stale.send(JSON.stringify({ session }));
    const [late] = await stale.waitFor((f) => f.topic === 'system' && f.success === 'paperuser');
    expect(late).toEqual(greeting);
  });

  test('sbd ladders are well-formed, several per account, ubd stops them, stats match what the client got', async () => {
    await loginViaHttp(sim, LIVE_USER);
    const ws = await open();
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);

    ws.send('sbd+U2222222+265598');
    ws.send('sbd+U2222222+265598'); // idempotent
    ws.send('sbd+U3333333+8314+SMART');
    const apple = await ws.waitFor((f) => f.topic === 'sbd+U2222222+265598', 5);
    await ws.waitFor((f) => f.topic === 'sbd+U3333333+8314', 5);
    for (const frame of apple) expectWellFormedLadder(frame, 4);
    // A seeded random walk: prices move between frames but stay on the 0.01 grid.
    const lasts = apple.map((f) => f.data[4].price.split(' @ ')[1]);
    expect(new Set(lasts).size).toBeGreaterThan(1);

    // A second conid on the same account is a second ladder (up to the per-account limit).
    ws.send('sbd+U2222222+756733');
    await ws.waitFor((f) => f.topic === 'sbd+U2222222+756733', 3);
    // ubd+ACCT+CONID ends just that ladder.
    ws.send('ubd+U2222222+756733+{}');
    await drained(ws);
    const countOld = ws.frames.filter((f) => f.data.topic === 'sbd+U2222222+756733').length;
    // The other ladder keeps ticking meanwhile: time passed, and nothing more came for the ended one.
    const apples = ws.frames.filter((f) => f.data.topic === 'sbd+U2222222+265598').length;
    await ws.waitFor((f) => f.topic === 'sbd+U2222222+265598', apples + 3);
    expect(ws.frames.filter((f) => f.data.topic === 'sbd+U2222222+756733').length).toBe(countOld);

    // Unsubscribe both forms.
    ws.send('ubd+U2222222');
    ws.send('ubd+U3333333+8314+{}');
    await drained(ws);
    const sbdCount = ws.frames.filter((f) => String(f.data.topic).startsWith('sbd+')).length;
    await sleep(FIVE_DEPTH_TICKS_MS);
    expect(ws.frames.filter((f) => String(f.data.topic).startsWith('sbd+')).length).toBe(sbdCount);

    // Stats: frames and sizes equal what this client received, per topic.
    const stats = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
    const received: Record<string, { frames: number; sizeSum: number }> = {};
    for (const f of ws.frames) {
      if (!String(f.data.topic).startsWith('sbd+') || !f.data.data) continue;
      const r = (received[f.data.topic] ??= { frames: 0, sizeSum: 0 });
      r.frames += 1;
      r.sizeSum += expectWellFormedLadder(f.data, 4).sizeSum;
    }
    expect(stats.depth).toEqual(received);
  });

  test('pausing depth stops frames; stats equal the client tally after the pause', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await open();
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    ws.send('sbd+DU111111+265598');
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598', 10);
    expect((await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: { paused: true } })).status).toBe(200);
    const sbdCount = () => ws.frames.filter((f) => String(f.data.topic).startsWith('sbd+')).length;
    await drained(ws); // frames in flight land
    const atPause = sbdCount();
    await sleep(FIVE_DEPTH_TICKS_MS);
    expect(sbdCount()).toBe(atPause);
    const got = ws.frames.filter((f) => f.data.topic === 'sbd+DU111111+265598');
    const sizeSum = got.reduce((sum, f) => sum + expectWellFormedLadder(f.data, 4).sizeSum, 0);
    const stats = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
    expect(stats.depth['sbd+DU111111+265598']).toEqual({ frames: got.length, sizeSum });
    await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: { paused: false } });
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598', got.length + 3);
  });

  test('the control plane changes the depth frame rate of a running subscription', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await open();
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    ws.send('sbd+DU111111+265598');
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598', 2);
    const count = () => ws.frames.filter((f) => f.data.topic === 'sbd+DU111111+265598').length;
    const framesIn = async (ms: number) => {
      const before = count();
      await sleep(ms);
      return count() - before;
    };
    const slow = (await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: { framesPerSecond: 5 } })).json();
    expect(slow).toEqual({ paused: false, framesPerSecond: 5 });
    await sleep(300); // frames owed at the old rate land
    const atFive = await framesIn(1000);
    await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: { framesPerSecond: 200 } });
    await sleep(100);
    const atTwoHundred = await framesIn(1000);
    expect(atFive).toBeLessThanOrEqual(8);
    expect(atTwoHundred).toBeGreaterThan(100);
  });

  test('sbd for a foreign account or without a bridge gets an error frame and no ladder', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await open();
    ws.send('sbd+DU111111+265598'); // bridge not open yet (authDelay 100 ms)
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598' && f.error === 'no bridge');
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    ws.send('sbd+U9999999+265598');
    await ws.waitFor((f) => f.topic === 'sbd+U9999999+265598' && f.error === 'account not found');
    await sleep(FIVE_DEPTH_TICKS_MS);
    expect(ws.frames.some((f) => Array.isArray(f.data.data))).toBe(false);
  });

  test('smd answers one frame with the requested fields', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await open();
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    ws.send('smd+265598+{"fields":["31","84","85","86","88"]}');
    const [smd] = await ws.waitFor((f) => f.topic === 'smd+265598');
    expect(smd).toMatchObject({ conid: 265598, conidEx: '265598', _updated: expect.any(Number) });
    for (const field of ['31', '84', '85', '86', '88']) expect(typeof smd[field]).toBe('string');
    expect(Number(smd['86'])).toBeGreaterThan(Number(smd['84']));
  });

  test('subscriptions do not survive a reconnect', async () => {
    await loginViaHttp(sim, PAPER_USER);
    const ws = await open();
    await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
    ws.send('sbd+DU111111+265598');
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598');
    await ws.close();
    const again = await open();
    await again.waitFor((f) => f.topic === 'sts');
    await sleep(FIVE_DEPTH_TICKS_MS);
    expect(again.frames.some((f) => String(f.data.topic).startsWith('sbd+'))).toBe(false);
  });
});

test('wsTextFrames sends text frames', async () => {
  const sim = await startTestSim({ wsTextFrames: true, tls: false });
  const ws = await WsProbe.open(sim.url);
  try {
    await ws.waitFor((f) => f.message === 'waiting for session');
    expect(ws.frames.every((f) => !f.binary)).toBe(true);
  } finally {
    await ws.close();
    await sim.stop();
  }
});

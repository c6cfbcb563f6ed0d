/** Depth ladders: per-account ladder limit, sequence numbers and per-subscription stats, variants; smd streams. */
import { eventually, http, loginViaHttp, LIVE_USER, PAPER_USER, sleep, startTestSim, WsProbe, type TestSim } from './simTestKit';

async function ready(sim: TestSim, user = PAPER_USER): Promise<WsProbe> {
  await loginViaHttp(sim, user);
  const ws = await WsProbe.open(sim.url);
  await ws.waitFor((f) => f.topic === 'sts' && f.args.authenticated === true);
  return ws;
}

describe('depth', () => {
  let sim: TestSim;
  let ws: WsProbe | undefined;
  afterEach(async () => {
    await ws?.close();
    ws = undefined;
    await sim.stop();
  });

  test('at most 3 ladders per account by default: the 4th gets an error frame and no ladder', async () => {
    sim = await startTestSim({ authDelayMs: 50, depth: { intervalMs: 20 } });
    ws = await ready(sim);
    for (const conid of [265598, 8314, 272093, 756733]) ws.send(`sbd+DU111111+${conid}`);
    const [err] = await ws.waitFor((f) => f.topic === 'sbd+DU111111+756733' && typeof f.error === 'string');
    expect(err).toEqual({ topic: 'sbd+DU111111+756733', error: expect.stringContaining('3') });
    for (const conid of [265598, 8314, 272093]) await ws.waitFor((f) => f.topic === `sbd+DU111111+${conid}` && Array.isArray(f.data), 2);
    await sleep(100);
    expect(ws.frames.some((f) => f.data.topic === 'sbd+DU111111+756733' && f.data.data)).toBe(false);
    // A second socket of the same account counts against the same limit; the same conid does not add one.
    const other = await WsProbe.open(sim.url);
    other.send('sbd+DU111111+4391');
    other.send('sbd+DU111111+8314');
    await other.waitFor((f) => f.topic === 'sbd+DU111111+4391' && f.error);
    await other.waitFor((f) => f.topic === 'sbd+DU111111+8314' && Array.isArray(f.data));
    await other.close();
  });

  test('limit 1: a second conid on the account is refused; after ubd it is accepted', async () => {
    sim = await startTestSim({ authDelayMs: 50, depth: { intervalMs: 20, maxLaddersPerAccount: 1 } });
    ws = await ready(sim, LIVE_USER);
    ws.send('sbd+U2222222+265598');
    ws.send('sbd+U2222222+8314');
    ws.send('sbd+U3333333+8314'); // another account has its own slot
    const [refused] = await ws.waitFor((f) => f.topic === 'sbd+U2222222+8314' && f.error);
    expect(refused.error).toEqual(expect.any(String));
    await ws.waitFor((f) => f.topic === 'sbd+U3333333+8314' && Array.isArray(f.data));
    // The refused conid got no ladder while the slot was taken.
    expect(ws.frames.some((f) => f.data.topic === 'sbd+U2222222+8314' && Array.isArray(f.data.data))).toBe(false);
    ws.send('ubd+U2222222');
    ws.send('sbd+U2222222+8314'); // handled after the ubd: messages of one socket are handled in order
    const [ladder] = await ws.waitFor((f) => f.topic === 'sbd+U2222222+8314' && Array.isArray(f.data));
    expect(ladder.data.length).toBeGreaterThan(0);
    const stats = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
    expect(Object.keys(stats.depth)).toEqual(expect.arrayContaining(['sbd+U2222222+265598', 'sbd+U3333333+8314', 'sbd+U2222222+8314']));
  });

  test('every frame carries _simSeq/_simSub; stats per subscription give frames, sequence range and sizeSum', async () => {
    sim = await startTestSim({ authDelayMs: 50, depth: { framesPerSecond: 400 } });
    ws = await ready(sim);
    ws.send('sbd+DU111111+265598');
    await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598', 40);
    ws.send('ubd+DU111111');
    await sleep(150);
    const frames = ws.frames.map((f) => f.data).filter((d) => d.topic === 'sbd+DU111111+265598');
    const subId = frames[0]._simSub;
    expect(frames.every((f) => f._simSub === subId)).toBe(true);
    expect(frames.map((f) => f._simSeq)).toEqual(frames.map((_, i) => i + 1));
    const sizeSum = frames.reduce((sum, f) => sum + f.data.reduce((s: number, r: { bid?: string; ask?: string }) => s + Number(r.bid ?? r.ask ?? 0), 0), 0);
    const stats = (await http(sim.controlUrl, 'GET', '/sim/control/stats')).json();
    expect(stats.subscriptions[subId]).toEqual({ topic: 'sbd+DU111111+265598', account: 'DU111111', conid: 265598, frames: frames.length, firstSeq: 1, lastSeq: frames.length, sizeSum, active: false });
    expect(stats.depth['sbd+DU111111+265598']).toEqual({ frames: frames.length, sizeSum });
    // Frames are binary by default and the book moves: the last trade changes, sizes are lots of 100.
    expect(ws.frames.filter((f) => f.data.topic?.startsWith('sbd+')).every((f) => f.binary)).toBe(true);
    expect(new Set(frames.map((f) => f.data[5].price.split(' @ ')[1])).size).toBeGreaterThan(1);
  });

  test('variants: delta frames, numeric sizes, exchange in the topic', async () => {
    sim = await startTestSim({ authDelayMs: 50, depth: { intervalMs: 20, levels: 3, variant: { frames: 'delta', sizes: 'number', topicExchange: true } } });
    ws = await ready(sim);
    ws.send('sbd+DU111111+265598+NASDAQ');
    const frames = await ws.waitFor((f) => f.topic === 'sbd+DU111111+265598+NASDAQ', 8);
    expect(frames[0].data).toHaveLength(7); // the first frame is full
    expect(frames[0].data[0]).toEqual({ row: 0, focus: 0, price: expect.stringMatching(/^\d+\.\d{2}$/), ask: expect.any(Number) });
    expect(frames.slice(1).some((f) => f.data.length < 7)).toBe(true); // later ones only changed rows
    for (const f of frames) for (const row of f.data) expect(row.row).toBeLessThan(7);
  });

  test('smd: first frame with every field, later frames only changes; the stream ends after 15 minutes', async () => {
    sim = await startTestSim({ authDelayMs: 50, smdIntervalMs: 50 });
    ws = await ready(sim);
    ws.send('smd+265598+{"fields":["31","84","85","86","88","7059","6509"]}');
    const [first] = await ws.waitFor((f) => f.topic === 'smd+265598');
    expect(first).toMatchObject({ conid: 265598, conidEx: '265598', topic: 'smd+265598', _updated: expect.any(Number), '6509': 'R' });
    for (const field of ['31', '84', '85', '86', '88', '7059']) expect(typeof first[field]).toBe('string');
    const updates = await ws.waitFor((f) => f.topic === 'smd+265598', 4);
    for (const u of updates.slice(1)) {
      expect(u).toMatchObject({ conid: 265598, topic: 'smd+265598', _updated: expect.any(Number) });
      expect(u['6509']).toBeUndefined(); // unchanged fields are left out
    }
    await http(sim.controlUrl, 'POST', '/sim/control/clock', { body: { advanceMs: 15 * 60_000 } });
    await sleep(150);
    const n = ws.frames.filter((f) => f.data.topic === 'smd+265598').length;
    await sleep(300);
    expect(ws.frames.filter((f) => f.data.topic === 'smd+265598').length).toBe(n);
    // Resubscribing starts a new stream with a full frame.
    ws.send('smd+265598+{"fields":["31","6509"]}');
    await eventually(() => ws!.frames.slice(-5).some((f) => f.data.topic === 'smd+265598' && f.data['6509'] === 'R'), 3000, 'full frame');
  });
});

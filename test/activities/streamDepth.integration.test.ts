/**
 * The depth stream against a real simulator and a real ClickHouse (MockActivityEnvironment, real
 * sink with disk spill). Audits compare the simulator's per-subscription stats (frames written to
 * the socket, sizeSum) with the distinct (stream_id, seq) and sizes stored.
 */
import { readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { sleep } from '../sim/simTestKit';
import { nowNs } from '../../src/gateway/gatewaySocket';
import { listQuarantine, replayQuarantine } from '../../src/operations/depthQuarantine';
import { sentFor, startHarness, storedAudit, storedBookInvariants, type Harness } from './streamHarness';

jest.setTimeout(180_000);

const AAPL = 265598;

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Stops generation, waits for the last frames to arrive, then cancels the stream. */
async function quiesceAndStop(h: Harness, run: ReturnType<Harness['start']>) {
  await h.simControl('POST', '/sim/control/depth', { paused: true });
  await sleep(500);
  const outcome = await run.stop();
  await h.sink.flush();
  return outcome;
}

describe('depth stream (harness: real simulator + real ClickHouse)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });

  test('ClickHouse killed mid-stream and restarted: batches spill to disk, replay in order, zero rows lost or duplicated', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 200 } } });
    const run = h.start([{ conid: AAPL }]);
    await until('rows in ClickHouse', async () => (await storedAudit(h!, AAPL)).frames > 50);

    await h.ch.server.stop(); // ClickHouse gone (SIGTERM, waits for the exit)
    await until('batches spilled to disk', async () => h!.sink.spillStats().spillSegments >= 5, 20_000);
    expect(readdirSync(h.spillDir).some((f) => f.endsWith('.rb'))).toBe(true);
    await h.restartClickHouse();
    await until('spill replayed', async () => h!.sink.spillStats().spillSegments === 0, 60_000);

    const outcome = await quiesceAndStop(h, run);
    expect(outcome.ok || outcome.error.name).toBe('CancelledFailure'); // cancelled by the test, as a workflow would
    const sent = sentFor(await h.simStats(), AAPL);
    const stored = await storedAudit(h, AAPL);
    expect(sent.subscriptions).toBe(1);
    expect(stored.frames).toBe(sent.frames); // nothing lost
    expect(stored.rowsFinal).toBe(stored.identities); // nothing counted twice
    expect(stored.sizeSum).toBeCloseTo(sent.sizeSum, 6);
    expect(h.sink.spillStats().batchesSpilled).toBeGreaterThan(0);
    expect(h.sink.stats().insertErrors).toBeGreaterThan(0);
    // Contiguous sequence from 1 in the one epoch.
    const [seq] = await h.query<{ lo: string; hi: string; n: string }>(
      `SELECT min(seq) AS lo, max(seq) AS hi, uniqExact(seq) AS n FROM ${h.database}.depth WHERE kind = 'snapshot'`,
    );
    expect(Number(seq!.lo)).toBe(1);
    expect(Number(seq!.n)).toBe(Number(seq!.hi));
    const invariants = await storedBookInvariants(h); // spill and replay keep every book intact
    expect(invariants.crossed).toEqual([]);
    expect(invariants.outOfOrder).toEqual([]);
  });

  test('invariants over stored books (delta frames, periodic snapshots, a resubscribe): no crossed snapshot, seq strictly increasing per stream_id', async () => {
    h = await startHarness({
      sim: { depth: { framesPerSecond: 100, variant: { frames: 'delta', sizes: 'string', topicExchange: false } } },
      depth: { snapshotEveryMs: 1_000, staleAfterMs: 1_000 },
    });
    const run = h.start([{ conid: AAPL }]);
    await until('frames and periodic snapshots', async () => (await storedAudit(h!, AAPL)).frames > 200);
    await h.simControl('POST', '/sim/control/depth', { paused: true }); // silence: the watchdog opens a new epoch
    await until('a resubscribe', async () => h!.logs.some((l) => l.msg.includes('stale')), 15_000);
    const before = (await storedAudit(h, AAPL)).frames;
    await h.simControl('POST', '/sim/control/depth', { paused: false });
    await until('frames on the new epoch', async () => (await storedAudit(h!, AAPL)).frames > before + 100);
    await quiesceAndStop(h, run);

    const invariants = await storedBookInvariants(h);
    expect(invariants.streams).toBe(2);
    expect(invariants.framesChecked).toBeGreaterThan(100);
    expect(invariants.snapshotsChecked).toBeGreaterThan(3); // the two opening ladders and periodic snapshots
    expect(invariants.crossed).toEqual([]);
    expect(invariants.outOfOrder).toEqual([]);
  });

  test('a session drop ends the stream with a closing gap marker and SessionLost; the next stream starts with a gap and a full snapshot', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 50 } } });
    const first = h.start([{ conid: AAPL }]);
    await until('rows', async () => (await storedAudit(h!, AAPL)).frames > 5);
    await h.simControl('POST', '/sim/control/drop', { username: 'paperuser', kind: 'bridge' });
    const outcome = await first.done;
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error.message).toMatch(/authenticated:false/);
    expect(h.signals.some((s) => s.name === 'sessionLost' && s.workflowId === 'ibkr-session:paperuser')).toBe(true);
    await h.sink.flush();
    const [firstStream] = await h.query<{ stream_id: string; last: string }>(
      `SELECT stream_id, max(seq) AS last FROM ${h.database}.depth WHERE kind = 'snapshot' GROUP BY stream_id`,
    );
    const markers = await h.query<{ seq: string }>(
      `SELECT seq FROM ${h.database}.depth WHERE kind = 'gap' AND stream_id = '${firstStream!.stream_id}' ORDER BY seq`,
    );
    expect(markers.map((m) => Number(m.seq))).toEqual([0, Number(firstStream!.last)]); // opening and closing marker

    // The session comes back (ssodh/init); a new stream starts with a marker and a full ladder.
    await h.deps.gateway('x').openBrokerageSession(false);
    await until('session usable again', async () => (await h!.deps.gateway('x').tickle()).authStatus.authenticated, 20_000);
    const second = h.start([{ conid: AAPL }]);
    await until('a second stream', async () => {
      const rows = await h!.query<{ n: string }>(`SELECT uniqExact(stream_id) AS n FROM ${h!.database}.depth WHERE kind = 'snapshot'`);
      return Number(rows[0]!.n) >= 2;
    });
    await quiesceAndStop(h, second);
    const streams = await h.query<{ stream_id: string; first_kind: string; has_gap: string }>(`
      SELECT stream_id, argMin(kind, seq) AS first_kind, countIf(kind = 'gap' AND seq = 0) AS has_gap
      FROM ${h.database}.depth GROUP BY stream_id`);
    expect(streams).toHaveLength(2);
    for (const s of streams) {
      expect(Number(s.has_gap)).toBe(1);
    }
    const firstFrames = await h.query<{ kind: string }>(`SELECT DISTINCT kind FROM ${h.database}.depth WHERE seq = 1`);
    expect(firstFrames.map((r) => r.kind)).toEqual(['snapshot']);
  });

  test('watchdog: a ladder silent for staleAfterMs while the session is fine is marked and resubscribed on a new epoch', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 50 } }, depth: { staleAfterMs: 1500 } });
    const run = h.start([{ conid: AAPL }]);
    await until('rows', async () => (await storedAudit(h!, AAPL)).frames > 5);
    await h.simControl('POST', '/sim/control/depth', { paused: true });
    await until('a resubscribe', async () => h!.logs.some((l) => l.msg.includes('stale')), 15_000);
    await h.simControl('POST', '/sim/control/depth', { paused: false });
    await until('frames on the new epoch', async () => {
      const rows = await h!.query<{ n: string }>(`SELECT uniqExact(stream_id) AS n FROM ${h!.database}.depth WHERE kind = 'snapshot'`);
      return Number(rows[0]!.n) >= 2;
    });
    await quiesceAndStop(h, run);
    const sent = sentFor(await h.simStats(), AAPL);
    expect(sent.subscriptions).toBeGreaterThanOrEqual(2); // ubd + sbd = a new simulator subscription
    const stored = await storedAudit(h, AAPL);
    expect(stored.frames).toBe(sent.frames);
    // The stale epoch got a closing marker after its last frame.
    const closing = await h.query<{ n: string }>(`SELECT count() AS n FROM ${h.database}.depth FINAL WHERE kind = 'gap' AND seq > 0`);
    expect(Number(closing[0]!.n)).toBeGreaterThanOrEqual(2); // the stale epoch's and the last epoch's
  });

  test('over the ladder limit: the first N stream, the rest are reported (signal + error log), never retried', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 20 } }, depth: { maxLaddersPerAccount: 1 } });
    const run = h.start([{ conid: AAPL }, { conid: 8314 }]);
    await until('rows', async () => (await storedAudit(h!, AAPL)).frames > 3);
    await quiesceAndStop(h, run);
    const problem = h.signals.find((s) => s.name === 'depthProblem');
    expect(problem?.workflowId).toBe('ibkr-depth:harness-1');
    expect(String(problem?.args[0])).toMatch(/DepthOverLimit.*NOT streaming 8314/);
    expect(h.logs.some((l) => l.level >= 50 && /DepthOverLimit/.test(l.msg))).toBe(true);
    const subs = Object.values(await h.simStats());
    expect(subs.map((s) => s.conid)).toEqual([AAPL]);
  });

  test('a gateway refusal (simulator limit 1, two ladders allowed by config) is reported and not retried', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 20, maxLaddersPerAccount: 1 } }, depth: { maxLaddersPerAccount: 2, staleAfterMs: 1000 } });
    const run = h.start([{ conid: AAPL }, { conid: 8314 }]);
    await until('refusal reported', async () => h!.signals.some((s) => s.name === 'depthProblem'), 15_000);
    await sleep(2500); // longer than staleAfterMs: the refused ladder must not be resubscribed
    await quiesceAndStop(h, run);
    expect(h.logs.some((l) => l.msg.includes('stale'))).toBe(false); // never resubscribed blindly
    expect(h.signals.filter((s) => s.name === 'depthProblem')).toHaveLength(1);
    expect(Object.values(await h.simStats()).map((s) => s.conid)).toEqual([AAPL]);
    expect(String(h.signals.find((s) => s.name === 'depthProblem')!.args[0])).toMatch(/DepthRefused: .*8314.*max number of depth subscriptions/);
  });

  test('delta variant: updates are stored as kind update with ladder levels, a periodic snapshot rebuilds the book; audit by frames and sizes', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 50, variant: { frames: 'delta', sizes: 'number', topicExchange: true } } }, depth: { snapshotEveryMs: 1000 } });
    const run = h.start([{ conid: AAPL, exchange: 'SMART' }]);
    await until('updates and a periodic snapshot', async () => {
      const [r] = await h!.query<{ updates: string; periodic: string }>(`
        SELECT (SELECT uniqExact(seq) FROM ${h!.database}.depth WHERE kind = 'update') AS updates,
               (SELECT count() FROM (SELECT seq FROM ${h!.database}.depth WHERE kind IN ('snapshot', 'update')
                  GROUP BY seq HAVING countIf(kind = 'update') > 0 AND countIf(kind = 'snapshot') > 0)) AS periodic`);
      return Number(r!.updates) > 20 && Number(r!.periodic) >= 1;
    }, 60_000);
    await quiesceAndStop(h, run);
    const sent = sentFor(await h.simStats(), AAPL);
    const stored = await storedAudit(h, AAPL);
    expect(stored.frames).toBe(sent.frames);
    expect(stored.sizeSum).toBeCloseTo(sent.sizeSum, 6);
    // A periodic snapshot (a snapshot at a seq that also has update rows) equals the book rebuilt from
    // the previous full snapshot plus the updates after it.
    const [snap] = await h.query<{ last_seq: string }>(`
      SELECT max(seq) AS last_seq FROM (SELECT seq FROM ${h.database}.depth WHERE kind IN ('snapshot', 'update')
      GROUP BY seq HAVING countIf(kind = 'update') > 0 AND countIf(kind = 'snapshot') > 0)`);
    const n = Number(snap!.last_seq);
    expect(n).toBeGreaterThan(1);
    const all = await h.query<{ seq: string; kind: string; side: string; price: number; size: number }>(`
      SELECT seq, kind, side, price, size FROM ${h.database}.depth FINAL
      WHERE kind IN ('snapshot', 'update') AND side IN ('bid', 'ask') AND seq <= ${n} ORDER BY seq, kind`);
    const fullSeqs = [...new Set(all.filter((r) => r.kind === 'snapshot' && !all.some((u) => u.kind === 'update' && u.seq === r.seq)).map((r) => Number(r.seq)))];
    const base = Math.max(...fullSeqs.filter((q) => q < n));
    const book = new Map<string, number>();
    for (const r of all) if (Number(r.seq) === base && r.kind === 'snapshot') book.set(`${r.side}|${r.price}`, r.size);
    for (const r of all) if (Number(r.seq) > base && r.kind === 'update') book.set(`${r.side}|${r.price}`, r.size);
    const snapshot = all.filter((r) => Number(r.seq) === n && r.kind === 'snapshot');
    expect(snapshot.length).toBeGreaterThan(0);
    for (const r of snapshot) expect(book.get(`${r.side}|${r.price}`)).toBe(r.size);
  });

  test('malformed and oversized frames are counted, logged and skipped; the stream continues', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const topic = 'sbd+DU111111+265598';
    const frame = (bid: string) => JSON.stringify({ topic, data: [{ row: 0, focus: 0, price: '10.01', ask: '100' }, { row: 1, focus: 0, price: '10.00', bid }] });
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ topic: 'sts', args: { authenticated: true } }));
      ws.on('message', (m) => {
        if (String(m) !== `sbd+${topic.slice(4)}`) return;
        ws.send(frame('100'));
        ws.send('{not json');
        ws.send('[1,2,3]');
        ws.send(JSON.stringify({ topic, data: 'x' }));
        ws.send(JSON.stringify({ topic, data: [{ row: 0, price: 'abc', bid: '1' }] }));
        ws.send(JSON.stringify({ topic, data: Array.from({ length: 100 }, (_, i) => ({ row: i, price: String(9 - i / 100), bid: '1' })) })); // > 1 KiB
        ws.send(frame('200'));
        ws.send(frame('300'));
      });
    });
    try {
      h = await startHarness({ gatewayUrl: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, depth: { maxFrameBytes: 1024 } });
      const run = h.start([{ conid: AAPL }]);
      await until('three good frames stored', async () => (await storedAudit(h!, AAPL)).frames === 3, 15_000);
      await run.stop();
      const closed = h.logs.find((l) => l.msg === 'depth stream closed');
      expect(closed).toMatchObject({ frames: 3, malformed: 4, oversized: 1 });
      expect(h.logs.filter((l) => l.msg === 'skipped malformed depth frame')).toHaveLength(2);
      expect(h.logs.filter((l) => l.msg === 'skipped undecodable websocket frame')).toHaveLength(2);
      expect(h.logs.filter((l) => l.msg === 'skipped oversized depth frame')).toHaveLength(1);
      const seqs = await h.query<{ seq: string; bid: number }>(`SELECT seq, sumIf(size, side = 'bid') AS bid FROM ${h.database}.depth WHERE kind = 'snapshot' GROUP BY seq ORDER BY seq`);
      expect(seqs.map((r) => [Number(r.seq), r.bid])).toEqual([[1, 100], [5, 200], [6, 300]]);
      // The three frames of the ladder that were skipped (two malformed, one oversized) are gap rows at their seq;
      // the two undecodable ones name no ladder and are only counted. Seq 6 is the closing marker.
      const gaps = await h.query<{ seq: string }>(`SELECT seq FROM ${h.database}.depth WHERE kind = 'gap' AND seq > 0 ORDER BY seq`);
      expect(gaps.map((g) => Number(g.seq))).toEqual([2, 3, 4, 6]);
    } finally {
      wss.close();
    }
  });

  test('rows the sink refuses are marked with a gap row and end the stream (SinkFailed), never dropped silently', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 100 } } });
    const realSink = h.deps.sink;
    let refused: { conid: number; seq: number }[] = [];
    let calls = 0;
    // A sink that refuses one batch of frame rows (as it would a row that fails validation).
    // Both ways in — tryPush (taken at once) and push (waited for) — count and may refuse.
    const refuseTwentieth = (rows: Parameters<typeof realSink.push>[0]) => {
      if (++calls === 20 && rows.some((r) => r.kind !== 'gap')) {
        refused = rows.filter((r) => r.kind !== 'gap').map((r) => ({ conid: r.conid, seq: r.seq }));
        throw new RangeError('row 3: price is not finite');
      }
    };
    h.deps.sink = Object.assign(Object.create(realSink) as typeof realSink, {
      push: async (rows: Parameters<typeof realSink.push>[0]) => {
        refuseTwentieth(rows);
        return realSink.push(rows);
      },
      tryPush: (rows: Parameters<typeof realSink.push>[0]) => {
        refuseTwentieth(rows);
        return realSink.tryPush(rows);
      },
    });
    const run = h.start([{ conid: AAPL }]);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([run.done, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 30_000)))]);
    clearTimeout(timer); // a pending timer would keep jest from exiting
    expect(outcome).not.toBeNull();
    expect(outcome!.ok).toBe(false);
    if (outcome!.ok) return;
    expect(outcome!.error.type).toBe('SinkFailed');
    expect(outcome!.error.message).toMatch(/refused \d+ rows: row 3: price is not finite/);
    await realSink.flush();
    const lastRefused = Math.max(...refused.map((r) => r.seq));
    const gaps = await h.query<{ seq: string }>(`SELECT seq FROM ${h.database}.depth WHERE kind = 'gap' AND conid = ${AAPL} ORDER BY seq`);
    expect(gaps.map((g) => Number(g.seq))).toContain(lastRefused);
    expect(h.logs.some((l) => l.msg === 'sink failed while streaming')).toBe(true);
  });

  test('ClickHouse refuses a batch for good mid-stream: set aside with its hole marked, the stream goes on and reports it; a replay after the fix restores every frame', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 100 } } });
    const run = h.start([{ conid: AAPL }]);
    await until('rows in ClickHouse', async () => (await storedAudit(h!, AAPL)).frames > 20);
    // The server now refuses every batch holding a book row received in the next 1.5 s (Code 395); gap rows pass.
    const t1 = nowNs();
    const t2 = t1 + 1_500_000_000n;
    const inWindow = `kind != 'gap' AND received_ns >= ${t1} AND received_ns < ${t2}`;
    await h.ch.client.command({ query: `ALTER TABLE ${h.database}.depth ADD COLUMN poison UInt8 MATERIALIZED throwIf(${inWindow})` });
    try {
      await until('a batch quarantined', async () => h!.sink.stats().batchesQuarantined >= 1, 30_000);
      await until('rows received after the window stored', async () => {
        const [r] = await h!.query<{ n: string }>(`SELECT count() AS n FROM ${h!.database}.depth WHERE kind != 'gap' AND received_ns >= ${t2}`);
        return Number(r!.n) > 50;
      });
      const [refused] = await h.query<{ n: string }>(`SELECT count() AS n FROM ${h.database}.depth WHERE ${inWindow}`);
      expect(Number(refused!.n)).toBe(0);
    } finally {
      await h.ch.client.command({ query: `ALTER TABLE ${h.database}.depth DROP COLUMN poison` });
    }
    await h.sink.flush(); // the gap rows of a batch set aside just now
    const records = listQuarantine(h.config);
    expect(records.length).toBeGreaterThanOrEqual(1);
    for (const r of records) {
      expect(r.error).toMatchObject({ kind: 'permanent', code: 395 });
      for (const s of r.streams) {
        const marks = await h.query<{ n: string }>(`SELECT count() AS n FROM ${h.database}.depth WHERE kind = 'gap' AND stream_id = '${s.streamId}' AND seq = ${s.toSeq}`);
        expect([r.id, s.streamId, Number(marks[0]!.n)]).toEqual([r.id, s.streamId, 1]);
      }
    }
    // The depth workflow heard of it, with the command that puts the rows back.
    const problems = h.signals.filter((s) => s.name === 'depthProblem').map((s) => String(s.args[0]));
    for (const r of records) expect(problems.some((p) => p.startsWith('DepthQuarantined:') && p.includes(`ibflow depth quarantine replay ${r.id}`))).toBe(true);

    const outcomes = await replayQuarantine(h.config, 'all', { client: h.ch.client });
    expect(outcomes.map((o) => o.outcome)).toEqual(records.map(() => 'replayed'));
    const outcome = await quiesceAndStop(h, run);
    expect(outcome.ok || outcome.error.name).toBe('CancelledFailure'); // the refusal did not end the stream
    const sent = sentFor(await h.simStats(), AAPL);
    const stored = await storedAudit(h, AAPL);
    expect(sent.subscriptions).toBe(1);
    expect(stored.frames).toBe(sent.frames);
    expect(stored.rowsFinal).toBe(stored.identities);
    expect(stored.sizeSum).toBeCloseTo(sent.sizeSum, 6);
  });

  test('a socket paused by the sink\'s backpressure is not taken for a stale ladder (no spurious resubscribe)', async () => {
    h = await startHarness({ sim: { depth: { framesPerSecond: 50 } }, depth: { staleAfterMs: 1_000 } });
    const realSink = h.deps.sink;
    let slow = false;
    // A sink that takes 2.5 s per push for a while: the stream pauses its socket, frames stop arriving.
    h.deps.sink = Object.assign(Object.create(realSink) as typeof realSink, {
      push: async (rows: Parameters<typeof realSink.push>[0]) => {
        if (slow) await sleep(2_500);
        return realSink.push(rows);
      },
      // While slow it has no room to take rows at once: every frame goes through the slow push.
      tryPush: (rows: Parameters<typeof realSink.push>[0]) => (slow ? false : realSink.tryPush(rows)),
    });
    const run = h.start([{ conid: AAPL }]);
    await until('rows in ClickHouse', async () => (await storedAudit(h!, AAPL)).frames > 20);
    slow = true;
    await sleep(6_000);
    slow = false;
    await sleep(2_000);
    const outcome = await quiesceAndStop(h, run);
    expect(outcome.ok || outcome.error.name).toBe('CancelledFailure');
    const closed = h.logs.find((l) => l.msg === 'depth stream closed') as { resubscribes?: number } | undefined;
    expect(closed?.resubscribes).toBe(0);
    expect(h.logs.some((l) => l.msg === 'depth ladder is stale; marking a gap and resubscribing')).toBe(false);
  });
});

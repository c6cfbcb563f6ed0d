/** The depth feed driven by a scripted socket and a manual clock: protocol, epochs, watchdog, snapshots. */
import type { DepthRow } from '../../../src/book/depthRow';
import type { DepthInstrument } from '../../../src/contract/depthTypes';
import { DepthFeed, SUBSCRIBE_FALLBACK_MS, type DepthFeedSettings } from '../../../src/depth/depthFeed';
import { delta, fullLadder, ManualClock, recordEvents, recordingLogger, ScriptedSocket } from './feedTestKit';

const ACCOUNT = 'DU111111';
const AAPL = 265598;
const MSFT = 272093;
const topic = (conid: number) => `sbd+${ACCOUNT}+${conid}`;
const SETTINGS: DepthFeedSettings = { staleAfterMs: 2_000, snapshotEveryMs: 10_000, maxFrameBytes: 1_024 };

async function openFeed(opts: { instruments?: DepthInstrument[]; settings?: Partial<DepthFeedSettings> } = {}) {
  const clock = new ManualClock();
  const { rec, events } = recordEvents();
  const log = recordingLogger();
  let socket: ScriptedSocket | null = null;
  let ids = 0;
  const feed = new DepthFeed({
    connectionId: 'paper-1',
    pod: 'pod-a',
    account: ACCOUNT,
    instruments: opts.instruments ?? [{ conid: AAPL }],
    settings: { ...SETTINGS, ...opts.settings },
    socket: (handlers) => (socket = new ScriptedSocket(handlers)),
    events,
    log,
    clock,
    newStreamId: () => `epoch-${++ids}`,
  });
  await feed.open();
  return { feed, clock, socket: socket! as ScriptedSocket, rec, log };
}

/** The feed's session is usable and its ladders subscribed. */
async function streamingFeed(opts: Parameters<typeof openFeed>[0] = {}) {
  const f = await openFeed(opts);
  f.socket.deliver({ topic: 'sts', args: { authenticated: true } });
  return f;
}

const gaps = (rows: DepthRow[]) => rows.filter((r) => r.kind === 'gap').map((r) => [r.conid, r.streamId, r.seq]);
const frames = (rows: DepthRow[]) => [...new Set(rows.filter((r) => r.kind !== 'gap').map((r) => `${r.streamId}/${r.seq}/${r.kind}`))];

describe('DepthFeed: subscriptions and the session', () => {
  test('opens every ladder on its own epoch with a gap row at seq 0, before anything is subscribed', async () => {
    const { rec, socket, log } = await openFeed({ instruments: [{ conid: AAPL }, { conid: MSFT }] });
    expect(gaps(rec.rows)).toEqual([
      [AAPL, 'epoch-1', 0],
      [MSFT, 'epoch-2', 0],
    ]);
    expect(socket.sent).toEqual([]);
    expect(log.entries.find((e) => e.msg === 'depth stream open')?.obj).toEqual({ instruments: [AAPL, MSFT] });
  });

  test('subscribes one ladder per instrument when the gateway says authenticated (exchange in the topic), once', async () => {
    const { socket } = await openFeed({ instruments: [{ conid: AAPL }, { conid: MSFT, exchange: 'ISLAND' }] });
    socket.deliver({ topic: 'sts', args: { authenticated: true } });
    socket.deliver({ topic: 'sts', args: { authenticated: true } });
    expect(socket.sent).toEqual([`sbd+${ACCOUNT}+${AAPL}`, `sbd+${ACCOUNT}+${MSFT}+ISLAND`]);
  });

  test('subscribes after the fallback delay when the gateway never says authenticated', async () => {
    const { socket, clock } = await openFeed();
    clock.advance(SUBSCRIBE_FALLBACK_MS - 1);
    expect(socket.sent).toEqual([]);
    clock.advance(1);
    expect(socket.sent).toEqual([`sbd+${ACCOUNT}+${AAPL}`]);
  });

  test.each([
    [{ competing: true }, 'competing session'],
    [{ authenticated: false }, 'gateway pushed authenticated:false'],
  ])('sts %j ends the feed as session lost (%s)', async (args, reason) => {
    const { socket, rec } = await openFeed();
    socket.deliver({ topic: 'sts', args });
    expect(rec.ends).toEqual([{ kind: 'session_lost', reason }]);
    expect(socket.sent).toEqual([]); // a lost session is not subscribed
  });

  test('a closed socket ends the feed as socket closed, with the code', async () => {
    const { socket, rec } = await openFeed();
    socket.handlers.onClose(1006, '');
    expect(rec.ends).toEqual([{ kind: 'socket_closed', reason: 'websocket closed (1006)' }]);
  });

  test('a socket that does not open rejects open()', async () => {
    const feed = new DepthFeed({
      connectionId: 'c',
      pod: 'p',
      account: ACCOUNT,
      instruments: [{ conid: AAPL }],
      settings: SETTINGS,
      socket: (h) => Object.assign(new ScriptedSocket(h), { openError: new Error('ECONNREFUSED') }),
      events: recordEvents().events,
      log: recordingLogger(),
      clock: new ManualClock(),
    });
    await expect(feed.open()).rejects.toThrow('ECONNREFUSED');
  });

  test('close() closes every epoch at its last seq, closes the socket and stops every timer', async () => {
    const { feed, socket, rec, clock } = await streamingFeed({ instruments: [{ conid: AAPL }, { conid: MSFT }] });
    socket.deliver(fullLadder(topic(AAPL)));
    socket.deliver(fullLadder(topic(AAPL)));
    rec.rows.length = 0;
    feed.close();
    expect(gaps(rec.rows)).toEqual([
      [AAPL, 'epoch-1', 2],
      [MSFT, 'epoch-2', 0],
    ]);
    expect(socket.closed).toBe(true);
    expect(clock.pending).toBe(0);
  });
});

describe('DepthFeed: refused instruments', () => {
  test('a refused subscription is reported once, counted, and never resubscribed; the other ladder streams on', async () => {
    const { socket, rec, clock, log, feed } = await streamingFeed({ instruments: [{ conid: AAPL }, { conid: MSFT }] });
    socket.deliver({ topic: topic(MSFT), error: 'max number of ladders reached' });
    expect(rec.problems).toHaveLength(1);
    expect(rec.problems[0]).toMatch(/^DepthRefused: the gateway refused depth for 272093 on paper-1: max number of ladders reached — not retried/);
    expect(log.entries.filter((e) => e.level === 'error').map((e) => e.msg)).toEqual(rec.problems);
    expect(feed.stats.refused).toEqual([MSFT]);
    socket.deliver(fullLadder(topic(MSFT))); // frames of a refused ladder are ignored
    for (let i = 0; i < 5; i++) {
      clock.advance(1_000);
      socket.deliver(fullLadder(topic(AAPL)));
    }
    expect(socket.sent.filter((s) => s.includes(String(MSFT)))).toEqual([`sbd+${ACCOUNT}+${MSFT}`]);
    expect(feed.stats.resubscribes).toBe(0);
    expect(feed.stats.frames).toBe(5);
    expect(rec.rows.filter((r) => r.conid === MSFT && r.kind !== 'gap')).toEqual([]);
  });

  test('a "no bridge" refusal is not reported: the session is not ready, and the watchdog resubscribes', async () => {
    const { socket, rec, clock, feed } = await streamingFeed();
    socket.deliver({ topic: topic(AAPL), error: 'No bridge' });
    expect(rec.problems).toEqual([]);
    expect(feed.stats.refused).toEqual([]);
    clock.advance(SETTINGS.staleAfterMs);
    expect(socket.sent).toEqual([`sbd+${ACCOUNT}+${AAPL}`, `ubd+${ACCOUNT}+${AAPL}`, `sbd+${ACCOUNT}+${AAPL}`]);
  });
});

describe('DepthFeed: epochs and the watchdog', () => {
  test('frames take seq 1, 2, … on the epoch; silence for staleAfterMs closes it, unsubscribes and resubscribes on a new epoch', async () => {
    const { socket, rec, clock, feed, log } = await streamingFeed();
    socket.deliver(fullLadder(topic(AAPL)));
    socket.deliver(fullLadder(topic(AAPL), '200'));
    expect(frames(rec.rows)).toEqual(['epoch-1/1/snapshot', 'epoch-1/2/snapshot']);
    rec.rows.length = 0;

    clock.advance(SETTINGS.staleAfterMs - 1);
    expect(feed.stats.resubscribes).toBe(0);
    clock.advance(1_000); // the next watchdog look after the threshold
    expect(feed.stats.resubscribes).toBe(1);
    expect(gaps(rec.rows)).toEqual([
      [AAPL, 'epoch-1', 2], // closing: the last frame's seq
      [AAPL, 'epoch-2', 0], // opening
    ]);
    expect(socket.sent).toEqual([`sbd+${ACCOUNT}+${AAPL}`, `ubd+${ACCOUNT}+${AAPL}`, `sbd+${ACCOUNT}+${AAPL}`]);
    expect(log.entries.filter((e) => e.msg === 'depth ladder is stale; marking a gap and resubscribing')).toHaveLength(1);

    rec.rows.length = 0;
    socket.deliver(fullLadder(topic(AAPL)));
    expect(frames(rec.rows)).toEqual(['epoch-2/1/snapshot']); // seq from 1 and a fresh book: a full ladder again
  });

  test('a ladder that keeps sending is never stale', async () => {
    const { socket, clock, feed } = await streamingFeed();
    for (let i = 0; i < 20; i++) {
      clock.advance(SETTINGS.staleAfterMs / 2);
      socket.deliver(fullLadder(topic(AAPL)));
    }
    expect(feed.stats.resubscribes).toBe(0);
  });

  test('the watchdog rests while the socket is paused for the sink, and the pause does not count as silence', async () => {
    const { socket, clock, feed } = await streamingFeed();
    socket.deliver(fullLadder(topic(AAPL)));
    clock.advance(1_000); // 1 s of real silence before the pause (the watchdog looks every 500 ms)
    feed.pause();
    expect(socket.paused).toBe(true);
    feed.pause(); // idempotent
    expect(socket.pauses).toBe(1);
    clock.advance(10 * SETTINGS.staleAfterMs);
    expect(feed.stats.resubscribes).toBe(0);
    feed.resume();
    expect(socket.paused).toBe(false);
    clock.advance(500); // the next look: 1.5 s of silence counted, not 21.5 s
    expect(feed.stats.resubscribes).toBe(0);
    clock.advance(500); // 2 s counted
    expect(feed.stats.resubscribes).toBe(1);
  });

  test('no watchdog before the session is known to be fine', async () => {
    const { socket, clock, feed } = await openFeed();
    clock.advance(SUBSCRIBE_FALLBACK_MS - 1);
    expect(feed.stats.resubscribes).toBe(0);
    expect(socket.sent).toEqual([]);
  });
});

describe('DepthFeed: snapshots', () => {
  test('after delta frames the maintained book is written as a snapshot every snapshotEveryMs, with the last frame\'s seq', async () => {
    const { socket, rec, clock, feed } = await streamingFeed({ settings: { staleAfterMs: 600_000 } });
    socket.deliver(fullLadder(topic(AAPL)));
    socket.deliver(delta(topic(AAPL), '75'));
    expect(frames(rec.rows)).toEqual(['epoch-1/1/snapshot', 'epoch-1/2/update']);
    rec.rows.length = 0;

    clock.advance(SETTINGS.snapshotEveryMs - 1);
    expect(rec.rows).toEqual([]);
    clock.advance(1);
    expect(frames(rec.rows)).toEqual(['epoch-1/2/snapshot']);
    expect(rec.rows.map((r) => [r.side, r.price, r.size])).toEqual([
      ['bid', 10, 100],
      ['bid', 9.99, 75],
      ['ask', 10.01, 100],
    ]);
    expect(feed.stats.snapshots).toBe(1);

    rec.rows.length = 0;
    clock.advance(SETTINGS.snapshotEveryMs); // nothing new since: nothing written
    expect(rec.rows).toEqual([]);
    socket.deliver(delta(topic(AAPL), '80'));
    clock.advance(SETTINGS.snapshotEveryMs);
    expect(frames(rec.rows)).toEqual(['epoch-1/3/update', 'epoch-1/3/snapshot']);
    expect(feed.stats.snapshots).toBe(2);
  });

  test('full-ladder frames need no periodic snapshot', async () => {
    const { socket, rec, clock, feed } = await streamingFeed({ settings: { staleAfterMs: 600_000 } });
    socket.deliver(fullLadder(topic(AAPL)));
    rec.rows.length = 0;
    clock.advance(3 * SETTINGS.snapshotEveryMs);
    expect(rec.rows).toEqual([]);
    expect(feed.stats.snapshots).toBe(0);
  });
});

describe('DepthFeed: malformed and oversized frames', () => {
  test('a skipped frame of a known ladder becomes a gap row at its seq; the stream continues', async () => {
    const { socket, rec, feed, log } = await streamingFeed();
    socket.deliver(fullLadder(topic(AAPL))); // seq 1
    socket.deliver({ topic: topic(AAPL), data: 'x' }); // seq 2: malformed
    socket.deliver({ topic: topic(AAPL), data: [{ row: 0, price: 'abc', bid: '1' }] }); // seq 3: malformed
    socket.deliver(fullLadder(topic(AAPL)), SETTINGS.maxFrameBytes + 1); // seq 4: oversized
    socket.deliver(fullLadder(topic(AAPL), '300')); // seq 5
    expect(rec.rows.filter((r) => r.seq > 0).map((r) => `${r.seq}/${r.kind}`)).toEqual([
      '1/snapshot',
      '1/snapshot',
      '1/snapshot',
      '2/gap',
      '3/gap',
      '4/gap',
      '5/snapshot',
      '5/snapshot',
      '5/snapshot',
    ]);
    expect(feed.stats).toMatchObject({ frames: 2, malformed: 2, oversized: 1 });
    expect(log.entries.filter((e) => e.msg === 'skipped malformed depth frame')).toHaveLength(2);
    expect(log.entries.find((e) => e.msg === 'skipped oversized depth frame')?.obj).toMatchObject({ rawBytes: SETTINGS.maxFrameBytes + 1, maxFrameBytes: SETTINGS.maxFrameBytes });
  });

  test('undecodable frames and frames of no known ladder are counted or ignored, never stored', async () => {
    const { socket, rec, feed, log } = await streamingFeed();
    rec.rows.length = 0;
    socket.handlers.onUndecodable('frame is not JSON', 9);
    socket.deliver(fullLadder(topic(MSFT))); // not streamed here
    socket.deliver(fullLadder('sbd+not a topic'));
    socket.deliver({ topic: 'smd+265598', args: {} });
    expect(rec.rows).toEqual([]);
    expect(feed.stats).toMatchObject({ frames: 0, malformed: 1 });
    expect(log.entries.filter((e) => e.msg === 'skipped undecodable websocket frame')).toHaveLength(1);
  });
});

import fc from 'fast-check';
import { DEFAULT_PACING, GatewayPacer, PacerRefusal, type PacerPriority } from '../../../src/gateway/gatewayPacer';

/** A fake clock: sleeping advances time, so pacing decisions are exact and instant. */
function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), get t() { return t; } };
}

/** Lets every pending promise callback run (microtasks drain before the next macrotask). */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** The promise's outcome if it settles without the clock moving, else 'pending'. */
function settledNow<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, settle().then(() => 'pending' as const)]);
}

/**
 * A discrete-event fake clock for several concurrent waiters: `sleep` and `at` register events,
 * `run` jumps to the earliest one, fires it and lets promise callbacks settle before the next.
 */
function eventClock(start = 1_000_000) {
  let t = start;
  let seq = 0;
  const events: { at: number; seq: number; fire: () => void }[] = [];
  const remove = (e: (typeof events)[number]) => {
    const i = events.indexOf(e);
    if (i >= 0) events.splice(i, 1);
  };
  return {
    now: () => t,
    get t() {
      return t;
    },
    sleep: (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve) => {
        const e = { at: t + ms, seq: seq++, fire: resolve };
        events.push(e);
        signal?.addEventListener('abort', () => {
          remove(e);
          resolve();
        }, { once: true });
      }),
    at(time: number, fire: () => void) {
      events.push({ at: time, seq: seq++, fire });
    },
    /** Runs until no event is left (or `until`), failing loudly on a wake-up storm. */
    async run(until = Infinity) {
      for (let steps = 0; ; steps++) {
        await settle();
        if (steps > 200_000) throw new Error('too many events: the pacer is spinning');
        events.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = events[0];
        if (!next || next.at > until) break;
        events.shift();
        t = Math.max(t, next.at);
        next.fire();
      }
      if (until !== Infinity) t = Math.max(t, until);
      await settle();
    },
    pending: () => events.length,
  };
}

test('tickles are spaced at least 2 s apart', async () => {
  const clock = fakeClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    await pacer.acquire('/v1/api/tickle');
    times.push(clock.t);
    pacer.finished('/v1/api/tickle');
  }
  for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(2_000);
});

test('no more than 8 requests start in any one-second window', async () => {
  const clock = fakeClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const path = i % 2 ? '/v1/api/iserver/auth/status' : '/v1/portal/iserver/accounts';
    await pacer.acquire(path);
    times.push(clock.t);
    pacer.finished(path); // answered at once
  }
  for (let i = 8; i < times.length; i++) expect(times[i] - times[i - 8]).toBeGreaterThanOrEqual(1_000);
  expect(times[8] - times[0]).toBe(1_000);
  expect(times[7] - times[0]).toBe(0); // a burst within the limit is not delayed
});

test('the /v1/portal spelling and query strings count against the same rule', async () => {
  const clock = fakeClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/sso/validate');
  pacer.finished('/v1/api/sso/validate');
  const before = clock.t;
  await pacer.acquire('/v1/portal/sso/validate?x=1');
  expect(clock.t - before).toBeGreaterThanOrEqual(61_000);
});

test('a slow answer pushes the next tickle back: intervals count from the previous answer', async () => {
  const clock = fakeClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/tickle');
  await clock.sleep(1_500); // the answer takes 1.5 s (e.g. queued on a loaded host)
  pacer.finished('/v1/api/tickle');
  const answeredAt = clock.t;
  await pacer.acquire('/v1/api/tickle');
  expect(clock.t - answeredAt).toBeGreaterThanOrEqual(2_000);
  // Paths without a rule are untouched by `finished`.
  pacer.finished('/v1/api/iserver/auth/status');
  const t = clock.t;
  await pacer.acquire('/v1/api/iserver/auth/status');
  expect(clock.t).toBe(t);
});

test('a second tickle waits for the answer to the one in flight, then the interval', async () => {
  // Events on one timeline: the answer is an event of its own, not a side effect of the pacer's sleeps.
  const clock = eventClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/tickle');
  const sentAt = clock.t;
  let answeredAt = 0;
  // The keepalive's tickle is answered 4.3 s after it was sent.
  clock.at(sentAt + 4_300, () => {
    answeredAt = clock.t;
    pacer.finished('/v1/api/tickle');
  });
  let startedAt = 0;
  const second = pacer.acquire('/v1/api/tickle').then(() => void (startedAt = clock.t)); // the depth stream's start tickle, meanwhile
  await clock.run();
  await second;
  expect(answeredAt).toBeGreaterThan(0);
  expect(startedAt - answeredAt).toBeGreaterThanOrEqual(2_000);
  expect(startedAt - sentAt).toBeGreaterThanOrEqual(6_300);
  expect(startedAt - sentAt).toBe(6_300); // the answer wakes the waiter at once, no polling lag
});

test('a request never answered stops holding its path after 15 s', async () => {
  const clock = fakeClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/tickle');
  const sentAt = clock.t;
  await pacer.acquire('/v1/api/tickle');
  expect(clock.t - sentAt).toBeGreaterThanOrEqual(15_000);
  expect(clock.t - sentAt).toBeLessThan(16_000);
});

/** What one acquire call led to, on the event clock. */
interface Outcome {
  arrivedAt: number;
  startedAt?: number;
  refusal?: PacerRefusal;
  refusedAt?: number;
}

test('a request counts in the global window until a second after its answer: it may reach the gateway late', async () => {
  const clock = eventClock();
  const pacer = new GatewayPacer({ globalPerSecond: 2, rules: [] }, clock.now, clock.sleep);
  const t0 = clock.t;
  await pacer.acquire('/v1/api/a');
  await pacer.acquire('/v1/api/b');
  clock.at(t0 + 100, () => pacer.finished('/v1/api/a'));
  clock.at(t0 + 700, () => pacer.finished('/v1/portal/b?x=1'));
  const starts: number[] = [];
  for (let i = 0; i < 2; i++) void pacer.acquire('/v1/api/c').then(() => starts.push(clock.t));
  await clock.run();
  // `a` frees its slot 1 s after its answer, `b` 1 s after its later one — not 1 s after their starts.
  expect(starts).toEqual([t0 + 1_100, t0 + 1_700]);
});

test('a request to a free path is not delayed by a waiting sso/validate, and its own path still waits', async () => {
  const clock = eventClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/sso/validate');
  pacer.finished('/v1/api/sso/validate');
  let ssoAt = 0;
  void pacer.acquire('/v1/api/sso/validate').then(() => void (ssoAt = clock.t));
  const t0 = clock.t;
  // The old single FIFO chain made this wait 61 s.
  await expect(settledNow(pacer.acquire('/v1/api/tickle'))).resolves.toBeUndefined();
  expect(clock.t).toBe(t0);
  expect(pacer.stats()).toEqual({ waiting: 1, waitingByPath: { '/sso/validate': 1 } });
  await clock.run();
  expect(ssoAt - t0).toBe(61_000);
});

test('a wait already known to be too long is refused at once, with an honest retryAfterMs', async () => {
  const clock = eventClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/sso/validate');
  pacer.finished('/v1/api/sso/validate');
  await clock.run(clock.t + 1_000);
  const refusal = await settledNow(pacer.acquire('/v1/portal/sso/validate?x=1', { priority: 'app', maxWaitMs: 5_000 }).catch((e: unknown) => e));
  expect(refusal).toBeInstanceOf(PacerRefusal);
  expect(refusal).toBeInstanceOf(Error);
  const r = refusal as PacerRefusal;
  expect(r.why).toBe('too_long');
  expect(r.retryAfterMs).toBe(60_000);
  expect(r.message).toMatch(/\/sso\/validate/);
  expect(r.message).toMatch(/too_long/);
  expect(r.message).not.toMatch(/x=1/); // the query string stays out of messages and logs
  expect(pacer.stats().waiting).toBe(0);
  // A retry after retryAfterMs passes at once.
  await clock.run(clock.t + r.retryAfterMs);
  const before = clock.t;
  await expect(settledNow(pacer.acquire('/v1/api/sso/validate', { priority: 'app', maxWaitMs: 0 }))).resolves.toBeUndefined();
  expect(clock.t).toBe(before);
});

test('a request that cannot start before its deadline is refused at the deadline, not later and not earlier', async () => {
  const clock = eventClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  const t0 = clock.t;
  for (let i = 0; i < 8; i++) {
    await pacer.acquire('/v1/api/iserver/accounts');
    pacer.finished('/v1/api/iserver/accounts');
  }
  // Eight of ibflow's own requests queue for the next second; an app request may wait 1.2 s.
  const ibflow: number[] = [];
  for (let i = 0; i < 8; i++) {
    void pacer.acquire('/v1/api/iserver/auth/status').then(() => {
      ibflow.push(clock.t);
      pacer.finished('/v1/api/iserver/auth/status');
    });
  }
  const app: Outcome = { arrivedAt: t0 };
  void pacer.acquire('/v1/api/iserver/auth/status', { priority: 'app', maxWaitMs: 1_200 }).catch((e: PacerRefusal) => {
    app.refusal = e;
    app.refusedAt = clock.t;
  });
  await clock.run();
  expect(ibflow).toEqual(Array(8).fill(t0 + 1_000));
  expect(app.refusedAt).toBe(t0 + 1_200);
  expect(app.refusal?.why).toBe('too_long');
  expect(app.refusal?.retryAfterMs).toBe(800); // the window has room again 1 s after the ibflow burst
});

test('the queue is bounded for app requests (queue_full at maxQueued), never for ibflow', async () => {
  const clock = eventClock();
  const pacer = new GatewayPacer({ globalPerSecond: 1, rules: [] }, clock.now, clock.sleep, { maxQueued: 3 });
  await pacer.acquire('/v1/api/iserver/accounts');
  pacer.finished('/v1/api/iserver/accounts');
  const started: string[] = [];
  for (const p of ['/v1/api/a', '/v1/api/b', '/v1/portal/a?q=1']) {
    void pacer.acquire(p, { priority: 'app' }).then(() => {
      started.push(p);
      pacer.finished(p);
    });
  }
  expect(pacer.stats()).toEqual({ waiting: 3, waitingByPath: { '/a': 2, '/b': 1 } });
  const full = await settledNow(pacer.acquire('/v1/api/c', { priority: 'app' }).catch((e: unknown) => e));
  expect(full).toBeInstanceOf(PacerRefusal);
  expect((full as PacerRefusal).why).toBe('queue_full');
  expect((full as PacerRefusal).retryAfterMs).toBe(1_000); // when the first waiter starts
  expect((full as PacerRefusal).message).toMatch(/\/c: queue_full/);
  let ibflowAt = 0;
  void pacer.acquire('/v1/api/tickle').then(() => {
    ibflowAt = clock.t;
    pacer.finished('/v1/api/tickle');
  });
  expect(pacer.stats().waiting).toBe(4);
  const t0 = clock.t;
  await clock.run();
  expect(ibflowAt).toBe(t0 + 1_000); // and it goes first
  expect(started).toEqual(['/v1/api/a', '/v1/api/b', '/v1/portal/a?q=1']);
  expect(pacer.stats()).toEqual({ waiting: 0, waitingByPath: {} });
});

test('the keepalive does not starve behind a flood of app requests, on its own path either', async () => {
  const clock = eventClock();
  const pacer = new GatewayPacer(undefined, clock.now, clock.sleep);
  await pacer.acquire('/v1/api/tickle', { priority: 'app' });
  const answered = (path: string) => () => pacer.finished(path);
  for (let i = 0; i < 40; i++) void pacer.acquire('/v1/api/iserver/auth/status', { priority: 'app' }).then(answered('/v1/api/iserver/auth/status'));
  for (let i = 0; i < 20; i++) void pacer.acquire('/v1/api/tickle', { priority: 'app' }).then(answered('/v1/api/tickle'));
  const t0 = clock.t;
  let statusAt = 0;
  let tickleAt = 0;
  void pacer.acquire('/v1/api/iserver/auth/status').then(() => void (statusAt = clock.t));
  void pacer.acquire('/v1/api/tickle').then(() => void (tickleAt = clock.t));
  clock.at(t0 + 300, () => pacer.finished('/v1/api/tickle')); // the app's tickle is answered
  await clock.run();
  expect(statusAt - t0).toBeLessThanOrEqual(1_000); // only the global spacing
  // Its path is free 2 s after the app tickle's answer (2.3 s); the global window may add up to 1 s.
  // Behind the 20 queued app tickles it would have waited 40 s or more.
  expect(tickleAt - t0).toBeGreaterThanOrEqual(2_300);
  expect(tickleAt - t0).toBeLessThanOrEqual(3_300);
});

test('the default timers wake only when something can happen and are gone once nobody waits', async () => {
  jest.useFakeTimers({ now: 1_000_000 });
  try {
    const setTimeoutSpy = jest.spyOn(global, 'setTimeout');
    const pacer = new GatewayPacer();
    await pacer.acquire('/v1/api/tickle');
    let startedAt = 0;
    const second = pacer.acquire('/v1/api/tickle').then(() => void (startedAt = Date.now()));
    expect(jest.getTimerCount()).toBe(1); // one wake-up at the in-flight limit, no polling
    await jest.advanceTimersByTimeAsync(4_300);
    pacer.finished('/v1/api/tickle');
    await jest.advanceTimersByTimeAsync(2_000);
    await second;
    expect(startedAt).toBe(1_006_300);
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(2);
    // A refused waiter leaves no timer behind.
    const refused = pacer.acquire('/v1/api/tickle', { priority: 'app', maxWaitMs: 100 }).catch((e: PacerRefusal) => e.why);
    await expect(refused).resolves.toBe('too_long');
    expect(jest.getTimerCount()).toBe(0);
    // A wait beyond setTimeout's range (which would fire at once) neither starts early nor spins.
    const slow = new GatewayPacer({ globalPerSecond: 8, rules: [{ path: '/slow', minIntervalMs: 3e9 }] });
    await slow.acquire('/v1/api/slow');
    slow.finished('/v1/api/slow');
    const calls = setTimeoutSpy.mock.calls.length;
    let slowAt = 0;
    const t = Date.now();
    void slow.acquire('/v1/api/slow').then(() => void (slowAt = Date.now()));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(slowAt).toBe(0);
    expect(setTimeoutSpy.mock.calls.length - calls).toBe(1);
    await jest.advanceTimersByTimeAsync(3e9);
    expect(slowAt).toBe(t + 3e9);
    expect(setTimeoutSpy.mock.calls.length - calls).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  } finally {
    jest.useRealTimers();
  }
});

// ---- Properties over random mixes of paths, priorities, deadlines and arrival times ----

/** The paths a pod sends, in the spellings callers use, with the rule the pacer should apply. */
const PATHS = [
  { path: '/v1/api/tickle', key: '/tickle', intervalMs: 2_000 },
  { path: '/v1/portal/tickle', key: '/tickle', intervalMs: 2_000 },
  { path: '/v1/api/sso/validate', key: '/sso/validate', intervalMs: 61_000 },
  { path: '/v1/api/portfolio/accounts?page=1', key: '/portfolio/accounts', intervalMs: 5_500 },
  { path: '/v1/api/iserver/marketdata/snapshot?conids=265598', key: '/iserver/marketdata/snapshot', intervalMs: 110 },
  { path: '/v1/api/iserver/auth/status', key: '/iserver/auth/status', intervalMs: 0 },
  { path: '/v1/portal/iserver/accounts', key: '/iserver/accounts', intervalMs: 0 },
] as const;
const IN_FLIGHT_LIMIT_MS = 15_000;

interface Req {
  atMs: number;
  pathIndex: number;
  priority: PacerPriority;
  maxWaitMs: number | undefined;
  /** null = never answered. */
  answerAfterMs: number | null;
}

const reqArb: fc.Arbitrary<Req> = fc.record({
  // Bursts at a few instants as well as spread arrivals.
  atMs: fc.oneof(fc.integer({ min: 0, max: 90_000 }), fc.constantFrom(0, 1_000, 1_500, 30_000)),
  pathIndex: fc.integer({ min: 0, max: PATHS.length - 1 }),
  priority: fc.constantFrom<PacerPriority>('ibflow', 'app'),
  maxWaitMs: fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined }),
  answerAfterMs: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: null, freq: 8 }),
});

type LogEntry = { kind: 'arrive' | 'start' | 'finish' | 'refuse'; i: number; t: number };

async function simulate(reqs: Req[], opts: { globalPerSecond: number; maxQueued: number }) {
  const clock = eventClock();
  const t0 = clock.t;
  const pacer = new GatewayPacer({ ...DEFAULT_PACING, globalPerSecond: opts.globalPerSecond }, clock.now, clock.sleep, { maxQueued: opts.maxQueued });
  const log: LogEntry[] = [];
  const outcomes: (Outcome & { waitingBefore: number })[] = reqs.map(() => ({ arrivedAt: NaN, waitingBefore: NaN }));
  reqs.forEach((r, i) =>
    clock.at(t0 + r.atMs, () => {
      const stats = pacer.stats();
      expect(Object.values(stats.waitingByPath).reduce((a, b) => a + b, 0)).toBe(stats.waiting);
      expect(Object.keys(stats.waitingByPath).every((k) => PATHS.some((p) => p.key === k))).toBe(true);
      outcomes[i].waitingBefore = stats.waiting;
      outcomes[i].arrivedAt = clock.t;
      log.push({ kind: 'arrive', i, t: clock.t });
      pacer.acquire(PATHS[r.pathIndex].path, { priority: r.priority, maxWaitMs: r.maxWaitMs }).then(
        () => {
          outcomes[i].startedAt = clock.t;
          log.push({ kind: 'start', i, t: clock.t });
          if (r.answerAfterMs === null) return;
          clock.at(clock.t + r.answerAfterMs, () => {
            log.push({ kind: 'finish', i, t: clock.t });
            pacer.finished(PATHS[r.pathIndex].path);
          });
        },
        (err: PacerRefusal) => {
          outcomes[i].refusal = err;
          outcomes[i].refusedAt = clock.t;
          log.push({ kind: 'refuse', i, t: clock.t });
        },
      );
    }),
  );
  await clock.run();
  return { t0, log, outcomes, stats: pacer.stats(), pending: clock.pending() };
}

/** Replays the log in order, calling `check` before each start with each path's state then. */
function replay(reqs: Req[], log: LogEntry[], check: (e: LogEntry, ready: (key: string, t: number) => boolean, waiting: Set<number>) => void) {
  const last = new Map<string, number>();
  const holdSince = new Map<string, number>();
  const waiting = new Set<number>();
  const ready = (key: string, t: number) => {
    const p = PATHS.find((x) => x.key === key)!;
    if (p.intervalMs === 0) return true;
    const l = last.get(key);
    const h = holdSince.get(key);
    return (l === undefined || t >= l + p.intervalMs) && (h === undefined || t - h >= IN_FLIGHT_LIMIT_MS);
  };
  for (const e of log) {
    const key = PATHS[reqs[e.i].pathIndex].key;
    if (e.kind === 'arrive') waiting.add(e.i);
    if (e.kind === 'refuse') waiting.delete(e.i);
    if (e.kind === 'start') {
      waiting.delete(e.i);
      check(e, ready, waiting);
      last.set(key, Math.max(last.get(key) ?? 0, e.t));
      holdSince.set(key, e.t);
    }
    if (e.kind === 'finish') {
      last.set(key, Math.max(last.get(key) ?? 0, e.t));
      holdSince.delete(key);
    }
  }
}

const mixArb = fc.record({
  reqs: fc.array(reqArb, { minLength: 1, maxLength: 70 }),
  globalPerSecond: fc.integer({ min: 1, max: 10 }),
  maxQueued: fc.integer({ min: 1, max: 16 }),
});

test('property: global window, per-path spacing, priority, deadlines, queue bound, and nobody waits forever', async () => {
  await fc.assert(
    fc.asyncProperty(mixArb, async ({ reqs, globalPerSecond, maxQueued }) => {
      const { log, outcomes, stats, pending } = await simulate(reqs, { globalPerSecond, maxQueued });

      // (7) Every request ended started or refused; nothing is left waiting and no timer is left.
      for (const o of outcomes) expect(o.startedAt !== undefined || o.refusal !== undefined).toBe(true);
      expect(stats.waiting).toBe(0);
      expect(pending).toBe(0);

      // (1) No more than globalPerSecond starts in any 1 s sliding window.
      const starts = outcomes.flatMap((o) => (o.startedAt === undefined ? [] : [o.startedAt])).sort((a, b) => a - b);
      for (let i = globalPerSecond; i < starts.length; i++) expect(starts[i] - starts[i - globalPerSecond]).toBeGreaterThanOrEqual(1_000);

      // (1b) Counted by arrival: a request may reach the gateway any time between its start and its
      // answer, so no start while globalPerSecond others could still arrive within 1 s of it.
      const finishOf = new Map(log.filter((e) => e.kind === 'finish').map((e) => [e.i, e.t]));
      const started: number[] = [];
      for (const e of log.filter((x) => x.kind === 'start')) {
        const couldArriveWithin1s = started.filter((i) => Math.min(finishOf.get(i) ?? Infinity, outcomes[i].startedAt! + IN_FLIGHT_LIMIT_MS) + 1_000 > e.t);
        expect(couldArriveWithin1s.length).toBeLessThan(globalPerSecond);
        started.push(e.i);
      }

      replay(reqs, log, (e, ready, waiting) => {
        const req = reqs[e.i];
        // (2) Per-path spacing: an interval after the previous start and answer, and no start while
        // the previous request is unanswered (for up to the in-flight limit).
        expect(ready(PATHS[req.pathIndex].key, e.t)).toBe(true);
        // (4) No app request starts while an ibflow request whose path may send is still waiting.
        if (req.priority === 'app') {
          for (const w of waiting) {
            if (reqs[w].priority === 'ibflow') expect(ready(PATHS[reqs[w].pathIndex].key, e.t)).toBe(false);
          }
        }
      });

      reqs.forEach((r, i) => {
        const o = outcomes[i];
        // (5) maxWaitMs: started within it, or refused no later than it with a positive retryAfterMs.
        if (o.refusal) {
          expect(o.refusal.retryAfterMs).toBeGreaterThan(0);
          expect(o.refusal.message).toContain(PATHS[r.pathIndex].key);
        }
        if (r.maxWaitMs === undefined) expect(o.refusal?.why).not.toBe('too_long');
        else if (o.startedAt !== undefined) expect(o.startedAt - o.arrivedAt).toBeLessThanOrEqual(r.maxWaitMs);
        else expect(o.refusedAt! - o.arrivedAt).toBeLessThanOrEqual(r.maxWaitMs);
        // (6) queue_full only for app requests arriving at a queue of maxQueued or more.
        if (o.refusal?.why === 'queue_full') {
          expect(r.priority).toBe('app');
          expect(o.waitingBefore).toBeGreaterThanOrEqual(maxQueued);
          expect(o.refusedAt).toBe(o.arrivedAt);
        }
        if (o.waitingBefore < maxQueued || r.priority === 'ibflow') expect(o.refusal?.why).not.toBe('queue_full');
      });
    }),
    { numRuns: 150 },
  );
});

test('property: requests waiting for sso/validate never delay requests to other paths', async () => {
  const others = fc.array(
    reqArb.filter((r) => PATHS[r.pathIndex].key !== '/sso/validate').map((r) => ({ ...r, atMs: r.atMs % 50_000 })),
    { minLength: 1, maxLength: 50 },
  );
  const ssoWaiters = fc.array(
    fc.record({ atMs: fc.integer({ min: 1, max: 50_000 }), priority: fc.constantFrom<PacerPriority>('ibflow', 'app') }),
    { minLength: 1, maxLength: 5 },
  );
  const ssoIndex = PATHS.findIndex((p) => p.key === '/sso/validate');
  await fc.assert(
    fc.asyncProperty(others, ssoWaiters, fc.integer({ min: 1, max: 10 }), async (mix, sso, globalPerSecond) => {
      // Both runs answer one sso/validate at once at time 0; run B adds sso/validate requests that must wait 61 s.
      const first: Req = { atMs: 0, pathIndex: ssoIndex, priority: 'ibflow', maxWaitMs: undefined, answerAfterMs: 0 };
      const waiters: Req[] = sso.map((s) => ({ ...s, pathIndex: ssoIndex, maxWaitMs: undefined, answerAfterMs: 0 }));
      const a = await simulate([first, ...mix], { globalPerSecond, maxQueued: 1_000 });
      const b = await simulate([first, ...mix, ...waiters], { globalPerSecond, maxQueued: 1_000 });
      for (const k of waiters.keys()) expect(b.outcomes[1 + mix.length + k].startedAt! - b.t0).toBeGreaterThanOrEqual(61_000);
      mix.forEach((_, j) => {
        const oa = a.outcomes[1 + j];
        const ob = b.outcomes[1 + j];
        const endedAt = oa.startedAt ?? oa.refusedAt!;
        if (endedAt - a.t0 >= 61_000) return; // from then on the sso/validate waiters rightly share the global budget
        expect(ob.startedAt).toBe(oa.startedAt);
        expect(ob.refusedAt).toBe(oa.refusedAt);
        expect(ob.refusal?.why).toBe(oa.refusal?.why);
      });
    }),
    { numRuns: 100 },
  );
});

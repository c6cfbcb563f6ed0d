import { GatewayPacer } from '../../../src/gateway/gatewayPacer';

/** A fake clock: sleeping advances time, so pacing decisions are exact and instant. */
function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), get t() { return t; } };
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
    await pacer.acquire(i % 2 ? '/v1/api/iserver/auth/status' : '/v1/portal/iserver/accounts');
    times.push(clock.t);
  }
  for (let i = 8; i < times.length; i++) expect(times[i] - times[i - 8]).toBeGreaterThanOrEqual(1_000);
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
  const clock = fakeClock();
  let sentAt = 0;
  let answeredAt = 0;
  // The keepalive's tickle is answered 4.3 s after it was sent (the fake clock moves as waiters sleep).
  const pacer: GatewayPacer = new GatewayPacer(undefined, clock.now, async (ms) => {
    await clock.sleep(ms);
    if (answeredAt === 0 && clock.t - sentAt >= 4_300) {
      answeredAt = clock.t;
      pacer.finished('/v1/api/tickle');
    }
  });
  await pacer.acquire('/v1/api/tickle');
  sentAt = clock.t;
  await pacer.acquire('/v1/api/tickle'); // the depth stream's start tickle, meanwhile
  expect(answeredAt).toBeGreaterThan(0);
  expect(clock.t - answeredAt).toBeGreaterThanOrEqual(2_000);
  expect(clock.t - sentAt).toBeGreaterThanOrEqual(6_300);
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

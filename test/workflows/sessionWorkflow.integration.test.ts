/**
 * The session workflow's decisions over long spans of time, on Temporal's time-skipping test
 * server with typed fake activities: backoff, lockout budget, 429 waits, competing cool-down and
 * maintenance windows — days of schedule in seconds.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporalTestServerBinary } from '../../stack/projectPaths';
import { CONTROL_TASK_QUEUE, podTaskQueue } from '../../src/contract/ids';
import type { CompetingPolicy, SessionStatus } from '../../src/contract/sessionStatus';
import type { ControlActivities } from '../../activities';
import { forceReloginSignal, pacingSignal, statusQuery } from '../../workflows/messages';
import { sessionWorkflow, type SessionWorkflowInput } from '../../workflows/session';
import { bundleOnce } from '../support/testStack';
import { FakeGateway, fakeControlActivities } from './support/fakeSessionActivities';
import { createLogger } from '../../src/logging/logger';
import { installTemporalRuntimeLogging } from '../../src/logging/temporalRuntime';
import { SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';
import { temporal } from '@temporalio/proto';

jest.setTimeout(120_000);

const POD = 'pod-t';
const MIN = 60_000;
let env: TestWorkflowEnvironment;

/** The connection's competing policy as the next describeConnection reports it. */
let competingPolicy: CompetingPolicy = 'reclaim';

const control = fakeControlActivities({ pod: POD, mode: 'live', competingPolicy: () => competingPolicy });

// A fresh test server per test: each moves its clock by days, and nothing must carry over.
beforeEach(async () => {
  installTemporalRuntimeLogging(createLogger('test', process.env.DEBUG_TEMPORAL ? undefined : ({ write: () => undefined } as never)));
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: temporalTestServerBinary() } } });
  // The workflow upserts these; `ibflow up` registers them on the dev server the same way.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
});

afterEach(async () => {
  competingPolicy = 'reclaim';
  await env?.teardown();
});

let counter = 0;
/** Runs a session workflow against `gateway` while `body` drives it. */
async function withSession(
  gateway: FakeGateway,
  input: Partial<SessionWorkflowInput>,
  body: (h: { status(): Promise<SessionStatus>; signal(s: typeof forceReloginSignal): Promise<void>; runId(): Promise<string>; workflowId: string }) => Promise<void>,
  controlActivities: ControlActivities = control,
) {
  const connectionId = `c${++counter}`;
  const workflowBundle = await bundleOnce();
  const controlWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: CONTROL_TASK_QUEUE, workflowBundle, activities: controlActivities });
  const podWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: podTaskQueue(POD), activities: gateway.activities() });
  await controlWorker.runUntil(
    podWorker.runUntil(async () => {
      const handle = await env.client.workflow.start(sessionWorkflow, {
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId: `ibkr-session:${connectionId}`,
        args: [{ connectionId, maintenance: { daily: [], weekly: [] }, ...input }],
      });
      try {
        await body({ status: () => handle.query(statusQuery), signal: (s) => handle.signal(s), runId: async () => (await env.client.workflow.getHandle(handle.workflowId).describe()).runId, workflowId: handle.workflowId });
      } finally {
        await handle.terminate('test over');
      }
    }),
  );
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

test('a wrong password asks for a human once and never retries, even over two days', async () => {
  const gateway = new FakeGateway();
  gateway.loginFailures = ['InvalidCredentials'];
  await withSession(gateway, {}, async ({ status }) => {
    await until('manual_action_required', async () => (await status()).state === 'manual_action_required');
    expect((await status()).reason).toContain('InvalidCredentials');
    await env.sleep(2 * 24 * 60 * MIN);
    expect((await status()).state).toBe('manual_action_required');
    expect(gateway.logins).toBe(1);
  });
});

test('rejected TOTP codes are retried only within the daily login budget', async () => {
  const gateway = new FakeGateway();
  gateway.loginFailures = ['TotpRejected', 'TotpRejected', 'TotpRejected', 'TotpRejected', 'TotpRejected'];
  await withSession(gateway, { maxFailedLoginsPerDay: 3 }, async ({ status, signal }) => {
    for (let i = 0; i < 6; i++) {
      await env.sleep(10 * MIN); // lets each backoff timer fire
    }
    await until('manual_action_required', async () => (await status()).state === 'manual_action_required');
    expect(gateway.logins).toBe(3);
    expect((await status()).reason).toMatch(/3 failed logins in 24 h/);
    await env.sleep(3 * 24 * 60 * MIN);
    expect(gateway.logins).toBe(3); // an exhausted budget waits for a human, not for the clock

    // A human acknowledges: one more attempt is allowed (and it succeeds this time).
    gateway.loginFailures = [];
    await signal(forceReloginSignal);
    await until('another login', async () => gateway.logins === 4);
  });
});

test('an unreachable gateway backs off exponentially with jitter, capped at 5 minutes', async () => {
  const gateway = new FakeGateway();
  gateway.checkFailures = Array(12).fill('GatewayUnavailable');
  await withSession(gateway, {}, async ({ status }) => {
    const waits: number[] = [];
    let attemptAt = 0;
    for (let i = 1; i <= 10; i++) {
      await until(`failure ${i}`, async () => (await status()).failures === i);
      const s = await status();
      expect(s.state).toBe('unavailable');
      // The wait chosen after attempt i, measured from when that attempt was due.
      waits.push(Date.parse(s.nextAttemptAt!) - (attemptAt || Date.parse(s.since)));
      attemptAt = Date.parse(s.nextAttemptAt!);
      // Just past the next attempt, so exactly one more check happens.
      await env.sleep(Date.parse(s.nextAttemptAt!) - (await env.currentTimeMs()) + 200);
    }
    // 2 s, 4 s, 8 s … within ±20 % jitter, never above the 5-minute cap.
    expect(waits[0]).toBeGreaterThanOrEqual(1_600 - 100);
    expect(waits[0]).toBeLessThanOrEqual(2_400 + 100);
    expect(waits[3]).toBeGreaterThan(waits[0] * 4);
    for (const w of waits) expect(w).toBeLessThanOrEqual(5 * MIN + 100);
    expect(waits[9]).toBeGreaterThanOrEqual(4 * MIN);
  });
});

test('a gateway that drops every new session gets growing waits between logins, not a login storm', async () => {
  const gateway = new FakeGateway();
  gateway.dropOnKeepalive = true;
  await withSession(gateway, {}, async ({ status }) => {
    await until('a wait after a short-lived session', async () => (await status()).reason.includes('lasted under 20 s'));
    const loginsThen = gateway.logins;
    // Without the guard a real second would see dozens of logins; with it, none until the wait ends.
    await new Promise((r) => setTimeout(r, 1500));
    expect(gateway.logins).toBe(loginsThen);
    const s = await status();
    await env.sleep(Date.parse(s.nextAttemptAt!) - (await env.currentTimeMs()) + 200);
    await until('the next login', async () => gateway.logins > loginsThen);
  });
});

test('a 429 waits at least the penalty box before the next attempt', async () => {
  const gateway = new FakeGateway();
  gateway.checkFailures = ['RateLimited'];
  gateway.checkDetails = [{ retryAfterMs: 15 * MIN }];
  await withSession(gateway, {}, async ({ status }) => {
    await until('rate limited', async () => (await status()).state === 'unavailable');
    const s = await status();
    expect(Date.parse(s.nextAttemptAt!) - Date.parse(s.since)).toBeGreaterThanOrEqual(15 * MIN - 1_000);
    await env.sleep(14 * MIN);
    expect(gateway.checks).toBe(1);
    // Just past the next attempt: once usable, the fake keepalive holds time-skipping at real time.
    await env.sleep(Date.parse(s.nextAttemptAt!) - (await env.currentTimeMs()) + 1_000);
    await until('the next check', async () => gateway.checks >= 2);
  });
});

test('a penalty box told by the pod is shown and recorded, start and end, and the session stays usable: no check, no login', async () => {
  const gateway = new FakeGateway();
  gateway.sso = true;
  gateway.bridge = true;
  const events: { state: string; previousState: string; reason: string }[] = [];
  const recording: ControlActivities = { ...control, recordSessionEvent: async (e) => void events.push(e) };
  await withSession(
    gateway,
    {},
    async ({ status, workflowId }) => {
      await until('usable', async () => (await status()).state === 'usable');
      const checks = gateway.checks;
      const penalty = { since: '2026-12-02T10:00:00.000Z', until: '2026-12-02T10:15:00.000Z', cause: "another client on this gateway exceeded IBKR's pacing", path: '/tickle' };
      const handle = env.client.workflow.getHandle(workflowId);
      await handle.signal(pacingSignal, penalty);
      await until('the penalty in the status', async () => (await status()).pacing?.until === penalty.until);
      const boxed = await status();
      expect(boxed.state).toBe('usable');
      expect(boxed.reason).toMatch(/REST requests paused until 2026-12-02T10:15:00.000Z .*another client on this gateway.*kept alive over the websocket/);
      await handle.signal(pacingSignal, penalty); // told again: nothing new
      await handle.signal(pacingSignal, null);
      await until('the penalty over', async () => (await status()).pacing === null);
      expect((await status()).reason).toBe('brokerage session open (fake)');
      await until('two events', async () => events.filter((e) => /pacing penalty/.test(e.reason)).length >= 2);
      const pacingEvents = events.filter((e) => /pacing penalty/.test(e.reason));
      expect(pacingEvents.map((e) => [e.state, e.previousState])).toEqual([['usable', 'usable'], ['usable', 'usable']]);
      expect(pacingEvents[0].reason).toMatch(/^pacing penalty \(refused \/tickle since 2026-12-02T10:00:00.000Z\)/);
      expect(pacingEvents[1].reason).toMatch(/^pacing penalty over: .*without a new login/);
      expect(gateway.logins).toBe(0);
      expect(gateway.checks).toBe(checks); // the keepalive ran on; nothing was re-checked
    },
    recording,
  );
});

test('an outage goes on through a login a person asks for meanwhile: reported once, no false "outage over", ended once IBKR answers', async () => {
  const gateway = new FakeGateway();
  gateway.checkFailures = Array.from({ length: 100 }, () => 'IbkrUnreachable');
  gateway.loginFailures = ['IbkrUnreachable']; // the login page cannot load: the activity declines to start a browser
  const events: { state: string; previousState: string; reason: string }[] = [];
  const recording: ControlActivities = { ...control, recordSessionEvent: async (e) => void events.push(e) };
  await withSession(
    gateway,
    { outageReportAfterMs: 2 * MIN },
    async ({ status, signal }) => {
      await until('the outage seen', async () => (await status()).outage?.kind === 'ibkr_unreachable');
      const since = (await status()).outage!.since;
      for (let i = 0; i < 20 && (await status()).outage?.reportedAt == null; i++) await env.sleep(MIN);
      const reported = (await status()).outage!;
      expect(reported).toMatchObject({ kind: 'ibkr_unreachable', since, reportedAt: expect.any(String) });

      await signal(forceReloginSignal);
      await until('the forced login tried and declined', async () => gateway.logins === 1 && (await status()).state === 'unavailable');
      // Still the same outage, still reported: the attempt did not get an answer from IBKR.
      expect((await status()).outage).toEqual(reported);
      expect(events.filter((e) => /^outage over/.test(e.reason))).toEqual([]);

      gateway.checkFailures = []; // IBKR answers again (the session it had is gone: a fresh login follows)
      // Small steps: once usable, the keepalive runs in real time and the test clock cannot skip past it.
      for (let i = 0; i < 60 && (await status()).state !== 'usable'; i++) await env.sleep(10_000);
      await until('usable', async () => (await status()).state === 'usable');
      expect((await status()).outage ?? null).toBeNull();
      await until('the outage over on record', async () => events.some((e) => /^outage over/.test(e.reason)));
      expect(events.filter((e) => /^outage: IBKR unreachable/.test(e.reason))).toHaveLength(1);
      expect(events.filter((e) => /^outage over/.test(e.reason)).map((e) => e.reason)).toEqual([expect.stringMatching(new RegExp(`^outage over: IBKR answers again after .* \\(since ${since.replace(/[.]/g, '\\.')}\\)`))]);
    },
    recording,
  );
});

test('inside a maintenance window no login is tried; the next attempt is set after the window', async () => {
  const gateway = new FakeGateway();
  // A window around the test server's "now", in UTC, 30 minutes long.
  const now = new Date(await env.currentTimeMs());
  const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  const start = new Date(now.getTime() - 2 * MIN);
  const end = new Date(now.getTime() + 30 * MIN);
  const endMinute = Math.floor(end.getTime() / MIN) * MIN;
  await withSession(gateway, { maintenance: { daily: [{ zone: 'UTC', start: hhmm(start), end: hhmm(end) }], weekly: [] } }, async ({ status }) => {
    await until('waiting out the window', async () => (await status()).reason.includes('daily reset'));
    const s = await status();
    expect(s.state).toBe('unavailable');
    expect(s.reason).toContain('a fresh login follows');
    expect(Date.parse(s.nextAttemptAt!)).toBeGreaterThanOrEqual(endMinute);
    expect(Date.parse(s.nextAttemptAt!)).toBeLessThanOrEqual(endMinute + 61_000); // at most a minute of jitter
    expect(gateway.logins).toBe(0);
  });
});

test('a competing login is waited out once, then the session is taken back with compete:true', async () => {
  const gateway = new FakeGateway();
  gateway.competeOnKeepalive = 1;
  const cooldown = 10 * MIN;
  await withSession(gateway, { competingCooldownMs: cooldown }, async ({ status }) => {
    await until('competing', async () => (await status()).state === 'competing');
    const s = await status();
    const initsBefore = gateway.inits.length; // the first login opened its bridge with one
    expect(s.reason).toMatch(/took the session; reclaiming in 600 s/);
    expect(Date.parse(s.nextAttemptAt!) - Date.parse(s.since)).toBe(cooldown);
    await env.sleep(cooldown - MIN);
    expect(gateway.inits.length).toBe(initsBefore); // never fights the human inside the cool-down
    // Just past the cool-down: once usable, the fake keepalive holds time-skipping at real time.
    await env.sleep(Date.parse(s.nextAttemptAt!) - (await env.currentTimeMs()) + 1_000);
    // The gateway still says `competing` after the loss; that is the same loss, not a second wait.
    await until('usable again', async () => (await status()).state === 'usable');
    expect(gateway.inits.slice(initsBefore)).toEqual([{ compete: true }]);
    expect(gateway.logins).toBe(1); // the portal session survived: no new browser login
  });
});

test('competingPolicy wait-for-human: a login elsewhere is never fought; forceRelogin takes the session back', async () => {
  competingPolicy = 'wait-for-human';
  const gateway = new FakeGateway();
  gateway.competeOnKeepalive = 1;
  await withSession(gateway, { competingCooldownMs: 2 * MIN }, async ({ status, signal }) => {
    await until('competing', async () => (await status()).state === 'competing');
    const initsBefore = gateway.inits.length;
    expect((await status()).reason).toMatch(/wait-for-human: send forceRelogin/);
    await env.sleep(2 * 24 * 60 * MIN); // two days: far past any cool-down
    expect((await status()).state).toBe('competing');
    expect(gateway.inits.length).toBe(initsBefore);
    await signal(forceReloginSignal);
    await until('usable again', async () => (await status()).state === 'usable');
    expect(gateway.inits.slice(initsBefore).every((i) => i.compete)).toBe(true);
  });
});

test('reclaim stops flip-flopping: the third loss within an hour waits for a human', async () => {
  const gateway = new FakeGateway();
  gateway.competeOnKeepalive = 3;
  const cooldown = 2 * MIN;
  await withSession(gateway, { competingCooldownMs: cooldown }, async ({ status, signal }) => {
    // Losses one and two: a cool-down each, then reclaimed.
    for (let loss = 1; loss <= 2; loss++) {
      await until(`competing #${loss}`, async () => (await status()).state === 'competing');
      expect((await status()).reason).toMatch(/reclaiming in 120 s/);
      await env.sleep(cooldown + 1_000);
      await until(`usable after loss #${loss}`, async () => (await status()).state === 'usable' || gateway.competeOnKeepalive < 3 - loss);
    }
    await until('competing #3', async () => {
      const s = await status();
      return s.state === 'competing' && /3× within an hour/.test(s.reason);
    });
    const initsBefore = gateway.inits.length;
    await env.sleep(6 * 60 * MIN);
    expect((await status()).state).toBe('competing');
    expect(gateway.inits.length).toBe(initsBefore); // no fourth reclaim without a human
    await signal(forceReloginSignal);
    await until('usable after the human', async () => (await status()).state === 'usable');
  });
});

/** Polls `probe`, moving the test server's clock by `stepMs` between looks (backoffs pass in no time). */
async function skipUntil(what: string, probe: () => Promise<boolean>, stepMs = 30_000): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await env.sleep(stepMs);
  }
  throw new Error(`never: ${what}`);
}

test('ssodh/init that keeps leaving the session without a bridge escalates to a fresh login after three tries', async () => {
  const gateway = new FakeGateway();
  gateway.sso = true; // logged in, brokerage session gone
  gateway.failingInits = 3;
  await withSession(gateway, {}, async ({ status }) => {
    await skipUntil('usable', async () => (await status()).state === 'usable', 5_000);
    expect(gateway.inits.slice(0, 3).every((i) => i.compete)).toBe(true);
    expect(gateway.logins).toBe(1); // the fourth look logged in afresh instead of a fourth ssodh/init
    expect(gateway.inits).toHaveLength(4); // three failed inits, then the one after the login
  });
});

test('continueAsNew carries the login budget, last login and the session across runs', async () => {
  const gateway = new FakeGateway();
  gateway.keepaliveMs = 100;
  gateway.loginFailures = ['TotpRejected']; // one failed login before the new run
  await withSession(gateway, { continueAsNewAfterEvents: 80, maxFailedLoginsPerDay: 2 }, async ({ status, runId }) => {
    const firstRun = await runId();
    await skipUntil('usable', async () => (await status()).state === 'usable', 5_000);
    const before = await status();
    expect(gateway.logins).toBe(2);
    await until('a new run', async () => (await runId()) !== firstRun);
    const after = await status();
    expect(after.lastLoginAt).toBe(before.lastLoginAt);
    // A second failed login within the day exhausts the carried budget of 2: a human is asked.
    gateway.loginFailures = ['TotpRejected'];
    gateway.dropOnKeepalive = true;
    await skipUntil('manual_action_required', async () => (await status()).state === 'manual_action_required', 5_000);
    expect((await status()).reason).toMatch(/2 failed logins in 24 h \(budget 2\)/);
    expect(gateway.logins).toBe(3);
  });
});

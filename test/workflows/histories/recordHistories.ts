/**
 * Records the workflow histories that test/workflows/replay.integration.test.ts replays.
 *
 *   npm run record-histories            # both sets
 *   npm run record-histories -- real    # only the real-stack scenarios
 *   npm run record-histories -- skip    # only the time-skipping scenarios
 *
 * `real`: the real stack (Temporal dev server, ClickHouse, Chromium, the simulator, the workers),
 * with faults from the simulator's control plane. `skip`: branches the real stack cannot reach
 * quickly (competing wait-for-human, the flip-flop guard, ssodh/init escalation, an exhausted login
 * budget, continueAsNew, the coordinator moving an instrument) on the time-skipping test server
 * with typed fake activities. Every history is scanned for the stack's secrets before it is written.
 * HISTORIES_DIR overrides where the JSON files go (default: this folder).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { needlesOf, scanBuffer, scanObject, type Needle } from '../../../soak/canary';
import { DEMO_CONNECTIONS } from '../../../stack/demoSetup';
import { temporalTestServerBinary } from '../../../stack/projectPaths';
import { startConnectionWorkflows } from '../../../src/operations/connectionWorkflows';
import { CONTROL_TASK_QUEUE, DEPTH_COORDINATOR_WORKFLOW_ID, depthWorkflowId, podTaskQueue, sessionWorkflowId } from '../../../src/contract/ids';
import type { CompetingPolicy, SessionState, SessionStatus } from '../../../src/contract/sessionStatus';
import type { DepthCoordinatorConfig, DepthInstrument, DepthStatus } from '../../../src/contract/depthTypes';
import { createLogger } from '../../../src/logging/logger';
import { installTemporalRuntimeLogging } from '../../../src/logging/temporalRuntime';
import type { depthCoordinatorWorkflow } from '../../../workflows/depthCoordinator';
import type { depthRetentionWorkflow } from '../../../workflows/depthRetention';
import type { depthWorkflow } from '../../../workflows/depth';
import { depthAssignmentQuery, depthStatusQuery } from '../../../workflows/depthMessages';
import { forceReloginSignal, pacingSignal, pauseSignal, reloginUpdate, resumeSignal, sessionChangedSignal, statusQuery, stopDepthSignal, stopSignal } from '../../../workflows/messages';
import { SEARCH_ATTRIBUTES, IbflowConnection, IbflowMode, IbflowState } from '../../../workflows/searchAttributes';
import type { sessionWorkflow, SessionWorkflowInput } from '../../../workflows/session';
import { historyToJson } from './historyJson';
import { bundleOnce, simControl, startTestStack, waitFor, type TestStack } from '../../support/testStack';
import { FakeGateway, FakePods, fakeControlActivities } from '../support/fakeSessionActivities';

const OUT = process.env.HISTORIES_DIR ?? __dirname;
const MIN = 60_000;

let needles: Needle[] = [];

/** `--missing`: record only scenarios whose history file is not there yet. */
const onlyMissing = process.argv.includes('--missing');
const wanted = (name: string): boolean => !(onlyMissing && existsSync(join(OUT, `${name}.json.gz`)));

async function save(name: string, client: Client, workflowId: string, runId?: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const json = historyToJson(history);
  const leaks = [...scanObject(history, needles, name), ...scanBuffer(Buffer.from(json), needles, name)];
  if (leaks.length > 0) throw new Error(`${name}: a secret is in the history (${leaks.map((l) => l.what).join(', ')}); not written`);
  mkdirSync(OUT, { recursive: true });
  // Gzipped (zcat shows the JSON): a real session history is ~100 KB of JSON, ~10 KB gzipped.
  const gz = gzipSync(Buffer.from(`${json}\n`), { level: 9 });
  writeFileSync(join(OUT, `${name}.json.gz`), gz);
  console.log(`recorded ${name}: ${history.events?.length ?? 0} events, ${Math.round(gz.length / 1024)} KB gzipped`);
}

// ───────────────────────────── the real stack ─────────────────────────────

const paper = DEMO_CONNECTIONS[0];
const live = DEMO_CONNECTIONS[1];

async function recordReal(): Promise<void> {
  const stack = await startTestStack({
    authDelayMs: 1_000,
    editConfig: (c) => ({
      ...c,
      session: { ...c.session, keepaliveIntervalMs: 3_000, competingCooldownMs: 3_000, outageReportAfterMs: 10_000 },
      browser: { ...c.browser, loginTimeoutMs: 10_000 },
    }),
  });
  try {
    const secrets = JSON.parse(readFileSync(join(stack.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    needles = needlesOf(Object.entries(secrets).map(([label, value]) => ({ label, value })));
    if (needles.length === 0) throw new Error('no secrets to scan for');
    await startConnectionWorkflows(stack.config, () => undefined);
    // Both connections at once (they share nothing); report both failures, not just the first.
    const failed = (await Promise.allSettled([recordLive(stack), recordPaper(stack)])).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) throw new AggregateError(failed.map((f) => f.reason as Error), failed.map((f) => String(f.reason)).join('; '));
    await recordRetention(stack);
  } finally {
    await stack.stop();
  }
}

function sessionHandle(stack: TestStack, username: string): WorkflowHandle<typeof sessionWorkflow> {
  return stack.client.workflow.getHandle<typeof sessionWorkflow>(sessionWorkflowId(username));
}

async function waitState(stack: TestStack, username: string, state: SessionState, timeoutMs = 90_000, extra: (s: SessionStatus) => boolean = () => true): Promise<SessionStatus> {
  return waitFor(`${username} ${state}`, async () => {
    const s = await sessionHandle(stack, username).query(statusQuery);
    return s.state === state && extra(s) ? s : null;
  }, timeoutMs, 100);
}

/** Stops the session run with the stop signal, waits for it to end, and saves its history. */
async function stopAndSave(stack: TestStack, name: string, username: string): Promise<void> {
  const handle = sessionHandle(stack, username);
  const { runId } = await handle.describe();
  await handle.signal(stopSignal);
  await stack.client.workflow.getHandle(handle.workflowId, runId).result();
  await save(name, stack.client, handle.workflowId, runId);
}

/** A fresh run of the paper session (same arguments as `startConnectionWorkflows`), usable once it returns. */
async function startPaperRun(stack: TestStack): Promise<void> {
  const c = stack.config.connections.find((x) => x.id === paper.id)!;
  const input: SessionWorkflowInput = {
    connectionId: c.id,
    keepaliveIntervalMs: stack.config.session.keepaliveIntervalMs,
    maxFailedLoginsPerDay: stack.config.session.maxFailedLoginsPerDay,
    competingCooldownMs: stack.config.session.competingCooldownMs,
    outageReportAfterMs: stack.config.session.outageReportAfterMs,
    ...(stack.config.session.maintenance ? { maintenance: stack.config.session.maintenance } : {}),
  };
  await stack.client.workflow.start<typeof sessionWorkflow>('sessionWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: sessionWorkflowId(c.username),
    args: [input],
    typedSearchAttributes: [
      { key: IbflowConnection, value: c.id },
      { key: IbflowMode, value: c.mode },
      { key: IbflowState, value: 'reconnecting' },
    ],
    memo: { connectionId: c.id, mode: c.mode, pod: c.pod },
  });
  await waitState(stack, paper.username, 'usable');
}

async function recordPaper(stack: TestStack): Promise<void> {
  const sim = stack.sims.get(paper.pod)!;
  const u = paper.username;
  let firstRun = true;
  /** One scenario on its own run of the paper session: the first uses the run `startConnectionWorkflows` began. */
  async function scenario(name: string, body: () => Promise<void>): Promise<void> {
    if (firstRun) {
      firstRun = false;
      await waitState(stack, u, 'usable');
      if (!wanted(name)) await sessionHandle(stack, u).terminate('not recorded');
    } else if (wanted(name)) {
      await startPaperRun(stack);
    }
    if (!wanted(name)) return;
    console.log(`recording ${name}`);
    await body();
    await stopAndSave(stack, name, u);
  }

  // Nothing → browser login → usable; a bridge drop (ssodh/init) and an expiry (fresh login); stop.
  await scenario('session-paper-login-drops-and-recovery', async () => {
    const first = await waitState(stack, u, 'usable');
    await simControl(sim, 'POST', '/sim/control/drop', { username: u, kind: 'bridge' });
    await waitState(stack, u, 'reconnecting', 30_000);
    await waitState(stack, u, 'usable');
    await simControl(sim, 'POST', '/sim/control/drop', { username: u, kind: 'expire' });
    await waitState(stack, u, 'usable', 90_000, (s) => s.lastLoginAt !== first.lastLoginAt);
  });

  await scenario('session-paper-pause-resume', async () => {
    await sessionHandle(stack, u).signal(pauseSignal);
    await waitState(stack, u, 'paused', 30_000);
    await sessionHandle(stack, u).signal(resumeSignal);
    await waitState(stack, u, 'usable');
  });

  // The relogin update, then the forceRelogin signal: each a fresh browser login.
  await scenario('session-paper-relogin-update-and-force-relogin', async () => {
    const result = await sessionHandle(stack, u).executeUpdate(reloginUpdate);
    if (!result.ok) throw new Error(`relogin update failed: ${result.reason}`);
    const afterUpdate = await waitState(stack, u, 'usable');
    await sessionHandle(stack, u).signal(forceReloginSignal);
    await waitState(stack, u, 'usable', 90_000, (s) => s.lastLoginAt !== afterUpdate.lastLoginAt);
  });

  // A competing login elsewhere (policy reclaim): cool-down, then the session is taken back.
  await scenario('session-paper-competing-reclaim', async () => {
    await simControl(sim, 'POST', '/sim/control/compete', { username: u });
    await waitState(stack, u, 'competing', 30_000);
    await waitState(stack, u, 'usable');
  });

  // Gateway errors: unavailable with backoff, usable once they stop.
  await scenario('session-paper-gateway-unavailable', async () => {
    await simControl(sim, 'POST', '/sim/control/faults', { path: '/v1/api/*', status: 500 });
    await waitState(stack, u, 'unavailable', 30_000);
    await simControl(sim, 'DELETE', '/sim/control/faults');
    await waitState(stack, u, 'usable');
  });

  // IBKR unreachable behind a running gateway: an outage (a forced login declined without a
  // browser), reported past its threshold, over by itself once IBKR answers again.
  await scenario('session-paper-ibkr-unreachable', async () => {
    await simControl(sim, 'PUT', '/sim/control/ibkr', { reachable: false, forMs: 120_000 });
    await waitState(stack, u, 'unavailable', 60_000, (s) => s.outage?.kind === 'ibkr_unreachable');
    await sessionHandle(stack, u).signal(forceReloginSignal);
    await waitState(stack, u, 'unavailable', 90_000, (s) => typeof s.outage?.reportedAt === 'string');
    await simControl(sim, 'PUT', '/sim/control/ibkr', { reachable: true });
    await waitState(stack, u, 'usable', 120_000);
  });

  // A changed login page: manual_action_required until forceRelogin.
  await scenario('session-paper-manual-action-required', async () => {
    await simControl(sim, 'POST', '/sim/control/login-faults', { kind: 'page-change', count: 1 });
    await simControl(sim, 'POST', '/sim/control/drop', { username: u, kind: 'expire' });
    await waitState(stack, u, 'manual_action_required');
    await sessionHandle(stack, u).signal(forceReloginSignal);
    await waitState(stack, u, 'usable');
  });
}

async function recordLive(stack: TestStack): Promise<void> {
  const sim = stack.sims.get(live.pod)!;
  const u = live.username;
  const depth = stack.client.workflow.getHandle<typeof depthWorkflow>(depthWorkflowId(live.id));
  const depthStatus = (): Promise<DepthStatus> => depth.query(depthStatusQuery);

  if (!wanted('depth-live-stream-restart-and-session-change')) return;
  console.log('recording the live session and its depth workflow');
  // Live TOTP login → usable; the depth workflow streams.
  const first = await waitState(stack, u, 'usable');
  await waitFor('live depth streaming', async () => (await depthStatus()).state === 'streaming', 60_000, 200);
  // The brokerage session drops (ssodh/init reopens it): the stream stops and a new one starts.
  const started = (await depthStatus()).streamsStarted;
  await simControl(sim, 'POST', '/sim/control/drop', { username: u, kind: 'bridge' });
  await waitFor('a restarted stream', async () => {
    const s = await depthStatus();
    return s.state === 'streaming' && s.streamsStarted > started ? s : null;
  }, 90_000, 200);
  // The session expires: the session workflow logs in again (new TOTP step), depth hears the change.
  const beforeDrop = (await depthStatus()).streamsStarted;
  await simControl(sim, 'POST', '/sim/control/drop', { username: u, kind: 'expire' });
  await waitState(stack, u, 'usable', 90_000, (s) => s.lastLoginAt !== first.lastLoginAt);
  await waitFor('streaming after the session change', async () => {
    const s = await depthStatus();
    return s.state === 'streaming' && s.streamsStarted > beforeDrop ? s : null;
  }, 60_000, 200);

  const { runId: depthRun } = await depth.describe();
  await depth.signal(stopDepthSignal);
  await stack.client.workflow.getHandle(depth.workflowId, depthRun).result();
  await save('depth-live-stream-restart-and-session-change', stack.client, depth.workflowId, depthRun);
  await stopAndSave(stack, 'session-live-totp-login-expiry-relogin-stop', u);
}

async function recordRetention(stack: TestStack): Promise<void> {
  if (!wanted('depth-retention-run')) return;
  const workflowId = 'ibflow-depth-retention-recording';
  await stack.client.workflow.execute<typeof depthRetentionWorkflow>('depthRetentionWorkflow', {
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId,
    args: [{ database: stack.config.clickhouse.database, retentionDays: 30 }],
  });
  await save('depth-retention-run', stack.client, workflowId);
}

// ───────────────────────── the time-skipping test server ─────────────────────────

const POD = 'pod-t';

/** A healthy keepalive runs long here, so a healthy recorded session writes few events. */
const KEEPALIVE_MS = 20_000;
const newGateway = (): FakeGateway => new FakeGateway({ keepaliveMs: KEEPALIVE_MS });

let competingPolicy: CompetingPolicy = 'reclaim';
const fakeControl = fakeControlActivities({ pod: POD, mode: 'live', competingPolicy: () => competingPolicy });

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

interface Session {
  handle: WorkflowHandleWithFirstExecutionRunId<typeof sessionWorkflow>;
  status(): Promise<SessionStatus>;
}

async function recordSkipping(): Promise<void> {
  installTemporalRuntimeLogging(createLogger('record', process.env.DEBUG_TEMPORAL ? undefined : ({ write: () => undefined } as never)));
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: temporalTestServerBinary() } } });
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTES.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
    const workflowBundle = await bundleOnce();

    /** Runs one session workflow against `gateway`; `body` drives it; the run ends terminated (or as `body` leaves it). */
    async function session(name: string, gateway: FakeGateway, input: Partial<SessionWorkflowInput>, body: (s: Session) => Promise<string | void>): Promise<void> {
      if (!wanted(name)) return;
      const connectionId = name;
      const controlWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: CONTROL_TASK_QUEUE, workflowBundle, activities: fakeControl });
      const podWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: podTaskQueue(POD), activities: gateway.activities() });
      await controlWorker.runUntil(
        podWorker.runUntil(async () => {
          const handle = await env.client.workflow.start<typeof sessionWorkflow>('sessionWorkflow', {
            taskQueue: CONTROL_TASK_QUEUE,
            workflowId: `ibkr-session:${connectionId}`,
            args: [{ connectionId, maintenance: { daily: [], weekly: [] }, ...input }],
          });
          const runId = (await body({ handle, status: () => handle.query(statusQuery) })) ?? handle.firstExecutionRunId;
          await env.client.workflow.getHandle(handle.workflowId).terminate('recording over').catch(() => undefined);
          await save(name, env.client, handle.workflowId, runId);
        }),
      );
    }

    /** Moves the test server's clock by `stepMs` between looks. */
    async function skipUntil(what: string, probe: () => Promise<boolean>, stepMs: number): Promise<void> {
      for (let i = 0; i < 200; i++) {
        if (await probe()) return;
        if (process.env.DEBUG_RECORDING) console.log(what, i);
        await env.sleep(stepMs);
      }
      throw new Error(`never: ${what}`);
    }

    await recordDepthSkipping(env, workflowBundle);

    // Reclaim: one cool-down per loss although the gateway keeps saying `competing`.
    await session('session-ts-competing-one-cooldown-per-loss', Object.assign(newGateway(), { competeOnKeepalive: 1 }), { competingCooldownMs: 10 * MIN }, async ({ status }) => {
      await until('competing', async () => (await status()).state === 'competing');
      await env.sleep(10 * MIN + 1_000);
      await until('usable again', async () => (await status()).state === 'usable');
    });

    // competingPolicy wait-for-human: never fights; forceRelogin takes the session back.
    competingPolicy = 'wait-for-human';
    await session('session-ts-competing-wait-for-human', Object.assign(newGateway(), { competeOnKeepalive: 1 }), { competingCooldownMs: 2 * MIN }, async ({ handle, status }) => {
      await until('competing', async () => (await status()).state === 'competing');
      await env.sleep(24 * 60 * MIN);
      await handle.signal(forceReloginSignal);
      await until('usable again', async () => (await status()).state === 'usable');
    });
    competingPolicy = 'reclaim';

    // The flip-flop guard: the third loss within an hour waits for a human.
    const flipFlop = Object.assign(newGateway(), { competeOnKeepalive: 3 });
    await session('session-ts-flip-flop-guard', flipFlop, { competingCooldownMs: 2 * MIN }, async ({ handle, status }) => {
      for (let loss = 1; loss <= 2; loss++) {
        await until(`competing #${loss}`, async () => (await status()).state === 'competing');
        await env.sleep(2 * MIN + 1_000);
        await until(`usable after loss #${loss}`, async () => (await status()).state === 'usable' || flipFlop.competeOnKeepalive < 3 - loss);
      }
      await until('competing #3', async () => {
        const s = await status();
        return s.state === 'competing' && /3× within an hour/.test(s.reason);
      });
      await env.sleep(60 * MIN);
      await handle.signal(forceReloginSignal);
      await until('usable after the human', async () => (await status()).state === 'usable');
    });

    // ssodh/init that keeps failing escalates to a fresh login after three tries.
    await session('session-ts-no-bridge-escalates-to-login', Object.assign(newGateway(), { sso: true, failingInits: 3 }), {}, async ({ status }) => {
      await skipUntil('usable', async () => (await status()).state === 'usable', 5_000);
    });

    // continueAsNew: the first run ends in ContinuedAsNew (recorded), carrying the budget and the last login.
    const can = Object.assign(newGateway(), { keepaliveMs: 100, loginFailures: ['TotpRejected'] });
    await session('session-ts-continue-as-new', can, { continueAsNewAfterEvents: 80, maxFailedLoginsPerDay: 2 }, async ({ handle, status }) => {
      await skipUntil('usable', async () => (await status()).state === 'usable', 5_000);
      await until('a new run', async () => (await env.client.workflow.getHandle(handle.workflowId).describe()).runId !== handle.firstExecutionRunId);
      return handle.firstExecutionRunId;
    });

    // Rejected TOTP codes until the daily budget is spent: manual_action_required; a human acknowledges.
    const budget = Object.assign(newGateway(), { loginFailures: ['TotpRejected', 'TotpRejected', 'TotpRejected', 'TotpRejected'] });
    await session('session-ts-login-budget-exhausted', budget, { maxFailedLoginsPerDay: 3 }, async ({ handle, status }) => {
      await skipUntil('manual_action_required', async () => (await status()).state === 'manual_action_required', 10 * MIN);
      budget.loginFailures = [];
      // The first acknowledgement ends the failed attempt's wait; the next login finds the budget spent and asks again.
      await handle.signal(forceReloginSignal);
      await until('the budget wait', async () => (await status()).reason.includes('check the credentials'));
      await handle.signal(forceReloginSignal);
      await until('usable after the human', async () => (await status()).state === 'usable');
    });

    // IBKR's penalty box on the pod's address, told by the pod's keepalive: start, the same again, end.
    const boxed = Object.assign(newGateway(), { sso: true, bridge: true });
    await session('session-ts-pacing-penalty', boxed, {}, async ({ handle, status }) => {
      await until('usable', async () => (await status()).state === 'usable');
      const penalty = { since: '2026-12-02T10:00:00.000Z', until: '2026-12-02T10:15:00.000Z', cause: "another client on this gateway exceeded IBKR's pacing", path: '/tickle' };
      await handle.signal(pacingSignal, penalty);
      await handle.signal(pacingSignal, penalty);
      await until('the penalty shown', async () => (await status()).pacing?.until === penalty.until);
      await handle.signal(pacingSignal, null);
      await until('the penalty over', async () => (await status()).pacing === null);
    });

    // An outage goes on through a login a person asks for meanwhile (patch outage-spans-attempts): reported once, over once.
    const away = Object.assign(newGateway(), { checkFailures: Array.from({ length: 100 }, () => 'IbkrUnreachable'), loginFailures: ['IbkrUnreachable'] });
    await session('session-ts-outage-spans-a-forced-login', away, { outageReportAfterMs: 2 * MIN }, async ({ handle, status }) => {
      await until('the outage seen', async () => (await status()).outage?.kind === 'ibkr_unreachable');
      await skipUntil('the outage reported', async () => (await status()).outage?.reportedAt != null, MIN);
      await handle.signal(forceReloginSignal);
      await until('the forced login declined', async () => away.logins === 1 && (await status()).state === 'unavailable');
      away.checkFailures = [];
      await skipUntil('usable', async () => (await status()).state === 'usable', MIN);
    });

  } finally {
    await env.teardown();
  }
}

const COORDINATED = ['conn-a', 'conn-b', 'conn-c'];
const DEFAULTS: Record<string, DepthInstrument[]> = { 'conn-a': [{ conid: 1 }], 'conn-b': [{ conid: 2 }], 'conn-c': [] };

async function recordDepthSkipping(env: TestWorkflowEnvironment, workflowBundle: Awaited<ReturnType<typeof bundleOnce>>): Promise<void> {
  if (!wanted('depth-coordinator-moves-an-instrument')) return;
  const pods = new FakePods(DEFAULTS);
  const control = fakeControlActivities({ pod: POD, mode: 'paper', hasInstruments: (connectionId) => DEFAULTS[connectionId]!.length > 0 });
  const config: DepthCoordinatorConfig = {
    connections: COORDINATED.map((connectionId) => ({ connectionId, instruments: DEFAULTS[connectionId]! })),
    maxLaddersPerAccount: 1,
    moveAfterMs: 2_000,
  };
  const controlWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: CONTROL_TASK_QUEUE, workflowBundle, activities: control });
  const podWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: podTaskQueue(POD), activities: pods.activities(), maxHeartbeatThrottleInterval: '1 second' });
  await controlWorker.runUntil(
    podWorker.runUntil(async () => {
      const coordinator = await env.client.workflow.start<typeof depthCoordinatorWorkflow>('depthCoordinatorWorkflow', {
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId: DEPTH_COORDINATOR_WORKFLOW_ID,
        args: [{ config }],
      });
      const depth = await Promise.all(
        COORDINATED.map((connectionId) =>
          env.client.workflow.start<typeof depthWorkflow>('depthWorkflow', { taskQueue: CONTROL_TASK_QUEUE, workflowId: depthWorkflowId(connectionId), args: [{ connectionId }] }),
        ),
      );
      const [a, , c] = depth as [(typeof depth)[0], (typeof depth)[0], (typeof depth)[0]];
      await until('a and b streaming, c idle', async () => pods.latest('conn-a')?.join() === '1' && pods.latest('conn-b')?.join() === '2' && (await c.query(depthStatusQuery)).state === 'idle');
      pods.usable['conn-a'] = false;
      await a.signal(sessionChangedSignal, false);
      await until('conid 1 moved to conn-c', () => pods.latest('conn-c')?.join() === '1');
      pods.usable['conn-a'] = true;
      await a.signal(sessionChangedSignal, true);
      await until('conid 1 back home', async () => (await coordinator.query(depthAssignmentQuery)).moved.length === 0 && (await c.query(depthStatusQuery)).state === 'idle');
      for (const h of depth) await h.signal(stopDepthSignal);
      for (const h of depth) await h.result();
      await coordinator.terminate('recording over').catch(() => undefined); // may have ended already
      await save('depth-coordinator-moves-an-instrument', env.client, DEPTH_COORDINATOR_WORKFLOW_ID);
      await save('depth-ts-instrument-moved-in-and-out', env.client, depthWorkflowId('conn-c'));
    }),
  );
}

async function main(): Promise<void> {
  const which = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'all';
  if (which === 'all' || which === 'skip') await recordSkipping();
  if (which === 'all' || which === 'real') await recordReal();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

/**
 * The depth coordinator running with real depth workflows on Temporal's test server, with fake pod
 * activities: a connection unusable longer than `moveAfterMs` has its instrument moved to a healthy
 * connection with room on its ladder, the healthy connection's stream restarts with it, and it
 * moves back when the connection recovers.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporalTestServerBinary } from '../../stack/projectPaths';
import { createLogger } from '../../src/logging/logger';
import { installTemporalRuntimeLogging } from '../../src/logging/temporalRuntime';
import { CONTROL_TASK_QUEUE, DEPTH_COORDINATOR_WORKFLOW_ID, depthWorkflowId, podTaskQueue } from '../../src/contract/ids';
import type { DepthCoordinatorConfig, DepthInstrument, DepthPlan } from '../../src/contract/depthTypes';
import { depthAssignmentQuery, depthStatusQuery } from '../../workflows/depthMessages';
import { sessionChangedSignal, stopDepthSignal } from '../../workflows/messages';
import { depthCoordinatorWorkflow, depthWorkflow } from '../../workflows';
import { bundleOnce } from '../support/testStack';
import { FakePods, fakeControlActivities } from './support/fakeSessionActivities';

jest.setTimeout(120_000);

const POD = 'pod-c';
const CONNECTIONS = ['conn-a', 'conn-b', 'conn-c'];
const DEFAULTS: Record<string, DepthInstrument[]> = { 'conn-a': [{ conid: 1 }], 'conn-b': [{ conid: 2 }], 'conn-c': [] };

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  installTemporalRuntimeLogging(createLogger('test', process.env.DEBUG_TEMPORAL ? undefined : ({ write: () => undefined } as never)));
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: temporalTestServerBinary() } } });
});

afterAll(async () => {
  await env?.teardown();
});

const control = fakeControlActivities({ pod: POD, mode: 'paper', hasInstruments: (connectionId) => DEFAULTS[connectionId]!.length > 0 });

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

test('an instrument moves to a healthy connection with room after moveAfterMs, and moves back on recovery', async () => {
  const pods = new FakePods(DEFAULTS);
  const config: DepthCoordinatorConfig = {
    connections: CONNECTIONS.map((connectionId) => ({ connectionId, instruments: DEFAULTS[connectionId]! })),
    maxLaddersPerAccount: 1,
    moveAfterMs: 2_000,
  };
  const workflowBundle = await bundleOnce();
  const controlWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: CONTROL_TASK_QUEUE, workflowBundle, activities: control });
  const podWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: podTaskQueue(POD), activities: pods.activities(), maxHeartbeatThrottleInterval: '1 second' });
  await controlWorker.runUntil(
    podWorker.runUntil(async () => {
      const coordinator = await env.client.workflow.start(depthCoordinatorWorkflow, {
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId: DEPTH_COORDINATOR_WORKFLOW_ID,
        args: [{ config }],
      });
      const depth = await Promise.all(
        CONNECTIONS.map((connectionId) =>
          env.client.workflow.start(depthWorkflow, { taskQueue: CONTROL_TASK_QUEUE, workflowId: depthWorkflowId(connectionId), args: [{ connectionId }] }),
        ),
      );
      const [a, , c] = depth as [(typeof depth)[0], (typeof depth)[0], (typeof depth)[0]];
      const plan = (): Promise<DepthPlan> => coordinator.query(depthAssignmentQuery);
      try {
        await until('a and b streaming their defaults, c idle', async () =>
          pods.latest('conn-a')?.join() === '1' && pods.latest('conn-b')?.join() === '2' && (await c.query(depthStatusQuery)).state === 'idle');

        // conn-a's session is lost. b's ladder is full (limit 1), so the instrument goes to c.
        pods.usable['conn-a'] = false;
        const lostAt = Date.now();
        await a.signal(sessionChangedSignal, false);
        await until('conn-1 streamed by conn-c', () => pods.latest('conn-c')?.join() === '1');
        expect(Date.now() - lostAt).toBeGreaterThanOrEqual(config.moveAfterMs - 200); // not before moveAfterMs
        expect(await plan()).toMatchObject({ failed: ['conn-a'], moved: [{ conid: 1, from: 'conn-a', to: 'conn-c' }], unplaced: [] });
        expect(pods.latest('conn-b')).toEqual([2]); // b was full: never restarted
        expect(pods.streams.filter((s) => s.connectionId === 'conn-b')).toHaveLength(1);
        expect((await c.query(depthStatusQuery)).assignment).toEqual([{ conid: 1 }]);

        // conn-a recovers: its instrument goes home, c is idle again.
        pods.usable['conn-a'] = true;
        await a.signal(sessionChangedSignal, true);
        await until('conn-c idle again', async () => {
          const s = await c.query(depthStatusQuery);
          return s.state === 'idle' && s.assignment === null;
        });
        await until('conn-a streaming conid 1 again', () => pods.streams.filter((s) => s.connectionId === 'conn-a').length >= 2);
        expect(pods.latest('conn-a')).toEqual([1]);
        expect(await plan()).toMatchObject({ failed: [], moved: [], unplaced: [] });
      } finally {
        for (const h of depth) await h.signal(stopDepthSignal).catch(() => undefined);
        await Promise.all([coordinator, ...depth].map((h) => h.terminate('test over').catch(() => undefined)));
      }
    }),
  );
});

test('a restarted stream starts only after the cancelled one has finished (one ladder per account, never two)', async () => {
  const pods = new FakePods(DEFAULTS);
  pods.cleanupMs = 1_500;
  const workflowBundle = await bundleOnce();
  const controlWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: CONTROL_TASK_QUEUE, workflowBundle, activities: control });
  const podWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: podTaskQueue(POD), activities: pods.activities(), maxHeartbeatThrottleInterval: '1 second' });
  await controlWorker.runUntil(
    podWorker.runUntil(async () => {
      const b = await env.client.workflow.start(depthWorkflow, { taskQueue: CONTROL_TASK_QUEUE, workflowId: `${depthWorkflowId('conn-b')}-flap`, args: [{ connectionId: 'conn-b' }] });
      try {
        await until('b streaming', () => pods.running['conn-b'] === 1);
        // The session blinks: lost and back at once (ssodh/init), faster than the old stream's cleanup.
        await b.signal(sessionChangedSignal, false);
        await b.signal(sessionChangedSignal, true);
        await until('a second stream of b', () => pods.streams.filter((x) => x.connectionId === 'conn-b').length >= 2);
        await until('b streaming again', () => pods.running['conn-b'] === 1);
        expect(pods.maxRunning['conn-b']).toBe(1);
      } finally {
        await b.terminate('test over').catch(() => undefined);
      }
    }),
  );
});

/**
 * The depth pipeline on the whole stack (Temporal, ClickHouse, simulators, browser logins, workers):
 * the embedded stack's depth maintenance (coordinator + retention schedule), the depth status query,
 * and a pod worker killed and restarted → the stream resumes on a new epoch and the gap is marked.
 */
import { startConnectionWorkflows, startDepthMaintenance } from '../../src/operations/connectionWorkflows';
import { DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { createLogger } from '../../src/logging/logger';
import { DEPTH_COORDINATOR_WORKFLOW_ID, DEPTH_RETENTION_SCHEDULE_ID, depthWorkflowId } from '../../src/contract/ids';
import { startPodWorker } from '../../workers/podWorker';
import { depthAssignmentQuery, depthStatusQuery } from '../../workflows/depthMessages';
import { startTestStack, waitFor, type TestStack } from '../support/testStack';

jest.setTimeout(300_000);

let stack: TestStack;
const paper = DEMO_CONNECTIONS[0];

beforeAll(async () => {
  stack = await startTestStack({ editConfig: (c) => ({ ...c, session: { ...c.session, keepaliveIntervalMs: 5_000 } }) });
  await startConnectionWorkflows(stack.config, () => undefined);
  await startDepthMaintenance(stack.config, () => undefined);
});
afterAll(async () => {
  await stack?.stop();
});

async function streamsOf(connection: string): Promise<{ streams: number; openingGaps: number }> {
  const db = stack.config.clickhouse.database;
  const rs = await stack.clickhouse.query({
    query: `SELECT uniqExactIf(stream_id, kind = 'snapshot') AS streams, uniqExactIf(stream_id, kind = 'gap' AND seq = 0) AS gaps
            FROM ${db}.depth WHERE connection = '${connection}'`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ streams: string; gaps: string }>();
  return { streams: Number(row!.streams), openingGaps: Number(row!.gaps) };
}

test('maintenance is idempotent: one coordinator with the config, one retention schedule', async () => {
  await startDepthMaintenance(stack.config, () => undefined); // again: no error, same runs
  const schedule = await stack.client.schedule.getHandle(DEPTH_RETENTION_SCHEDULE_ID).describe();
  expect(schedule.action.type).toBe('startWorkflow');
  const plan = await stack.client.workflow.getHandle(DEPTH_COORDINATOR_WORKFLOW_ID).query(depthAssignmentQuery);
  expect(plan.assignment[paper.id]).toEqual([{ conid: paper.conid }]);
  expect(plan.failed).toEqual([]);
});

test('depth streams; a killed pod worker is replaced, the stream resumes on a new epoch and the gap is marked', async () => {
  await waitFor('depth for the paper connection', async () => (await streamsOf(paper.id)).streams >= 1, 120_000);
  const status = await stack.client.workflow.getHandle(depthWorkflowId(paper.id)).query(depthStatusQuery);
  expect(status.state).toBe('streaming');

  const index = stack.workers.findIndex((w) => w.worker.options.taskQueue === `ibflow-pod-${paper.pod}`);
  expect(index).toBeGreaterThan(-1);
  await stack.workers[index]!.shutdown(); // the pod worker goes away (its stream is cut)
  const before = await streamsOf(paper.id);
  stack.workers[index] = await startPodWorker({ pod: paper.pod, config: () => stack.config, log: createLogger('test', { write: () => undefined } as never) });
  await waitFor('a new stream after the restart', async () => (await streamsOf(paper.id)).streams > before.streams, 120_000);
  const after = await streamsOf(paper.id);
  expect(after.openingGaps).toBeGreaterThanOrEqual(after.streams); // every epoch opens with a gap marker
});

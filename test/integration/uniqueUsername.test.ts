/**
 * One session per IBKR username, cluster-wide: a second configuration (another deployment, a
 * staging copy) that starts a connection for a username already held by a running session
 * workflow is refused with a clear error, on a real Temporal server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConnectionWorkflows, UsernameTakenError } from '../../src/operations/connectionWorkflows';
import { startTemporalDevServer, temporalPaths, type TemporalDevServer } from '../../stack/temporalDevServer';
import { parseConfig } from '../../src/config/loadConfig';
import { sessionWorkflowId } from '../../src/contract/ids';
import { withTemporalClient } from '../../src/temporal/temporalClient';
import { freePort } from '../../src/util/freePort';

jest.setTimeout(120_000);

let stateDir: string;
let temporal: TemporalDevServer;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'ibflow-unique-'));
  temporal = await startTemporalDevServer({ port: await freePort(), uiPort: await freePort(), ...temporalPaths(stateDir) });
});
afterAll(async () => {
  await temporal?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const configWith = (id: string) =>
  parseConfig({
    stateDir,
    temporal: { address: temporal.address },
    connections: [{ id, mode: 'paper', username: 'shareduser', passwordRef: `file:${id}/password`, pod: 'pod-a', gateway: { url: 'https://localhost:5000', verifyTls: false } }],
  });

test('a second connection for a username with a running session workflow is refused, naming the owner', async () => {
  const progress: string[] = [];
  await startConnectionWorkflows(configWith('desk-a'), (l) => progress.push(l));
  await startConnectionWorkflows(configWith('desk-a'), (l) => progress.push(l)); // the owner again: idempotent
  expect(progress.filter((l) => l.includes('ibkr-session:shareduser'))).toHaveLength(2);

  const err = await startConnectionWorkflows(configWith('desk-b'), () => undefined).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsernameTakenError);
  expect((err as Error).message).toMatch(/connection "desk-b".*shareduser.*connection "desk-a".*one session per username/);

  // Still exactly one session workflow, owned by the first connection.
  await withTemporalClient(configWith('desk-a'), async (client) => {
    const runs = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${sessionWorkflowId('shareduser')}'` })) runs.push(w);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.memo).toMatchObject({ connectionId: 'desk-a' });
  });
});

/**
 * A wrong password must never turn into a retry storm (IBKR locks the account): the session stops
 * after one failed login, asks for a human, and recovers once the secret is fixed and a human says so.
 */
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { startConnectionWorkflows } from '../../src/operations/connectionWorkflows';
import { needlesOf, scanObject } from '../../soak/canary';
import { DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { registry } from '../../src/metrics/metrics';
import { FileSecretStore } from '../../src/secrets/fileSecretStore';
import { secretFilePath } from '../../src/secrets/secretResolver';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { forceReloginSignal, statusQuery } from '../../workflows/messages';
import { simControl, startTestStack, waitFor, type TestStack } from '../support/testStack';

jest.setTimeout(240_000);

const paper = DEMO_CONNECTIONS[0];
const WRONG = 'wrong-password-canary-7731';
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    editConfig: (c) => {
      new FileSecretStore(secretFilePath(c.stateDir)).set('demo-paper/rotated', WRONG);
      return {
        ...c,
        // Only the paper connection matters here.
        connections: c.connections.filter((x) => x.id === paper.id).map((x) => ({ ...x, passwordRef: 'file:demo-paper/rotated' })),
      };
    },
  });
  await startConnectionWorkflows(stack.config, () => undefined);
});

afterAll(async () => {
  await stack?.stop();
});

async function status(): Promise<SessionStatus> {
  return stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).query(statusQuery);
}

async function failedLogins(): Promise<number> {
  const stats = await simControl<{ logins: Record<string, { failed: number }> }>(stack.sims.get(paper.pod)!, 'GET', '/sim/control/stats');
  return stats.logins[paper.username]?.failed ?? 0;
}

test('a wrong password stops after one attempt in manual_action_required, with evidence and no secret', async () => {
  const s = await waitFor('manual_action_required', async () => {
    const st = await status();
    return st.state === 'manual_action_required' ? st : null;
  }, 60_000);
  expect(s.reason).toContain('InvalidCredentials');
  expect(s.reason).not.toContain(WRONG);
  expect(await failedLogins()).toBe(1);

  // It stays put: no retry while nobody acts.
  await new Promise((r) => setTimeout(r, 8_000));
  expect((await status()).state).toBe('manual_action_required');
  expect(await failedLogins()).toBe(1);

  // A screenshot and the redacted page were kept for a human.
  const evidence = readdirSync(join(stack.stateDir, 'evidence', paper.id));
  expect(evidence.some((f) => f.endsWith('.png'))).toBe(true);
  expect(evidence.some((f) => f.endsWith('.html'))).toBe(true);
  for (const f of evidence) expect(readFileSync(join(stack.stateDir, 'evidence', paper.id, f)).includes(WRONG)).toBe(false);

  // The pod worker's metrics count the failure (the test stack runs the workers in this process).
  const exposition = await registry.metrics();
  expect(exposition).toMatch(/ibflow_login_failures_total\{connection="demo-paper",type="InvalidCredentials"\} 1/);
  expect(exposition).not.toContain(WRONG);

  const history = await stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).fetchHistory();
  // Payload bytes are decoded by the scan (JSON.stringify would show them only as base64).
  expect(scanObject(history, needlesOf([{ label: 'failure type', value: 'InvalidCredentials' }]), 'history')).toHaveLength(1);
  expect(scanObject(history, needlesOf([{ label: 'wrong password', value: WRONG }]), 'history')).toEqual([]);
});

test('after the secret is fixed, forceRelogin brings the session back (rotation needs no restart)', async () => {
  const store = new FileSecretStore(secretFilePath(stack.stateDir));
  store.set('demo-paper/rotated', await store.get('demo-paper/password'));
  await stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).signal(forceReloginSignal);
  await waitFor('usable', async () => (await status()).state === 'usable', 60_000);
  expect(await failedLogins()).toBe(1);
});

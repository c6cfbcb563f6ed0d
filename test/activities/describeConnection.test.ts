/** The describeConnection activity: the non-secret facts a workflow needs, read fresh from config; unknown ids are ConfigInvalid. */
import { createDescribeConnection } from '../../activities/describeConnection';
import type { ControlDependencies } from '../../activities/controlDependencies';
import { FailureType } from '../../src/contract/failureTypes';
import { parseConfig } from '../../src/config/loadConfig';
import type { IbflowConfig } from '../../src/config/schema';
import { failureOf, recordingEnvironment, runIn } from './activityTestKit';

const paper = { id: 'me-paper', mode: 'paper', username: 'PaperUser', passwordRef: 'env:PAPER_PW', pod: 'pod-a', gateway: { url: 'https://localhost:5000', verifyTls: false } };
const live = {
  id: 'me-live',
  mode: 'live',
  username: 'liveuser',
  passwordRef: 'env:LIVE_PW',
  totpSecretRef: 'env:LIVE_TOTP',
  pod: 'pod-b',
  gateway: { url: 'https://localhost:5001', verifyTls: false },
  instruments: [{ conid: 265598 }],
  competingPolicy: 'wait-for-human',
};

function describeWith(config: () => IbflowConfig) {
  const run = (id: string) => runIn(recordingEnvironment().env, createDescribeConnection({ config } as unknown as ControlDependencies), id);
  return run;
}

test('facts of a connection: mode, pod and its task queue, instruments, the username-derived workflow id, competing policy', async () => {
  const config = parseConfig({ stateDir: '/tmp/ibflow-describe', connections: [paper, live] });
  const describe = describeWith(() => config);
  expect(await describe('me-paper')).toEqual({
    connectionId: 'me-paper',
    mode: 'paper',
    pod: 'pod-a',
    podTaskQueue: 'ibflow-pod-pod-a',
    hasInstruments: false,
    sessionWorkflowId: 'ibkr-session:paperuser',
    competingPolicy: 'reclaim',
  });
  expect(await describe('me-live')).toEqual({
    connectionId: 'me-live',
    mode: 'live',
    pod: 'pod-b',
    podTaskQueue: 'ibflow-pod-pod-b',
    hasInstruments: true,
    sessionWorkflowId: 'ibkr-session:liveuser',
    competingPolicy: 'wait-for-human',
  });
});

test('the facts carry no secret reference, URL or username beyond the workflow id', async () => {
  const config = parseConfig({ stateDir: '/tmp/ibflow-describe', connections: [live] });
  const text = JSON.stringify(await describeWith(() => config)('me-live'));
  expect(text).not.toMatch(/env:|LIVE_|localhost|passwordRef|totp/i);
});

test('config is read on every call: an edit applies without a restart', async () => {
  let config = parseConfig({ stateDir: '/tmp/ibflow-describe', connections: [paper] });
  const describe = describeWith(() => config);
  expect((await describe('me-paper')).pod).toBe('pod-a');
  config = parseConfig({ stateDir: '/tmp/ibflow-describe', connections: [{ ...paper, pod: 'pod-c' }] });
  expect((await describe('me-paper')).podTaskQueue).toBe('ibflow-pod-pod-c');
});

test('an unknown connection id is ConfigInvalid and not retryable', async () => {
  const config = parseConfig({ stateDir: '/tmp/ibflow-describe', connections: [paper] });
  const err = await failureOf(describeWith(() => config)('nope'));
  expect(err.type).toBe(FailureType.ConfigInvalid);
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toBe('unknown connection "nope"');
});

import { EventEmitter } from 'node:events';
import type { RestartPolicy } from '../../stack/restartPolicy';
import { Supervisor, type RunningService, type SupervisorEvent } from '../../stack/supervisor';

/** A stand-in for a child process: exits when killed, or when the test says so. */
class FakeProcess extends EventEmitter {
  killedWith: string | null = null;
  kill(signal: string): boolean {
    this.killedWith = signal;
    this.emit('exit', null, signal);
    return true;
  }
}

/** A service whose starts fail while `failing` says so; it records every process it started and stopped. */
function fakeService(name: string, restartOnExit = true) {
  const processes: FakeProcess[] = [];
  const state = { starts: 0, stops: 0, failing: (_start: number) => false };
  return {
    processes,
    state,
    spec: {
      name,
      restartOnExit,
      async start(): Promise<RunningService> {
        state.starts++;
        if (state.failing(state.starts)) throw new Error(`dependency down (start ${state.starts})`);
        const p = new FakeProcess();
        processes.push(p);
        return {
          process: p as unknown as RunningService['process'],
          stop: async () => {
            state.stops++;
            p.emit('exit', 0, null);
          },
        };
      },
    },
  };
}

const POLICY: RestartPolicy = { whenRestartFails: 'retry-forever', initialMs: 1_000, maxMs: 4_000, healthyAfterMs: 60_000 };

/** Moves the fake clock, letting promise callbacks settle in between. */
async function advance(ms: number): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('a crashed service is restarted after the policy delay and its restarts are counted', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e), POLICY);
  const svc = fakeService('worker');
  await supervisor.start(svc.spec);
  expect(supervisor.kill('worker')).toBe(true);
  expect(svc.processes[0]!.killedWith).toBe('SIGKILL');
  expect(events.find((e) => e.kind === 'crashed')).toMatchObject({ name: 'worker', signal: 'SIGKILL', restartInMs: 1_000 });
  await advance(999);
  expect(svc.state.starts).toBe(1);
  await advance(1);
  expect(svc.state.starts).toBe(2);
  expect(supervisor.isRunning('worker')).toBe(true);
  expect(supervisor.restartCount('worker')).toBe(1);
  // A second crash soon after doubles the delay.
  supervisor.kill('worker');
  expect(events.filter((e) => e.kind === 'crashed').at(-1)).toMatchObject({ restartInMs: 2_000 });
  await advance(2_000);
  expect(supervisor.restartCount('worker')).toBe(2);
});

test('retry-forever: a failing restart is tried again with growing, capped delays until it works', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e), POLICY);
  const svc = fakeService('worker');
  await supervisor.start(svc.spec);
  svc.state.failing = (start) => start >= 2 && start <= 5;
  supervisor.kill('worker');
  await advance(1_000 + 2_000 + 4_000 + 4_000); // restarts after 1 s, then 2 s, 4 s, 4 s (capped): all four fail
  expect(svc.state.starts).toBe(5);
  expect(supervisor.isRunning('worker')).toBe(false);
  expect(events.filter((e) => e.kind === 'restart_failed').map((e) => (e as { error: string }).error)).toEqual([
    'dependency down (start 2); trying again in 2 s',
    'dependency down (start 3); trying again in 4 s',
    'dependency down (start 4); trying again in 4 s',
    'dependency down (start 5); trying again in 4 s',
  ]);
  await advance(4_000);
  expect(svc.state.starts).toBe(6);
  expect(supervisor.isRunning('worker')).toBe(true);
  expect(supervisor.restartCount('worker')).toBe(1);
  expect(events.some((e) => e.kind === 'gave_up')).toBe(false);
});

test('give-up: a failing restart is not tried again', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e), { ...POLICY, whenRestartFails: 'give-up' });
  const svc = fakeService('worker');
  await supervisor.start(svc.spec);
  svc.state.failing = (start) => start === 2;
  supervisor.kill('worker');
  await advance(60_000);
  expect(svc.state.starts).toBe(2);
  expect(supervisor.isRunning('worker')).toBe(false);
  expect(events.at(-1)).toEqual({ kind: 'gave_up', name: 'worker', error: 'dependency down (start 2)' });
  // It can still be started by hand.
  await supervisor.startService('worker');
  expect(supervisor.isRunning('worker')).toBe(true);
});

test('a service that ran healthily for longer than healthyAfterMs restarts after the initial delay again', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e), POLICY);
  const svc = fakeService('worker');
  await supervisor.start(svc.spec);
  supervisor.kill('worker');
  await advance(1_000);
  await advance(61_000);
  supervisor.kill('worker');
  expect(events.filter((e) => e.kind === 'crashed').map((e) => (e as { restartInMs: number }).restartInMs)).toEqual([1_000, 1_000]);
});

test('a service without restartOnExit stays down after it exits', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e), POLICY);
  const svc = fakeService('temporal', false);
  await supervisor.start(svc.spec);
  svc.processes[0]!.emit('exit', 1, null);
  await advance(60_000);
  expect(svc.state.starts).toBe(1);
  expect(events.at(-1)).toEqual({ kind: 'crashed', name: 'temporal', code: 1, signal: null, restartInMs: null });
});

test('a service stopped on purpose is not restarted until started again', async () => {
  const supervisor = new Supervisor(() => undefined, POLICY);
  const svc = fakeService('clickhouse');
  await supervisor.start(svc.spec);
  await supervisor.stopService('clickhouse');
  await advance(60_000);
  expect(svc.state.starts).toBe(1);
  expect(supervisor.isRunning('clickhouse')).toBe(false);
  await supervisor.startService('clickhouse');
  expect(svc.state.starts).toBe(2);
  expect(supervisor.restartCount('clickhouse')).toBe(0); // a planned restart is not a crash
});

test('a restart that completes after stopAll began is stopped, not left running', async () => {
  const supervisor = new Supervisor(() => undefined, POLICY);
  const svc = fakeService('worker');
  let release: () => void = () => undefined;
  await supervisor.start(svc.spec);
  const start = svc.spec.start;
  svc.spec.start = async () => {
    await new Promise<void>((r) => (release = r));
    return start();
  };
  supervisor.kill('worker');
  await advance(1_000); // the restart is now waiting inside start()
  await supervisor.stopAll();
  release();
  await advance(0);
  expect(svc.state.starts).toBe(2);
  expect(svc.state.stops).toBe(1);
  expect(supervisor.isRunning('worker')).toBe(false);
});

test('stopAll stops services in reverse order of starting', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e), POLICY);
  for (const name of ['temporal', 'clickhouse', 'worker']) await supervisor.start(fakeService(name).spec);
  await supervisor.stopAll();
  expect(events.filter((e) => e.kind === 'stopped').map((e) => e.name)).toEqual(['worker', 'clickhouse', 'temporal']);
});

test('in-process services (no process) are stopped but never watched', async () => {
  const supervisor = new Supervisor(() => undefined, POLICY);
  let stopped = false;
  await supervisor.start({ name: 'sims', start: async () => ({ stop: async () => void (stopped = true) }) });
  expect(supervisor.kill('sims')).toBe(false);
  await supervisor.stopAll();
  expect(stopped).toBe(true);
});

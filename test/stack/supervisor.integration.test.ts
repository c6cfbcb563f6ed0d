import { spawn } from 'node:child_process';
import { Supervisor, type SupervisorEvent } from '../../stack/supervisor';
import { stopChild } from '../../stack/temporalDevServer';

jest.setTimeout(60_000);

function sleeperSpec(failOn: (start: number) => boolean) {
  const spec = {
    starts: 0,
    pids: [] as number[],
    name: 'sleeper',
    async start() {
      spec.starts++;
      if (failOn(spec.starts)) throw new Error(`dependency down (${spec.starts})`);
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      spec.pids.push(child.pid!);
      return { process: child, stop: () => stopChild(child) };
    },
  };
  return spec;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
}

test('a SIGKILLed child is restarted, and a failing restart is retried until it works', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e));
  const spec = sleeperSpec((start) => start === 2 || start === 3);
  await supervisor.start(spec);
  const ready = () => events.filter((e) => e.kind === 'ready').length;
  expect(ready()).toBe(1);
  expect(supervisor.kill('sleeper')).toBe(true);
  await until(() => ready() >= 2);
  expect(ready()).toBe(2);
  expect(spec.starts).toBe(4);
  expect(alive(spec.pids[0]!)).toBe(false);
  expect(alive(spec.pids[1]!)).toBe(true);
  expect(supervisor.restartCount('sleeper')).toBe(1);
  expect(events.filter((e) => e.kind === 'restart_failed')).toHaveLength(2);
  expect(events.find((e) => e.kind === 'crashed')).toMatchObject({ signal: 'SIGKILL' });
  await supervisor.stopAll();
  expect(events.at(-1)).toEqual({ kind: 'stopped', name: 'sleeper' });
  expect(alive(spec.pids[1]!)).toBe(false);
});

test('a child stopped on purpose stays down until it is started again', async () => {
  const supervisor = new Supervisor(() => undefined);
  const spec = sleeperSpec(() => false);
  await supervisor.start(spec);
  await supervisor.stopService('sleeper');
  expect(alive(spec.pids[0]!)).toBe(false);
  // Longer than the first restart delay: a crash would have been restarted by now.
  await new Promise((r) => setTimeout(r, 1_500));
  expect(spec.starts).toBe(1);
  await supervisor.startService('sleeper');
  expect(alive(spec.pids[1]!)).toBe(true);
  await supervisor.stopAll();
  expect(alive(spec.pids[1]!)).toBe(false);
});

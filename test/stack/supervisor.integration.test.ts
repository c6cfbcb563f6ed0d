import { spawn } from 'node:child_process';
import { Supervisor, type SupervisorEvent } from '../../stack/supervisor';
import { stopChild } from '../../stack/temporalDevServer';

jest.setTimeout(60_000);

test('a crashed service is restarted, and a failing restart is retried until it works', async () => {
  const events: SupervisorEvent[] = [];
  const supervisor = new Supervisor((e) => events.push(e));
  let starts = 0;
  const spec = {
    name: 'sleeper',
    async start() {
      starts++;
      if (starts === 2 || starts === 3) throw new Error(`dependency down (${starts})`);
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      return { process: child, stop: () => stopChild(child) };
    },
  };
  await supervisor.start(spec);
  const first = events.filter((e) => e.kind === 'ready').length;
  expect(first).toBe(1);
  // Crash it.
  const ready = () => events.filter((e) => e.kind === 'ready').length;
  const running = (supervisor as unknown as { running: Map<string, { process: { kill(s: string): void } }> }).running.get('sleeper')!;
  running.process.kill('SIGKILL');
  for (let i = 0; i < 200 && ready() < 2; i++) await new Promise((r) => setTimeout(r, 100));
  expect(ready()).toBe(2);
  expect(starts).toBe(4);
  expect(events.filter((e) => e.kind === 'restart_failed')).toHaveLength(2);
  expect(events.some((e) => e.kind === 'crashed')).toBe(true);
  await supervisor.stopAll();
  expect(events.at(-1)).toEqual({ kind: 'stopped', name: 'sleeper' });
});

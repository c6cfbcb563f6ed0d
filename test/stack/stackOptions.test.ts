import type { IbflowConfig } from '../../src/config/schema';
import { restartDelayMs, restartsInARow, UP_RESTART_POLICY } from '../../stack/restartPolicy';
import { resolveStackOptions, restartsOnExit, type StackOptions } from '../../stack/stackOptions';

const base: StackOptions = {
  stateDir: '/tmp/x',
  ports: { temporal: 1, temporalUi: 2, clickhouseHttp: 3, clickhouseTcp: 4 },
  config: { kind: 'demo', gatewayPortBase: 5000 },
  workers: 'child-processes',
  simulators: 'child-processes',
};

describe('resolveStackOptions', () => {
  test('fills in the defaults of `ibflow up`', () => {
    const r = resolveStackOptions(base);
    expect(r.restart).toEqual({ services: 'all', policy: UP_RESTART_POLICY });
    expect(r.simulator).toEqual({ authDelayMs: 3000, framesPerSecond: null });
    expect(r.readyTimeoutMs).toEqual({ controlWorker: 180_000, podWorker: 60_000 });
    expect(() => r.progress('line')).not.toThrow();
  });

  test('keeps what the caller chose', () => {
    const policy = { whenRestartFails: 'give-up' as const, initialMs: 5, maxMs: 10, healthyAfterMs: 0 };
    const r = resolveStackOptions({
      ...base,
      simulators: 'in-process',
      simulator: { authDelayMs: 1000, framesPerSecond: 50 },
      restart: { services: 'workers', policy },
      readyTimeoutMs: { controlWorker: 300_000 },
    });
    expect(r.simulator).toEqual({ authDelayMs: 1000, framesPerSecond: 50 });
    expect(r.restart).toEqual({ services: 'workers', policy });
    expect(r.readyTimeoutMs).toEqual({ controlWorker: 300_000, podWorker: 60_000 });
  });

  test('refuses a config edited in memory for worker child processes, which read the file', () => {
    const editConfig = (c: IbflowConfig) => c;
    expect(() => resolveStackOptions({ ...base, config: { kind: 'demo', gatewayPortBase: 5000, editConfig } })).toThrow(/editConfig/);
    expect(() => resolveStackOptions({ ...base, workers: 'in-process', config: { kind: 'demo', gatewayPortBase: 5000, editConfig } })).not.toThrow();
  });

  test('refuses a frame rate for simulator child processes, and a written config without pods', () => {
    expect(() => resolveStackOptions({ ...base, simulator: { framesPerSecond: 10 } })).toThrow(/framesPerSecond/);
    expect(() => resolveStackOptions({ ...base, config: { kind: 'written', configPath: '/tmp/x/ibflow.yaml', pods: [] } })).toThrow(/at least one pod/);
  });
});

test('restartsOnExit: all, workers only, or none', () => {
  const kinds = ['temporal', 'clickhouse', 'simulator', 'worker'] as const;
  const which = (services: 'all' | 'workers' | 'none') => kinds.filter((k) => restartsOnExit({ restart: { services, policy: UP_RESTART_POLICY } }, k));
  expect(which('all')).toEqual(kinds);
  expect(which('workers')).toEqual(['worker']);
  expect(which('none')).toEqual([]);
});

describe('restart policy', () => {
  test('delays double per restart in a row and stop at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => restartDelayMs(UP_RESTART_POLICY, n))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect([0, 1, 2, 3, 4].map((n) => restartDelayMs({ ...UP_RESTART_POLICY, maxMs: 8_000 }, n))).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
  });

  test('a healthy run starts the count again; a short one keeps it', () => {
    expect(restartsInARow(UP_RESTART_POLICY, 3, 60_001)).toBe(0);
    expect(restartsInARow(UP_RESTART_POLICY, 3, 59_000)).toBe(3);
    expect(restartsInARow({ ...UP_RESTART_POLICY, healthyAfterMs: 0 }, 3, 1)).toBe(0);
  });
});

/** `ibflow sim-noise` in-process: flags, progress on stderr, the summary table or JSON on stdout, exit codes. */
import { Command } from 'commander';
import { registerSimCommand } from '../../cli/commands/sim';
import { exitCodeOf } from '../../cli/support/errors';
import { loginViaHttp, PAPER_USER, startTestSim, type TestSim } from '../sim/simTestKit';

/** Runs `ibflow <args>` on a fresh program; commander's own usage errors are thrown instead of exiting. */
async function ibflow(args: string[]): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  const program = new Command().name('ibflow').exitOverride();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerSimCommand(program);
  let stdout = '';
  let stderr = '';
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await program.parseAsync(['node', 'ibflow', ...args]);
    return { stdout, stderr };
  } catch (error) {
    return { stdout, stderr, error };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

describe('ibflow sim-noise', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await startTestSim({ pacing: { enabled: true }, timeScale: 0.000001 });
    await loginViaHttp(sim, PAPER_USER);
  });
  afterAll(async () => {
    await sim.stop();
  });

  test('--json prints the summary for scripts; progress goes to stderr', async () => {
    const r = await ibflow(['sim-noise', '--target', sim.url, '--insecure', '--rate', '4', '--pattern', 'tickle', '--duration', '1s', '--json']);
    expect(r.error).toBeUndefined();
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ pattern: 'tickle', sent: 4, byStatus: { 200: 1, 429: 3 }, errors: 0 });
    expect(r.stderr).toMatch(/sending tickle traffic to https:\/\/127\.0\.0\.1:\d+ for 1 s/);
    expect(r.stderr).toMatch(/sent \d+ {2}200: 1/);
  });

  test('without --json: a summary table with the answers by status and by path', async () => {
    const r = await ibflow(['sim-noise', '--target', sim.url, '--insecure', '--rate', '5', '--pattern', 'mixed', '--duration', '1s']);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toMatch(/HTTP 200/);
    expect(r.stdout).toMatch(/sent\s*│\s*5/);
    expect(r.stdout).toMatch(/iserver\/auth\/status/);
    expect(r.stdout).toMatch(/latency p50 \/ p99/);
  });

  test.each([
    [['--rate', 'lots', '--pattern', 'tickle'], '--rate'],
    [['--rate', '5', '--pattern', 'storm'], '--pattern'],
    [['--rate', '5', '--pattern', 'tickle', '--duration', 'forever'], '--duration'],
  ])('bad flags %j: a clear error naming %s, exit 2', async (flags, flag) => {
    const r = await ibflow(['sim-noise', '--target', sim.url, '--insecure', ...flags]);
    expect((r.error as Error).message).toContain(flag);
    expect(exitCodeOf(r.error)).toBe(2);
    expect(r.stdout).toBe('');
  });

  test('--insecure for a remote host and a bad --target are usage errors naming the flag', async () => {
    const remote = await ibflow(['sim-noise', '--target', 'https://gw.example.com:5000', '--insecure', '--rate', '1', '--pattern', 'tickle']);
    expect((remote.error as Error).message).toMatch(/^--insecure: /);
    expect(exitCodeOf(remote.error)).toBe(2);
    const bad = await ibflow(['sim-noise', '--target', 'ftp://localhost', '--rate', '1', '--pattern', 'tickle']);
    expect((bad.error as Error).message).toMatch(/^--target: /);
    expect(exitCodeOf(bad.error)).toBe(2);
  });

  test('a missing required flag is named by commander', async () => {
    const r = await ibflow(['sim-noise', '--rate', '1', '--pattern', 'tickle']);
    expect((r.error as Error).message).toContain('--target');
  });

  test('nothing answering: the summary is printed and the run fails (exit 1)', async () => {
    const r = await ibflow(['sim-noise', '--target', 'http://127.0.0.1:1', '--rate', '2', '--pattern', 'tickle', '--duration', '500ms', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ sent: 1, errors: 1 });
    expect((r.error as Error).message).toMatch(/no request was answered \(ECONNREFUSED ×1\)/);
    expect(exitCodeOf(r.error)).toBe(1);
  });
});

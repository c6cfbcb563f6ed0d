/** The unit tier's guard: starting a child process from a unit test fails with where the test belongs. */
import { execFileSync, spawn } from 'node:child_process';

test('a unit test that starts a child process fails at once, naming the integration suffix', () => {
  expect(() => execFileSync(process.execPath, ['--version'])).toThrow(/unit tier: execFileSync\(\) starts a child process — name the test file \*\.integration\.test\.ts/);
  expect(() => spawn(process.execPath, ['--version'])).toThrow(/unit tier: spawn\(\)/);
});

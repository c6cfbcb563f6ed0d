/**
 * The unit tier runs without services: a test there that starts a child process (a server, a
 * browser, a CLI) fails at once with a message saying where it belongs.
 */
import childProcess from 'node:child_process';

const refuse = (name: string) => () => {
  throw new Error(`unit tier: ${name}() starts a child process — name the test file *.integration.test.ts`);
};
for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  (childProcess as unknown as Record<string, unknown>)[name] = refuse(name);
}

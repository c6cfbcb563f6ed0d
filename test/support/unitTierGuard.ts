/**
 * The unit tier runs without services: a test there that starts a child process (a server, a
 * browser, a CLI) fails at once with a message saying where it belongs.
 * Node's `child_process` module is one object per jest worker, shared with the integration files
 * that worker runs next, so the guard is put back after each unit file.
 */
import childProcess from 'node:child_process';

const guarded = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;
const module_ = childProcess as unknown as Record<string, unknown>;
const originals = new Map(guarded.map((name) => [name, module_[name]]));

for (const name of guarded) {
  module_[name] = () => {
    throw new Error(`unit tier: ${name}() starts a child process — name the test file *.integration.test.ts`);
  };
}
afterAll(() => {
  for (const [name, original] of originals) module_[name] = original;
});

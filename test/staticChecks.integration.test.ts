/** Type-check and lint are part of the suite, so CI guards them like any behaviour. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(180_000);
const run = promisify(execFile);
const root = resolve(__dirname, '..');

test('the project type-checks in strict mode', async () => {
  const result = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], { cwd: root }).catch(
    (err: { stdout: string }) => ({ stdout: err.stdout, failed: true }),
  );
  expect(result.stdout).toBe('');
});

interface LintResult {
  filePath: string;
  messages: { ruleId: string | null; severity: number; line: number; message: string }[];
}

/** ESLint's API loads its config through a dynamic import that jest's runtime cannot do: use its CLI. */
async function eslint(...targets: string[]): Promise<LintResult[]> {
  const args = [join(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', ...targets];
  const { stdout } = await run(process.execPath, args, { cwd: root, maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
  return JSON.parse(stdout) as LintResult[];
}

test('eslint passes', async () => {
  const results = await eslint('.');
  const errors = results.flatMap((r) => r.messages.filter((m) => m.severity === 2).map((m) => `${r.filePath}:${m.line} ${m.message}`));
  expect(errors).toEqual([]);
});

test('the workflow-sandbox rule rejects Node builtins, side-effect libraries and value imports of activities', async () => {
  const dir = mkdtempSync(join(root, 'workflows', 'zz-lint-probe-'));
  const probe = join(dir, 'probe.ts');
  writeFileSync(
    probe,
    [
      "import { readFileSync } from 'node:fs';",
      "import { createLogger } from '../src/logging/logger';",
      "import { createPodActivities } from '../activities';",
      "import type { PodActivities } from '../activities';",
      "import { sessionWorkflowId } from '../src/contract/ids';",
      'export const x: unknown[] = [readFileSync, createLogger, createPodActivities, sessionWorkflowId];',
      'export type Y = PodActivities;',
      '',
    ].join('\n'),
  );
  try {
    const [result] = await eslint(probe);
    const restricted = result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line);
    expect(restricted).toEqual([1, 2, 3]); // type-only and pure imports (lines 4, 5) are fine
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

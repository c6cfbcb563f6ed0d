import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

/**
 * The Temporal SDK logs every worker state change to the console by default; workers of ibflow
 * keep only its warnings. Runtime.install may run once per process, before any worker exists.
 */
export function installQuietTemporalRuntime(level: LogLevel = 'WARN'): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // Already installed by someone else in this process (e.g. a test harness): keep theirs.
  }
}

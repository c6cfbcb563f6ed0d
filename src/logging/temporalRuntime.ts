import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

let installed = false;

/**
 * Routes the Temporal SDK's own log lines (worker state, failed activities) into our redacting
 * pino logger, warnings and above only, the native core's lines included. Runtime.install may run once per process, before any
 * worker or native connection exists.
 */
export function installTemporalRuntimeLogging(log: Logger, level: LogLevel = 'WARN'): void {
  if (installed) return;
  installed = true;
  const logger = new DefaultLogger(level, (entry) => {
    const meta = { temporal: true, ...(entry.meta ?? {}) };
    if (entry.level === 'ERROR') log.error(meta, entry.message);
    else if (entry.level === 'WARN') log.warn(meta, entry.message);
    else log.info(meta, entry.message);
  });
  try {
    // `forward` sends the native core's own lines (e.g. gRPC retries while Temporal is away) through
    // the same logger instead of raw text on stderr.
    Runtime.install({ logger, telemetryOptions: { logging: { filter: { core: level, other: 'ERROR' }, forward: {} } } });
  } catch {
    // Already installed by someone else in this process (e.g. a test harness): keep theirs.
  }
}

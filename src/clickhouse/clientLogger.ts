import { ClickHouseLogLevel, type Logger as ClientLogger } from '@clickhouse/client';
import type { Logger } from '../logging/logger';

const REQUEST_ERROR = /: HTTP request error\.$/;

type LogParams = Parameters<ClientLogger['error']>[0] | Parameters<ClientLogger['warn']>[0];

/** The client's level that lets through exactly what `logger`'s level would write. */
export function clientLogLevel(logger: Logger): ClickHouseLogLevel {
  switch (logger.level) {
    case 'trace':
      return ClickHouseLogLevel.TRACE;
    case 'debug':
      return ClickHouseLogLevel.DEBUG;
    case 'info':
      return ClickHouseLogLevel.INFO;
    case 'warn':
      return ClickHouseLogLevel.WARN;
    case 'silent':
      return ClickHouseLogLevel.OFF;
    default: // error, fatal
      return ClickHouseLogLevel.ERROR;
  }
}

/**
 * A `log.LoggerClass` for @clickhouse/client that writes to `logger` (ibflow's redacting pino
 * logger) instead of the console. The client constructs the class itself with no arguments, so the
 * logger is closed over. Its `args` (query ids, settings, sometimes values) go through the same
 * redaction as every other log object.
 */
export function clickHouseLoggerClass(logger: Logger): new () => ClientLogger {
  const write = (asked: 'trace' | 'debug' | 'info' | 'warn' | 'error', p: LogParams): void => {
    const err = 'err' in p ? p.err : undefined;
    // The client logs every failed request ("Query: HTTP request error.") and also rejects with it;
    // the caller reports it in context (the sink retries, the CLI names it), so here it is debug.
    const level = (asked === 'error' || asked === 'warn') && REQUEST_ERROR.test(p.message) ? 'debug' : asked;
    logger[level]({ module: p.module, ...(p.args ? { args: p.args } : {}), ...(err ? { err } : {}) }, `clickhouse client: ${p.message}`);
  };
  return class IbflowClickHouseLogger implements ClientLogger {
    trace(p: LogParams): void {
      write('trace', p);
    }
    debug(p: LogParams): void {
      write('debug', p);
    }
    info(p: LogParams): void {
      write('info', p);
    }
    warn(p: LogParams): void {
      write('warn', p);
    }
    error(p: LogParams): void {
      write('error', p);
    }
  };
}

import pino, { type Logger } from 'pino';

/**
 * Field names whose values are never written, wherever they appear in a log object. Activities do
 * not log secrets in the first place; this is the second line of defence.
 */
const REDACT_KEYS = ['password', 'passwd', 'secret', 'totp', 'code', 'activationCode', 'cookie', 'authorization', 'session', 'token'];

export function createLogger(name: string, destination?: pino.DestinationStream): Logger {
  const paths = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino(
    {
      name,
      level: process.env.IBFLOW_LOG_LEVEL ?? 'info',
      redact: { paths, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    destination,
  );
}

export type { Logger };

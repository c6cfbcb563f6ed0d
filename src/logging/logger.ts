import pino, { type Logger } from 'pino';

/**
 * Field names whose values are never written, wherever they appear in a log object. Activities do
 * not log secrets in the first place; this is the second line of defence.
 */
const REDACT_KEYS = ['password', 'passwd', 'secret', 'totp', 'code', 'activationCode', 'cookie', 'authorization', 'session', 'token'];

/** Matched case-insensitively and ignoring `_`/`-` (so `Password`, `TOTP_CODE`, `set-cookie` too). */
const SENSITIVE = new Set(
  [...REDACT_KEYS, 'totpCode', 'totpSecret', 'setCookie', 'apiKey', 'accessToken', 'refreshToken', 'clientSecret', 'passphrase', 'pwd'].map(normaliseKey),
);
const CENSOR = '[redacted]';
const MAX_DEPTH = 8;

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE.has(normaliseKey(key));
}

/**
 * Copies `value` with every sensitive key censored, at any depth up to MAX_DEPTH and inside
 * arrays; returns the same object when nothing needed censoring (no copy, no mutation). Errors are
 * left to pino's serializer and the path-based redaction below.
 */
function scrub(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || value instanceof Error) return value;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const s = scrub(v, depth + 1);
      if (s !== v) changed = true;
      return s;
    });
    return changed ? out : value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // Buffers, Dates, class instances
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const s = isSensitiveKey(k) ? (v === undefined ? v : CENSOR) : scrub(v, depth + 1);
    if (s !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = s;
    }
  }
  return out ?? value;
}

export function createLogger(name: string, destination?: pino.DestinationStream): Logger {
  const paths = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  const logger = pino(
    {
      name,
      level: process.env.IBFLOW_LOG_LEVEL ?? 'info',
      redact: { paths, censor: CENSOR },
      base: { pid: process.pid },
      formatters: {
        log: (obj) => scrub(obj, 0) as Record<string, unknown>,
      },
    },
    destination,
  );
  // Child bindings are serialised once, outside formatters.log: scrub them on the way in.
  const pinoChild = logger.child as unknown as (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  logger.child = function child(this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) {
    return pinoChild.call(this, scrub(bindings, 0) as pino.Bindings, options);
  } as unknown as Logger['child'];
  return logger;
}

export type { Logger };

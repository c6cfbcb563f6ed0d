import { createLogger } from '../../../src/logging/logger';

const CANARY = 'CANARY-5e1d-secret-value';
const KEYS = ['password', 'secret', 'totp', 'code', 'cookie', 'session', 'token'] as const;
const EXTRA_KEYS = ['passwd', 'activationCode', 'authorization'] as const;

function collectingLogger(name = 'test') {
  const lines: string[] = [];
  const destination = { write: (s: string) => void lines.push(s) };
  const logger = createLogger(name, destination);
  const records = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('createLogger redaction', () => {
  test.each([...KEYS, ...EXTRA_KEYS])('top-level %s is redacted', (key) => {
    const { logger, lines, records } = collectingLogger();
    logger.info({ [key]: CANARY, keep: 'visible' }, 'hello');
    expect(lines).toHaveLength(1);
    const rec = records()[0];
    expect(rec[key]).toBe('[redacted]');
    expect(rec.keep).toBe('visible');
    expect(rec.msg).toBe('hello');
    expect(lines.join('')).not.toContain(CANARY);
  });

  test.each([...KEYS, ...EXTRA_KEYS])('%s nested one level is redacted', (key) => {
    const { logger, lines, records } = collectingLogger();
    logger.info({ connection: { id: 'live-1', [key]: CANARY } });
    const rec = records()[0] as { connection: Record<string, unknown> };
    expect(rec.connection[key]).toBe('[redacted]');
    expect(rec.connection.id).toBe('live-1');
    expect(lines.join('')).not.toContain(CANARY);
  });

  test.each([...KEYS, ...EXTRA_KEYS])('%s nested two levels is redacted', (key) => {
    const { logger, lines, records } = collectingLogger();
    logger.warn({ request: { headers: { [key]: CANARY, accept: 'json' } } });
    const rec = records()[0] as { request: { headers: Record<string, unknown> } };
    expect(rec.request.headers[key]).toBe('[redacted]');
    expect(rec.request.headers.accept).toBe('json');
    expect(lines.join('')).not.toContain(CANARY);
  });

  test('every sensitive key at every level at once: the canary never appears', () => {
    const { logger, lines } = collectingLogger();
    const obj: Record<string, unknown> = {};
    for (const k of [...KEYS, ...EXTRA_KEYS]) {
      obj[k] = `${CANARY}-top-${k}`;
      obj[`one_${k}`] = { [k]: `${CANARY}-one-${k}` };
      obj[`two_${k}`] = { inner: { [k]: `${CANARY}-two-${k}` } };
    }
    logger.error(obj, 'everything');
    logger.info({ nested: obj });
    expect(lines).toHaveLength(2);
    // The second line nests `obj` one level deeper, so only its first two levels are covered.
    const first = lines[0];
    expect(first).not.toContain(CANARY);
    const second = JSON.parse(lines[1]) as { nested: Record<string, unknown> };
    for (const k of [...KEYS, ...EXTRA_KEYS]) {
      expect(second.nested[k]).toBe('[redacted]');
      expect((second.nested[`one_${k}`] as Record<string, unknown>)[k]).toBe('[redacted]');
    }
  });

  test('redaction does not mutate the logged object', () => {
    const { logger } = collectingLogger();
    const obj = { password: CANARY, nested: { token: CANARY } };
    logger.info(obj);
    expect(obj).toEqual({ password: CANARY, nested: { token: CANARY } });
  });

  test('the same keys in a child logger binding are redacted', () => {
    const { logger, lines } = collectingLogger();
    logger.child({ session: CANARY, connectionId: 'live-1' }).info('tick');
    const rec = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(rec.session).toBe('[redacted]');
    expect(rec.connectionId).toBe('live-1');
    expect(lines[0]).not.toContain(CANARY);
  });

  test('an error with a code property is logged but the code is redacted', () => {
    const { logger, lines } = collectingLogger();
    const err = Object.assign(new Error('boom'), { code: CANARY });
    logger.error({ err }, 'failed');
    const rec = JSON.parse(lines[0]) as { err: Record<string, unknown> };
    expect(rec.err.message).toBe('boom');
    expect(rec.err.code).toBe('[redacted]');
    expect(lines[0]).not.toContain(CANARY);
  });

  test('non-sensitive keys with similar names are kept', () => {
    const { logger, records } = collectingLogger();
    logger.info({ username: 'me', passwordRef: 'file:live-1/password', sessionId: 'ibkr-session:me', conid: 265598 });
    expect(records()[0]).toMatchObject({ username: 'me', passwordRef: 'file:live-1/password', sessionId: 'ibkr-session:me', conid: 265598 });
  });
});

describe('createLogger basics', () => {
  const saved = process.env.IBFLOW_LOG_LEVEL;
  afterEach(() => {
    if (saved === undefined) delete process.env.IBFLOW_LOG_LEVEL;
    else process.env.IBFLOW_LOG_LEVEL = saved;
  });

  test('lines are JSON with the logger name and pid', () => {
    delete process.env.IBFLOW_LOG_LEVEL;
    const { logger, records } = collectingLogger('pod-worker');
    logger.info({ connectionId: 'live-1' }, 'started');
    const rec = records()[0];
    expect(rec).toMatchObject({ name: 'pod-worker', pid: process.pid, level: 30, msg: 'started', connectionId: 'live-1' });
    expect(typeof rec.time).toBe('number');
  });

  test('default level is info: debug is dropped', () => {
    delete process.env.IBFLOW_LOG_LEVEL;
    const { logger, lines } = collectingLogger();
    logger.debug('hidden');
    logger.info('shown');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).msg).toBe('shown');
  });

  test('IBFLOW_LOG_LEVEL sets the level', () => {
    process.env.IBFLOW_LOG_LEVEL = 'warn';
    const { logger, lines } = collectingLogger();
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });
});

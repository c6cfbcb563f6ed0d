/**
 * @clickhouse/client logs through ibflow's redacting logger, never the console: a real failed
 * request on a real 18.16 lands in the pino stream, its args censored, and console stays silent.
 */
import { Writable } from 'node:stream';
import { createIbflowClickHouseClient } from '../../../src/clickhouse/clickhouseClient';
import { clickHouseLoggerClass } from '../../../src/clickhouse/clientLogger';
import { parseConfig } from '../../../src/config/loadConfig';
import { createLogger } from '../../../src/logging/logger';
import { startTestClickHouse, type TestClickHouse } from '../../support/clickhouseServer';

jest.setTimeout(60_000);

let ch: TestClickHouse;
beforeAll(async () => {
  ch = await startTestClickHouse();
});
afterAll(async () => {
  await ch?.cleanup();
});

function memoryLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger('test', stream);
  logger.level = level;
  return { logger, lines, raw: () => JSON.stringify(lines) };
}

const consoleMethods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

test('a failed request is logged by the client into the ibflow logger (debug, redacted), not to the console', async () => {
  const spies = consoleMethods.map((m) => jest.spyOn(console, m).mockImplementation(() => undefined));
  try {
    const { logger, lines, raw } = memoryLogger('debug');
    const config = parseConfig({ stateDir: '/tmp', clickhouse: { url: ch.server.url }, connections: [] });
    const client = await createIbflowClickHouseClient(config, 'reader', { logger });
    // An unknown setting named like a secret (a token): the server refuses it, the client logs its args.
    await expect(client.query({ query: 'SELECT 1', clickhouse_settings: { access_token: 'CANARY-s3cr3t' } as Record<string, string> })).rejects.toThrow(/Unknown setting access_token/);
    await client.close();
    const failed = lines.find((l) => l.msg === 'clickhouse client: Query: HTTP request error.');
    expect(failed).toMatchObject({ level: 20, role: 'reader', clickhouseUser: 'default', module: 'Connection', args: { clickhouse_settings: { access_token: '[redacted]' } }, err: { message: expect.stringMatching(/Unknown setting access_token/) } });
    expect(raw()).not.toContain('CANARY-s3cr3t');
    for (const s of spies) expect(s).not.toHaveBeenCalled();
  } finally {
    for (const s of spies) s.mockRestore();
  }
});

test('at info the same failure is not repeated (the caller reports it); the client\'s own warnings and errors keep their level', async () => {
  const { logger, lines } = memoryLogger('info');
  const config = parseConfig({ stateDir: '/tmp', clickhouse: { url: ch.server.url }, connections: [] });
  const client = await createIbflowClickHouseClient(config, 'ingest', { logger });
  await expect(client.query({ query: 'SELECT nonsense(' })).rejects.toThrow();
  await client.close();
  expect(lines.filter((l) => String(l.msg).includes('HTTP request error'))).toEqual([]);
  // The class the client instantiates (no arguments), called as the client calls it.
  const Cls = clickHouseLoggerClass(logger);
  new Cls().warn({ module: 'Config', message: '"host" is deprecated. Use "url" instead.' });
  new Cls().error({ module: 'Client', message: 'Error while processing the ResultSet.', args: { token: 'CANARY-t0k' }, err: new Error('stream broke') });
  expect(lines.slice(-2)).toMatchObject([
    { level: 40, module: 'Config', msg: 'clickhouse client: "host" is deprecated. Use "url" instead.' },
    { level: 50, module: 'Client', args: { token: '[redacted]' }, err: { message: 'stream broke' } },
  ]);
});

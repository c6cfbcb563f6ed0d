import type { ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseRole, IbflowConfig } from '../../src/config/schema';

/**
 * A ClickHouse client for one command that writes the schema (`ibflow db migrate`, as the migrator
 * role); reads go through withOperations (the reader role).
 */
export async function withClickHouse<T>(config: IbflowConfig, fn: (ch: ClickHouseClient) => Promise<T>, role: ClickHouseRole = 'migrator'): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { createIbflowClickHouseClient } = require('../../src/clickhouse/clickhouseClient') as typeof import('../../src/clickhouse/clickhouseClient');
  const ch = await createIbflowClickHouseClient(config, role, { requestTimeoutMs: 30_000 });
  try {
    return await fn(ch);
  } finally {
    await ch.close();
  }
}

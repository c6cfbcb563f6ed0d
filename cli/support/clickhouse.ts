import type { ClickHouseClient } from '@clickhouse/client';
import type { IbflowConfig } from '../../src/config/schema';

/** A ClickHouse client for one command that writes the schema (`ibflow db migrate`); reads go through withOperations. */
export async function withClickHouse<T>(config: IbflowConfig, fn: (ch: ClickHouseClient) => Promise<T>): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { createClickHouseClient } = require('../../src/operations/clickhouseReads') as typeof import('../../src/operations/clickhouseReads');
  const ch = await createClickHouseClient(config);
  try {
    return await fn(ch);
  } finally {
    await ch.close();
  }
}

import type { ClickHouseClient } from '@clickhouse/client';
import type { IbflowConfig } from '../../src/config/schema';
import { createClickHouseClient } from '../../src/operations/clickhouseReads';

/** A ClickHouse client for one command that writes the schema (`ibflow db migrate`); reads go through withOperations. */
export async function withClickHouse<T>(config: IbflowConfig, fn: (ch: ClickHouseClient) => Promise<T>): Promise<T> {
  const ch = await createClickHouseClient(config);
  try {
    return await fn(ch);
  } finally {
    await ch.close();
  }
}

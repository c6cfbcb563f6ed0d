import type { ClickHouseClient } from '@clickhouse/client';
import type { IbflowConfig } from '../src/config/schema';
import { createIbflowClickHouseClient } from '../src/clickhouse/clickhouseClient';
import type { Logger } from '../src/logging/logger';

/**
 * The workers' ClickHouse client, as the ingest role: inserts depth rows and session events, and
 * (control worker) drops old depth partitions. Its password comes from a secret store, never config;
 * the client logs through the worker's logger.
 */
export function connectClickHouse(config: IbflowConfig, env: NodeJS.ProcessEnv = process.env, logger?: Logger): Promise<ClickHouseClient> {
  return createIbflowClickHouseClient(config, 'ingest', { env, ...(logger ? { logger } : {}) });
}

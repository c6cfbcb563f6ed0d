import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { IbflowConfig } from '../src/config/schema';
import { SecretResolver } from '../src/secrets/secretResolver';

/** The worker's ClickHouse client; its password (if any) comes from a secret store, never config. */
export async function connectClickHouse(config: IbflowConfig, env: NodeJS.ProcessEnv = process.env): Promise<ClickHouseClient> {
  const password = config.clickhouse.passwordRef ? await new SecretResolver(config.stateDir, env).resolve(config.clickhouse.passwordRef) : undefined;
  return createClient({ url: config.clickhouse.url, username: config.clickhouse.username, ...(password ? { password } : {}) });
}

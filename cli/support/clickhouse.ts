import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { IbflowConfig } from '../../src/config/schema';
import { SecretResolver } from '../../src/secrets/secretResolver';
import { CliError, EXIT } from './errors';

/** A ClickHouse client for one command (its own credential from clickhouse.passwordRef, if any). */
export async function withClickHouse<T>(config: IbflowConfig, fn: (ch: ClickHouseClient) => Promise<T>): Promise<T> {
  const password = config.clickhouse.passwordRef ? await new SecretResolver(config.stateDir).resolve(config.clickhouse.passwordRef) : undefined;
  const ch = createClient({ url: config.clickhouse.url, username: config.clickhouse.username, ...(password ? { password } : {}), request_timeout: 30_000, log: { level: ClickHouseLogLevel.OFF } });
  try {
    return await fn(ch);
  } finally {
    await ch.close();
  }
}

export async function queryRows<T>(ch: ClickHouseClient, config: IbflowConfig, query: string): Promise<T[]> {
  try {
    const rs = await ch.query({ query, format: 'JSONEachRow' });
    return await rs.json<T>();
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    if (/ECONNREFUSED|ENOTFOUND|socket hang up|ETIMEDOUT|Timeout/i.test(msg)) {
      throw new CliError(`cannot reach ClickHouse at ${config.clickhouse.url} (${msg}); is it running? (set clickhouse.url or IBFLOW_CLICKHOUSE_URL — \`ibflow doctor\` checks it)`, EXIT.failure);
    }
    if (/UNKNOWN_TABLE|doesn't exist|UNKNOWN_DATABASE/i.test(msg)) {
      throw new CliError(`ClickHouse at ${config.clickhouse.url} has no ibflow tables in database ${config.clickhouse.database}: run \`ibflow db migrate\``, EXIT.failure);
    }
    throw new CliError(`ClickHouse query failed: ${msg.slice(0, 300)}`, EXIT.failure);
  }
}

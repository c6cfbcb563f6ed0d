import type { ClickHouseClient } from '@clickhouse/client';
import { createIbflowClickHouseClient } from '../clickhouse/clickhouseClient';
import type { IbflowConfig } from '../config/schema';
import { ClickHouseQueryError, ClickHouseTablesMissingError, ClickHouseUnreachableError } from './errors';

/** Runs one read query and returns its rows (JSONEachRow). */
export type RunQuery = <T>(sql: string) => Promise<T[]>;

/** The operations layer's ClickHouse client: the reader role (SELECT only), its own credential by reference. */
export function createClickHouseClient(config: IbflowConfig): Promise<ClickHouseClient> {
  return createIbflowClickHouseClient(config, 'reader', { requestTimeoutMs: 30_000 });
}

/**
 * Sorts a failed read into unreachable / tables missing / other, by the client's first error line
 * and, from servers that name their errors (19.x on), the error's type: the client keeps the
 * `(UNKNOWN_TABLE)` marker out of the message it parses.
 */
export function classifyReadError(err: unknown, target: { url: string; database: string }): Error {
  const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  const type = typeof (err as { type?: unknown } | null)?.type === 'string' ? (err as { type: string }).type : '';
  if (/ECONNREFUSED|ENOTFOUND|socket hang up|ETIMEDOUT|Timeout/i.test(msg)) return new ClickHouseUnreachableError(target.url, msg);
  if (/^(UNKNOWN_TABLE|UNKNOWN_DATABASE)$/.test(type) || /UNKNOWN_TABLE|doesn't exist|UNKNOWN_DATABASE/i.test(msg)) return new ClickHouseTablesMissingError(target.url, target.database);
  return new ClickHouseQueryError(msg.slice(0, 300));
}

/** A {@link RunQuery} over `ch` whose failures are typed (see errors.ts). */
export function readQueryRunner(ch: ClickHouseClient, target: { url: string; database: string }): RunQuery {
  return async <T>(sql: string): Promise<T[]> => {
    try {
      const rs = await ch.query({ query: sql, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (err) {
      throw classifyReadError(err, target);
    }
  };
}

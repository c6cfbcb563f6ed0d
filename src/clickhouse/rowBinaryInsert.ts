/**
 * One RowBinary insert of depth rows: what the sink sends for each batch and what a quarantine
 * replay sends again, so both write the same columns the same way.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { DEPTH_COLUMNS } from './rowBinary';
import { qualifiedName } from './sql';

/** `INSERT INTO db.table (columns…) FORMAT RowBinary` for {@link DEPTH_COLUMNS}. */
export function depthInsertQuery(database: string, table: string): string {
  return `INSERT INTO ${qualifiedName(database, table)} (${DEPTH_COLUMNS.join(', ')}) FORMAT RowBinary`;
}

/** Sends `bytes` (encoded by DepthRowBinaryWriter) with `query`; resolves once ClickHouse acknowledged it. */
export async function insertDepthRowBinary(client: ClickHouseClient, query: string, bytes: Buffer): Promise<void> {
  const result = await client.exec({ query, values: Readable.from([bytes]) });
  // Read the (empty) response to the end so the keep-alive socket goes back to the pool.
  const stream = result.stream;
  try {
    stream.resume();
    await finished(stream);
  } finally {
    stream.destroy();
  }
}

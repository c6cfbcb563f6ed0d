/** Test helper: a private clickhouse-server in a temp dir on free ports, plus a client for it. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { startPrivateClickHouse, type PrivateClickHouse } from '../../stack/privateClickHouse';

/** A private ClickHouse whose temp data dir is removed by cleanup. */
export type TestClickHouse = PrivateClickHouse;

export async function startTestClickHouse(): Promise<TestClickHouse> {
  const handle = await startPrivateClickHouse(mkdtempSync(join(tmpdir(), 'ibflow-ch-test-')));
  const stop = handle.cleanup; // stops whichever server is current (tests may restart it)
  handle.cleanup = async () => {
    await stop();
    rmSync(handle.dataDir, { recursive: true, force: true });
  };
  return handle;
}

/** A database name no other test uses. */
export function uniqueDatabase(prefix = 'ibflow_test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

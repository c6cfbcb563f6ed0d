/** Test helper: a private clickhouse-server in a temp dir on free ports, plus a client for it. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { startChdbServer, type ChdbServer } from '../../stack/chdb/startChdbServer';
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

/** What a test needs of either engine: a client, the server's URL, and cleanup. */
export interface TestClickHouseEngine {
  client: ClickHouseClient;
  server: { url: string };
  cleanup(): Promise<void>;
}

/** A current ClickHouse engine (chDB, through the HTTP shim in stack/chdb) in a temp dir removed by cleanup. */
export interface TestModernClickHouse extends TestClickHouseEngine {
  server: ChdbServer;
  dataDir: string;
  httpPort: number;
}

export async function startTestModernClickHouse(): Promise<TestModernClickHouse> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ibflow-chdb-test-'));
  const server = await startChdbServer({ dataDir });
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  return {
    server,
    client,
    dataDir,
    httpPort: server.port,
    async cleanup() {
      await client.close().catch(() => undefined);
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A database name no other test uses. */
export function uniqueDatabase(prefix = 'ibflow_test'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

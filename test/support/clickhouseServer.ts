/** Test helper: a private clickhouse-server in a temp dir on free ports, plus a client for it. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from '../../stack/embeddedClickHouse';
import { freePort } from '../../src/util/freePort';

export interface TestClickHouse {
  server: EmbeddedClickHouse;
  client: ClickHouseClient;
  dataDir: string;
  httpPort: number;
  tcpPort: number;
  /** Tests that restart the server put the new one here so cleanup stops it. */
  /** Stops the server, closes the client, removes the temp dir. */
  cleanup(): Promise<void>;
}

export async function startTestClickHouse(): Promise<TestClickHouse> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ibflow-ch-test-'));
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const server = await startEmbeddedClickHouse({ dataDir, httpPort, tcpPort });
  // The client's own logger prints every failed request; tests that stop the server on purpose
  // would flood the output.
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  const handle: TestClickHouse = {
    server,
    client,
    dataDir,
    httpPort,
    tcpPort,
    async cleanup() {
      await client.close().catch(() => undefined);
      // Tests may have replaced `server` with a restarted one: stop whichever is current.
      await handle.server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
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

/** A private clickhouse-server on free ports in a data dir the caller owns, plus a quiet client for it. */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { freePort } from '../src/util/freePort';
import { startEmbeddedClickHouse, type EmbeddedClickHouse, type EmbeddedClickHouseUser } from './embeddedClickHouse';

/** `server` may be replaced by a restarted one on the same ports and data; cleanup stops whichever is current. */
export interface PrivateClickHouse {
  server: EmbeddedClickHouse;
  client: ClickHouseClient;
  dataDir: string;
  httpPort: number;
  tcpPort: number;
  /** Closes the client and stops the current server; the data dir stays (the caller owns it). */
  cleanup(): Promise<void>;
}

/** `users`: its users.xml users besides `default` (the client's); the embedded stack's three by default. */
export async function startPrivateClickHouse(dataDir: string, opts: { users?: readonly EmbeddedClickHouseUser[] } = {}): Promise<PrivateClickHouse> {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const server = await startEmbeddedClickHouse({ dataDir, httpPort, tcpPort, ...(opts.users ? { users: opts.users } : {}) });
  // The client's own logger prints every failed request; callers stop the server on purpose.
  const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
  const handle: PrivateClickHouse = {
    server,
    client,
    dataDir,
    httpPort,
    tcpPort,
    async cleanup() {
      await client.close().catch(() => undefined);
      await handle.server.stop();
    },
  };
  return handle;
}

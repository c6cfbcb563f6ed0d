import { Client, Connection } from '@temporalio/client';
import type { IbflowConfig } from '../config/schema';

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

/** A Temporal client for the configured server and namespace. */
export async function connectTemporal(config: IbflowConfig, connectTimeoutMs = 10_000): Promise<ConnectedClient> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: connectTimeoutMs });
  return {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    close: () => connection.close().catch(() => undefined),
  };
}

/** Runs `fn` with a client and always closes the connection. */
export async function withTemporalClient<T>(config: IbflowConfig, fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connectTemporal(config);
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

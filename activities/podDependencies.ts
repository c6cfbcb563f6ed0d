import type { Client } from '@temporalio/client';
import type { DepthSink } from '../src/clickhouse/depthSink';
import type { IbflowConfig, ConnectionConfig } from '../src/config/schema';
import type { GatewayClient } from '../src/gateway/gatewayClient';
import type { Logger } from '../src/logging/logger';
import type { SecretResolver } from '../src/secrets/secretResolver';

/** What pod activities need from their worker; injected so tests can swap single parts. */
export interface PodDependencies {
  pod: string;
  /** Read fresh on each call, so config edits apply without a restart. */
  config(): IbflowConfig;
  connection(connectionId: string): ConnectionConfig;
  gateway(connectionId: string): GatewayClient;
  secrets: SecretResolver;
  log: Logger;
  /** Used by the depth stream to tell a session workflow at once that its session was lost. */
  temporal: Client;
  sink: DepthSink;
}

import type { ClickHouseClient } from '@clickhouse/client';
import type { IbflowConfig } from '../src/config/schema';
import type { Logger } from '../src/logging/logger';

/** What control activities (run beside the workflows, not on a pod) need. */
export interface ControlDependencies {
  config(): IbflowConfig;
  clickhouse: ClickHouseClient;
  log: Logger;
}

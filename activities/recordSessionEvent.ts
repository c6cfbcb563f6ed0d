import { insertSessionEvent } from '../src/clickhouse/sessionEvents';
import { recordSessionState } from '../src/metrics/metrics';
import type { ControlDependencies } from './controlDependencies';

export interface SessionEventInput {
  tsMs: number;
  connection: string;
  workflowId: string;
  state: string;
  previousState: string;
  reason: string;
}

/** Writes a session state change to ClickHouse `session_events` (uptime queries read it). */
export function createRecordSessionEvent(deps: ControlDependencies) {
  return async function recordSessionEvent(event: SessionEventInput): Promise<void> {
    recordSessionState(event.connection, event.state);
    await insertSessionEvent(deps.clickhouse, event, deps.config().clickhouse.database);
  };
}

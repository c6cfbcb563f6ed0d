import { insertSessionEvent, type SessionEvent } from '../src/clickhouse/sessionEvents';
import { recordSessionState } from '../src/metrics/metrics';
import type { ControlDependencies } from './controlDependencies';

/** A session state change as the workflow reports it (ids and ibflow's own words only). */
export type SessionEventInput = SessionEvent;

/** Writes a session state change to ClickHouse `session_events` (uptime queries read it). */
export function createRecordSessionEvent(deps: ControlDependencies) {
  return async function recordSessionEvent(event: SessionEventInput): Promise<void> {
    recordSessionState(event.connection, event.state);
    await insertSessionEvent(deps.clickhouse, event, deps.config().clickhouse.database);
  };
}

/**
 * Session state changes (one row per transition of a session workflow) in `<db>.session_events`.
 * Low volume, so a JSONEachRow insert per event is fine.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { qualifiedName } from './sql';

export interface SessionEvent {
  /** When the transition happened, ms since the Unix epoch. */
  tsMs: number;
  connection: string;
  workflowId: string;
  state: string;
  previousState: string;
  /** Must already be safe: never a secret, cookie or raw header. */
  reason: string;
}

/** The row as sent in JSONEachRow (column names of the table). */
export interface SessionEventRow {
  date: string;
  ts: number;
  ts_ms: number;
  connection: string;
  workflow_id: string;
  state: string;
  previous_state: string;
  reason: string;
}

export function sessionEventRow(event: SessionEvent): SessionEventRow {
  const { tsMs } = event;
  if (!Number.isSafeInteger(tsMs) || tsMs < 0) throw new RangeError(`tsMs: ${tsMs} is not a non-negative integer`);
  for (const field of ['connection', 'workflowId', 'state', 'previousState', 'reason'] as const) {
    if (typeof event[field] !== 'string') throw new TypeError(`${field}: expected a string, got ${typeof event[field]}`);
  }
  return {
    // UTC day, the same convention as depth.date.
    date: new Date(tsMs).toISOString().slice(0, 10),
    // DateTime accepts Unix seconds as a number on every version, independent of the server time zone.
    ts: Math.floor(tsMs / 1000),
    ts_ms: tsMs,
    connection: event.connection,
    workflow_id: event.workflowId,
    state: event.state,
    previous_state: event.previousState,
    reason: event.reason,
  };
}

export async function insertSessionEvent(
  client: ClickHouseClient,
  event: SessionEvent,
  database = 'ibflow',
): Promise<void> {
  await client.insert({
    table: qualifiedName(database, 'session_events'),
    values: [sessionEventRow(event)],
    format: 'JSONEachRow',
  });
}

/**
 * Session uptime from `session_events` (one row per state change): the SQL texts are built here
 * (docs/queries.md shows them) and the usable time is summed in `computeUptime`.
 */
import { qualifiedName, quoteString } from '../clickhouse/sql';
import type { RunQuery } from './clickhouseReads';

export interface UptimeParams {
  database: string;
  fromMs: number;
  toMs: number;
  connection?: string;
}

function connectionFilter(connection: string | undefined): string {
  return connection ? ` AND connection = ${quoteString(connection)}` : '';
}

/** Each connection's state when the window opens: its last event before `fromMs`. */
export function stateBeforeSql(p: UptimeParams): string {
  return [
    'SELECT connection, argMax(state, ts_ms) AS state',
    `FROM ${qualifiedName(p.database, 'session_events')}`,
    `WHERE ts_ms < ${Math.floor(p.fromMs)}${connectionFilter(p.connection)}`,
    'GROUP BY connection',
  ].join('\n');
}

/** The state changes inside [from, to). */
export function sessionEventsSql(p: UptimeParams): string {
  return [
    'SELECT connection, toString(ts_ms) AS ts_s, state',
    `FROM ${qualifiedName(p.database, 'session_events')}`,
    `WHERE ts_ms >= ${Math.floor(p.fromMs)} AND ts_ms < ${Math.floor(p.toMs)}${connectionFilter(p.connection)}`,
    'ORDER BY connection, ts_ms',
  ].join('\n');
}

export interface Uptime {
  connection: string;
  usableSeconds: number;
  usablePercent: number;
  drops: number;
  logins: number;
  stateAtEnd: string | null;
  knownFrom: string | null;
}

/** Usable time per connection from its state changes and its state when the window opens. */
export function computeUptime(
  events: { connection: string; ts_ms: number; state: string }[],
  initial: Map<string, string>,
  fromMs: number,
  toMs: number,
): Uptime[] {
  const byConn = new Map<string, { ts: number; state: string }[]>();
  for (const c of initial.keys()) byConn.set(c, []);
  for (const e of events) {
    const list = byConn.get(e.connection) ?? [];
    list.push({ ts: e.ts_ms, state: e.state });
    byConn.set(e.connection, list);
  }
  const result: Uptime[] = [];
  for (const [connection, list] of [...byConn.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort((a, b) => a.ts - b.ts);
    let state = initial.get(connection) ?? null;
    let since = state === null ? (list[0]?.ts ?? toMs) : fromMs;
    const knownFrom = since;
    let usableMs = 0;
    let drops = 0;
    let logins = 0;
    for (const e of list) {
      if (e.state === state) continue; // a replayed event
      if (state === 'usable') usableMs += e.ts - since;
      if (state === 'usable' && e.state !== 'usable') drops++;
      if (e.state === 'logging_in') logins++;
      state = e.state;
      since = e.ts;
    }
    if (state === 'usable') usableMs += toMs - since;
    result.push({
      connection,
      usableSeconds: Math.round(usableMs / 1000),
      usablePercent: Math.round((usableMs / (toMs - fromMs)) * 10000) / 100,
      drops,
      logins,
      stateAtEnd: state,
      knownFrom: knownFrom < toMs ? new Date(knownFrom).toISOString() : null,
    });
  }
  return result;
}

/** Session uptime per connection over [from, to). */
export async function sessionUptime(run: RunQuery, p: UptimeParams): Promise<Uptime[]> {
  const [before, events] = await Promise.all([
    run<{ connection: string; state: string }>(stateBeforeSql(p)),
    run<{ connection: string; ts_s: string; state: string }>(sessionEventsSql(p)),
  ]);
  const initial = new Map(before.map((b) => [b.connection, b.state]));
  return computeUptime(
    events.map((e) => ({ connection: e.connection, state: e.state, ts_ms: Number(e.ts_s) })),
    initial,
    p.fromMs,
    p.toMs,
  );
}

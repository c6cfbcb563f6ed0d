/**
 * Live depth evidence for single faults: is a connection's depth flowing now (the simulator's
 * subscriptions), and how long was the longest stretch without a stored depth row (ClickHouse,
 * by receive time) over a window. The end-of-run audit is depthAudit.ts.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { SimStatsSnapshot } from '../sim';
import { simControl } from '../sim/controlClient';
import { qualifiedName, quoteString } from '../src/clickhouse/sql';
import type { SubStat } from './depthAudit';
import { sleep, type SoakConnection, type SoakStack } from './soakStack';

export async function subscriptionsOf(stack: SoakStack, c: SoakConnection): Promise<SubStat[]> {
  const stats = await simControl<SimStatsSnapshot>(stack.sims.get(c.pod)!, 'GET', '/sim/control/stats');
  const topic = `sbd+${c.account}+${c.conid}`;
  return Object.entries(stats.subscriptions)
    .filter(([, s]) => s.account === c.account && s.conid === c.conid && s.topic.startsWith(topic))
    .map(([id, s]) => ({ id, order: Number(id.slice(id.lastIndexOf('-') + 1)), frames: s.frames, lastSeq: s.lastSeq, sizeSum: s.sizeSum, active: s.active }));
}

/** True once an active subscription of the connection is seen sending frames (two reads a second apart), false after `timeoutMs`. */
export async function depthFlowing(stack: SoakStack, c: SoakConnection, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let before = -1;
  while (Date.now() < deadline) {
    const active = (await subscriptionsOf(stack, c).catch(() => [] as SubStat[])).filter((s) => s.active);
    const sent = active.reduce((n, s) => n + s.frames, 0);
    if (active.length > 0 && before >= 0 && sent > before) return true;
    before = active.length > 0 ? sent : -1;
    await sleep(1_000);
  }
  return false;
}

/** A client of its own that keeps quiet: these reads poll through ClickHouse restarts, and the stack's client logs every refused connection. */
const quietClients = new WeakMap<SoakStack, ClickHouseClient>();
function quietClient(stack: SoakStack): ClickHouseClient {
  let client = quietClients.get(stack);
  if (!client) {
    client = createClient({ url: stack.config.clickhouse.url, log: { level: ClickHouseLogLevel.OFF } });
    quietClients.set(stack, client);
  }
  return client;
}

/** Closes the quiet client of `stack`, if one was made. */
export async function closeDepthWatch(stack: SoakStack): Promise<void> {
  await quietClients.get(stack)?.close();
  quietClients.delete(stack);
}

/**
 * The longest stretch of [fromMs, toMs] without a depth row of the connection, by the time the pod
 * received it. Waits (up to `waitMs`) until rows received after `toMs` are stored, so the sink has
 * written the window (ClickHouse may be restarting meanwhile). Null when that never happens.
 */
export async function longestDepthSilenceMs(stack: SoakStack, c: SoakConnection, fromMs: number, toMs: number, waitMs: number): Promise<number | null> {
  const table = qualifiedName(stack.config.clickhouse.database, 'depth');
  const rowsOf = `connection = ${quoteString(c.id)} AND kind != 'gap'`;
  const clickhouse = quietClient(stack);
  const query = async <T>(q: string): Promise<T[]> => (await clickhouse.query({ query: q, format: 'JSONEachRow' })).json<T>();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const after = await query<{ n: string }>(`SELECT count() AS n FROM ${table} WHERE ${rowsOf} AND received_ns > ${toMs}000000`).catch(() => null);
    if (after && Number(after[0]?.n ?? 0) > 0) break;
    if (Date.now() > deadline) return null;
    await sleep(2_000);
  }
  const rows = await query<{ ms: string }>(
    `SELECT intDiv(received_ns, 1000000) AS ms FROM ${table} WHERE ${rowsOf} AND received_ns BETWEEN ${fromMs}000000 AND ${toMs}000000 GROUP BY ms ORDER BY ms`,
  ).catch(() => null);
  if (!rows) return null;
  const stamps = [fromMs, ...rows.map((r) => Number(r.ms)), toMs];
  let longest = 0;
  for (let i = 1; i < stamps.length; i++) longest = Math.max(longest, stamps[i] - stamps[i - 1]);
  return longest;
}

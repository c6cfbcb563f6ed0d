/**
 * The poison-batch fault: ClickHouse refuses, for good, every batch holding a book row of one
 * connection received in a few seconds' window. The pod's sink must set those batches aside in its
 * quarantine, mark the hole with gap rows, tell the depth workflow, and go on storing later rows;
 * the operator then removes the cause and replays the records, and every refused row is stored.
 *
 * The poison is a MATERIALIZED column that throws (Code 395) for exactly those rows; gap rows are
 * never poisoned, since they are what marks the hole. The column is always dropped again, so a
 * failed check cannot poison the rest of the soak.
 */
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { depthWorkflowId } from '../src/contract/ids';
import type { QuarantineRecord } from '../src/clickhouse/quarantine';
import { qualifiedName, quoteIdentifier, quoteString } from '../src/clickhouse/sql';
import { listQuarantine, replayQuarantine, showQuarantine, type ReplayOutcome } from '../src/operations/depthQuarantine';
import { ClickHouseUnreachableError } from '../src/operations/errors';
import { depthStatusQuery } from '../workflows/depthMessages';
import { depthFlowing } from './depthWatch';
import { sleep, type SoakConnection, type SoakStack } from './soakStack';

export const POISON_EXPECTED = 'refused batch quarantined with its hole marked, later rows stored, replay restored the rows';

export interface PoisonOptions {
  /** How long rows are refused, by receipt time (default 3 s). */
  windowMs?: number;
  /** Each wait (quarantine, later rows, gap rows, the replay) gives up after this long (default 60 s). */
  waitMs?: number;
  /** Kinds of other faults overlapping [fromMs, toMs] that may take `c` down (a lost signal is excused by them). */
  otherFaults: (fromMs: number, toMs: number) => string[];
}

export interface PoisonResult {
  detail: string;
  ok: boolean;
  records: string[];
}

/** Before the window opens: the ALTER must be in place before the first poisoned row arrives. */
const LEAD_MS = 2_000;
let poisons = 0;

export async function poisonBatch(stack: SoakStack, c: SoakConnection, opts: PoisonOptions): Promise<PoisonResult> {
  const windowMs = opts.windowMs ?? 3_000;
  const waitMs = opts.waitMs ?? 60_000;
  const config = stack.config;
  const table = qualifiedName(config.clickhouse.database, 'depth');
  const column = `soak_poison_${++poisons}`;
  // Its own quiet client: the reads poll through ClickHouse restarts (random plan), and the stack's client logs every refused connection.
  const ch: ClickHouseClient = createClient({ url: config.clickhouse.url, log: { level: ClickHouseLogLevel.OFF } });
  const problems: string[] = [];
  const notes: string[] = [];
  const startMs = Date.now();
  const count = async (where: string, final = false): Promise<number | null> => {
    try {
      const rows = await (await ch.query({ query: `SELECT count() AS n FROM ${table} ${final ? 'FINAL' : ''} WHERE ${where}`, format: 'JSONEachRow' })).json<{ n: string }>();
      return Number(rows[0]?.n ?? 0);
    } catch {
      return null;
    }
  };
  const pendingIds = () => new Set(listQuarantine(config, { pod: c.pod }).map((r) => r.id));
  try {
    if (!(await depthFlowing(stack, c, waitMs))) return { detail: `poison-batch on ${c.id}: no depth flowing before the window, nothing to poison`, ok: false, records: [] };
    const before = pendingIds();
    const t1 = Date.now() + LEAD_MS;
    const t2 = t1 + windowMs;
    const mine = `connection = ${quoteString(c.id)} AND kind != 'gap'`;
    const inWindow = `${mine} AND received_ns >= ${t1}000000 AND received_ns < ${t2}000000`;
    let newRecords: QuarantineRecord[] = [];
    let held: ReturnType<typeof heldRows> = { rowsOfC: 0, distinctOfC: 0, gaps: new Set(), unreadable: [] };
    let markers: { record: string; key: string; streamId: string; seq: number }[] = [];
    try {
      await ch.command({ query: `ALTER TABLE ${table} ADD COLUMN ${quoteIdentifier(column)} UInt8 MATERIALIZED throwIf(${inWindow})` });
      if (Date.now() >= t1) problems.push(`the poison took ${Date.now() - (t1 - LEAD_MS)} ms to put in place, past the window's start`);
      await sleep(Math.max(0, t2 - Date.now()));

      // The stream goes on: rows received after the window are stored while the poison is still there,
      // so (one insert at a time, in order) every poisoned batch before them has been dealt with.
      const laterStored = await until(waitMs, async () => ((await count(`${mine} AND received_ns >= ${t2}000000`)) ?? 0) > 0);
      if (!laterStored) problems.push(`no row of ${c.id} received after the window stored within ${waitMs / 1000} s`);
      newRecords = listQuarantine(config, { pod: c.pod }).filter((r) => !before.has(r.id));
      if (newRecords.length === 0) problems.push(`no new quarantine record on ${c.pod}`);

      held = heldRows(stack, newRecords, c.id, t1, t2);
      if (held.unreadable.length) problems.push(`records not readable: ${held.unreadable.join(', ')}`);
      if (held.rowsOfC === 0 && newRecords.length > 0) problems.push(`the new records hold no book row of ${c.id} from the window`);
      const storedMeanwhile = await count(inWindow);
      if (storedMeanwhile !== 0) problems.push(`${storedMeanwhile ?? 'unknown'} book rows of ${c.id} from the window stored while the poison was in place`);

      // The hole is marked while the cause is still there: each record's gap row per stream is stored
      // (the sink seals them into a batch of their own, so a later refused row cannot take them along).
      markers = newRecords
        .filter((r) => r.error.kind !== 'unrecorded') // a pod killed mid-quarantine wrote no gap rows for it
        .flatMap((r) => r.streams.map((s) => ({ record: r.id, key: `${s.streamId}:${s.toSeq}`, streamId: s.streamId, seq: s.toSeq })));
      const unrecorded = newRecords.filter((r) => r.error.kind === 'unrecorded').length;
      if (unrecorded) notes.push(`${unrecorded} record(s) rebuilt after a pod died mid-quarantine (no gap rows)`);
      let unmarked = markers;
      await until(waitMs, async () => {
        const stored = await storedGaps(ch, table, markers.map((m) => m.streamId));
        if (stored === null) return false;
        unmarked = markers.filter((m) => !stored.has(m.key));
        return unmarked.length === 0;
      });
      if (unmarked.length) {
        const list = unmarked.map((m) => `${m.streamId.slice(0, 8)} seq ${m.seq} (${m.record}${held.gaps.has(m.key) ? ', its gap row quarantined with a later batch' : ''})`);
        problems.push(`${unmarked.length} hole(s) without a stored gap row while the poison was in: ${list.join(', ')}`);
      }

      // The depth workflow heard of it (a problem naming a record).
      const ids = new Set(newRecords.map((r) => r.id));
      const reported = await until(Math.min(waitMs, 30_000), async () => {
        const status = await stack.client().workflow.getHandle(depthWorkflowId(c.id)).query(depthStatusQuery).catch(() => null);
        return (status?.problems ?? []).some((p) => p.startsWith('DepthQuarantined:') && [...ids].some((id) => p.includes(id)));
      });
      if (!reported && newRecords.length > 0) {
        const lostBy = opts.otherFaults(startMs, Date.now()).filter((k) => k === 'temporal-restart' || k === 'pod-kill');
        if (lostBy.length) notes.push(`the depth problem was not seen; excused: ${lostBy.join(', ')} meanwhile`);
        else problems.push('the depth workflow was not told (no DepthQuarantined problem naming a new record)');
      }
    } finally {
      const dropped = await dropPoison(ch, table, column, Math.max(waitMs, 120_000));
      if (!dropped.ok) problems.push(`the poison column ${column} could NOT be dropped: ${dropped.error}`);
    }

    // The operator's fix is in (the column is gone): replay, then the refused rows are stored.
    const ids = newRecords.map((r) => r.id);
    const outcomes = ids.length ? await replayThroughRestarts(stack, c.pod, ids, waitMs) : [];
    const notReplayed = outcomes.filter((o) => o.outcome !== 'replayed');
    if (outcomes.length < ids.length) problems.push(`${ids.length - outcomes.length} record(s) not replayed (ClickHouse unreachable)`);
    if (notReplayed.length) problems.push(`replay: ${notReplayed.map((o) => `${o.id} ${o.outcome}${o.outcome === 'failed' ? ` (${o.error})` : ''}`).join('; ')}`);
    const stillPending = [...pendingIds()].filter((id) => ids.includes(id));
    if (stillPending.length) problems.push(`still pending after the replay: ${stillPending.join(', ')}`);
    let restored = null as number | null;
    await until(waitMs, async () => {
      restored = await count(inWindow, true);
      return restored !== null && restored >= held.distinctOfC;
    });
    if (restored !== held.distinctOfC || held.distinctOfC === 0) problems.push(`after the replay ${restored ?? 'unknown'} book rows of ${c.id} from the window stored, ${held.distinctOfC} held in the records`);
    const gapsAfter = await storedGaps(ch, table, markers.map((m) => m.streamId));
    const missingAfter = markers.filter((m) => !gapsAfter?.has(m.key));
    if (missingAfter.length) problems.push(`${missingAfter.length} gap row(s) missing after the replay`);

    const detail =
      `poisoned ${c.id}'s book rows received in ${windowMs / 1000} s on ${c.pod}: ${newRecords.length} batch(es) quarantined [${ids.join(', ')}], ` +
      `${newRecords.reduce((n, r) => n + r.rows, 0)} rows (${held.rowsOfC} of ${c.id} in the window), streams ${streamsOf(newRecords)}; ` +
      `${markers.length} hole(s) marked; replay: ${outcomes.filter((o) => o.outcome === 'replayed').length}/${ids.length} replayed, ${restored ?? '?'} rows restored` +
      `${notes.length ? `; ${notes.join('; ')}` : ''}${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`;
    return { detail, ok: problems.length === 0, records: ids };
  } finally {
    await ch.close();
  }
}

/** Polls `ok` every second until it holds (true) or `timeoutMs` has passed (false). */
async function until(timeoutMs: number, ok: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ok().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(1_000);
  }
}

/** What the records hold: c's book rows from the window (and how many distinct by the table key), and every gap row. */
function heldRows(stack: SoakStack, records: readonly QuarantineRecord[], connection: string, t1: number, t2: number): { rowsOfC: number; distinctOfC: number; gaps: Set<string>; unreadable: string[] } {
  const from = BigInt(t1) * 1_000_000n;
  const to = BigInt(t2) * 1_000_000n;
  const keys = new Set<string>();
  const gaps = new Set<string>();
  const unreadable: string[] = [];
  let rowsOfC = 0;
  for (const r of records) {
    let rows;
    try {
      rows = showQuarantine(stack.config, r.id, { pod: r.pod, previewRows: r.rows }).preview;
    } catch (err) {
      unreadable.push(`${r.id} (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    for (const row of rows) {
      if (row.kind === 'gap') {
        gaps.add(`${row.streamId}:${row.seq}`);
        continue;
      }
      const ns = BigInt(row.receivedNs);
      if (row.connection !== connection || ns < from || ns >= to) continue;
      rowsOfC++;
      keys.add(`${row.conid}|${row.streamId}|${row.seq}|${row.kind}|${row.side}|${row.level}`);
    }
  }
  return { rowsOfC, distinctOfC: keys.size, gaps, unreadable };
}

/** Stored gap rows of these streams as `stream:seq`; null when ClickHouse did not answer. */
async function storedGaps(ch: ClickHouseClient, table: string, streamIds: string[]): Promise<Set<string> | null> {
  const unique = [...new Set(streamIds)];
  if (unique.length === 0) return new Set();
  try {
    const rows = await (
      await ch.query({ query: `SELECT stream_id, seq FROM ${table} FINAL WHERE kind = 'gap' AND stream_id IN (${unique.map(quoteString).join(', ')})`, format: 'JSONEachRow' })
    ).json<{ stream_id: string; seq: number | string }>();
    return new Set(rows.map((r) => `${r.stream_id}:${Number(r.seq)}`));
  } catch {
    return null;
  }
}

/** Drops the poison column, retrying through a ClickHouse restart; a column already gone counts as dropped. */
async function dropPoison(ch: ClickHouseClient, table: string, column: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await ch.command({ query: `ALTER TABLE ${table} DROP COLUMN ${quoteIdentifier(column)}` });
      return { ok: true };
    } catch (err) {
      const message = (err as Error).message;
      if (/Cannot find column/i.test(message)) return { ok: true }; // 18.16 has no DROP COLUMN IF EXISTS
      if (Date.now() >= deadline) return { ok: false, error: message.split('\n')[0]! };
      await sleep(1_000);
    }
  }
}

/** The operator's replay, tried again (for the records still pending) while ClickHouse is unreachable. */
async function replayThroughRestarts(stack: SoakStack, pod: string, ids: string[], timeoutMs: number): Promise<ReplayOutcome[]> {
  const deadline = Date.now() + timeoutMs;
  const done: ReplayOutcome[] = [];
  let left = ids;
  for (;;) {
    try {
      // Outcomes as they come: a call cut off by a restart has still put back the records before it.
      await replayQuarantine(stack.config, left, {
        pod,
        progress: (o) => {
          done.push(o);
          left = left.filter((id) => id !== o.id);
        },
      });
      return done;
    } catch (err) {
      if (!(err instanceof ClickHouseUnreachableError) || Date.now() >= deadline) return done;
      await sleep(2_000);
    }
  }
}

function streamsOf(records: readonly QuarantineRecord[]): string {
  const byStream = new Map<string, { connection: string; from: number; to: number }>();
  for (const s of records.flatMap((r) => r.streams)) {
    const seen = byStream.get(s.streamId);
    byStream.set(s.streamId, { connection: s.connection, from: Math.min(seen?.from ?? s.fromSeq, s.fromSeq), to: Math.max(seen?.to ?? s.toSeq, s.toSeq) });
  }
  return [...byStream].map(([id, s]) => `${s.connection} ${id.slice(0, 8)} seq ${s.from}–${s.to}`).join(', ') || 'none';
}

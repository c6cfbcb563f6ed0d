/**
 * The read-side depth queries (latest book, book at time T, spread per interval, update rate,
 * stream gaps): each SQL text is built by one exported function, so docs/queries.md can show
 * exactly what runs. ClickHouse 18.16 has no query parameters: every value is a number built here
 * or goes through src/clickhouse/sql.ts.
 */
import { qualifiedName, quoteString } from '../clickhouse/sql';
import type { RunQuery } from './clickhouseReads';

const NS_PER_MS = 1_000_000n;

const ns = (ms: number) => BigInt(Math.floor(ms)) * NS_PER_MS;
const isoOfNs = (text: string) => new Date(Number(BigInt(text) / NS_PER_MS)).toISOString();

/** `date` is the UTC day of received_ns: a loose bound (a day early) lets ClickHouse skip old partitions. */
export function dayBound(ms: number): string {
  return new Date(ms - 86_400_000).toISOString().slice(0, 10);
}

function connectionFilter(connection: string | undefined): string {
  return connection ? ` AND connection = ${quoteString(connection)}` : '';
}

function nsRange(fromMs: number, toMs: number): string {
  return `received_ns >= ${ns(fromMs)} AND received_ns < ${ns(toMs)} AND date >= toDate(${quoteString(dayBound(fromMs))})`;
}

/** Rounds to 6 decimals (prices and spreads as a person reads them). */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

// ------------------------------------------------------------------------------------------- book

export interface BookParams {
  database: string;
  conid: number;
  /** The book as of this time (epoch ms). */
  atMs: number;
  /** Snapshots older than this are ignored (epoch ms). */
  sinceMs: number;
  connection?: string;
}

/** Which snapshot frame is the latest at `atMs`: its connection, stream and seq. */
export function bookHeadSql(p: BookParams): string {
  return [
    'SELECT connection, stream_id, toString(seq) AS seq_s',
    `FROM ${qualifiedName(p.database, 'depth')}`,
    `WHERE conid = ${p.conid} AND kind = 'snapshot' AND received_ns <= ${ns(p.atMs)} AND received_ns >= ${ns(p.sinceMs)}`,
    `  AND date >= toDate(${quoteString(dayBound(p.sinceMs))})${connectionFilter(p.connection)}`,
    'ORDER BY received_ns DESC',
    'LIMIT 1',
  ].join('\n');
}

export interface BookHeadRow {
  connection: string;
  stream_id: string;
  seq_s: string;
}

export interface LadderParams {
  database: string;
  conid: number;
  connection: string;
  streamId: string;
  seq: bigint | number;
  sinceMs: number;
}

/** Every row of one snapshot frame. */
export function bookLadderSql(p: LadderParams): string {
  return [
    'SELECT connection, stream_id, toString(seq) AS seq_s, toString(received_ns) AS received_s, side, level, price, size',
    `FROM ${qualifiedName(p.database, 'depth')}`,
    `WHERE conid = ${p.conid} AND connection = ${quoteString(p.connection)} AND stream_id = ${quoteString(p.streamId)} AND seq = ${BigInt(p.seq)}`,
    `  AND date >= toDate(${quoteString(dayBound(p.sinceMs))})`,
    'ORDER BY side, level',
  ].join('\n');
}

export interface LadderRow {
  connection: string;
  stream_id: string;
  seq_s: string;
  received_s: string;
  side: 'bid' | 'ask' | 'trade' | 'none';
  level: number;
  price: number;
  size: number;
}

export interface Book {
  conid: number;
  connection: string;
  streamId: string;
  seq: number;
  receivedAt: string;
  bids: { level: number; price: number; size: number }[];
  asks: { level: number; price: number; size: number }[];
  trades: { price: number; size: number }[];
}

/** The book of one snapshot frame's rows; a replayed, not yet merged batch counts once. */
export function bookFromRows(conid: number, head: BookHeadRow, rows: readonly LadderRow[]): Book | null {
  if (rows.length === 0) return null;
  const dedupe = new Map<string, LadderRow>();
  for (const r of rows) dedupe.set(`${r.side}:${r.level}`, r);
  const all = [...dedupe.values()];
  const pick = (side: string) => all.filter((r) => r.side === side).sort((a, b) => a.level - b.level);
  return {
    conid,
    connection: head.connection,
    streamId: head.stream_id,
    seq: Number(head.seq_s),
    receivedAt: isoOfNs(rows[0]!.received_s),
    bids: pick('bid').map(({ level, price, size }) => ({ level, price, size })),
    asks: pick('ask').map(({ level, price, size }) => ({ level, price, size })),
    trades: pick('trade').map(({ price, size }) => ({ price, size })),
  };
}

/** The book at time T: the latest snapshot of `conid` at or before `atMs` (and not before `sinceMs`). */
export async function bookAt(run: RunQuery, p: BookParams): Promise<Book | null> {
  const [head] = await run<BookHeadRow>(bookHeadSql(p));
  if (!head) return null;
  const rows = await run<LadderRow>(bookLadderSql({ database: p.database, conid: p.conid, connection: head.connection, streamId: head.stream_id, seq: BigInt(head.seq_s), sinceMs: p.sinceMs }));
  return bookFromRows(p.conid, head, rows);
}

/** The latest book: {@link bookAt} now, looking back `lookbackMs`. */
export function latestBook(run: RunQuery, p: { database: string; conid: number; lookbackMs: number; connection?: string; nowMs?: number }): Promise<Book | null> {
  const now = p.nowMs ?? Date.now();
  return bookAt(run, { database: p.database, conid: p.conid, atMs: now, sinceMs: now - p.lookbackMs, ...(p.connection ? { connection: p.connection } : {}) });
}

// ----------------------------------------------------------------------------------------- spread

export interface RangeParams {
  database: string;
  fromMs: number;
  toMs: number;
  connection?: string;
}

export interface SpreadParams extends RangeParams {
  conid: number;
  bucketMs: number;
}

/** Best ask minus best bid per snapshot frame, then per bucket and connection; frames without both sides are left out. */
export function spreadSql(p: SpreadParams): string {
  const bucketNs = BigInt(Math.round(p.bucketMs)) * NS_PER_MS;
  return [
    `SELECT toString(intDiv(frame_ns, ${bucketNs}) * ${bucketNs}) AS bucket_s, connection, count() AS frames,`,
    '       avg(ask - bid) AS avg_spread, min(ask - bid) AS min_spread, max(ask - bid) AS max_spread, avg((ask + bid) / 2) AS avg_mid',
    'FROM (',
    "  SELECT connection, stream_id, seq, any(received_ns) AS frame_ns, anyIf(price, side = 'ask' AND level = 0) AS ask, anyIf(price, side = 'bid' AND level = 0) AS bid,",
    "         countIf(side = 'ask' AND level = 0) AS has_ask, countIf(side = 'bid' AND level = 0) AS has_bid",
    `  FROM ${qualifiedName(p.database, 'depth')}`,
    `  WHERE conid = ${p.conid} AND kind = 'snapshot' AND ${nsRange(p.fromMs, p.toMs)}${connectionFilter(p.connection)}`,
    '  GROUP BY connection, stream_id, seq',
    ')',
    'WHERE has_ask > 0 AND has_bid > 0',
    'GROUP BY bucket_s, connection',
    'ORDER BY bucket_s, connection',
  ].join('\n');
}

export interface SpreadRow {
  bucket_s: string;
  connection: string;
  frames: string;
  avg_spread: number;
  min_spread: number;
  max_spread: number;
  avg_mid: number;
}

export interface SpreadBucket {
  time: string;
  connection: string;
  frames: number;
  avgSpread: number;
  minSpread: number;
  maxSpread: number;
  avgMid: number;
}

export function spreadBuckets(rows: readonly SpreadRow[]): SpreadBucket[] {
  return rows.map((r) => ({
    time: isoOfNs(r.bucket_s),
    connection: r.connection,
    frames: Number(r.frames),
    avgSpread: round6(r.avg_spread),
    minSpread: round6(r.min_spread),
    maxSpread: round6(r.max_spread),
    avgMid: round6(r.avg_mid),
  }));
}

/** Spread per interval of one instrument over [from, to). */
export async function spreadPerInterval(run: RunQuery, p: SpreadParams): Promise<SpreadBucket[]> {
  return spreadBuckets(await run<SpreadRow>(spreadSql(p)));
}

// ------------------------------------------------------------------------------------------- rate

export interface RateParams extends RangeParams {
  conid?: number;
}

/** Rows, frames and gap markers per connection and instrument over [from, to). */
export function updateRateSql(p: RateParams): string {
  return [
    "SELECT connection, conid, countIf(kind != 'gap') AS rows, uniqExactIf((stream_id, seq), kind != 'gap') AS frames, countIf(kind = 'gap') AS gaps,",
    '       toString(min(received_ns)) AS first_s, toString(max(received_ns)) AS last_s',
    `FROM ${qualifiedName(p.database, 'depth')}`,
    `WHERE ${nsRange(p.fromMs, p.toMs)}${connectionFilter(p.connection)}${p.conid !== undefined ? ` AND conid = ${p.conid}` : ''}`,
    'GROUP BY connection, conid',
    'ORDER BY connection, conid',
  ].join('\n');
}

export interface RateRow {
  connection: string;
  conid: number;
  rows: string;
  frames: string;
  gaps: string;
  first_s: string;
  last_s: string;
}

export interface InstrumentRate {
  connection: string;
  conid: number;
  rows: number;
  frames: number;
  rowsPerSecond: number;
  framesPerSecond: number;
  gaps: number;
  first: string;
  last: string;
}

export function instrumentRates(rows: readonly RateRow[], seconds: number): InstrumentRate[] {
  return rows.map((r) => ({
    connection: r.connection,
    conid: Number(r.conid),
    rows: Number(r.rows),
    frames: Number(r.frames),
    rowsPerSecond: round6(Number(r.rows) / seconds),
    framesPerSecond: round6(Number(r.frames) / seconds),
    gaps: Number(r.gaps),
    first: isoOfNs(r.first_s),
    last: isoOfNs(r.last_s),
  }));
}

/** Update rate per instrument over [from, to); the rates are per second of the whole window. */
export async function updateRate(run: RunQuery, p: RateParams): Promise<InstrumentRate[]> {
  return instrumentRates(await run<RateRow>(updateRateSql(p)), (p.toMs - p.fromMs) / 1000);
}

// ------------------------------------------------------------------------------------------- gaps

/** Gap markers over [from, to): where a stream epoch starts (seq 0) and where continuity breaks or ends (seq > 0). */
export function streamGapsSql(p: RateParams): string {
  return [
    'SELECT connection, conid, stream_id, toString(seq) AS seq_s, min(received_ns) AS first_ns, toString(first_ns) AS received_s',
    `FROM ${qualifiedName(p.database, 'depth')}`,
    `WHERE kind = 'gap' AND ${nsRange(p.fromMs, p.toMs)}${connectionFilter(p.connection)}${p.conid !== undefined ? ` AND conid = ${p.conid}` : ''}`,
    'GROUP BY connection, conid, stream_id, seq',
    'ORDER BY first_ns, connection, conid, stream_id, seq',
  ].join('\n');
}

export interface GapRow {
  connection: string;
  conid: number;
  stream_id: string;
  seq_s: string;
  first_ns: string;
  received_s: string;
}

export interface StreamGap {
  connection: string;
  conid: number;
  streamId: string;
  seq: number;
  /** `start`: a stream epoch begins here (seq 0); `break`: continuity breaks at `seq` (the epoch's last frame, or a skipped one). */
  kind: 'start' | 'break';
  at: string;
}

export function streamGapsOf(rows: readonly GapRow[]): StreamGap[] {
  return rows.map((r) => ({
    connection: r.connection,
    conid: Number(r.conid),
    streamId: r.stream_id,
    seq: Number(r.seq_s),
    kind: r.seq_s === '0' ? 'start' : 'break',
    at: isoOfNs(r.received_s),
  }));
}

/** Stream gaps (epoch starts and continuity breaks) over [from, to), oldest first. */
export async function streamGaps(run: RunQuery, p: RateParams): Promise<StreamGap[]> {
  return streamGapsOf(await run<GapRow>(streamGapsSql(p)));
}

// --------------------------------------------------------------------------------- streamed rows

/** Book rows stored so far per instrument (gap markers left out): how `up` sees depth arrive. */
export function streamedRowCountsSql(p: { database: string }): string {
  return [`SELECT conid, count() AS n`, `FROM ${qualifiedName(p.database, 'depth')}`, "WHERE kind != 'gap'", 'GROUP BY conid', 'ORDER BY conid'].join('\n');
}

export async function streamedRowCounts(run: RunQuery, p: { database: string }): Promise<{ conid: number; rows: number }[]> {
  const rows = await run<{ conid: number; n: string }>(streamedRowCountsSql(p));
  return rows.map((r) => ({ conid: Number(r.conid), rows: Number(r.n) }));
}

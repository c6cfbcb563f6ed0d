import type { ClickHouseClient } from '@clickhouse/client';
import type { Command } from 'commander';
import { qualifiedName, quoteString } from '../../src/clickhouse/sql';
import type { IbflowConfig } from '../../src/config/schema';
import { configOption, readConfig } from '../support/configFile';
import { withClickHouse, queryRows } from '../support/clickhouse';
import { notFound, usage } from '../support/errors';
import { out, printJson, table } from '../support/io';
import { ago, iso, parseDuration, parseTime } from '../support/time';

const NS_PER_MS = 1_000_000n;

function parseConid(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || Number(text) > 4_294_967_295) throw usage(`<conid> must be an IBKR contract id such as 265598 (got "${text}")`);
  return Number(text);
}

/** `date` is the UTC day of received_ns: a loose bound lets ClickHouse skip old partitions. */
function dayBound(ms: number): string {
  return new Date(ms - 86_400_000).toISOString().slice(0, 10);
}

function connectionFilter(connection: string | undefined): string {
  return connection ? ` AND connection = ${quoteString(connection)}` : '';
}

interface LadderRow {
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

/** The latest snapshot of `conid` received at or before `atMs` (and not before `sinceMs`). */
export async function latestBook(ch: ClickHouseClient, config: IbflowConfig, conid: number, atMs: number, sinceMs: number, connection?: string): Promise<Book | null> {
  const table = qualifiedName(config.clickhouse.database, 'depth');
  const where =
    `conid = ${conid} AND kind = 'snapshot' AND received_ns <= ${BigInt(Math.floor(atMs)) * NS_PER_MS} AND received_ns >= ${BigInt(Math.floor(sinceMs)) * NS_PER_MS}` +
    ` AND date >= toDate(${quoteString(dayBound(sinceMs))})${connectionFilter(connection)}`;
  const [head] = await queryRows<{ connection: string; stream_id: string; seq_s: string }>(
    ch,
    config,
    `SELECT connection, stream_id, toString(seq) AS seq_s FROM ${table} WHERE ${where} ORDER BY received_ns DESC LIMIT 1`,
  );
  if (!head) return null;
  const rows = await queryRows<LadderRow>(
    ch,
    config,
    `SELECT connection, stream_id, toString(seq) AS seq_s, toString(received_ns) AS received_s, side, level, price, size FROM ${table} ` +
      `WHERE conid = ${conid} AND connection = ${quoteString(head.connection)} AND stream_id = ${quoteString(head.stream_id)} AND seq = ${BigInt(head.seq_s)} ` +
      `AND date >= toDate(${quoteString(dayBound(sinceMs))}) ORDER BY side, level`,
  );
  if (rows.length === 0) return null;
  const dedupe = new Map<string, LadderRow>(); // a replayed batch may not be merged yet
  for (const r of rows) dedupe.set(`${r.side}:${r.level}`, r);
  const all = [...dedupe.values()];
  const pick = (side: string) => all.filter((r) => r.side === side).sort((a, b) => a.level - b.level);
  return {
    conid,
    connection: head.connection,
    streamId: head.stream_id,
    seq: Number(head.seq_s),
    receivedAt: iso(Number(BigInt(rows[0]!.received_s) / NS_PER_MS)),
    bids: pick('bid').map(({ level, price, size }) => ({ level, price, size })),
    asks: pick('ask').map(({ level, price, size }) => ({ level, price, size })),
    trades: pick('trade').map(({ price, size }) => ({ price, size })),
  };
}

export function renderBook(book: Book, levels: number, nowMs = Date.now()): string {
  const lines: string[] = [];
  const spread = book.asks[0] && book.bids[0] ? (book.asks[0].price - book.bids[0].price).toFixed(4).replace(/0+$/, '').replace(/\.$/, '') : '—';
  lines.push(`conid ${book.conid} · ${book.connection} · ${book.receivedAt} (${ago(book.receivedAt, nowMs)}) · seq ${book.seq}`);
  const trade = book.trades[0];
  lines.push(`last ${trade ? `${trade.price} × ${trade.size}` : '—'} · spread ${spread}`);
  const n = Math.min(levels, Math.max(book.bids.length, book.asks.length));
  const rows: (string | number)[][] = [];
  for (let i = 0; i < n; i++) {
    const b = book.bids[i];
    const a = book.asks[i];
    rows.push([i, b ? b.size : '', b ? b.price : '', a ? a.price : '', a ? a.size : '']);
  }
  lines.push(table(['LEVEL', 'BID SIZE', 'BID', 'ASK', 'ASK SIZE'], rows));
  return lines.join('\n');
}

interface TailFlags {
  config?: string;
  connection?: string;
  interval: string;
  levels: string;
  once?: boolean;
  json?: boolean;
  lookback: string;
}

async function tail(conidText: string, flags: TailFlags): Promise<void> {
  const conid = parseConid(conidText);
  const config = readConfig(flags);
  const intervalMs = parseDuration(flags.interval, '--interval');
  const lookbackMs = parseDuration(flags.lookback, '--lookback');
  const levels = Number(flags.levels);
  if (!Number.isInteger(levels) || levels < 1) throw usage(`--levels must be a positive whole number (got "${flags.levels}")`);
  if (flags.json && !flags.once) throw usage('--json needs --once (a live view is for terminals)');
  await withClickHouse(config, async (ch) => {
    if (flags.once) {
      const now = Date.now();
      const book = await latestBook(ch, config, conid, now, now - lookbackMs, flags.connection);
      if (!book) throw notFound(`no depth snapshot of conid ${conid} in the last ${flags.lookback}${flags.connection ? ` on ${flags.connection}` : ''} (is a connection streaming it? ibflow session status)`);
      if (flags.json) printJson(book);
      else out(renderBook(book, levels, now));
      return;
    }
    let stop = false;
    const onSignal = () => {
      stop = true;
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const tty = Boolean(process.stdout.isTTY);
    try {
      while (!stop) {
        const now = Date.now();
        const book = await latestBook(ch, config, conid, now, now - lookbackMs, flags.connection);
        const frame = book ? renderBook(book, levels, now) : `waiting for depth of conid ${conid}… (nothing in the last ${flags.lookback})`;
        process.stdout.write(tty ? `\x1b[H\x1b[2J${frame}\n(Ctrl-C to quit; every ${flags.interval})\n` : `${frame}\n\n`);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  });
}

// -------------------------------------------------------------------------------------------- query

interface RangeFlags {
  config?: string;
  from: string;
  to: string;
  connection?: string;
  json?: boolean;
}

function range(flags: RangeFlags): { fromMs: number; toMs: number } {
  const now = Date.now();
  const fromMs = parseTime(flags.from, '--from', now);
  const toMs = parseTime(flags.to, '--to', now);
  if (fromMs >= toMs) throw usage(`--from (${iso(fromMs)}) must be before --to (${iso(toMs)})`);
  return { fromMs, toMs };
}

const NICE_INTERVALS = ['1s', '5s', '10s', '30s', '1m', '5m', '15m', '1h', '6h', '1d'];

function autoInterval(spanMs: number): string {
  return NICE_INTERVALS.find((i) => spanMs / parseDuration(i, '--interval') <= 120) ?? '1d';
}

function nsRange(fromMs: number, toMs: number): string {
  return `received_ns >= ${BigInt(Math.floor(fromMs)) * NS_PER_MS} AND received_ns < ${BigInt(Math.floor(toMs)) * NS_PER_MS} AND date >= toDate(${quoteString(dayBound(fromMs))})`;
}

async function queryBook(conidText: string, flags: { config?: string; at: string; connection?: string; json?: boolean; levels: string; lookback: string }): Promise<void> {
  const conid = parseConid(conidText);
  const config = readConfig(flags);
  const atMs = parseTime(flags.at, '--at');
  const lookbackMs = parseDuration(flags.lookback, '--lookback');
  const book = await withClickHouse(config, (ch) => latestBook(ch, config, conid, atMs, atMs - lookbackMs, flags.connection));
  if (!book) throw notFound(`no depth snapshot of conid ${conid} between ${iso(atMs - lookbackMs)} and ${iso(atMs)}`);
  if (flags.json) return printJson(book);
  out(renderBook(book, Number(flags.levels) || 10, atMs));
}

async function querySpread(conidText: string, flags: RangeFlags & { interval?: string }): Promise<void> {
  const conid = parseConid(conidText);
  const config = readConfig(flags);
  const { fromMs, toMs } = range(flags);
  const interval = flags.interval ?? autoInterval(toMs - fromMs);
  const bucketNs = BigInt(Math.round(parseDuration(interval, '--interval'))) * NS_PER_MS;
  const table_ = qualifiedName(config.clickhouse.database, 'depth');
  const rows = await withClickHouse(config, (ch) =>
    queryRows<{ bucket_s: string; connection: string; frames: string; avg_spread: number; min_spread: number; max_spread: number; avg_mid: number }>(
      ch,
      config,
      `SELECT toString(intDiv(frame_ns, ${bucketNs}) * ${bucketNs}) AS bucket_s, connection, count() AS frames, ` +
        'avg(ask - bid) AS avg_spread, min(ask - bid) AS min_spread, max(ask - bid) AS max_spread, avg((ask + bid) / 2) AS avg_mid FROM (' +
        `SELECT connection, stream_id, seq, any(received_ns) AS frame_ns, anyIf(price, side = 'ask' AND level = 0) AS ask, anyIf(price, side = 'bid' AND level = 0) AS bid, ` +
        `countIf(side = 'ask' AND level = 0) AS has_ask, countIf(side = 'bid' AND level = 0) AS has_bid FROM ${table_} ` +
        `WHERE conid = ${conid} AND kind = 'snapshot' AND ${nsRange(fromMs, toMs)}${connectionFilter(flags.connection)} GROUP BY connection, stream_id, seq` +
        ') WHERE has_ask > 0 AND has_bid > 0 GROUP BY bucket_s, connection ORDER BY bucket_s, connection',
    ),
  );
  const result = rows.map((r) => ({
    time: iso(Number(BigInt(r.bucket_s) / NS_PER_MS)),
    connection: r.connection,
    frames: Number(r.frames),
    avgSpread: round(r.avg_spread),
    minSpread: round(r.min_spread),
    maxSpread: round(r.max_spread),
    avgMid: round(r.avg_mid),
  }));
  if (flags.json) return printJson({ conid, from: iso(fromMs), to: iso(toMs), interval, buckets: result });
  if (result.length === 0) return out(`no snapshots of conid ${conid} between ${iso(fromMs)} and ${iso(toMs)}`);
  out(`spread of conid ${conid}, ${iso(fromMs)} → ${iso(toMs)}, per ${interval}`);
  out(table(['TIME', 'CONNECTION', 'FRAMES', 'AVG SPREAD', 'MIN', 'MAX', 'AVG MID'], result.map((r) => [r.time, r.connection, r.frames, r.avgSpread, r.minSpread, r.maxSpread, r.avgMid])));
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

async function queryRate(flags: RangeFlags & { conid?: string }): Promise<void> {
  const config = readConfig(flags);
  const { fromMs, toMs } = range(flags);
  const seconds = (toMs - fromMs) / 1000;
  const conidFilter = flags.conid ? ` AND conid = ${parseConid(flags.conid)}` : '';
  const table_ = qualifiedName(config.clickhouse.database, 'depth');
  const rows = await withClickHouse(config, (ch) =>
    queryRows<{ connection: string; conid: number; rows: string; frames: string; gaps: string; first_s: string; last_s: string }>(
      ch,
      config,
      `SELECT connection, conid, countIf(kind != 'gap') AS rows, uniqExactIf((stream_id, seq), kind != 'gap') AS frames, countIf(kind = 'gap') AS gaps, ` +
        `toString(min(received_ns)) AS first_s, toString(max(received_ns)) AS last_s FROM ${table_} ` +
        `WHERE ${nsRange(fromMs, toMs)}${connectionFilter(flags.connection)}${conidFilter} GROUP BY connection, conid ORDER BY connection, conid`,
    ),
  );
  const result = rows.map((r) => ({
    connection: r.connection,
    conid: Number(r.conid),
    rows: Number(r.rows),
    frames: Number(r.frames),
    rowsPerSecond: round(Number(r.rows) / seconds),
    framesPerSecond: round(Number(r.frames) / seconds),
    gaps: Number(r.gaps),
    first: iso(Number(BigInt(r.first_s) / NS_PER_MS)),
    last: iso(Number(BigInt(r.last_s) / NS_PER_MS)),
  }));
  if (flags.json) return printJson({ from: iso(fromMs), to: iso(toMs), instruments: result });
  if (result.length === 0) return out(`no depth rows between ${iso(fromMs)} and ${iso(toMs)}`);
  out(`update rate per instrument, ${iso(fromMs)} → ${iso(toMs)} (${seconds.toFixed(0)} s)`);
  out(
    table(
      ['CONNECTION', 'CONID', 'ROWS', 'FRAMES', 'ROWS/S', 'FRAMES/S', 'STREAM STARTS', 'LAST'],
      result.map((r) => [r.connection, r.conid, r.rows, r.frames, r.rowsPerSecond.toFixed(1), r.framesPerSecond.toFixed(2), r.gaps, r.last]),
    ),
  );
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

/** Usable time per connection from session_events (every state change is a row). */
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
  const out_: Uptime[] = [];
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
    out_.push({
      connection,
      usableSeconds: Math.round(usableMs / 1000),
      usablePercent: Math.round((usableMs / (toMs - fromMs)) * 10000) / 100,
      drops,
      logins,
      stateAtEnd: state,
      knownFrom: knownFrom < toMs ? iso(knownFrom) : null,
    });
  }
  return out_;
}

async function queryUptime(flags: RangeFlags): Promise<void> {
  const config = readConfig(flags);
  const { fromMs, toMs } = range(flags);
  const table_ = qualifiedName(config.clickhouse.database, 'session_events');
  const filter = connectionFilter(flags.connection);
  const [before, events] = await withClickHouse(config, (ch) =>
    Promise.all([
      queryRows<{ connection: string; state: string }>(ch, config, `SELECT connection, argMax(state, ts_ms) AS state FROM ${table_} WHERE ts_ms < ${Math.floor(fromMs)}${filter} GROUP BY connection`),
      queryRows<{ connection: string; ts_s: string; state: string }>(
        ch,
        config,
        `SELECT connection, toString(ts_ms) AS ts_s, state FROM ${table_} WHERE ts_ms >= ${Math.floor(fromMs)} AND ts_ms < ${Math.floor(toMs)}${filter} ORDER BY connection, ts_ms`,
      ),
    ]),
  );
  const initial = new Map(before.map((b) => [b.connection, b.state]));
  const result = computeUptime(events.map((e) => ({ connection: e.connection, state: e.state, ts_ms: Number(e.ts_s) })), initial, fromMs, toMs);
  if (flags.json) return printJson({ from: iso(fromMs), to: iso(toMs), connections: result });
  if (result.length === 0) return out(`no session events up to ${iso(toMs)}`);
  out(`session uptime, ${iso(fromMs)} → ${iso(toMs)}`);
  out(
    table(
      ['CONNECTION', 'USABLE', 'USABLE %', 'DROPS', 'LOGINS', 'STATE AT END', 'KNOWN FROM'],
      result.map((r) => [r.connection, `${r.usableSeconds} s`, `${r.usablePercent.toFixed(2)} %`, r.drops, r.logins, r.stateAtEnd ?? '—', r.knownFrom ?? '—']),
    ),
  );
}

export function registerDepthCommand(program: Command): void {
  const depth = program
    .command('depth')
    .description('Look at the L2 depth in ClickHouse')
    .addHelpText(
      'after',
      '\nExamples:\n  ibflow depth tail 265598\n  ibflow depth tail 265598 --once --json\n  ibflow depth query book 265598 --at "2024-05-01T14:30:00Z"\n  ibflow depth query spread 265598 --from 1h --interval 1m\n  ibflow depth query rate --from 15m\n  ibflow depth query uptime --from 1d --json\n',
    );

  depth
    .command('tail <conid>')
    .description('The live book of an instrument, redrawn from ClickHouse (latest snapshot each interval)')
    .option(...configOption)
    .option('--connection <id>', 'only this connection')
    .option('--interval <duration>', 'redraw every', '1s')
    .option('--levels <n>', 'levels per side to show', '10')
    .option('--lookback <duration>', 'ignore snapshots older than this', '5m')
    .option('--once', 'print one frame and exit (exit 3 when there is none)')
    .option('--json', 'with --once: the book as JSON')
    .addHelpText('after', '\nExamples:\n  ibflow depth tail 265598\n  ibflow depth tail 8314 --once --levels 5\n')
    .action((conid: string, flags: TailFlags) => tail(conid, flags));

  const query = depth
    .command('query')
    .description('Common depth and session queries over a time range (--from/--to: ISO time, epoch ms, now, or 15m/2h/1d ago)');
  const rangeOptions = (cmd: Command) =>
    cmd
      .option(...configOption)
      .option('--from <time>', 'start (ISO 8601, epoch ms, or relative like 1h)', '1h')
      .option('--to <time>', 'end', 'now')
      .option('--connection <id>', 'only this connection')
      .option('--json', 'machine-readable output');

  query
    .command('book <conid>')
    .description('The book of an instrument at time T (the latest snapshot at or before it)')
    .option(...configOption)
    .option('--at <time>', 'the time (ISO 8601, epoch ms, now, or relative like 10m)', 'now')
    .option('--lookback <duration>', 'how far before --at to look for a snapshot', '1d')
    .option('--levels <n>', 'levels per side to show', '10')
    .option('--connection <id>', 'only this connection')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  ibflow depth query book 265598 --at 2024-05-01T14:30:00Z --json\n')
    .action((conid: string, flags: { config?: string; at: string; connection?: string; json?: boolean; levels: string; lookback: string }) => queryBook(conid, flags));

  rangeOptions(query.command('spread <conid>').description('Best-bid/ask spread over time, per interval'))
    .option('--interval <duration>', 'bucket size (default: about 60-120 buckets)')
    .addHelpText('after', '\nExample:\n  ibflow depth query spread 265598 --from 2h --interval 5m\n')
    .action((conid: string, flags: RangeFlags & { interval?: string }) => querySpread(conid, flags));

  rangeOptions(query.command('rate').description('Update rate per instrument (rows and frames per second, stream starts)'))
    .option('--conid <conid>', 'only this instrument')
    .addHelpText('after', '\nExample:\n  ibflow depth query rate --from 15m\n')
    .action((flags: RangeFlags & { conid?: string }) => queryRate(flags));

  rangeOptions(query.command('uptime').description('Session uptime per connection (time usable, drops, logins) from session_events'))
    .addHelpText('after', '\nExample:\n  ibflow depth query uptime --from 7d\n')
    .action((flags: RangeFlags) => queryUptime(flags));
}


import type { Command } from 'commander';
import type { Book } from '../../src/operations/depthQueries';
import { configOption, readConfig } from '../support/configFile';
import { registerDepthQuarantineCommand } from './depthQuarantine';
import { withOperations } from '../support/operations';
import { notFound, usage } from '../support/errors';
import { out, printJson, table } from '../support/io';
import { ago, iso, parseDuration, parseTime } from '../support/time';

function parseConid(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || Number(text) > 4_294_967_295) throw usage(`<conid> must be an IBKR contract id such as 265598 (got "${text}")`);
  return Number(text);
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
  await withOperations(config, async (ops) => {
    const latest = (now: number) => ops.latestBook({ conid, lookbackMs, nowMs: now, ...(flags.connection ? { connection: flags.connection } : {}) });
    if (flags.once) {
      const now = Date.now();
      const book = await latest(now);
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
        const book = await latest(now);
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

async function queryBook(conidText: string, flags: { config?: string; at: string; connection?: string; json?: boolean; levels: string; lookback: string }): Promise<void> {
  const conid = parseConid(conidText);
  const config = readConfig(flags);
  const atMs = parseTime(flags.at, '--at');
  const lookbackMs = parseDuration(flags.lookback, '--lookback');
  const book = await withOperations(config, (ops) => ops.bookAt({ conid, atMs, sinceMs: atMs - lookbackMs, ...(flags.connection ? { connection: flags.connection } : {}) }));
  if (!book) throw notFound(`no depth snapshot of conid ${conid} between ${iso(atMs - lookbackMs)} and ${iso(atMs)}`);
  if (flags.json) return printJson(book);
  out(renderBook(book, Number(flags.levels) || 10, atMs));
}

async function querySpread(conidText: string, flags: RangeFlags & { interval?: string }): Promise<void> {
  const conid = parseConid(conidText);
  const config = readConfig(flags);
  const { fromMs, toMs } = range(flags);
  const interval = flags.interval ?? autoInterval(toMs - fromMs);
  const bucketMs = parseDuration(interval, '--interval');
  const result = await withOperations(config, (ops) => ops.spread({ conid, fromMs, toMs, bucketMs, ...(flags.connection ? { connection: flags.connection } : {}) }));
  if (flags.json) return printJson({ conid, from: iso(fromMs), to: iso(toMs), interval, buckets: result });
  if (result.length === 0) return out(`no snapshots of conid ${conid} between ${iso(fromMs)} and ${iso(toMs)}`);
  out(`spread of conid ${conid}, ${iso(fromMs)} → ${iso(toMs)}, per ${interval}`);
  out(table(['TIME', 'CONNECTION', 'FRAMES', 'AVG SPREAD', 'MIN', 'MAX', 'AVG MID'], result.map((r) => [r.time, r.connection, r.frames, r.avgSpread, r.minSpread, r.maxSpread, r.avgMid])));
}

async function queryRate(flags: RangeFlags & { conid?: string }): Promise<void> {
  const config = readConfig(flags);
  const { fromMs, toMs } = range(flags);
  const seconds = (toMs - fromMs) / 1000;
  const conid = flags.conid ? parseConid(flags.conid) : undefined;
  const result = await withOperations(config, (ops) =>
    ops.updateRate({ fromMs, toMs, ...(conid !== undefined ? { conid } : {}), ...(flags.connection ? { connection: flags.connection } : {}) }),
  );
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

async function queryUptime(flags: RangeFlags): Promise<void> {
  const config = readConfig(flags);
  const { fromMs, toMs } = range(flags);
  const result = await withOperations(config, (ops) => ops.uptime({ fromMs, toMs, ...(flags.connection ? { connection: flags.connection } : {}) }));
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
      '\nExamples:\n  ibflow depth tail 265598\n  ibflow depth tail 265598 --once --json\n  ibflow depth query book 265598 --at "2024-05-01T14:30:00Z"\n  ibflow depth query spread 265598 --from 1h --interval 1m\n  ibflow depth query rate --from 15m\n  ibflow depth query uptime --from 1d --json\n  ibflow depth quarantine list\n',
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

  registerDepthQuarantineCommand(depth);

  rangeOptions(query.command('uptime').description('Session uptime per connection (time usable, drops, logins) from session_events'))
    .addHelpText('after', '\nExample:\n  ibflow depth query uptime --from 7d\n')
    .action((flags: RangeFlags) => queryUptime(flags));
}


import type { Command } from 'commander';
import type { QuarantineRecord } from '../../src/clickhouse/quarantine';
import type { QuarantineDetail, ReplayOutcome } from '../../src/operations/depthQuarantine';
import { configOption, readConfig } from '../support/configFile';
import { CliError, EXIT, usage } from '../support/errors';
import { ask, isInteractive, note, out, printJson, table } from '../support/io';
import { withOperations } from '../support/operations';
import { ago } from '../support/time';

/**
 * `ibflow depth quarantine list|show|replay|drop`: the batches ClickHouse refused for good, kept on
 * this host's disk by the pod workers (docs/clickhouse.md, "When ClickHouse refuses a batch").
 */

interface Flags {
  config?: string;
  pod?: string;
  json?: boolean;
}

function why(r: QuarantineRecord): string {
  const head = [r.error.code !== undefined ? `${r.error.code}` : '', r.error.name ?? ''].filter(Boolean).join(' ');
  const message = r.error.message.length > 80 ? `${r.error.message.slice(0, 79)}…` : r.error.message;
  return head ? `${head}: ${message}` : message;
}

function holes(r: QuarantineRecord): string {
  return r.streams.map((s) => `${s.connection} conid ${s.conid} seq ${s.fromSeq}–${s.toSeq}`).join('\n');
}

function replayState(r: QuarantineRecord): string {
  if (r.state === 'replayed') return 'replayed';
  const failed = r.replays.filter((x) => !x.ok).length;
  return failed > 0 ? `pending (${failed} failed replay${failed === 1 ? '' : 's'})` : 'pending';
}

async function list(flags: Flags & { replayed?: boolean }): Promise<void> {
  const records = await withOperations(readConfig(flags), async (ops) => ops.quarantine.list({ ...(flags.pod ? { pod: flags.pod } : {}), replayed: Boolean(flags.replayed) }));
  if (flags.json) return printJson(records);
  if (records.length === 0) {
    out(`no quarantined depth batches${flags.pod ? ` for pod ${flags.pod}` : ''}${flags.replayed ? '' : ' waiting for a replay'} — every refused batch has been replayed or dropped, or none was refused`);
    return;
  }
  const now = Date.now();
  out(
    table(
      ['ID', 'POD', 'SET ASIDE', 'ROWS', 'MISSING FROM THE DEPTH TABLE', 'REFUSED WITH', 'STATE'],
      records.map((r) => [r.id, r.pod, ago(r.quarantinedAt, now), r.rows, holes(r), why(r), replayState(r)]),
    ),
  );
  const pending = records.filter((r) => r.state === 'pending');
  if (pending.length > 0) note(`fix the cause, then: ibflow depth quarantine replay ${pending.length === 1 ? pending[0]!.id : '--all'}   (show <id> for its rows)`);
}

export function renderQuarantineDetail(d: QuarantineDetail, nowMs = Date.now()): string {
  const r = d.record;
  const lines = [
    `${r.id} · pod ${r.pod} · ${r.state} · set aside ${r.quarantinedAt} (${ago(r.quarantinedAt, nowMs)})`,
    `${r.rows} rows, ${r.bytes} bytes of RowBinary for ${r.database || '(database not recorded)'}.${r.table} · ${r.attempts} insert attempt${r.attempts === 1 ? '' : 's'}`,
    `refused with (${r.error.kind}): ${[r.error.code, r.error.name].filter((x) => x !== undefined && x !== '').join(' ')}${r.error.code !== undefined || r.error.name ? ' — ' : ''}${r.error.message}`,
    `files: ${d.dir}/${r.id}.rb and .json`,
    '',
    'missing from the depth table (each marked by a gap row at its last seq):',
    table(
      ['CONNECTION', 'CONID', 'STREAM', 'SEQ', 'ROWS', 'RECEIVED'],
      r.streams.map((s) => [s.connection, s.conid, s.streamId, `${s.fromSeq}–${s.toSeq}`, s.rows, `${nsToIso(s.firstNs)} → ${nsToIso(s.lastNs)}`]),
    ),
  ];
  if (r.replays.length > 0) {
    lines.push('', 'replays:');
    for (const x of r.replays) lines.push(`  ${x.at}  ${x.ok ? 'ok' : `failed: ${x.error ?? ''}`}`);
  }
  lines.push('', `first ${d.preview.length} of ${d.totalRows} rows:`);
  lines.push(
    table(
      ['RECEIVED', 'CONID', 'SEQ', 'KIND', 'SIDE', 'LEVEL', 'PRICE', 'SIZE'],
      d.preview.map((x) => [x.receivedAt, x.conid, x.seq, x.kind, x.side, x.level, x.price, x.size]),
    ),
  );
  return lines.join('\n');
}

function nsToIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

async function show(id: string, flags: Flags & { rows: string }): Promise<void> {
  const previewRows = Number(flags.rows);
  if (!Number.isInteger(previewRows) || previewRows < 0) throw usage(`--rows must be a whole number of rows to preview (got "${flags.rows}")`);
  const detail = await withOperations(readConfig(flags), async (ops) => ops.quarantine.show(id, { previewRows, ...(flags.pod ? { pod: flags.pod } : {}) }));
  if (flags.json) return printJson(detail);
  out(renderQuarantineDetail(detail));
}

function outcomeLine(o: ReplayOutcome): string {
  if (o.outcome === 'replayed') return `✓ ${o.id} (${o.pod}): ${o.rows} rows back in ClickHouse`;
  if (o.outcome === 'already_replayed') return `· ${o.id} (${o.pod}): already replayed${o.at ? ` at ${o.at}` : ''}; nothing sent (a second replay would collapse onto the first anyway)`;
  return `✗ ${o.id} (${o.pod}): still refused (${o.kind}${o.code !== undefined ? ` ${o.code}` : ''}): ${o.error}`;
}

async function replay(ids: string[], flags: Flags & { all?: boolean }): Promise<void> {
  if (flags.all && ids.length > 0) throw usage('give record ids or --all, not both');
  if (!flags.all && ids.length === 0) throw usage('which records? give their ids (ibflow depth quarantine list) or --all');
  const outcomes = await withOperations(readConfig(flags), async (ops) =>
    ops.quarantine.replay(flags.all ? 'all' : ids, {
      ...(flags.pod ? { pod: flags.pod } : {}),
      // Progress on stderr as each record is done; stdout stays for --json.
      progress: (o, i, total) => {
        if (!flags.json) note(`[${i + 1}/${total}] ${outcomeLine(o)}`);
      },
    }),
  );
  if (flags.json) printJson(outcomes);
  else if (outcomes.length === 0) out('nothing to replay: no pending quarantine records');
  else {
    const n = (k: ReplayOutcome['outcome']) => outcomes.filter((o) => o.outcome === k).length;
    out(`${n('replayed')} replayed, ${n('already_replayed')} already replayed, ${n('failed')} still refused`);
  }
  const failed = outcomes.filter((o) => o.outcome === 'failed');
  if (failed.length > 0) {
    throw new CliError(`${failed.length} record${failed.length === 1 ? ' is' : 's are'} still refused by ClickHouse; fix the cause (ibflow depth quarantine show ${failed[0]!.id}) and replay again`, EXIT.failure);
  }
}

async function drop(id: string, flags: Flags & { yes?: boolean }): Promise<void> {
  if (!flags.yes) {
    if (!isInteractive()) throw usage(`refusing to drop ${id} without confirmation: pass --yes (its rows are then gone for good)`);
    const detail = await withOperations(readConfig(flags), async (ops) => ops.quarantine.show(id, { previewRows: 0, ...(flags.pod ? { pod: flags.pod } : {}) }));
    const ok = await ask().confirm({ message: `Delete ${id} and its ${detail.record.rows} rows for good (the hole stays marked)?`, default: false });
    if (!ok) throw new CliError('not dropped', EXIT.failure);
  }
  const record = await withOperations(readConfig(flags), async (ops) => ops.quarantine.drop(id, flags.pod ? { pod: flags.pod } : {}));
  if (flags.json) return printJson(record);
  out(`dropped ${record.id} (${record.rows} rows${record.state === 'replayed' ? ', already replayed' : ', never replayed: the gap rows are all that is left of them'})`);
}

export function registerDepthQuarantineCommand(depth: Command): void {
  const q = depth
    .command('quarantine')
    .description('Depth batches ClickHouse refused for good: kept on disk with their hole marked; list, look, replay after the fix, or drop')
    .addHelpText(
      'after',
      '\nExamples:\n  ibflow depth quarantine list\n  ibflow depth quarantine show q-20261202T150000123Z-0a1b2c\n  ibflow depth quarantine replay --all\n  ibflow depth quarantine drop q-20261202T150000123Z-0a1b2c --yes\n',
    );
  const common = (cmd: Command) => cmd.option(...configOption).option('--pod <pod>', 'only this pod').option('--json', 'machine-readable output');

  common(q.command('list').description('Records waiting for a replay, oldest first (with --replayed also those put back)'))
    .option('--replayed', 'include records already replayed')
    .action((flags: Flags & { replayed?: boolean }) => list(flags));

  common(q.command('show <id>').description("One record: the server's error, the hole per stream, and its first rows"))
    .option('--rows <n>', 'rows to preview', '20')
    .action((id: string, flags: Flags & { rows: string }) => show(id, flags));

  common(q.command('replay [ids...]').description('Insert records again (as the ingest user), oldest first; a repeated replay collapses onto the first'))
    .option('--all', 'every pending record')
    .addHelpText('after', '\nExit 1 when a record is still refused (it stays pending, the attempt noted).\n')
    .action((ids: string[], flags: Flags & { all?: boolean }) => replay(ids, flags));

  common(q.command('drop <id>').description('Delete a record and its rows for good'))
    .option('-y, --yes', 'do not ask for confirmation')
    .action((id: string, flags: Flags & { yes?: boolean }) => drop(id, flags));
}

import type { QuarantinedStream, QuarantineRecord } from '../clickhouse/quarantine';

/**
 * The depth problem a stream reports when the sink set aside a batch holding its rows: what is
 * missing, why, and the command that puts it back. Shown in `ibflow depth status` and the memo.
 */
export function quarantineProblem(record: Pick<QuarantineRecord, 'id' | 'error'>, streams: readonly QuarantinedStream[]): string {
  const rows = streams.reduce((n, s) => n + s.rows, 0);
  const where = streams.map((s) => `conid ${s.conid} seq ${s.fromSeq}–${s.toSeq}`).join(', ');
  const why = [record.error.code !== undefined ? `code ${record.error.code}` : '', record.error.name ?? ''].filter(Boolean).join(' ');
  const message = record.error.message.split('\n')[0]!.slice(0, 200);
  return `DepthQuarantined: ClickHouse refused ${rows} depth rows for good (${why ? `${why}: ` : ''}${message}); set aside as ${record.id}, the hole (${where}) is marked with gap rows and streaming goes on. Fix the cause, then: ibflow depth quarantine replay ${record.id}`;
}

import { qualifiedName, quoteString } from '../src/clickhouse/sql';
import type { ControlDependencies } from './controlDependencies';

export interface DropOldDepthPartitionsInput {
  database: string;
  retentionDays: number;
  /** "Now" from the workflow, so the cutoff is deterministic and testable. */
  nowMs: number;
}

/** The first UTC day kept: `nowMs`'s UTC day minus `retentionDays`, as YYYY-MM-DD. */
export function retentionCutoffDate(nowMs: number, retentionDays: number): string {
  const day = Math.floor(nowMs / 86_400_000) - retentionDays;
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Drops every active `depth` partition whose newest day is before the cutoff. Partition drops are
 * metadata operations (cheap, atomic per partition) and idempotent: a partition already gone is
 * simply not listed the next time.
 */
export function createDropOldDepthPartitions(deps: ControlDependencies) {
  return async function dropOldDepthPartitions(input: DropOldDepthPartitionsInput): Promise<string[]> {
    const cutoff = retentionCutoffDate(input.nowMs, input.retentionDays);
    const rs = await deps.clickhouse.query({
      query: `SELECT partition, max(max_date) AS newest FROM system.parts
              WHERE database = ${quoteString(input.database)} AND table = 'depth' AND active
              GROUP BY partition HAVING newest < toDate(${quoteString(cutoff)}) ORDER BY partition`,
      format: 'JSONEachRow',
    });
    const partitions = (await rs.json<{ partition: string }>()).map((r) => r.partition);
    for (const p of partitions) {
      // With PARTITION BY date the partition value is the day itself, e.g. '2024-01-31'.
      await deps.clickhouse.command({ query: `ALTER TABLE ${qualifiedName(input.database, 'depth')} DROP PARTITION ${quoteString(p)}` });
    }
    if (partitions.length > 0) deps.log.info({ database: input.database, cutoff, partitions }, 'dropped old depth partitions');
    return partitions;
  };
}

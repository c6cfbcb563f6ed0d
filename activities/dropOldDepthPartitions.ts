import { clusterStatements } from '../src/clickhouse/migrations';
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
 * Drops every active depth partition whose newest day is before the cutoff. Partition drops are
 * metadata operations (cheap, atomic per partition) and idempotent: a partition already gone is
 * simply not listed the next time. In cluster mode the data lives in `depth_local` on every shard
 * (the Distributed `depth` holds none), so the parts are listed across the cluster and each drop
 * runs ON CLUSTER.
 */
export function createDropOldDepthPartitions(deps: ControlDependencies) {
  return async function dropOldDepthPartitions(input: DropOldDepthPartitionsInput): Promise<string[]> {
    const cutoff = retentionCutoffDate(input.nowMs, input.retentionDays);
    const cluster = deps.config().clickhouse.cluster;
    const table = cluster === undefined ? 'depth' : 'depth_local';
    const parts = cluster === undefined ? 'system.parts' : `cluster(${quoteString(cluster)}, system, parts)`;
    const rs = await deps.clickhouse.query({
      query: `SELECT partition, max(max_date) AS newest FROM ${parts}
              WHERE database = ${quoteString(input.database)} AND table = ${quoteString(table)} AND active
              GROUP BY partition HAVING newest < toDate(${quoteString(cutoff)}) ORDER BY partition`,
      format: 'JSONEachRow',
    });
    const partitions = (await rs.json<{ partition: string }>()).map((r) => r.partition);
    for (const p of partitions) {
      // With PARTITION BY date the partition value is the day itself, e.g. '2024-01-31'.
      const drop = `ALTER TABLE ${qualifiedName(input.database, 'depth')} DROP PARTITION ${quoteString(p)}`;
      // The migrations' own rewrite places it on the cluster: depth_local, ON CLUSTER.
      for (const query of cluster === undefined ? [drop] : clusterStatements(drop, { database: input.database, cluster })) {
        await deps.clickhouse.command({ query });
      }
    }
    if (partitions.length > 0) deps.log.info({ database: input.database, table, cutoff, partitions }, 'dropped old depth partitions');
    return partitions;
  };
}

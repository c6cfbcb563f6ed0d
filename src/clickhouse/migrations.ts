/**
 * Versioned schema migrations for the ibflow ClickHouse database.
 *
 * Each migration is a list of idempotent statements (`IF NOT EXISTS`), recorded in
 * `<db>.schema_migrations` once all of them succeeded, so a run interrupted half-way is simply
 * run again. Statements are generated per server: ClickHouse 18.16 (Debian's package, used by
 * tests and the embedded stack) gets plain types; servers from 20.1 on also get LowCardinality and
 * column codecs. Column names and order are the same on both, so the RowBinary encoder and the
 * JSONEachRow inserts work against either.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { DEPTH_COLUMNS } from './rowBinary';
import { qualifiedName, quoteIdentifier, quoteString } from './sql';

/** What the connected server can do, decided from `SELECT version()`. */
export interface ServerFeatures {
  version: string;
  major: number;
  minor: number;
  /** LowCardinality(String) without the experimental setting (stable since 19.x; we require ≥ 20). */
  lowCardinality: boolean;
  /** Column compression codecs (Delta, DoubleDelta, ZSTD…). */
  codecs: boolean;
  /** DateTime64 (20.1 on; see docs/clickhouse.md). Computed, read by no DDL: time is stored as UInt64 ns. */
  dateTime64: boolean;
  /** Table TTL (19.6 on). */
  ttl: boolean;
}

/** The first major version whose modern features we use. 18.16 → none of them. */
export const MODERN_MAJOR = 20;

export function serverFeatures(version: string): ServerFeatures {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new Error(`cannot parse ClickHouse version ${JSON.stringify(version)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const modern = major >= MODERN_MAJOR;
  return { version: version.trim(), major, minor, lowCardinality: modern, codecs: modern, dateTime64: modern, ttl: modern };
}

export interface MigrationContext {
  database: string;
  features: ServerFeatures;
  /**
   * Cluster mode (see {@link clusterStatements}): statements are written as for one server and
   * rewritten by `migrate` into ON CLUSTER DDL; migrations need not look at this.
   */
  cluster?: string;
}

export interface Migration {
  version: number;
  name: string;
  /** DDL statements, each idempotent on its own. */
  statements(ctx: MigrationContext): string[];
}

/** Table definition for `depth`; exported so tests can check both variants. */
export function depthTableDdl(ctx: MigrationContext): string {
  const { features } = ctx;
  const lc = (t: string) => (features.lowCardinality ? `LowCardinality(${t})` : t);
  const codec = (c: string) => (features.codecs ? ` CODEC(${c})` : '');
  const columns: Record<(typeof DEPTH_COLUMNS)[number], string> = {
    date: 'Date',
    received_ns: `UInt64${codec('Delta, ZSTD')}`,
    connection: lc('String'),
    pod: lc('String'),
    conid: 'UInt32',
    stream_id: `String${codec('ZSTD')}`,
    seq: `UInt64${codec('Delta, ZSTD')}`,
    kind: "Enum8('snapshot' = 1, 'update' = 2, 'gap' = 3)",
    side: "Enum8('none' = 0, 'bid' = 1, 'ask' = 2, 'trade' = 3)",
    level: 'UInt16',
    price: `Float64${codec('ZSTD')}`,
    size: `Float64${codec('ZSTD')}`,
  };
  const columnSql = DEPTH_COLUMNS.map((name) => `  ${name} ${columns[name]}`).join(',\n');
  return (
    `CREATE TABLE IF NOT EXISTS ${qualifiedName(ctx.database, 'depth')} (\n${columnSql}\n)\n` +
    'ENGINE = ReplacingMergeTree\n' +
    'PARTITION BY date\n' +
    'ORDER BY (connection, conid, stream_id, seq, kind, side, level)'
  );
}

/** Table definition for `session_events`. */
export function sessionEventsTableDdl(ctx: MigrationContext): string {
  const { features } = ctx;
  const lc = (t: string) => (features.lowCardinality ? `LowCardinality(${t})` : t);
  return (
    `CREATE TABLE IF NOT EXISTS ${qualifiedName(ctx.database, 'session_events')} (\n` +
    '  date Date,\n' +
    '  ts DateTime,\n' +
    '  ts_ms UInt64,\n' +
    `  connection ${lc('String')},\n` +
    '  workflow_id String,\n' +
    `  state ${lc('String')},\n` +
    `  previous_state ${lc('String')},\n` +
    '  reason String\n' +
    ')\n' +
    // Replacing: an activity retried after a lost response writes the same event again.
    'ENGINE = ReplacingMergeTree\n' +
    'PARTITION BY toYYYYMM(date)\n' +
    'ORDER BY (connection, ts_ms, workflow_id, state)'
  );
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'depth and session_events',
    statements: (ctx) => [depthTableDdl(ctx), sessionEventsTableDdl(ctx)],
  },
];

export interface MigrateOptions {
  /** Default `ibflow`. */
  database?: string;
  /** Defaults to {@link MIGRATIONS}; tests pass their own list. */
  migrations?: readonly Migration[];
  /**
   * Cluster mode: the name of a cluster in the servers' `remote_servers`. Every statement runs
   * ON CLUSTER; each table `T` becomes a replicated `T_local` on every shard plus a Distributed
   * table `T` over them (see {@link clusterStatements}). The servers need ZooKeeper/Keeper, a
   * `distributed_ddl` queue and the macros `{shard}` and `{replica}` (unique per server).
   */
  cluster?: string;
}

export async function serverVersion(client: ClickHouseClient): Promise<string> {
  const rs = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' });
  const rows = await rs.json<{ version: string }>();
  const version = rows[0]?.version;
  if (typeof version !== 'string') throw new Error('SELECT version() returned no row');
  return version;
}

/**
 * Creates the database and the version table if needed, then applies every migration not yet
 * recorded, in version order. Returns the versions applied by this call (empty when up to date).
 */
export async function migrate(
  client: ClickHouseClient,
  opts: MigrateOptions = {},
): Promise<{ applied: number[]; serverVersion: string }> {
  const database = opts.database ?? 'ibflow';
  const migrations = [...(opts.migrations ?? MIGRATIONS)].sort((a, b) => a.version - b.version);
  for (let i = 0; i < migrations.length; i++) {
    const m = migrations[i]!;
    if (!Number.isInteger(m.version) || m.version < 1 || m.version > 0xffff_ffff) {
      throw new Error(`migration ${JSON.stringify(m.name)} has an invalid version ${m.version}`);
    }
    if (i > 0 && migrations[i - 1]!.version === m.version) throw new Error(`duplicate migration version ${m.version}`);
  }

  const version = await serverVersion(client);
  const features = serverFeatures(version);
  const versionTable = qualifiedName(database, 'schema_migrations');

  const cluster = opts.cluster;
  const onCluster = cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(cluster)}`;
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}${onCluster}` });
  await client.command({
    query:
      `CREATE TABLE IF NOT EXISTS ${versionTable}${onCluster} (version UInt32, name String, applied_at DateTime) ` +
      // Replacing on version: two migrators racing record a version twice; it collapses. In cluster
      // mode every server is a replica of one version table (one ZooKeeper path for all shards), so
      // a migrator connected to any server sees what was applied.
      (cluster === undefined
        ? 'ENGINE = ReplacingMergeTree ORDER BY version'
        : `ENGINE = ReplicatedReplacingMergeTree(${quoteString(`/clickhouse/tables/all/${database}/schema_migrations`)}, '{replica}') ORDER BY version`),
  });

  const rs = await client.query({ query: `SELECT DISTINCT version FROM ${versionTable}`, format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: number | string }>()).map((r) => Number(r.version)));

  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    for (const statement of m.statements({ database, features, ...(cluster === undefined ? {} : { cluster }) })) {
      for (const query of cluster === undefined ? [statement] : clusterStatements(statement, { database, cluster })) {
        await client.command({ query });
      }
    }
    await client.command({
      query: `INSERT INTO ${versionTable} (version, name, applied_at) VALUES (${m.version}, ${quoteString(m.name)}, now())`,
    });
    applied.push(m.version);
  }
  return { applied, serverVersion: version };
}

/**
 * Sharding keys of the Distributed tables in cluster mode. A key must be a function of the row
 * only (never `rand()`): a batch re-sent after a lost response must land on the shard that holds
 * the first copy, where the ReplacingMergeTree identity collapses it. Tables not listed shard by
 * a hash of their whole ORDER BY key.
 */
export const SHARDING_KEYS: Readonly<Record<string, string>> = {
  // One instrument of one connection stays on one shard: ladder queries read one shard's parts.
  depth: 'cityHash64(connection, conid)',
  session_events: 'cityHash64(connection)',
};

/** Table suffix of the replicated per-shard tables behind the Distributed ones. */
export const LOCAL_SUFFIX = '_local';

const IDENT = '`(?:[^`\\\\]|\\\\.)+`';
const CREATE_TABLE = new RegExp(
  `^CREATE TABLE IF NOT EXISTS (${IDENT})\\.(${IDENT}) \\(([\\s\\S]*)\\)\\s*ENGINE = (\\w*)MergeTree(?:\\(([^)]*)\\))?([\\s\\S]*)$`,
);
const ALTER_TABLE = new RegExp(`^ALTER TABLE (${IDENT})\\.(${IDENT}) ([\\s\\S]+)$`);
const DROP_TABLE = new RegExp(`^DROP TABLE IF EXISTS (${IDENT})\\.(${IDENT})$`);

function unquote(identifier: string): string {
  return identifier.slice(1, -1).replace(/\\(.)/g, '$1');
}

/**
 * Rewrites one single-server DDL statement into cluster DDL (all ON CLUSTER):
 * - `CREATE TABLE db.T (…) ENGINE = XMergeTree …` → `db.T_local` with
 *   `ReplicatedXMergeTree('/clickhouse/tables/{shard}/db/T_local', '{replica}')`, then `db.T` with
 *   the same columns (codecs dropped) and `Distributed(cluster, db, T_local, shardingKey)`;
 * - `ALTER TABLE db.T` column changes → both tables; other ALTERs (partitions…) → `T_local` only;
 * - `DROP TABLE IF EXISTS db.T` → both.
 * Anything else throws, so a migration that cannot run on a cluster fails loudly instead of
 * creating a table on one server only.
 */
export function clusterStatements(statement: string, ctx: { database: string; cluster: string }): string[] {
  const sql = statement.trim();
  const onCluster = `ON CLUSTER ${quoteIdentifier(ctx.cluster)}`;
  const create = CREATE_TABLE.exec(sql);
  if (create) {
    const [, db, table, columns, flavour, engineArgs, rest] = create as unknown as [string, string, string, string, string, string | undefined, string];
    const name = unquote(table);
    const local = name + LOCAL_SUFFIX;
    const zkPath = `/clickhouse/tables/{shard}/${unquote(db)}/${local}`;
    const args = [quoteString(zkPath), "'{replica}'", ...(engineArgs?.trim() ? [engineArgs.trim()] : [])].join(', ');
    const orderBy = /ORDER BY\s+(\([^)]*\)|\S+)/.exec(rest)?.[1] ?? '';
    const key = SHARDING_KEYS[name] ?? `cityHash64${orderBy.startsWith('(') ? orderBy : `(${orderBy})`}`;
    const distributedColumns = columns.replace(/\s+CODEC\((?:[^()]|\([^()]*\))*\)/g, '');
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(local)} ${onCluster} (${columns})\nENGINE = Replicated${flavour}MergeTree(${args})${rest}`,
      `CREATE TABLE IF NOT EXISTS ${db}.${table} ${onCluster} (${distributedColumns})\n` +
        `ENGINE = Distributed(${quoteString(ctx.cluster)}, ${quoteString(unquote(db))}, ${quoteString(local)}, ${key})`,
    ];
  }
  const alter = ALTER_TABLE.exec(sql);
  if (alter) {
    const [, db, table, change] = alter as unknown as [string, string, string, string];
    const local = `${db}.${quoteIdentifier(unquote(table) + LOCAL_SUFFIX)} ${onCluster} ${change}`;
    const columnChange = /^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR) COLUMN\b/i.test(change.trim());
    return columnChange ? [`ALTER TABLE ${local}`, `ALTER TABLE ${db}.${table} ${onCluster} ${change}`] : [`ALTER TABLE ${local}`];
  }
  const drop = DROP_TABLE.exec(sql);
  if (drop) {
    const [, db, table] = drop as unknown as [string, string, string];
    return [`DROP TABLE IF EXISTS ${db}.${table} ${onCluster}`, `DROP TABLE IF EXISTS ${db}.${quoteIdentifier(unquote(table) + LOCAL_SUFFIX)} ${onCluster}`];
  }
  throw new Error(`cluster mode cannot run this migration statement (only CREATE TABLE IF NOT EXISTS … MergeTree, ALTER TABLE and DROP TABLE IF EXISTS): ${sql.split('\n')[0]}`);
}

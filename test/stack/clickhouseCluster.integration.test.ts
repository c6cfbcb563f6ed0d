/**
 * Cluster mode for real: ZooKeeper (Debian's package, a child process) and two clickhouse-server
 * processes forming the cluster `ibflow` with two shards of one replica each. The migrations run
 * ON CLUSTER (twice: idempotent), the depth sink writes RowBinary into the Distributed `depth`
 * table, rows land on both shards' `depth_local`, and reads through either server see them all;
 * retention drops old days on every shard.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { startLocalCluster, type LocalCluster } from '../../stack/clickhouseCluster';
import { DepthSink } from '../../src/clickhouse/depthSink';
import { clusterStatements, migrate, MIGRATIONS, serverFeatures } from '../../src/clickhouse/migrations';
import type { DepthRow } from '../../src/book/depthRow';
import { freePort } from '../../src/util/freePort';
import { createDropOldDepthPartitions } from '../../activities/dropOldDepthPartitions';
import type { IbflowConfig } from '../../src/config/schema';
import { createLogger } from '../../src/logging/logger';

const CLUSTER = 'ibflow';
const DB = 'ibflow_cluster_test';
let baseDir: string;
let cluster: LocalCluster | undefined;
let clients: ClickHouseClient[] = [];

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
}

beforeAll(async () => {
  baseDir = mkdtempSync(join(tmpdir(), 'ibflow-ch-cluster-'));
  const ports = async () => ({ httpPort: await freePort(), tcpPort: await freePort(), interserverPort: await freePort() });
  cluster = await startLocalCluster({
    baseDir,
    cluster: CLUSTER,
    zookeeperPort: await freePort(),
    nodes: [
      { shard: 1, replica: 's1r1', ...(await ports()) },
      { shard: 2, replica: 's2r1', ...(await ports()) },
    ],
  });
  clients = cluster.nodes.map((n) => createClient({ url: n.url, request_timeout: 120_000, keep_alive: { enabled: false }, log: { level: ClickHouseLogLevel.OFF } }));
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await cluster?.stop();
  if (baseDir && !process.env.IBFLOW_KEEP_TEST_DIRS) rmSync(baseDir, { recursive: true, force: true });
}, 60_000);

test('the two servers see one cluster of two shards, with their own macros', async () => {
  const [a] = clients as [ClickHouseClient];
  const shards = await rows<{ shard_num: number }>(a, `SELECT DISTINCT shard_num FROM system.clusters WHERE cluster = '${CLUSTER}' ORDER BY shard_num`);
  expect(shards.map((r) => Number(r.shard_num))).toEqual([1, 2]);
  const macros = await Promise.all(clients.map((c) => rows<{ macro: string; substitution: string }>(c, "SELECT macro, substitution FROM system.macros WHERE macro = 'shard'")));
  expect(macros.map((m) => m[0]?.substitution)).toEqual(['1', '2']);
  // users.d/cluster.xml: Distributed inserts return once the shards have the rows.
  const sync = await rows<{ value: string }>(a, "SELECT value FROM system.settings WHERE name = 'insert_distributed_sync'");
  expect(sync[0]?.value).toBe('1');
});

test('migrations run ON CLUSTER, create replicated local and Distributed tables, and are idempotent', async () => {
  const [a, b] = clients as [ClickHouseClient, ClickHouseClient];
  const first = await migrate(a, { database: DB, cluster: CLUSTER });
  expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
  // Again from the same server, then from the other one: the replicated version table is shared.
  expect((await migrate(a, { database: DB, cluster: CLUSTER })).applied).toEqual([]);
  expect((await migrate(b, { database: DB, cluster: CLUSTER })).applied).toEqual([]);

  for (const client of clients) {
    const tables = await rows<{ name: string; engine: string }>(client, `SELECT name, engine FROM system.tables WHERE database = '${DB}' ORDER BY name`);
    const engines = Object.fromEntries(tables.map((t) => [t.name, t.engine]));
    expect(engines).toMatchObject({
      depth: 'Distributed',
      depth_local: 'ReplicatedReplacingMergeTree',
      session_events: 'Distributed',
      session_events_local: 'ReplicatedReplacingMergeTree',
      schema_migrations: 'ReplicatedReplacingMergeTree',
    });
  }
});

test('depth rows written by the sink through the Distributed table land on both shards and read back whole', async () => {
  const [a, b] = clients as [ClickHouseClient, ClickHouseClient];
  const sink = new DepthSink({ client: a, database: DB, maxRows: 500 });
  const pushed: DepthRow[] = [];
  // 40 instruments × 2 connections: the sharding key cityHash64(connection, conid) spreads them.
  for (let conid = 1; conid <= 40; conid++) {
    for (const connection of ['conn-a', 'conn-b']) {
      for (let level = 0; level < 5; level++) {
        pushed.push({
          receivedNs: 1_714_550_400_000_000_000n + BigInt(conid * 1000 + level),
          connection,
          pod: 'gw-0',
          conid,
          streamId: `s-${connection}-${conid}`,
          seq: 1,
          kind: 'snapshot',
          side: level % 2 === 0 ? 'bid' : 'ask',
          level,
          price: 100 + level / 100,
          size: 10 + level,
        });
      }
    }
  }
  await sink.push(pushed);
  await sink.flush();
  await sink.close();

  const perShard = await Promise.all(clients.map(async (c) => Number((await rows<{ n: string }>(c, `SELECT count() AS n FROM ${DB}.depth_local`))[0]!.n)));
  expect(perShard.every((n) => n > 0)).toBe(true);
  expect(perShard[0]! + perShard[1]!).toBe(pushed.length);
  for (const client of [a, b]) {
    const total = await rows<{ n: string; conids: string }>(client, `SELECT count() AS n, uniqExact(conid) AS conids FROM ${DB}.depth FINAL`);
    expect({ n: Number(total[0]!.n), conids: Number(total[0]!.conids) }).toEqual({ n: pushed.length, conids: 40 });
  }
  // A re-sent batch lands on the same shard as the first copy and collapses there.
  const again = new DepthSink({ client: b, database: DB, maxRows: 500 });
  await again.push(pushed.slice(0, 50));
  await again.flush();
  await again.close();
  const dedup = await rows<{ n: string }>(a, `SELECT count() AS n FROM ${DB}.depth FINAL`);
  expect(Number(dedup[0]!.n)).toBe(pushed.length);
});

test('cluster rewriting refuses statements it cannot place on a cluster', () => {
  expect(() => clusterStatements('INSERT INTO `x`.`y` VALUES (1)', { database: 'x', cluster: 'c' })).toThrow(/cluster mode cannot run/);
  const ctx = { database: 'ibflow', features: serverFeatures('24.8.1') };
  const [local, distributed] = clusterStatements(MIGRATIONS[0]!.statements(ctx)[0]!, { database: 'ibflow', cluster: 'ibflow' }) as [string, string];
  expect(local).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/ibflow/depth_local', '{replica}')");
  expect(local).toContain('CODEC(');
  expect(distributed).not.toContain('CODEC(');
  expect(distributed).toContain("ENGINE = Distributed('ibflow', 'ibflow', 'depth_local', cityHash64(connection, conid))");
  expect(clusterStatements('ALTER TABLE `ibflow`.`depth` ADD COLUMN x UInt8', { database: 'ibflow', cluster: 'c' })).toHaveLength(2);
  expect(clusterStatements("ALTER TABLE `ibflow`.`depth` DROP PARTITION '2024-05-01'", { database: 'ibflow', cluster: 'c' })).toEqual([
    "ALTER TABLE `ibflow`.`depth_local` ON CLUSTER `c` DROP PARTITION '2024-05-01'",
  ]);
});

test('retention drops old days from every shard (depth_local ON CLUSTER) and keeps recent ones', async () => {
  const [a, b] = clients as [ClickHouseClient, ClickHouseClient];
  const config = { clickhouse: { cluster: CLUSTER } } as IbflowConfig;
  const log = createLogger('test', { write: () => undefined } as never);
  const recentNs = BigInt(Date.now()) * 1_000_000n;
  const sink = new DepthSink({ client: b, database: DB, maxRows: 500 });
  // Recent rows on both shards, next to the 2024 rows of the test before.
  await sink.push(
    Array.from({ length: 40 }, (_, i) => ({
      receivedNs: recentNs + BigInt(i),
      connection: 'conn-recent',
      pod: 'gw-0',
      conid: i + 1,
      streamId: `s-recent-${i}`,
      seq: 1,
      kind: 'snapshot' as const,
      side: 'bid' as const,
      level: 0,
      price: 100,
      size: 1,
    })),
  );
  await sink.flush();
  await sink.close();
  const oldOnShards = async () =>
    Promise.all(clients.map(async (c) => Number((await rows<{ n: string }>(c, `SELECT count() AS n FROM ${DB}.depth_local WHERE connection != 'conn-recent'`))[0]!.n)));
  expect((await oldOnShards()).every((n) => n > 0)).toBe(true);

  const drop = createDropOldDepthPartitions({ config: () => config, clickhouse: a, log });
  const dropped = await drop({ database: DB, retentionDays: 30, nowMs: Date.now() });
  expect(dropped).toEqual(['2024-05-01']);
  expect(await oldOnShards()).toEqual([0, 0]);
  const recent = await rows<{ n: string }>(a, `SELECT count() AS n FROM ${DB}.depth FINAL WHERE connection = 'conn-recent'`);
  expect(Number(recent[0]!.n)).toBe(40);
  // Idempotent: nothing is left to drop.
  expect(await drop({ database: DB, retentionDays: 30, nowMs: Date.now() })).toEqual([]);
});

/**
 * A real replicated, sharded ClickHouse cluster on one machine: Debian's ZooKeeper as a child
 * process plus several `clickhouse-server` processes (embeddedClickHouse.ts), each with a
 * `config.d/cluster.xml` that names the cluster (`remote_servers`), ZooKeeper, the distributed DDL
 * queue and its `{shard}` / `{replica}` macros. Used by test/infra/clickhouseCluster.test.ts to
 * exercise the cluster-mode migrations (ON CLUSTER, Replicated*MergeTree, Distributed) for real;
 * production clusters come from the Altinity operator (infra/k8s/base/clickhouse.yaml), which
 * writes the same settings.
 *
 * ZooKeeper is started with `java -cp <conf>:/usr/share/java/zookeeper.jar ZooKeeperServerMain
 * zoo.cfg` — what Debian's zkServer.sh does without its pid file, log dir and service wrapper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { startEmbeddedClickHouse, type EmbeddedClickHouse } from './embeddedClickHouse';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Where Debian's `zookeeper` package puts its jar (it pulls its dependencies in through the manifest). */
export const DEBIAN_ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';

export interface ZooKeeper {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Sends a four-letter command (`ruok`, `srvr`) and returns the answer, or null when nothing answers. */
export function zkCommand(port: number, command: string, timeoutMs = 2_000): Promise<string | null> {
  return new Promise((resolveAnswer) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('connect', () => socket.end(command));
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolveAnswer(answer === '' ? null : answer);
    });
  });
}

function stopper(child: ChildProcess, exited: () => boolean, exitPromise: Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return () =>
    (stopping ??= (async () => {
      if (exited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitPromise;
      clearTimeout(timer);
    })());
}

/**
 * Starts a standalone ZooKeeper on 127.0.0.1:`port` with its data (and logs) in `dataDir`; resolves
 * once it answers `ruok` with `imok`. Throws, with the tail of its output, if it exits or does not
 * answer within 30 s. `jar` defaults to `$ZOOKEEPER_JAR`, else Debian's.
 */
export async function startZooKeeper(opts: { dataDir: string; port: number; jar?: string; java?: string }): Promise<ZooKeeper> {
  const jar = opts.jar ?? process.env.ZOOKEEPER_JAR ?? DEBIAN_ZOOKEEPER_JAR;
  if (!existsSync(jar)) throw new Error(`ZooKeeper not found at ${jar}: run stack/bootstrap.sh (apt-get install zookeeper) or set ZOOKEEPER_JAR`);
  const dir = resolve(opts.dataDir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(
    cfg,
    [
      'tickTime=2000',
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${opts.port}`,
      'clientPortAddress=127.0.0.1',
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr',
      '',
    ].join('\n'),
  );
  const logPath = join(dir, 'zookeeper.out');
  const out = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      opts.java ?? 'java',
      ['-Xmx256m', `-Dzookeeper.log.dir=${dir}`, '-cp', jar, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg],
      { cwd: dir, stdio: ['ignore', out, out] },
    );
  } finally {
    closeSync(out);
  }
  let exited = false;
  const exitPromise = new Promise<void>((r) => {
    child.once('exit', () => ((exited = true), r()));
    child.once('error', () => ((exited = true), r()));
  });
  const onParentExit = () => void (exited || child.kill('SIGKILL'));
  process.once('exit', onParentExit);
  const stopChild = stopper(child, () => exited, exitPromise);
  const stop = async () => {
    process.removeListener('exit', onParentExit);
    await stopChild();
  };
  const started = Date.now();
  for (;;) {
    // Ours, not another ZooKeeper that already held the port (ours would have exited by then).
    if ((await zkCommand(opts.port, 'ruok', 1_000))?.startsWith('imok') && (await sleep(300), !exited)) break;
    if (exited || Date.now() - started > 30_000) {
      await stop();
      const tail = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2_000) : '';
      throw new Error(`ZooKeeper on 127.0.0.1:${opts.port} did not start (${exited ? 'it exited' : 'no imok within 30 s'}):\n${tail}`);
    }
    await sleep(200);
  }
  return { port: opts.port, process: child, stop };
}

export interface ClusterNode {
  /** 1-based shard number and this server's replica name (unique in the whole cluster). */
  shard: number;
  replica: string;
  httpPort: number;
  tcpPort: number;
  interserverPort: number;
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/**
 * Writes `<dataDir>/config.d/cluster.xml` (merged into config.xml by the server): the cluster
 * `cluster` made of `nodes` (grouped into shards, internal_replication on), ZooKeeper, the
 * distributed DDL queue and the macros of `self`. Also `<dataDir>/users.d/cluster.xml`:
 * `insert_distributed_sync=1` for the default profile, so an INSERT into a Distributed table
 * returns only once every shard has the rows — the sink's at-least-once acknowledgement then means
 * "stored on the shard", not "queued on the server that took the insert".
 */
export function writeClusterConfig(dataDir: string, opts: { cluster: string; nodes: ClusterNode[]; self: ClusterNode; zookeeperPort: number }): void {
  const shards = [...new Set(opts.nodes.map((n) => n.shard))].sort((a, b) => a - b);
  const shardXml = shards
    .map((shard) => {
      const replicas = opts.nodes
        .filter((n) => n.shard === shard)
        .map((n) => `        <replica><host>127.0.0.1</host><port>${n.tcpPort}</port></replica>`)
        .join('\n');
      return `      <shard>\n        <internal_replication>true</internal_replication>\n${replicas}\n      </shard>`;
    })
    .join('\n');
  const config = `<?xml version="1.0"?>
<!-- Written by ibflow's stack/clickhouseCluster.ts. -->
<yandex>
  <remote_servers>
    <${xml(opts.cluster)}>
${shardXml}
    </${xml(opts.cluster)}>
  </remote_servers>
  <zookeeper>
    <node><host>127.0.0.1</host><port>${opts.zookeeperPort}</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
  </zookeeper>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
  <macros>
    <shard>${opts.self.shard}</shard>
    <replica>${xml(opts.self.replica)}</replica>
  </macros>
</yandex>
`;
  const users = `<?xml version="1.0"?>
<!-- Written by ibflow's stack/clickhouseCluster.ts. -->
<yandex>
  <profiles>
    <default>
      <insert_distributed_sync>1</insert_distributed_sync>
    </default>
  </profiles>
</yandex>
`;
  for (const [sub, text] of [['config.d', config], ['users.d', users]] as const) {
    mkdirSync(join(dataDir, sub), { recursive: true });
    writeFileSync(join(dataDir, sub, 'cluster.xml'), text);
  }
}

export interface LocalCluster {
  cluster: string;
  zookeeper: ZooKeeper;
  nodes: (ClusterNode & { server: EmbeddedClickHouse; url: string })[];
  /** Stops every server, then ZooKeeper. Safe to call more than once and after a failed start. */
  stop(): Promise<void>;
}

/**
 * Starts ZooKeeper and one clickhouse-server per node, each under `baseDir/<replica>/`. On a
 * failure half-way, whatever was started is stopped before the error is thrown.
 */
export async function startLocalCluster(opts: {
  baseDir: string;
  cluster: string;
  zookeeperPort: number;
  nodes: ClusterNode[];
  log?: (line: string) => void;
}): Promise<LocalCluster> {
  const started: LocalCluster['nodes'] = [];
  let zookeeper: ZooKeeper | undefined;
  const stop = async () => {
    for (const n of started) await n.server.stop();
    await zookeeper?.stop();
  };
  try {
    zookeeper = await startZooKeeper({ dataDir: join(opts.baseDir, 'zookeeper'), port: opts.zookeeperPort });
    for (const self of opts.nodes) {
      const dataDir = join(opts.baseDir, self.replica);
      writeClusterConfig(dataDir, { cluster: opts.cluster, nodes: opts.nodes, self, zookeeperPort: opts.zookeeperPort });
      const server = await startEmbeddedClickHouse({ dataDir, httpPort: self.httpPort, tcpPort: self.tcpPort, interserverPort: self.interserverPort, log: opts.log });
      started.push({ ...self, server, url: server.url });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster: opts.cluster, zookeeper, nodes: started, stop };
}

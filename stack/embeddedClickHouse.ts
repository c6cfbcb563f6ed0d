/**
 * Runs a private `clickhouse-server` as a child process: loopback only, its own ports, its data,
 * temp files and logs under one directory. Used by the embedded stack and by integration tests.
 *
 * Works with Debian's clickhouse-server 18.16 (`/usr/sbin/clickhouse-server`) and with the
 * single-binary builds (`clickhouse server`). No pid file is written, so several instances run side
 * by side as long as their ports and data directories differ.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { basename, delimiter, join, resolve } from 'node:path';

export interface EmbeddedClickHouseOptions {
  /** Everything lives here: config.xml, users.xml, data/, tmp/, user_files/, format_schemas/, logs/. */
  dataDir: string;
  httpPort: number;
  tcpPort: number;
  /** Only needed for replication; left closed when not given. */
  interserverPort?: number;
  /** Receives progress lines (not the server's own log, which goes to dataDir/logs). */
  log?: (line: string) => void;
  /** Users besides the passwordless `default`; {@link EMBEDDED_IBFLOW_USERS} unless given. */
  users?: readonly EmbeddedClickHouseUser[];
}

/**
 * A users.xml user (the server has no GRANT before 20.x): what 18.16 can restrict is read-only
 * mode and which databases a user sees.
 */
export interface EmbeddedClickHouseUser {
  name: string;
  /** Plain text; none (passwordless) when not given. Loopback only either way. */
  password?: string;
  /** 0 = may write and run DDL; 1 = reads only, may not change settings; 2 = reads only, may change settings. */
  readonly: 0 | 1 | 2;
  /** `allow_databases`: only these databases (18.16 still lets every user read `system`); all when not given. */
  databases?: readonly string[];
}

/**
 * The three ibflow roles as closely as 18.16 allows: the reader cannot write; ingest and migrator
 * write, but only to the `ibflow` database — 18.16 cannot tell an INSERT from a DROP TABLE there.
 * Passwordless on loopback like `default`, which the stack and tests keep using.
 */
export const EMBEDDED_IBFLOW_USERS: readonly EmbeddedClickHouseUser[] = [
  { name: 'ibflow_ingest', readonly: 0, databases: ['ibflow'] },
  { name: 'ibflow_reader', readonly: 1, databases: ['ibflow'] },
  { name: 'ibflow_migrator', readonly: 0, databases: ['ibflow'] },
];

export interface EmbeddedClickHouse {
  /** http://127.0.0.1:PORT */
  url: string;
  process: ChildProcess;
  /** SIGTERM, wait for exit; SIGKILL after ~10 s. Safe to call more than once. */
  stop(): Promise<void>;
}

/** How long to wait for `/ping` before giving up. */
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_BYTES = 4_000;

const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/opt/clickhouse/bin'];

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the server binary: `$CLICKHOUSE_SERVER_BIN` if set, else `clickhouse-server` on PATH or in
 * the usual system folders, else the single `clickhouse` binary (run as `clickhouse server`).
 * Throws an error that says how to install it when none is found.
 */
export function clickHouseServerBinary(): string {
  const fromEnv = process.env.CLICKHOUSE_SERVER_BIN;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`CLICKHOUSE_SERVER_BIN=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SEARCH_DIRS];
  for (const name of ['clickhouse-server', 'clickhouse']) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  throw new Error(
    'clickhouse-server not found (looked for clickhouse-server and clickhouse on PATH and in ' +
      `${SEARCH_DIRS.join(', ')}). Install it with \`apt-get install clickhouse-server\` ` +
      'or point CLICKHOUSE_SERVER_BIN at the binary.',
  );
}

function xml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function checkPort(name: string, port: number | undefined): void {
  if (port === undefined) return;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`${name}: ${port} is not a TCP port`);
}

function userXml(u: EmbeddedClickHouseUser): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(u.name) || u.name === 'default') throw new RangeError(`users: "${u.name}" is not a plain user name other than default`);
  const dbs = u.databases ? `      <allow_databases>\n${u.databases.map((d) => `        <database>${xml(d)}</database>\n`).join('')}      </allow_databases>\n` : '';
  return (
    `    <${u.name}>\n      <password>${xml(u.password ?? '')}</password>\n` +
    '      <networks>\n        <ip>127.0.0.1</ip>\n        <ip>::1</ip>\n      </networks>\n' +
    `      <profile>${u.readonly === 0 ? 'default' : `readonly_${u.readonly}`}</profile>\n      <quota>default</quota>\n${dbs}    </${u.name}>\n`
  );
}

/** Writes config.xml and users.xml under `dataDir` (creating the folders) and returns config.xml's path. */
export function writeClickHouseConfig(opts: EmbeddedClickHouseOptions): string {
  checkPort('httpPort', opts.httpPort);
  checkPort('tcpPort', opts.tcpPort);
  checkPort('interserverPort', opts.interserverPort);
  const dir = resolve(opts.dataDir);
  const sub = (name: string): string => {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    return path + '/';
  };
  const data = sub('data');
  const tmp = sub('tmp');
  const userFiles = sub('user_files');
  const formatSchemas = sub('format_schemas');
  const logs = sub('logs');
  const usersPath = join(dir, 'users.xml');
  const configPath = join(dir, 'config.xml');

  const interserver =
    opts.interserverPort === undefined ? '' : `\n  <interserver_http_port>${opts.interserverPort}</interserver_http_port>`;
  const config = `<?xml version="1.0"?>
<!-- Written by ibflow's embeddedClickHouse.ts; rewritten on every start. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${xml(join(logs, 'clickhouse-server.log'))}</log>
    <errorlog>${xml(join(logs, 'clickhouse-server.err.log'))}</errorlog>
    <size>100M</size>
    <count>3</count>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${opts.httpPort}</http_port>
  <tcp_port>${opts.tcpPort}</tcp_port>${interserver}
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${xml(data)}</path>
  <tmp_path>${xml(tmp)}</tmp_path>
  <user_files_path>${xml(userFiles)}</user_files_path>
  <format_schema_path>${xml(formatSchemas)}</format_schema_path>
  <users_config>${xml(usersPath)}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
`;
  const extraUsers = opts.users ?? EMBEDDED_IBFLOW_USERS;
  const readonlyLevels = [...new Set(extraUsers.map((u) => u.readonly))].filter((r) => r !== 0);
  const users = `<?xml version="1.0"?>
<!-- Written by ibflow's embeddedClickHouse.ts: the passwordless default user and ibflow's role users, loopback only. -->
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
${readonlyLevels.map((r) => `    <readonly_${r}>
      <profile>default</profile>
      <readonly>${r}</readonly>
    </readonly_${r}>
`).join('')}  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
${extraUsers.map(userXml).join('')}  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;
  writeFileSync(usersPath, users);
  writeFileSync(configPath, config);
  return configPath;
}

/** Last `bytes` of a file, or '' if it cannot be read. */
function tail(path: string, bytes = LOG_TAIL_BYTES): string {
  try {
    if (!existsSync(path)) return '';
    const text = readFileSync(path, 'utf8');
    return text.length > bytes ? '…' + text.slice(text.length - bytes) : text;
  } catch {
    return '';
  }
}

/** GET `url`; resolves the body on HTTP 200, null on anything else. */
function httpGet(url: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolveGet) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet(res.statusCode === 200 ? body : null));
      res.on('error', () => resolveGet(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveGet(null));
    req.end();
  });
}

const INSTANCE_ID_FILE = 'ibflow-instance-id';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves true if `promise` settles within `ms`, false otherwise; leaves no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes the config, spawns the server (stdout/stderr to dataDir/logs/stdout.log, stderr.log) and
 * resolves once `/ping` answers. Rejects — after killing the process — if it exits early or does
 * not answer within 30 s; the error carries the tail of its stderr and error log.
 */
export async function startEmbeddedClickHouse(opts: EmbeddedClickHouseOptions): Promise<EmbeddedClickHouse> {
  const log = opts.log ?? (() => undefined);
  const binary = clickHouseServerBinary();
  const configPath = writeClickHouseConfig(opts);
  const logsDir = join(resolve(opts.dataDir), 'logs');
  const stdoutPath = join(logsDir, 'stdout.log');
  const stderrPath = join(logsDir, 'stderr.log');
  const errLogPath = join(logsDir, 'clickhouse-server.err.log');
  const url = `http://127.0.0.1:${opts.httpPort}`;
  // A random id the server can read back through file(): proves that whatever answers on the port
  // is this process and not another instance that already holds it.
  const instanceId = randomBytes(12).toString('hex');
  writeFileSync(join(resolve(opts.dataDir), 'user_files', INSTANCE_ID_FILE), instanceId + '\n');
  const whoAmI =
    `${url}/?query=` + encodeURIComponent(`SELECT id FROM file('${INSTANCE_ID_FILE}', 'TSV', 'id String')`);

  const args = basename(binary) === 'clickhouse' ? ['server', `--config-file=${configPath}`] : [`--config-file=${configPath}`];
  log(`starting ${binary} ${args.join(' ')} (http ${opts.httpPort}, tcp ${opts.tcpPort})`);
  const out = openSync(stdoutPath, 'a');
  const err = openSync(stderrPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { cwd: resolve(opts.dataDir), stdio: ['ignore', out, err], detached: false });
  } finally {
    // The child holds its own copies of the descriptors.
    closeSync(out);
    closeSync(err);
  }

  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  const exitPromise = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolveExit();
    });
    child.once('error', (e) => {
      spawnError = e;
      if (child.pid === undefined) {
        exited = { code: null, signal: null };
        resolveExit();
      }
    });
  });

  // If this Node process exits without calling stop(), do not leave the server behind.
  const onParentExit = (): void => {
    if (exited === null) child.kill('SIGTERM');
  };
  process.once('exit', onParentExit);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', onParentExit);
      if (exited !== null) return;
      child.kill('SIGTERM');
      const graceful = await within(exitPromise, STOP_GRACE_MS);
      if (!graceful && exited === null) {
        log(`clickhouse-server pid ${child.pid} did not stop within ${STOP_GRACE_MS} ms; sending SIGKILL`);
        child.kill('SIGKILL');
        await exitPromise;
      }
      log(`clickhouse-server on ${url} stopped`);
    })();
    return stopping;
  };

  const describeFailure = (what: string): Error => {
    const stderrTail = tail(stderrPath).trim();
    const errLogTail = tail(errLogPath).trim();
    return new Error(
      `${what} (binary ${binary}, config ${configPath}).` +
        (spawnError ? `\nspawn error: ${(spawnError as Error).message}` : '') +
        `\n--- tail of ${stderrPath} ---\n${stderrTail || '(empty)'}` +
        `\n--- tail of ${errLogPath} ---\n${errLogTail || '(empty)'}`,
    );
  };

  const started = Date.now();
  for (;;) {
    if (exited !== null) {
      process.removeListener('exit', onParentExit);
      const { code, signal } = exited as { code: number | null; signal: NodeJS.Signals | null };
      throw describeFailure(`clickhouse-server exited during start-up (code ${code}, signal ${signal})`);
    }
    const pong = await httpGet(`${url}/ping`, 1_000);
    if (pong !== null && pong.startsWith('Ok')) {
      const answer = await httpGet(whoAmI, 5_000);
      if (answer !== null && answer.trim() === instanceId && exited === null) break;
      if (answer !== null && answer.trim() !== instanceId) {
        // Someone else answers on our port; ours will fail to bind and exit — report that.
        await within(exitPromise, 5_000);
        if (exited === null) await stop();
        throw describeFailure(`another server already answers on ${url}`);
      }
    }
    if (Date.now() - started > START_TIMEOUT_MS) {
      await stop();
      throw describeFailure(`clickhouse-server did not answer ${url}/ping within ${START_TIMEOUT_MS / 1000} s`);
    }
    await sleep(100);
  }
  log(`clickhouse-server pid ${child.pid} ready on ${url} after ${Date.now() - started} ms`);
  return { url, process: child, stop };
}

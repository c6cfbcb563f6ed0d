import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import {
  clickHouseServerBinary,
  startEmbeddedClickHouse,
  writeClickHouseConfig,
  type EmbeddedClickHouse,
} from '../../stack/embeddedClickHouse';
import { freePort } from '../../src/util/freePort';

const dirs: string[] = [];
const servers: EmbeddedClickHouse[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-ch-embedded-'));
  dirs.push(dir);
  return dir;
}
async function start(dataDir: string, httpPort?: number, tcpPort?: number): Promise<EmbeddedClickHouse> {
  const server = await startEmbeddedClickHouse({ dataDir, httpPort: httpPort ?? (await freePort()), tcpPort: tcpPort ?? (await freePort()) });
  servers.push(server);
  return server;
}

afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('clickHouseServerBinary', () => {
  it('finds an executable server binary', () => {
    expect(clickHouseServerBinary()).toMatch(/clickhouse(-server)?$/);
  });

  it('explains a bad CLICKHOUSE_SERVER_BIN', () => {
    const saved = process.env.CLICKHOUSE_SERVER_BIN;
    process.env.CLICKHOUSE_SERVER_BIN = '/nonexistent/clickhouse-server';
    try {
      expect(() => clickHouseServerBinary()).toThrow(/CLICKHOUSE_SERVER_BIN=\/nonexistent\/clickhouse-server is not an executable/);
    } finally {
      if (saved === undefined) delete process.env.CLICKHOUSE_SERVER_BIN;
      else process.env.CLICKHOUSE_SERVER_BIN = saved;
    }
  });
});

describe('writeClickHouseConfig', () => {
  it('writes a loopback-only config with our ports and paths under dataDir', () => {
    const dir = tempDir();
    const path = writeClickHouseConfig({ dataDir: dir, httpPort: 18123, tcpPort: 19000 });
    expect(path).toBe(join(dir, 'config.xml'));
    const xml = readFileSync(path, 'utf8');
    expect(xml).toContain('<listen_host>127.0.0.1</listen_host>');
    expect(xml).toContain('<http_port>18123</http_port>');
    expect(xml).toContain('<tcp_port>19000</tcp_port>');
    expect(xml).not.toContain('interserver_http_port');
    expect(xml).toContain(`<path>${join(dir, 'data')}/</path>`);
    expect(xml).toContain(`<log>${join(dir, 'logs', 'clickhouse-server.log')}</log>`);
    expect(existsSync(join(dir, 'users.xml'))).toBe(true);
    expect(readFileSync(join(dir, 'users.xml'), 'utf8')).toContain('<ip>127.0.0.1</ip>');
    const withInterserver = readFileSync(writeClickHouseConfig({ dataDir: dir, httpPort: 1, tcpPort: 2, interserverPort: 3 }), 'utf8');
    expect(withInterserver).toContain('<interserver_http_port>3</interserver_http_port>');
    expect(() => writeClickHouseConfig({ dataDir: dir, httpPort: 70000, tcpPort: 2 })).toThrow(/httpPort/);
  });
});

describe('startEmbeddedClickHouse', () => {
  it('serves on loopback, logs to dataDir/logs, keeps data across restarts, runs beside another instance', async () => {
    const dir = tempDir();
    const httpPort = await freePort();
    const tcpPort = await freePort();
    const first = await start(dir, httpPort, tcpPort);
    expect(first.url).toBe(`http://127.0.0.1:${httpPort}`);
    const other = await start(tempDir());

    const client = createClient({ url: first.url, log: { level: ClickHouseLogLevel.OFF } });
    await client.command({ query: 'CREATE TABLE default.persist (x UInt8) ENGINE = MergeTree ORDER BY x' });
    await client.command({ query: 'INSERT INTO default.persist VALUES (7)' });
    expect((await client.ping()).success).toBe(true);

    const otherClient = createClient({ url: other.url, log: { level: ClickHouseLogLevel.OFF } });
    const otherTables = await (await otherClient.query({ query: "SELECT name FROM system.tables WHERE database = 'default'", format: 'JSONEachRow' })).json();
    expect(otherTables).toEqual([]);
    await otherClient.close();

    await first.stop();
    expect(first.process.exitCode !== null || first.process.signalCode !== null).toBe(true);
    await first.stop(); // idempotent
    expect(existsSync(join(dir, 'logs', 'clickhouse-server.log'))).toBe(true);

    const again = await start(dir, httpPort, tcpPort);
    const rows = await (await client.query({ query: 'SELECT x FROM default.persist', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([{ x: 7 }]);
    await client.close();
    await again.stop();
    expect((await fetch(`${other.url}/ping`)).ok).toBe(true); // untouched by the restarts
    await other.stop();
  });

  it('fails clearly, with the server log tail, when its port is taken', async () => {
    const httpPort = await freePort();
    // Something else holds the port (and hangs up on whoever connects).
    const blocker: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => blocker.listen(httpPort, '127.0.0.1', r));
    try {
      await expect(start(tempDir(), httpPort)).rejects.toThrow(/exited during start-up[\s\S]*tail of [\s\S]*(Address already in use|bind)/i);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

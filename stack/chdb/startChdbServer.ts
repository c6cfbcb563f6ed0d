/**
 * Starts stack/chdb/chdbHttpServer.py: a ClickHouse HTTP interface over a chDB session (a current
 * ClickHouse engine, in-process in that Python child), so the real @clickhouse/client and ibflow's
 * own code run unchanged against it. Used by tests to execute the modern schema branch; see the
 * shim's docstring and docs/development.md for what it does not do (no users, one query at a time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../../src/util/freePort';
import { TOOLS_DIR } from '../projectPaths';

export interface ChdbServerOptions {
  /** The chDB session directory (databases, tables, the shim's temp files); the caller owns it. */
  dataDir: string;
  /** Default: a free loopback port. */
  port?: number;
  /** Default: `.tools/venv/bin/python` (stack/bootstrap.sh installs chdb there). */
  python?: string;
  /** How long to wait for `/ping`; default 60 s (the first import of chdb loads a ~500 MB library). */
  startTimeoutMs?: number;
}

export interface ChdbServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  process: ChildProcess;
  /** SIGTERM, wait for exit (SIGKILL after 5 s). Safe to call more than once. */
  stop(): Promise<void>;
}

const SCRIPT = join(__dirname, 'chdbHttpServer.py');
const STDERR_TAIL = 4_000;

function ping(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/ping`, { method: 'GET', timeout: 1_000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function startChdbServer(opts: ChdbServerOptions): Promise<ChdbServer> {
  const python = opts.python ?? join(TOOLS_DIR, 'venv/bin/python');
  if (!existsSync(python)) throw new Error(`${python} is missing: run \`bash stack/bootstrap.sh\` (installs chdb from PyPI into .tools/venv)`);
  mkdirSync(opts.dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  // stdin stays open as a lifeline: the shim exits when it closes, so a test runner that dies leaves no server.
  const child = spawn(python, [SCRIPT, '--port', String(port), '--data', opts.dataDir], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, TZ: 'UTC' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-STDERR_TAIL)));
  let exited: string | null = null;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = err.message;
      resolve();
    });
  });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || exited !== null) return;
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.kill('SIGTERM');
    await exitedPromise;
    clearTimeout(killer);
    child.stdin?.destroy();
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== null) {
      throw new Error(`the chDB HTTP shim exited (${exited}) before answering /ping${stderr ? `:\n${stderr.trim()}` : ''}`);
    }
    if (await ping(url)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the chDB HTTP shim did not answer ${url}/ping within ${opts.startTimeoutMs ?? 60_000} ms${stderr ? `:\n${stderr.trim()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, process: child, stop };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import { temporalBinary } from './projectPaths';

export interface TemporalDevServerOptions {
  port: number;
  uiPort: number;
  /** SQLite file: workflows survive restarts of the dev server. */
  dbFile: string;
  logFile: string;
}

export interface TemporalDevServer {
  address: string;
  uiUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The Temporal CLI dev server with its Web UI, loopback only, with the search attributes the
 * workflows upsert registered at start (the CLI's --search-attribute flag is idempotent).
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  mkdirSync(dirname(opts.dbFile), { recursive: true });
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--db-filename', opts.dbFile,
    '--log-level', 'warn',
    ...SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(temporalBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  // The end of what it wrote, kept here: its reason for exiting (a port in use) goes into the error.
  let tail = '';
  const keepTail = (chunk: Buffer) => void (tail = (tail + chunk.toString('utf8')).slice(-2_000));
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const address = `127.0.0.1:${opts.port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('close', (code) => reject(new Error(`temporal dev server exited with ${code}: ${lastLine(tail)}; see ${opts.logFile}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitForTemporal(address, 60_000), exited]);
  return {
    address,
    uiUrl: `http://127.0.0.1:${opts.uiPort}`,
    process: child,
    stop: () => stopChild(child),
  };
}

export async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = (err as Error).message;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${lastError}`);
}

export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function temporalPaths(stateDir: string): { dbFile: string; logFile: string } {
  return { dbFile: join(stateDir, 'temporal', 'temporal.db'), logFile: join(stateDir, 'logs', 'temporal.log') };
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? 'no output').slice(0, 300);
}

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { stopChild } from './temporalDevServer';
import type { RunningService } from './supervisor';

export interface LoggedChildOptions {
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Ready when a line of its output matches; rejects if it exits first or takes longer than timeoutMs. */
  readyWhen: RegExp;
  timeoutMs?: number;
}

/** Spawns a child whose output goes to a log file (not our terminal) and waits until it says it is ready. */
export function startLoggedChild(opts: LoggedChildOptions): Promise<RunningService> {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(opts.command, opts.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  return new Promise((resolve, reject) => {
    let seen = '';
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${opts.args.slice(0, 3).join(' ')} was not ready within ${opts.timeoutMs ?? 60_000} ms; see ${opts.logFile}`));
    }, opts.timeoutMs ?? 60_000);
    const watch = (chunk: Buffer) => {
      log.write(chunk);
      if (settled) return;
      seen = (seen + chunk.toString('utf8')).slice(-8192);
      if (opts.readyWhen.test(seen)) {
        settled = true;
        clearTimeout(timer);
        resolve({ process: child, stop: () => stopChild(child) });
      }
    };
    child.stdout?.on('data', watch);
    child.stderr?.on('data', watch);
    child.once('exit', (code, signal) => {
      log.end();
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${opts.args.slice(0, 3).join(' ')} exited (${code ?? signal}) before it was ready; see ${opts.logFile}`));
    });
  });
}

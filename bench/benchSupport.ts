/**
 * What every benchmark here shares: its command-line numbers, medians and spreads, the machine
 * line (node, CPU, commit, load average) printed with each run, and a forced garbage collection
 * before each timed section so one section's garbage is not collected on the next one's clock.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** `--name N` from the command line: a positive number (an integer unless `fraction`), else `fallback`. */
export function numberArg(name: string, fallback: number, opts: { fraction?: boolean } = {}): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const text = process.argv[i + 1];
  const value = Number(text);
  const ok = opts.fraction ? Number.isFinite(value) && value > 0 : Number.isSafeInteger(value) && value > 0;
  if (!ok) throw new Error(`--${name}: ${text ?? '(missing)'} is not a positive ${opts.fraction ? 'number' : 'integer'}`);
  return value;
}

/** `--name` given on the command line. */
export function flagArg(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `median (min–max)` with `digits` decimals. */
export function spread(xs: readonly number[], digits = 2, unit = ''): string {
  const f = (x: number) => `${x.toFixed(digits)}${unit}`;
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
}

/** A rate with thousands separators. */
export function rate(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

export function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} + uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

/** The line a run starts with, so a printed figure carries its date, machine and load. */
export function machineLine(): string {
  const cpu = cpus();
  return `${new Date().toISOString()} · node ${process.version} · ${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length} · commit ${commit()} · load average ${loadAverage()}`;
}

let gcFn: (() => void) | null | undefined;

/** Collects garbage now (V8's `gc`, exposed at run time); a no-op where V8 refuses. */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

export function elapsedMs(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** One process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime. */
  cpuSeconds: number;
  /** VmRSS. */
  rssBytes: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** A process's parent, name, CPU time and resident memory from /proc; null once it has gone. */
export function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the parenthesised name (which may hold spaces): state, ppid, …, utime (14th), stime (15th).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { pid, ppid: Number(f[1]), comm, cpuSeconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND, rssBytes: rssKb * 1024 };
  } catch {
    return null;
  }
}

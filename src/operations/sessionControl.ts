import type { Client, WorkflowHandle } from '@temporalio/client';
import { depthWorkflowId, sessionWorkflowId } from '../contract/ids';
import type { ReloginResult, SessionStatus } from '../contract/sessionStatus';
import { isNotFound, shortReason, withDeadline } from '../temporal/temporalRpc';
import { forceReloginSignal, pauseSignal, reloginUpdate, resumeSignal, statusQuery, stopDepthSignal, stopSignal } from '../../workflows/messages';
import { NoAnswerError, RequestRefusedError, StateNotReachedError, WorkflowMissingError, WorkflowNotRunningError } from './errors';

/** What the session operations need of a connection (a ConnectionConfig fits). */
export interface SessionTarget {
  id: string;
  mode: string;
  username: string;
}

const RPC_DEADLINE_MS = 10_000;

/** One connection's session as a face shows it: the safe status and whether its workflow runs. */
export interface SessionStatusRow {
  connectionId: string;
  mode: string;
  username: string;
  workflowId: string;
  /** null when the workflow has not been started (or cannot be asked). */
  status: SessionStatus | null;
  workflow: 'running' | 'closed' | 'not_started' | 'unknown';
  error?: string;
}

/** The safe status of one session workflow (also of a closed one: its last status). */
export function querySessionStatus(client: Client, username: string, deadlineMs = RPC_DEADLINE_MS): Promise<SessionStatus> {
  const handle = client.workflow.getHandle(sessionWorkflowId(username));
  return withDeadline(client, deadlineMs, () => handle.query(statusQuery));
}

/** Status row of one connection; never throws for a missing or unanswering workflow (the row says so). */
export async function sessionStatusRow(client: Client, c: SessionTarget): Promise<SessionStatusRow> {
  const workflowId = sessionWorkflowId(c.username);
  const row: SessionStatusRow = { connectionId: c.id, mode: c.mode, username: c.username, workflowId, status: null, workflow: 'unknown' };
  const handle = client.workflow.getHandle(workflowId);
  try {
    const desc = await withDeadline(client, RPC_DEADLINE_MS, () => handle.describe());
    row.workflow = desc.status.name === 'RUNNING' ? 'running' : 'closed';
    row.status = await withDeadline(client, RPC_DEADLINE_MS, () => handle.query(statusQuery));
  } catch (err) {
    if (isNotFound(err)) row.workflow = 'not_started';
    else row.error = shortReason(err);
  }
  return row;
}

export function sessionStatusRows(client: Client, connections: readonly SessionTarget[]): Promise<SessionStatusRow[]> {
  return Promise.all(connections.map((c) => sessionStatusRow(client, c)));
}

/** The handle of a running session workflow; WorkflowMissingError / WorkflowNotRunningError otherwise. */
export async function runningSession(client: Client, c: SessionTarget): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(sessionWorkflowId(c.username));
  let status: string;
  try {
    status = (await withDeadline(client, RPC_DEADLINE_MS, () => handle.describe())).status.name;
  } catch (err) {
    if (isNotFound(err)) throw new WorkflowMissingError(c.id, handle.workflowId);
    throw err;
  }
  if (status !== 'RUNNING') throw new WorkflowNotRunningError(c.id, handle.workflowId, status.toLowerCase());
  return handle;
}

export type ReloginProgress = { kind: 'started'; workflowId: string } | { kind: 'status'; status: SessionStatus };

export interface ReloginOptions {
  /** Give up waiting after this long (the session keeps trying); default 11 min. */
  timeoutMs?: number;
  /** Told once the update is sent, then of every change of state or reason while it runs. */
  onProgress?: (event: ReloginProgress) => void;
  /** How often the status is polled for progress. */
  pollMs?: number;
}

/**
 * A fresh browser login now (the `relogin` update): resolves once the session is usable again or
 * has failed. RequestRefusedError when the workflow refuses (e.g. paused), NoAnswerError on timeout.
 */
export async function relogin(client: Client, c: SessionTarget, opts: ReloginOptions = {}): Promise<ReloginResult> {
  const handle = await runningSession(client, c);
  opts.onProgress?.({ kind: 'started', workflowId: handle.workflowId });
  const update = handle.executeUpdate(reloginUpdate).catch((err: unknown) => {
    throw new RequestRefusedError(shortReason(err));
  });
  const timeoutMs = opts.timeoutMs ?? 11 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerError(timeoutMs)), timeoutMs);
    timer.unref();
  });
  try {
    return await watchWhile(client, handle, Promise.race([update, timeout]), opts.pollMs ?? 1000, opts.onProgress);
  } finally {
    clearTimeout(timer);
  }
}

/** Reports status changes while `until` runs. */
async function watchWhile<T>(client: Client, handle: WorkflowHandle, until: Promise<T>, pollMs: number, onProgress?: (event: ReloginProgress) => void): Promise<T> {
  if (!onProgress) return until;
  let last = '';
  let done = false;
  const watcher = (async () => {
    while (!done) {
      try {
        const status = await withDeadline(client, 5_000, () => handle.query(statusQuery));
        const key = `${status.state}\u0000${status.reason}`;
        if (key !== last && !done) onProgress({ kind: 'status', status });
        last = key;
      } catch {
        // a missed poll is fine; the result still comes
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  })();
  try {
    return await until;
  } finally {
    done = true;
    await watcher;
  }
}

export interface PauseOptions {
  /** Wait until the state follows (default true). */
  wait?: boolean;
  timeoutMs?: number;
  /** Told once the signal is delivered. */
  onSent?: (workflowId: string) => void;
  pollMs?: number;
}

/**
 * Sends `pause` or `resume` to a running session workflow and, unless `wait` is false, waits until
 * the state follows: returns that status (null without waiting); StateNotReachedError on timeout.
 */
export async function setSessionPaused(client: Client, c: SessionTarget, paused: boolean, opts: PauseOptions = {}): Promise<SessionStatus | null> {
  const handle = await runningSession(client, c);
  await withDeadline(client, RPC_DEADLINE_MS, () => handle.signal(paused ? pauseSignal : resumeSignal));
  opts.onSent?.(handle.workflowId);
  if (opts.wait === false) return null;
  const timeoutMs = opts.timeoutMs ?? 3 * 60_000;
  const followed = (s: SessionStatus | null) => s !== null && (paused ? s.state === 'paused' : s.state !== 'paused');
  const deadline = Date.now() + timeoutMs;
  let s: SessionStatus | null = null;
  while (Date.now() < deadline) {
    s = await withDeadline(client, RPC_DEADLINE_MS, () => handle.query(statusQuery)).catch(() => null);
    if (followed(s)) break;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
  if (!followed(s)) throw new StateNotReachedError(paused ? 'paused' : 'not paused', s?.state ?? null, timeoutMs);
  return s;
}

/** Signals `pause` or `resume` without checking the workflow first or waiting (the soak's operator). */
export async function signalPaused(client: Client, username: string, paused: boolean): Promise<void> {
  const handle = client.workflow.getHandle(sessionWorkflowId(username));
  await withDeadline(client, RPC_DEADLINE_MS, () => handle.signal(paused ? pauseSignal : resumeSignal));
}

/** Signals `forceRelogin` (fire and forget: the workflow logs in fresh when it can). */
export async function forceRelogin(client: Client, username: string): Promise<void> {
  const handle = client.workflow.getHandle(sessionWorkflowId(username));
  await withDeadline(client, RPC_DEADLINE_MS, () => handle.signal(forceReloginSignal));
}

/** Ends a session workflow at once, without the `stop` signal (benchmarks restarting it with other inputs). */
export async function terminateSession(client: Client, username: string, reason: string): Promise<void> {
  const handle = client.workflow.getHandle(sessionWorkflowId(username));
  await withDeadline(client, RPC_DEADLINE_MS, () => handle.terminate(reason));
}

export interface StopOptions {
  /** How long each workflow may take to end after `stop` before it is terminated. */
  graceMs?: number;
  /** Reason recorded on a termination. */
  terminateReason: string;
  onStopped?: (what: 'session' | 'depth', workflowId: string) => void;
}

/**
 * Stops the session and depth workflows of a connection: the `stop` signal, then terminate after
 * the grace period. Missing or closed workflows are skipped; returns which were stopped.
 */
export async function stopConnectionWorkflows(client: Client, c: SessionTarget, opts: StopOptions): Promise<('session' | 'depth')[]> {
  const stopped: ('session' | 'depth')[] = [];
  for (const [workflowId, what] of [
    [sessionWorkflowId(c.username), 'session'],
    [depthWorkflowId(c.id), 'depth'],
  ] as const) {
    const handle = client.workflow.getHandle(workflowId);
    try {
      const desc = await withDeadline(client, RPC_DEADLINE_MS, () => handle.describe());
      if (desc.status.name !== 'RUNNING') continue;
      await withDeadline(client, RPC_DEADLINE_MS, () => handle.signal(what === 'session' ? stopSignal : stopDepthSignal));
      const ended = await Promise.race([handle.result().then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), opts.graceMs ?? 30_000).unref())]);
      if (!ended) await withDeadline(client, RPC_DEADLINE_MS, () => handle.terminate(opts.terminateReason));
      stopped.push(what);
      opts.onStopped?.(what, workflowId);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return stopped;
}

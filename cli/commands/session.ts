import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { findConnection } from '../../src/config/loadConfig';
import type { ConnectionConfig, IbflowConfig } from '../../src/config/schema';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { ReloginResult, SessionStatus } from '../../src/contract/sessionStatus';
import { pauseSignal, reloginUpdate, resumeSignal, statusQuery } from '../../workflows/messages';
import { configOption, readConfig } from '../support/configFile';
import { CliError, EXIT, notFound } from '../support/errors';
import { note, out, printJson, table } from '../support/io';
import { parseDuration, ago } from '../support/time';
import { isNotFound, shortReason, withDeadline, withTemporal } from '../support/temporal';

export function registerSessionCommand(program: Command): void {
  const session = program
    .command('session')
    .description('See and steer the session workflows (one per IBKR username)')
    .addHelpText('after', '\nExamples:\n  ibflow session status\n  ibflow session relogin me-live\n  ibflow session pause me-live && ibflow session resume me-live\n');

  session
    .command('status [id]')
    .description("Every session's safe status from Temporal (state, since, last login, failures, next attempt, reason)")
    .option(...configOption)
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  ibflow session status\n  ibflow session status me-live --json\n')
    .action((id: string | undefined, flags: { config?: string; json?: boolean }) => status(id, flags));

  session
    .command('relogin <id>')
    .description('Force a fresh browser login now and wait until the session is usable or has failed')
    .option(...configOption)
    .option('--json', 'print the result as JSON')
    .option('--timeout <duration>', 'give up waiting after this long (the session keeps trying)', '11m')
    .addHelpText('after', '\nExit code 0 when the session is usable again, 1 when the login failed (the reason says why).\n\nExamples:\n  ibflow session relogin me-live\n')
    .action(async (id: string, flags: { config?: string; json?: boolean; timeout: string }) => {
      const config = readConfig(flags);
      await runRelogin(config, findConnection(config, id), { json: Boolean(flags.json), timeoutMs: parseDuration(flags.timeout, '--timeout') });
    });

  for (const [name, description] of [
    ['pause', 'Stop keepalive and logins until resume (e.g. while you use TWS with the same username)'],
    ['resume', 'Resume a paused session (also acknowledges manual_action_required)'],
  ] as const) {
    session
      .command(`${name} <id>`)
      .description(description)
      .option(...configOption)
      .option('--no-wait', 'send the signal and return at once')
      .option('--timeout <duration>', 'how long to wait for the state to follow', '3m')
      .option('--json', 'print the final status as JSON')
      .addHelpText('after', `\nExamples:\n  ibflow session ${name} me-live\n`)
      .action(async (id: string, flags: { config?: string; wait: boolean; timeout: string; json?: boolean }) => {
        const config = readConfig(flags);
        await pauseOrResume(config, findConnection(config, id), name, { wait: flags.wait, timeoutMs: parseDuration(flags.timeout, '--timeout'), json: Boolean(flags.json) });
      });
  }
}

export interface StatusRow {
  connectionId: string;
  mode: string;
  username: string;
  workflowId: string;
  /** null when the workflow has not been started (or cannot be asked). */
  status: SessionStatus | null;
  workflow: 'running' | 'closed' | 'not_started' | 'unknown';
  error?: string;
}

async function queryStatus(client: Client, c: ConnectionConfig): Promise<StatusRow> {
  const workflowId = sessionWorkflowId(c.username);
  const row: StatusRow = { connectionId: c.id, mode: c.mode, username: c.username, workflowId, status: null, workflow: 'unknown' };
  const handle = client.workflow.getHandle(workflowId);
  try {
    const desc = await withDeadline(client, 10_000, () => handle.describe());
    row.workflow = desc.status.name === 'RUNNING' ? 'running' : 'closed';
    row.status = await withDeadline(client, 10_000, () => handle.query(statusQuery));
  } catch (err) {
    if (isNotFound(err)) row.workflow = 'not_started';
    else row.error = shortReason(err);
  }
  return row;
}

async function status(id: string | undefined, flags: { config?: string; json?: boolean }): Promise<void> {
  const config = readConfig(flags);
  const connections = id ? [findConnection(config, id)] : config.connections;
  const rows = await withTemporal(config, (client) => Promise.all(connections.map((c) => queryStatus(client, c))));
  if (flags.json) return printJson(id ? rows[0] : rows);
  if (rows.length === 0) return out('no connections configured; add one with: ibflow connection add');
  out(
    table(
      ['CONNECTION', 'MODE', 'STATE', 'SINCE', 'LAST LOGIN', 'LAST TICKLE', 'FAILURES', 'NEXT ATTEMPT', 'REASON'],
      rows.map((r) => {
        const s = r.status;
        const state = s ? s.state : r.workflow === 'not_started' ? 'not started' : `unknown${r.error ? ` (${r.error})` : ''}`;
        return [
          r.connectionId,
          r.mode,
          r.workflow === 'closed' && s ? `${s.state} (workflow closed)` : state,
          s ? ago(s.since) : '—',
          s ? ago(s.lastLoginAt) : '—',
          s ? ago(s.lastTickleAt) : '—',
          s ? s.failures : '—',
          s?.nextAttemptAt ? ago(s.nextAttemptAt) : '—',
          s ? s.reason : r.workflow === 'not_started' ? 'start it: ibflow start' : '',
        ];
      }),
    ),
  );
}

async function sessionHandle(client: Client, c: ConnectionConfig) {
  const handle = client.workflow.getHandle(sessionWorkflowId(c.username));
  try {
    const desc = await withDeadline(client, 10_000, () => handle.describe());
    if (desc.status.name !== 'RUNNING') {
      throw new CliError(`the session workflow of "${c.id}" (${handle.workflowId}) is ${desc.status.name.toLowerCase()}; start it again with: ibflow start`, EXIT.failure);
    }
  } catch (err) {
    if (isNotFound(err)) throw notFound(`no session workflow for "${c.id}" (${handle.workflowId}); start it with: ibflow start`);
    throw err;
  }
  return handle;
}

/** Prints state changes to stderr while `until` runs. */
async function watchWhile<T>(client: Client, c: ConnectionConfig, until: Promise<T>): Promise<T> {
  const handle = client.workflow.getHandle(sessionWorkflowId(c.username));
  let last = '';
  let done = false;
  const watcher = (async () => {
    while (!done) {
      try {
        const s = await withDeadline(client, 5_000, () => handle.query(statusQuery));
        const line = `  ${s.state} — ${s.reason}`;
        if (line !== last && !done) note(line);
        last = line;
      } catch {
        // a missed poll is fine; the result still comes
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return await until;
  } finally {
    done = true;
    await watcher;
  }
}

export async function runRelogin(config: IbflowConfig, c: ConnectionConfig, opts: { json: boolean; timeoutMs?: number }): Promise<ReloginResult> {
  const result = await withTemporal(config, async (client) => {
    const handle = await sessionHandle(client, c);
    note(`relogin ${c.id} (${handle.workflowId}): waiting until the session is usable or has failed…`);
    const update = handle.executeUpdate(reloginUpdate).catch((err: unknown) => {
      const reason = shortReason(err);
      throw new CliError(`relogin refused: ${reason}${/paused/.test(reason) ? ` (ibflow session resume ${c.id})` : ''}`, EXIT.failure);
    });
    const timeoutMs = opts.timeoutMs ?? 11 * 60_000;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new CliError(`no answer within ${Math.round(timeoutMs / 1000)} s; the session keeps trying (ibflow session status ${c.id})`, EXIT.failure)), timeoutMs).unref(),
    );
    return watchWhile(client, c, Promise.race([update, timeout]));
  });
  if (opts.json) printJson({ connectionId: c.id, ...result });
  else out(`${c.id}: ${result.ok ? 'usable' : `not usable (${result.state})`} — ${result.reason}`);
  if (!result.ok) throw Object.assign(new CliError(`relogin of "${c.id}" failed: ${result.state}`, EXIT.failure), { quiet: opts.json });
  return result;
}

async function pauseOrResume(config: IbflowConfig, c: ConnectionConfig, what: 'pause' | 'resume', opts: { wait: boolean; timeoutMs: number; json: boolean }): Promise<void> {
  await withTemporal(config, async (client) => {
    const handle = await sessionHandle(client, c);
    await withDeadline(client, 10_000, () => handle.signal(what === 'pause' ? pauseSignal : resumeSignal));
    if (!opts.wait) {
      out(`${what} sent to ${handle.workflowId}`);
      return;
    }
    note(what === 'pause' ? `pausing ${c.id} (a running login finishes first)…` : `resuming ${c.id}…`);
    const deadline = Date.now() + opts.timeoutMs;
    let s: SessionStatus | null = null;
    while (Date.now() < deadline) {
      s = await withDeadline(client, 10_000, () => handle.query(statusQuery)).catch(() => null);
      if (s && (what === 'pause' ? s.state === 'paused' : s.state !== 'paused')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (!s || (what === 'pause' ? s.state !== 'paused' : s.state === 'paused')) {
      throw new CliError(`${what} sent, but the session is still ${s?.state ?? 'unknown'} after ${Math.round(opts.timeoutMs / 1000)} s`, EXIT.failure);
    }
    if (opts.json) printJson(s);
    else out(`${c.id}: ${s.state} — ${s.reason}`);
  });
}

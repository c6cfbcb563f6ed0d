import type { Command } from 'commander';
import { findConnection } from '../../src/config/loadConfig';
import type { ConnectionConfig, IbflowConfig } from '../../src/config/schema';
import type { ReloginResult, SessionStatus } from '../../src/contract/sessionStatus';
import { NoAnswerError, RequestRefusedError, StateNotReachedError } from '../../src/operations/errors';
import type { SessionStatusRow } from '../../src/operations/sessionControl';
import { configOption, readConfig } from '../support/configFile';
import { CliError, EXIT } from '../support/errors';
import { note, out, printJson, table } from '../support/io';
import { parseDuration, ago } from '../support/time';
import { withOperations } from '../support/operations';

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

/** One row of `ibflow session status --json`. */
export type StatusRow = SessionStatusRow;

async function status(id: string | undefined, flags: { config?: string; json?: boolean }): Promise<void> {
  const config = readConfig(flags);
  const connections = id ? [findConnection(config, id)] : config.connections;
  const rows = await withOperations(config, (ops) => ops.sessionStatuses(connections));
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

export async function runRelogin(config: IbflowConfig, c: ConnectionConfig, opts: { json: boolean; timeoutMs?: number }): Promise<ReloginResult> {
  const result = await withOperations(config, async (ops) => {
    try {
      return await ops.relogin(c, {
        timeoutMs: opts.timeoutMs ?? 11 * 60_000,
        onProgress: (event) =>
          note(event.kind === 'started' ? `relogin ${c.id} (${event.workflowId}): waiting until the session is usable or has failed…` : `  ${event.status.state} — ${event.status.reason}`),
      });
    } catch (err) {
      if (err instanceof RequestRefusedError) throw new CliError(`relogin refused: ${err.reason}${/paused/.test(err.reason) ? ` (ibflow session resume ${c.id})` : ''}`, EXIT.failure);
      if (err instanceof NoAnswerError) throw new CliError(`no answer within ${Math.round(err.timeoutMs / 1000)} s; the session keeps trying (ibflow session status ${c.id})`, EXIT.failure);
      throw err;
    }
  });
  if (opts.json) printJson({ connectionId: c.id, ...result });
  else out(`${c.id}: ${result.ok ? 'usable' : `not usable (${result.state})`} — ${result.reason}`);
  if (!result.ok) throw Object.assign(new CliError(`relogin of "${c.id}" failed: ${result.state}`, EXIT.failure), { quiet: opts.json });
  return result;
}

async function pauseOrResume(config: IbflowConfig, c: ConnectionConfig, what: 'pause' | 'resume', opts: { wait: boolean; timeoutMs: number; json: boolean }): Promise<void> {
  await withOperations(config, async (ops) => {
    let s: SessionStatus | null;
    try {
      s = await ops.setPaused(c, what === 'pause', {
        wait: opts.wait,
        timeoutMs: opts.timeoutMs,
        onSent: (workflowId) => {
          if (!opts.wait) out(`${what} sent to ${workflowId}`);
          else note(what === 'pause' ? `pausing ${c.id} (a running login finishes first)…` : `resuming ${c.id}…`);
        },
      });
    } catch (err) {
      if (err instanceof StateNotReachedError) {
        throw new CliError(`${what} sent, but the session is still ${err.lastState ?? 'unknown'} after ${Math.round(err.timeoutMs / 1000)} s`, EXIT.failure);
      }
      throw err;
    }
    if (!s) return;
    if (opts.json) printJson(s);
    else out(`${c.id}: ${s.state} — ${s.reason}`);
  });
}

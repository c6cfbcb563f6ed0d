import { accessSync, constants as fsConstants } from 'node:fs';
import type { Command } from 'commander';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Connection } from '@temporalio/client';
import { quoteIdentifier } from '../../src/clickhouse/sql';
import { quarantineRoot } from '../../src/clickhouse/quarantineDirs';
import { describeReach, LOCAL_PATH, probeGatewayReach, probeOnce, type ProbeAnswer } from '../../src/gateway/gatewayReach';
import type { ConnectionConfig, IbflowConfig } from '../../src/config/schema';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { checkActivationCode } from '../../src/secrets/activationCode';
import { SecretResolver } from '../../src/secrets/secretResolver';
import { CONTROL_TASK_QUEUE, podTaskQueue } from '../../src/contract/ids';
import { configOption, configPathOf, readConfig } from '../support/configFile';
import { CliError, EXIT } from '../support/errors';
import { out, printJson } from '../support/io';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it (for warn and fail). */
  fix?: string;
}

const TIMEOUT_MS = 8_000;
/** TOTP codes live 30 s and ibflow types them with ≥ 8 s left: a few seconds of skew already hurt. */
const SKEW_WARN_S = 2;
const SKEW_FAIL_S = 5;

function withTimeout<T>(what: string, p: Promise<T>, ms = TIMEOUT_MS): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms).unref();
    }),
  ]);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 240);
}

async function checkTemporal(config: IbflowConfig): Promise<CheckResult[]> {
  const address = config.temporal.address;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { Connection } = require('@temporalio/client') as typeof import('@temporalio/client');
  let connection: Connection;
  try {
    connection = await withTimeout('Temporal', Connection.connect({ address, connectTimeout: '5 seconds' }));
  } catch (err) {
    return [
      {
        name: 'temporal',
        status: 'fail',
        detail: `cannot reach ${address}: ${firstLine(err)}`,
        fix: 'start it (`npm run up`, or `temporal server start-dev`), or point temporal.address / IBFLOW_TEMPORAL_ADDRESS at it',
      },
    ];
  }
  const results: CheckResult[] = [];
  try {
    const namespace = config.temporal.namespace;
    try {
      await connection.withDeadline(Date.now() + TIMEOUT_MS, () => connection.workflowService.describeNamespace({ namespace }));
      results.push({ name: 'temporal', status: 'ok', detail: `${address}, namespace ${namespace}` });
    } catch (err) {
      results.push({ name: 'temporal', status: 'fail', detail: `${address} is up but namespace "${namespace}" is not: ${firstLine(err)}`, fix: `create it (temporal operator namespace create ${namespace}) or set temporal.namespace` });
      return results;
    }
    try {
      const attrs = await connection.withDeadline(Date.now() + TIMEOUT_MS, () => connection.operatorService.listSearchAttributes({ namespace }));
      const custom = Object.keys(attrs.customAttributes ?? {});
      const missing = ['IbflowState', 'IbflowConnection', 'IbflowMode'].filter((a) => !custom.includes(a));
      results.push(
        missing.length === 0
          ? { name: 'temporal search attributes', status: 'ok', detail: 'IbflowState, IbflowConnection, IbflowMode registered' }
          : {
              name: 'temporal search attributes',
              status: 'fail',
              detail: `missing ${missing.join(', ')}`,
              fix: `temporal operator search-attribute create --namespace ${namespace} ${missing.map((m) => `--name ${m} --type Keyword`).join(' ')}`,
            },
      );
    } catch (err) {
      results.push({ name: 'temporal search attributes', status: 'warn', detail: `could not list them: ${firstLine(err)}` });
    }
    const queues: { queue: string; type: 1 | 2; who: string; fix: string }[] = [
      { queue: CONTROL_TASK_QUEUE, type: 1, who: 'control worker', fix: 'run: ibflow worker control' },
      ...[...new Set(config.connections.map((c) => c.pod))].map((pod) => ({ queue: podTaskQueue(pod), type: 2 as const, who: `pod worker ${pod}`, fix: `run next to its gateway: ibflow worker pod --pod ${pod}` })),
    ];
    for (const q of queues) {
      try {
        const res = await connection.withDeadline(Date.now() + TIMEOUT_MS, () =>
          connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: q.queue }, taskQueueType: q.type }),
        );
        const pollers = res.pollers?.length ?? 0;
        results.push(pollers > 0 ? { name: q.who, status: 'ok', detail: `${pollers} poller(s) on ${q.queue}` } : { name: q.who, status: 'fail', detail: `nobody polls ${q.queue}`, fix: q.fix });
      } catch (err) {
        results.push({ name: q.who, status: 'warn', detail: `could not describe ${q.queue}: ${firstLine(err)}` });
      }
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
  return results;
}

/**
 * The server (reachable, version, ibflow's tables) as the reader, then each role's rights
 * (src/clickhouse/roleGrants.ts), naming the first missing one with its fix.
 */
export async function checkClickHouse(config: IbflowConfig, env: NodeJS.ProcessEnv = process.env): Promise<CheckResult[]> {
  const { url, database } = config.clickhouse;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { clickHouseUser, createIbflowClickHouseClient } = require('../../src/clickhouse/clickhouseClient') as typeof import('../../src/clickhouse/clickhouseClient');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { checkClickHouseRoles } = require('../../src/clickhouse/roleGrants') as typeof import('../../src/clickhouse/roleGrants');
  let ch: ClickHouseClient;
  try {
    ch = await createIbflowClickHouseClient(config, 'reader', { requestTimeoutMs: TIMEOUT_MS, env });
  } catch (err) {
    return [{ name: 'clickhouse', status: 'fail', detail: firstLine(err), fix: 'store the ClickHouse reader\'s password under the reference the config names' }];
  }
  try {
    try {
      const ping = await withTimeout('ClickHouse', ch.ping());
      if (!ping.success) throw ping.error;
    } catch (err) {
      return [{ name: 'clickhouse', status: 'fail', detail: `cannot reach ${url}: ${firstLine(err)}`, fix: 'start it (`npm run up` starts one), or point clickhouse.url / IBFLOW_CLICKHOUSE_URL at it' }];
    }
    // /ping needs no login; a user who cannot log in is named by the role checks.
    const v = await ch
      .query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })
      .then((rs) => rs.json<{ v: string }>())
      .then((rows) => rows[0], () => null);
    if (!v) return checkClickHouseRoles(config, { env, requestTimeoutMs: TIMEOUT_MS });
    let tables: { name: string }[] = [];
    try {
      tables = await (await ch.query({ query: `SHOW TABLES FROM ${quoteIdentifier(database)}`, format: 'JSONEachRow' })).json<{ name: string }>();
    } catch (err) {
      // No database at all is "not migrated"; anything else (the reader kept out) the role checks name.
      if (!/UNKNOWN_DATABASE|Code: 81[,.]/.test(firstLine(err))) return checkClickHouseRoles(config, { env, requestTimeoutMs: TIMEOUT_MS });
    }
    const names = new Set(tables.map((t) => t.name));
    const missing = ['depth', 'session_events'].filter((t) => !names.has(t));
    if (missing.length > 0) {
      // 18.16 lists no tables of a database the user may not see: the role checks tell the two apart.
      const reader = clickHouseUser(config, 'reader').username;
      return [
        { name: 'clickhouse', status: 'fail', detail: `${url} (ClickHouse ${v.v}) shows user ${reader} no ${missing.map((m) => `${database}.${m}`).join(', ')}`, fix: 'create the schema (ibflow db migrate), unless the checks below say the reader may not see them' },
        ...(await checkClickHouseRoles(config, { env, requestTimeoutMs: TIMEOUT_MS })),
      ];
    }
    const server: CheckResult = { name: 'clickhouse', status: 'ok', detail: `${url}, ClickHouse ${v.v}, database ${database} with depth and session_events` };
    return [server, ...(await checkClickHouseRoles(config, { env, requestTimeoutMs: TIMEOUT_MS }))];
  } finally {
    await ch.close();
  }
}

const CERT_ERRORS = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);

/**
 * Is the gateway running, does IBKR answer through it, is its certificate acceptable, and is this
 * pod's clock right? Asks one of the gateway's own pages (`/`, the login redirect) and one it passes
 * on to IBKR (the login page) — never /v1/api, so a probe never spends the API's pacing.
 */
export async function checkGateway(c: ConnectionConfig): Promise<CheckResult[]> {
  const name = `gateway ${c.id}`;
  const { origin, protocol } = new URL(c.gateway.url);
  const strict = protocol === 'https:' ? await probeOnce(new URL(LOCAL_PATH, c.gateway.url), { verifyTls: true, timeoutMs: TIMEOUT_MS }) : null;
  let tls: CheckResult;
  if (!strict) tls = { name: `${name} tls`, status: 'warn', detail: 'plain http (listenSsl: false): traffic is not encrypted', fix: 'fine on loopback; use https otherwise' };
  else if (strict.code === undefined) tls = { name: `${name} tls`, status: 'ok', detail: 'certificate trusted' };
  else if (CERT_ERRORS.has(strict.code)) {
    tls = c.gateway.verifyTls
      ? { name: `${name} tls`, status: 'fail', detail: `certificate not trusted (${strict.code})`, fix: 'the stock gateway is self-signed (and its certificate expired in 2019): set gateway.verifyTls: false (allowed for localhost/127.0.0.1/::1), or give it a trusted certificate' }
      : { name: `${name} tls`, status: 'ok', detail: `self-signed certificate (${strict.code}) accepted: verifyTls false on loopback` };
  } else tls = { name: `${name} tls`, status: 'fail', detail: `no TLS handshake (${strict.code})` };

  // The certificate has had its say above; the reach probes accept it, as ibflow does with verifyTls false.
  const { reach, local, passedOn } = await probeGatewayReach(c.gateway.url, { verifyTls: false, timeoutMs: TIMEOUT_MS });
  const startFix = `start the Client Portal Gateway on pod ${c.pod} (bin/run.sh root/conf.yaml) or fix gateway.url; doctor must run on that pod to reach it`;
  const localMs = local.receivedAtMs - local.sentAtMs;
  switch (reach) {
    case 'not_running':
      return [{ name, status: 'fail', detail: `${describeReach(reach, origin)} (${local.code})`, fix: startFix }, tls];
    case 'unresponsive':
      return [{ name, status: 'fail', detail: `${describeReach(reach, origin)}: no answer to / within ${TIMEOUT_MS / 1000} s (${local.code})`, fix: `restart the gateway on pod ${c.pod}; if it happens again, look at its logs (logs/gw.*.log) and memory` }, tls];
    case 'ibkr_unreachable':
      return [
        {
          name,
          status: 'fail',
          detail: `${describeReach(reach, origin)}: its own redirect answered in ${localMs} ms (HTTP ${local.status}), the login page it passes on got no answer within ${TIMEOUT_MS / 1000} s`,
          fix: "check this pod's internet connection (DNS, firewall, proxy) to IBKR, and IBKR's system status page; ibflow waits it out without logging in or charging the login budget, and recovers by itself",
        },
        tls,
      ];
    case 'answering':
      break;
  }
  const results: CheckResult[] = [
    { name, status: 'ok', detail: `${c.gateway.url} answers (HTTP ${local.status}); IBKR answers through it (login page HTTP ${passedOn?.status} in ${(passedOn?.receivedAtMs ?? 0) - (passedOn?.sentAtMs ?? 0)} ms)` },
    tls,
  ];
  results.push(clockCheck(name, passedOn!));
  return results;
}

/**
 * This pod's clock against IBKR's, from the `Date` header of the login page the gateway passed on
 * (the gateway's own answers carry none).
 */
function clockCheck(name: string, answer: ProbeAnswer): CheckResult {
  const date = answer.headers?.date;
  if (!date || !Number.isFinite(Date.parse(date))) {
    return {
      name: `${name} clock`,
      status: 'warn',
      detail: "no Date header on the gateway's own answers nor on the login page it passed on from IBKR; clock skew not checked here (the session's status shows the skew measured from the websocket heartbeat)",
    };
  }
  // Date has 1 s resolution: compare with the middle of the round trip and allow that second.
  const mid = (answer.sentAtMs + answer.receivedAtMs) / 2;
  const skewS = (mid - Date.parse(date)) / 1000;
  const abs = Math.max(0, Math.abs(skewS) - 1);
  const detail = `local clock ${skewS >= 0 ? 'ahead of' : 'behind'} IBKR's by about ${Math.abs(skewS).toFixed(1)} s (Date of the login page passed on from IBKR)`;
  const fix = 'sync the clock with NTP (timedatectl set-ntp true, or chronyc makestep); authenticator codes are only valid for 30 s';
  return abs > SKEW_FAIL_S ? { name: `${name} clock`, status: 'fail', detail, fix } : abs > SKEW_WARN_S ? { name: `${name} clock`, status: 'warn', detail, fix } : { name: `${name} clock`, status: 'ok', detail };
}

async function checkChromium(config: IbflowConfig): Promise<CheckResult> {
  const path = config.browser.executablePath;
  try {
    accessSync(path, fsConstants.X_OK);
  } catch {
    return { name: 'chromium', status: 'fail', detail: `${path} is missing or not executable`, fix: 'apt-get install chromium, or set browser.executablePath / IBFLOW_BROWSER_EXECUTABLE_PATH' };
  }
  try {
    const { chromium } = await import('playwright-core');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
    const { CHROMIUM_ARGS } = require('../../src/browser/browserLogin') as typeof import('../../src/browser/browserLogin');
    const browser = await withTimeout('Chromium', chromium.launch({ executablePath: path, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 }), 25_000);
    const version = browser.version();
    await browser.close();
    return { name: 'chromium', status: 'ok', detail: `${path} launches (version ${version})` };
  } catch (err) {
    return { name: 'chromium', status: 'fail', detail: `${path} does not launch: ${firstLine(err)}`, fix: 'run it by hand to see why (missing libraries? not enough memory?); as root it needs --no-sandbox, which ibflow passes' };
  }
}

/** Secrets present and well-formed — resolved here only to check them, never shown. */
async function checkSecrets(config: IbflowConfig, c: ConnectionConfig): Promise<CheckResult> {
  const resolver = new SecretResolver(config.stateDir);
  const name = `secrets ${c.id}`;
  try {
    await resolver.resolve(c.passwordRef);
    if (c.totpSecretRef) checkActivationCode(await resolver.resolve(c.totpSecretRef));
    const where = c.totpSecretRef ? `${c.passwordRef}, ${c.totpSecretRef}` : c.passwordRef;
    const envNote = [c.passwordRef, c.totpSecretRef].some((r) => r?.startsWith('env:')) ? ' (env: checked in this shell)' : '';
    return { name, status: 'ok', detail: `${where} present${c.totpSecretRef ? ', activation code well-formed' : ''}${envNote}` };
  } catch (err) {
    return { name, status: 'fail', detail: firstLine(err), fix: `store it: ibflow connection ${c.totpSecretRef && /activation code/.test(String(err)) ? 'rotate-code' : 'rotate-password'} ${c.id}` };
  }
}

/**
 * Each session's state as its workflow reports it, and any penalty box IBKR put the pod's address
 * in — asked through the operations layer, so nothing here sends a request to the gateway's API
 * (that could prolong a penalty box).
 */
async function checkSessions(config: IbflowConfig): Promise<CheckResult[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { createOperations } = require('../../src/operations/operations') as typeof import('../../src/operations/operations');
  const ops = createOperations(config, { temporalConnectTimeoutMs: 5_000 });
  try {
    const rows = await withTimeout('Temporal', ops.sessionStatuses());
    return rows.map((row) => sessionCheck(row.connectionId, row.workflow, row.status));
  } catch (err) {
    return [{ name: 'sessions', status: 'warn', detail: `could not ask the session workflows: ${firstLine(err)}` }];
  } finally {
    await ops.close().catch(() => undefined);
  }
}

export function sessionCheck(connectionId: string, workflow: string, s: SessionStatus | null): CheckResult {
  const name = `session ${connectionId}`;
  if (!s) {
    return workflow === 'not_started'
      ? { name, status: 'warn', detail: 'no session workflow running', fix: 'start it: ibflow start (or npm run up)' }
      : { name, status: 'warn', detail: `the session workflow did not answer (${workflow})` };
  }
  const since = `since ${s.since}`;
  if (s.pacing) {
    return {
      name,
      status: 'warn',
      detail: `${s.state} ${since}; IBKR is refusing REST requests from this pod's address (429, penalty box) since ${s.pacing.since}, expected until ${s.pacing.until}: ${s.pacing.cause}`,
      fix: "find the program on this pod that calls the gateway too often, and point it at ibflow's app port (docs/app-port.md); the session and depth carry on over the websocket meanwhile",
    };
  }
  if (s.outage) {
    const what = s.outage.kind === 'ibkr_unreachable' ? 'IBKR unreachable through the gateway' : 'the gateway not running';
    return {
      name,
      status: s.outage.reportedAt ? 'fail' : 'warn',
      detail: `${s.state} ${since}: an outage, ${what} since ${s.outage.since}${s.outage.reportedAt ? ` (reported as lasting at ${s.outage.reportedAt})` : ''}; no login is attempted meanwhile${s.nextAttemptAt ? `; next check ${s.nextAttemptAt}` : ''}`,
      fix:
        s.outage.kind === 'ibkr_unreachable'
          ? "check this pod's internet connection to IBKR and IBKR's system status; the session recovers by itself once IBKR answers"
          : 'start the Client Portal Gateway on the pod of this connection; the session recovers by itself once it answers',
    };
  }
  switch (s.state) {
    case 'usable': {
      const skewMs = s.clockSkewMs;
      if (typeof skewMs !== 'number') return { name, status: 'ok', detail: `usable ${since}` };
      const skew = `; this pod's clock is ${(Math.abs(skewMs) / 1000).toFixed(1)} s ${skewMs > 0 ? 'behind' : 'ahead of'} IBKR's (as the session last measured it)`;
      return Math.abs(skewMs) / 1000 > SKEW_FAIL_S
        ? { name, status: 'warn', detail: `usable ${since}${skew}`, fix: 'sync the clock with NTP; the next login may have its authenticator code rejected' }
        : { name, status: 'ok', detail: `usable ${since}${skew}` };
    }
    case 'manual_action_required':
      return { name, status: 'fail', detail: `manual_action_required ${since}: ${s.reason}`, fix: `fix the cause, then: ibflow session relogin ${connectionId}` };
    case 'paused':
    case 'stopped':
      return { name, status: 'warn', detail: `${s.state} ${since}` };
    default:
      return { name, status: 'warn', detail: `${s.state} ${since}: ${s.reason}${s.nextAttemptAt ? `; next attempt ${s.nextAttemptAt}` : ''}` };
  }
}

/** Batches ClickHouse refused for good wait on this host's disk: a warning (the rows are safe), naming the command. */
export function checkQuarantine(config: IbflowConfig): CheckResult {
  const name = 'depth quarantine';
  const root = quarantineRoot(config);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the check runs, not at startup
    const { listQuarantine } = require('../../src/operations/depthQuarantine') as typeof import('../../src/operations/depthQuarantine');
    const pending = listQuarantine(config);
    if (pending.length === 0) return { name, status: 'ok', detail: `no refused depth batch waiting (${root})` };
    const rows = pending.reduce((n, r) => n + r.rows, 0);
    const pods = [...new Set(pending.map((r) => r.pod))].join(', ');
    const first = pending[0]!;
    const code = first.error.code !== undefined ? `code ${first.error.code}: ` : '';
    return {
      name,
      status: 'warn',
      detail: `${pending.length} depth batch${pending.length === 1 ? '' : 'es'} (${rows} rows) refused by ClickHouse wait on pod ${pods} since ${first.quarantinedAt} (${code}${first.error.message.slice(0, 120)})`,
      fix: 'ibflow depth quarantine list; fix the cause, then ibflow depth quarantine replay --all',
    };
  } catch (err) {
    return { name, status: 'warn', detail: `cannot read ${root}: ${firstLine(err)}` };
  }
}

export async function runDoctor(config: IbflowConfig, opts: { skip: Set<string> }): Promise<CheckResult[]> {
  const tasks: Promise<CheckResult | CheckResult[]>[] = [];
  if (!opts.skip.has('temporal')) tasks.push(checkTemporal(config));
  if (!opts.skip.has('sessions') && !opts.skip.has('temporal')) tasks.push(checkSessions(config));
  if (!opts.skip.has('clickhouse')) tasks.push(checkClickHouse(config));
  if (!opts.skip.has('gateways')) for (const c of config.connections) tasks.push(checkGateway(c));
  if (!opts.skip.has('secrets')) for (const c of config.connections) tasks.push(checkSecrets(config, c));
  if (!opts.skip.has('chromium')) tasks.push(checkChromium(config));
  if (!opts.skip.has('quarantine')) tasks.push(Promise.resolve(checkQuarantine(config)));
  return (await Promise.all(tasks)).flat();
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check Temporal, workers, each session (state, IBKR penalty box), ClickHouse, each gateway (reachable, TLS, clock skew), secrets, Chromium and the depth quarantine; exit 1 if any check fails')
    .option(...configOption)
    .option('--json', 'machine-readable output')
    .option('--skip <checks>', 'comma-separated: temporal, sessions, clickhouse, gateways, secrets, chromium, quarantine', '')
    .addHelpText('after', '\nRun it on the pod (gateways only accept local clients).\n\nExamples:\n  ibflow doctor\n  ibflow doctor --skip chromium --json\n')
    .action(async (flags: { config?: string; json?: boolean; skip: string }) => {
      const skip = new Set(flags.skip.split(',').map((s) => s.trim()).filter(Boolean));
      for (const s of skip) if (!['temporal', 'sessions', 'clickhouse', 'gateways', 'secrets', 'chromium', 'quarantine'].includes(s)) throw new CliError(`--skip: unknown check "${s}"`, EXIT.usage);
      const config = readConfig(flags);
      const results = [{ name: 'config', status: 'ok' as const, detail: `${configPathOf(flags)}: ${config.connections.length} connection(s)` }, ...(await runDoctor(config, { skip }))];
      const failed = results.filter((r) => r.status === 'fail').length;
      if (flags.json) printJson({ ok: failed === 0, checks: results });
      else {
        const icon = { ok: '✓', warn: '!', fail: '✗' } as const;
        for (const r of results) {
          out(`${icon[r.status]} ${r.name}: ${r.detail}`);
          if (r.fix && r.status !== 'ok') out(`    fix: ${r.fix}`);
        }
        out(failed === 0 ? 'all checks passed' : `${failed} check(s) failed`);
      }
      if (failed > 0) throw Object.assign(new CliError(`${failed} check(s) failed`, EXIT.failure), { quiet: true });
    });
}

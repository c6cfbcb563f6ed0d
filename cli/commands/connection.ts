import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TemporalUnreachableError } from '../../src/operations/errors';
import { ConfigError, findConnection } from '../../src/config/loadConfig';
import { isLocalGatewayHost, LOOPBACK_HOSTS, type ConnectionConfig, type IbflowConfig } from '../../src/config/schema';
import { checkActivationCode } from '../../src/secrets/activationCode';
import { SecretAdmin } from '../../src/secrets/secretAdmin';
import { parseSecretRef, secretFilePath } from '../../src/secrets/secretResolver';
import { sessionWorkflowId } from '../../src/contract/ids';
import { ConfigFile, configOption, configPathOf, readConfig } from '../support/configFile';
import { CliError, EXIT, notFound, usage } from '../support/errors';
import { ask, isInteractive, needFlag, nextStdinLine, note, out, printJson, table } from '../support/io';
import { withOperations } from '../support/operations';
import { runRelogin } from './session';

interface AddFlags {
  config?: string;
  mode?: string;
  id?: string;
  username?: string;
  pod?: string;
  gateway?: string;
  verifyTls?: string;
  instrument: string[];
  account?: string;
  competingPolicy?: string;
  passwordRef?: string;
  totpRef?: string;
  passwordStdin?: boolean;
  codeStdin?: boolean;
  start?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerConnectionCommand(program: Command): void {
  const connection = program
    .command('connection')
    .description('Add, list, rotate secrets of and remove IBKR connections (config + secret store)')
    .addHelpText(
      'after',
      `
Examples:
  ibflow connection add                                   # asks for everything it needs
  printf '%s\\n%s\\n' "$PW" "$CODE" | ibflow connection add --mode live --username me --id me-live \\
      --pod pod-a --gateway https://localhost:5000 --verify-tls false --instrument 265598 \\
      --password-stdin --code-stdin --start
  ibflow connection list --json
  ibflow connection rotate-code me-live --relogin
  ibflow connection remove me-live --yes`,
    );

  connection
    .command('add')
    .description('Add a connection: validate it, store its secrets, write it to the config (asks for anything missing)')
    .option(...configOption)
    .option('--mode <mode>', 'paper or live (live also needs the authenticator-app activation code)')
    .option('--id <id>', 'connection id: lower-case letters, digits, dashes (e.g. me-live)')
    .option('--username <name>', 'IBKR username (one session per username)')
    .option('--pod <name>', 'pod whose local gateway this connection uses (e.g. pod-a)')
    .option('--gateway <url>', 'Client Portal Gateway URL on that pod (e.g. https://localhost:5000)')
    .option('--verify-tls <bool>', 'check the gateway certificate: true (default) or false (self-signed; loopback only)')
    .option('--instrument <conid[@exchange]>', 'depth instrument, repeatable (IBKR allows one ladder per account)', collect, [])
    .option('--account <id>', 'account for depth subscriptions (default: the first)')
    .option('--competing-policy <policy>', 'when a login elsewhere takes the session: reclaim (default, after a cool-down) or wait-for-human')
    .option('--password-ref <ref>', 'where the password lives (default file:<id>/password); env:/gcp: refs may already hold it')
    .option('--totp-ref <ref>', 'where the activation code lives (default file:<id>/totp)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--code-stdin', 'read the activation code from the next line of stdin')
    .option('--start', 'start the session (and depth) workflows right away')
    .addHelpText(
      'after',
      `
Secrets are never echoed or printed. The activation code is checked (base32, 16-32 characters,
a code can be computed from it) before anything is saved. Nothing is written if any check fails.

Examples:
  ibflow connection add
  printf '%s\\n' "$PW" | ibflow connection add --mode paper --username me --id me-paper --pod pod-a \\
      --gateway https://localhost:5000 --verify-tls false --password-stdin
  printf '%s\\n%s\\n' "$PW" "$CODE" | ibflow connection add --mode live --username me --id me-live \\
      --pod pod-a --gateway https://localhost:5000 --verify-tls false --instrument 265598 --password-stdin --code-stdin`,
    )
    .action((flags: AddFlags) => addConnection(flags));

  connection
    .command('list')
    .alias('ls')
    .description('List connections with their secret references and whether each secret is present (never the values)')
    .option(...configOption)
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  ibflow connection list\n  ibflow connection list --json | jq \'.[] | select(.mode == "live")\'\n')
    .action((flags: { config?: string; json?: boolean }) => listConnections(flags));

  connection
    .command('rotate-code <id>')
    .description('Replace the activation code of a live connection; the next login uses it (no restart)')
    .option(...configOption)
    .option('--code-stdin', 'read the new activation code from stdin')
    .option('--relogin', 'force a fresh login right away and wait for it')
    .addHelpText('after', '\nExamples:\n  ibflow connection rotate-code me-live\n  printf \'%s\\n\' "$CODE" | ibflow connection rotate-code me-live --code-stdin --relogin\n')
    .action((id: string, flags: { config?: string; codeStdin?: boolean; relogin?: boolean }) => rotateSecret(id, 'code', flags));

  connection
    .command('rotate-password <id>')
    .description('Replace the password of a connection; the next login uses it (no restart)')
    .option(...configOption)
    .option('--password-stdin', 'read the new password from stdin')
    .option('--relogin', 'force a fresh login right away and wait for it')
    .addHelpText('after', '\nExamples:\n  ibflow connection rotate-password me-live\n  printf \'%s\\n\' "$PW" | ibflow connection rotate-password me-live --password-stdin --relogin\n')
    .action((id: string, flags: { config?: string; passwordStdin?: boolean; relogin?: boolean }) =>
      rotateSecret(id, 'password', { config: flags.config, codeStdin: flags.passwordStdin, relogin: flags.relogin }),
    );

  connection
    .command('remove <id>')
    .alias('rm')
    .description("Stop a connection's workflows, remove it from the config and delete its file secrets")
    .option(...configOption)
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--keep-secrets', 'leave its secrets in the secret store')
    .addHelpText('after', '\nExamples:\n  ibflow connection remove me-live\n  ibflow connection remove me-live --yes\n')
    .action((id: string, flags: { config?: string; yes?: boolean; keepSecrets?: boolean }) => removeConnection(id, flags));
}

// ---------------------------------------------------------------------------------------------- add

function parseBool(value: string, flag: string): boolean {
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw usage(`${flag} must be true or false (got "${value}")`);
}

function parseInstrument(text: string): { conid: number; exchange?: string } {
  const m = /^\s*(\d+)(?:@([A-Za-z0-9._-]+))?\s*$/.exec(text);
  if (!m || Number(m[1]) <= 0 || Number(m[1]) > 4_294_967_295) {
    throw usage(`--instrument: "${text}" is not a contract id; use the IBKR conid, e.g. 265598 or 265598@NASDAQ`);
  }
  return m[2] ? { conid: Number(m[1]), exchange: m[2] } : { conid: Number(m[1]) };
}

/** Which flag sets a config field, so errors about a new connection speak in flags. */
const FIELD_FLAGS: Record<string, string> = {
  id: '--id',
  mode: '--mode',
  username: '--username',
  pod: '--pod',
  'gateway.url': '--gateway',
  'gateway.verifyTls': '--verify-tls',
  passwordRef: '--password-ref',
  totpSecretRef: '--totp-ref',
  account: '--account',
  competingPolicy: '--competing-policy',
};

/** Validates the config as it would be with `candidate` added; errors name the flag. */
function validateWith(file: ConfigFile, candidate: ConnectionConfig): IbflowConfig {
  const before = (file.doc.toJS() ?? {}) as { connections?: unknown[] };
  const index = Array.isArray(before.connections) ? before.connections.length : 0;
  file.addConnection(candidate);
  try {
    return file.validate();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const prefix = `connections.${index}.`;
    const lines = err.message.split('\n').slice(1);
    const mine = lines.filter((l) => l.trim().startsWith(prefix));
    const others = lines.filter((l) => !l.trim().startsWith(prefix));
    if (others.length > 0) {
      throw new CliError(`${file.path} already has problems; fix them first:\n${others.join('\n')}`, EXIT.usage);
    }
    const described = mine.map((l) => {
      const rest = l.trim().slice(prefix.length);
      const colon = rest.indexOf(': ');
      const field = rest.slice(0, colon).replace(/\.\d+\.conid$|\.\d+$/, '');
      const flag = FIELD_FLAGS[field] ?? (field.startsWith('instruments') ? '--instrument' : field);
      return `  ${flag}: ${rest.slice(colon + 2)}`;
    });
    throw new CliError(`connection is invalid:\n${described.join('\n')}`, EXIT.usage);
  }
}

async function addConnection(flags: AddFlags): Promise<void> {
  const path = configPathOf(flags);
  const file = new ConfigFile(path);
  const existing = file.exists ? file.validate() : null; // refuse to edit a broken config
  const interactive = isInteractive() && !flags.passwordStdin && !flags.codeStdin;
  const p = () => ask();
  const knownIds = new Set(existing?.connections.map((c) => c.id) ?? []);

  // mode
  let mode = flags.mode;
  if (mode === undefined) {
    if (!interactive) needFlag('--mode', 'paper or live');
    mode = await p().select({
      message: 'Account mode',
      choices: [
        { name: 'paper — username + password', value: 'paper' },
        { name: 'live — username + password + Mobile Authenticator App code', value: 'live' },
      ],
    });
  }
  if (mode !== 'paper' && mode !== 'live') throw usage(`--mode must be "paper" or "live" (got "${mode}")`);

  // username, id
  let username = flags.username;
  if (username === undefined) {
    if (!interactive) needFlag('--username', 'the IBKR username');
    username = await p().input({ message: 'IBKR username', validate: (v) => (v.trim() ? true : 'the username is required') });
  }
  username = username.trim();
  let id = flags.id;
  if (id === undefined) {
    if (!interactive) needFlag('--id', 'a connection id such as me-live');
    const suggestion = `${username.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'ibkr'}-${mode}`.slice(0, 63);
    id = await p().input({
      message: 'Connection id',
      default: knownIds.has(suggestion) ? undefined : suggestion,
      validate: (v) =>
        !/^[a-z0-9][a-z0-9-]{0,62}$/.test(v) ? 'use lower-case letters, digits and dashes (max 63)' : knownIds.has(v) ? `"${v}" is already configured` : true,
    });
  }
  if (knownIds.has(id)) throw usage(`--id: connection "${id}" already exists in ${path}; pick another id or remove it first (ibflow connection remove ${id})`);

  // pod, gateway
  let pod = flags.pod;
  if (pod === undefined) {
    if (!interactive) needFlag('--pod', 'the pod whose gateway this connection uses');
    const pods = [...new Set(existing?.connections.map((c) => c.pod) ?? [])];
    pod = await p().input({
      message: 'Pod (its worker runs next to the gateway)',
      default: pods[0] ?? 'pod-a',
      validate: (v) => (/^[a-z0-9][a-z0-9-]{0,62}$/.test(v) ? true : 'use lower-case letters, digits and dashes, e.g. pod-a'),
    });
  }
  let gateway = flags.gateway;
  if (gateway === undefined) {
    if (!interactive) needFlag('--gateway', 'the gateway URL, e.g. https://localhost:5000');
    gateway = await p().input({
      message: 'Gateway URL (on that pod)',
      default: 'https://localhost:5000',
      validate: (v) => {
        if (!URL.canParse(v)) return 'a URL such as https://localhost:5000';
        return isLocalGatewayHost(new URL(v).hostname) ? true : 'the gateway must be local to the pod: localhost, 127.0.0.1, ::1 or a single-label pod-local name';
      },
    });
  }
  let verifyTls: boolean;
  if (flags.verifyTls !== undefined) verifyTls = parseBool(flags.verifyTls, '--verify-tls');
  else {
    const host = URL.canParse(gateway) ? new URL(gateway).hostname.toLowerCase() : '';
    const selfSignedPossible = gateway.startsWith('https:') && (LOOPBACK_HOSTS as readonly string[]).includes(host);
    verifyTls = selfSignedPossible && interactive ? !(await p().confirm({ message: "Accept the gateway's self-signed certificate (loopback only)?", default: true })) : true;
  }

  // instruments
  let instruments = flags.instrument.map(parseInstrument);
  if (flags.instrument.length === 0 && interactive) {
    const text = await p().input({
      message: 'Depth instrument (IBKR conid, e.g. 265598; empty for none)',
      validate: (v) => (v.trim() === '' || /^\s*\d+(@[A-Za-z0-9._-]+)?\s*$/.test(v) ? true : 'a contract id such as 265598 (or 265598@NASDAQ)'),
    });
    instruments = text.trim() ? [parseInstrument(text)] : [];
  }

  const passwordRef = flags.passwordRef ?? `file:${id}/password`;
  const totpSecretRef = mode === 'live' ? (flags.totpRef ?? `file:${id}/totp`) : undefined;
  if (mode === 'paper' && flags.totpRef) throw usage('--totp-ref: paper connections have no activation code; use --mode live');
  if (mode === 'paper' && flags.codeStdin) throw usage('--code-stdin: paper connections have no activation code; use --mode live');

  const candidate: ConnectionConfig = {
    id,
    mode,
    username,
    passwordRef,
    ...(totpSecretRef ? { totpSecretRef } : {}),
    pod,
    gateway: { url: gateway, verifyTls },
    instruments,
    ...(flags.account ? { account: flags.account } : {}),
    ...(flags.competingPolicy ? { competingPolicy: flags.competingPolicy as ConnectionConfig['competingPolicy'] } : {}),
  } as ConnectionConfig;
  const config = validateWith(file, candidate); // throws with flag names; nothing written yet

  // Secrets: read (never echoed), verify, then store.
  const admin = new SecretAdmin({ stateDir: config.stateDir });
  const password = await obtainSecret({
    kind: 'password',
    ref: passwordRef,
    fromStdin: Boolean(flags.passwordStdin),
    interactive,
    explicitRef: flags.passwordRef !== undefined,
  });
  const code =
    totpSecretRef === undefined
      ? null
      : await obtainSecret({ kind: 'code', ref: totpSecretRef, fromStdin: Boolean(flags.codeStdin), interactive, explicitRef: flags.totpRef !== undefined });

  if (password !== null) await admin.write(passwordRef, password);
  if (code !== null && totpSecretRef) await admin.write(totpSecretRef, code);
  file.save();

  out(`saved connection "${id}" (${mode}, user ${username}, pod ${pod}) to ${path}`);
  out(`  password         ${passwordRef}  ${describeStored(passwordRef, password !== null, config)}`);
  if (totpSecretRef) out(`  activation code  ${totpSecretRef}  ${describeStored(totpSecretRef, code !== null, config)}`);
  out(`  gateway          ${gateway}${verifyTls ? '' : ' (self-signed certificate accepted)'}`);
  out(`  instruments      ${instruments.length ? instruments.map((i) => i.conid).join(', ') : 'none'}`);
  if (flags.start) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
    const { createOperations } = require('../../src/operations/operations') as typeof import('../../src/operations/operations');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
    const { shortReason } = require('../../src/temporal/temporalRpc') as typeof import('../../src/temporal/temporalRpc');
    const ops = createOperations(config);
    try {
      const print = (line: string) => out(line.replace(/^\s+/, '  '));
      await ops.startConnectionWorkflows(print, [findConnection(config, id)]);
      await ops.startDepthMaintenance(print); // the coordinator learns of the new connection
    } catch (err) {
      const reason = err instanceof TemporalUnreachableError ? err.reason : shortReason(err);
      throw new CliError(`saved, but could not start its workflows: ${reason}; start them later with: ibflow start --config ${path}`, EXIT.failure);
    } finally {
      await ops.close();
    }
    out(`watch it: ibflow session status ${id} --config ${path}`);
  } else {
    out(`next: make sure a pod worker runs for ${pod} (ibflow worker pod --pod ${pod}), then: ibflow start --config ${path}`);
  }
}

function describeStored(ref: string, written: boolean, config: IbflowConfig): string {
  const parsed = parseSecretRef(ref);
  if (!written) return parsed?.scheme === 'env' ? '(read from the environment of the pod worker)' : '(kept as it is in its store)';
  if (parsed?.scheme === 'file') return `(stored in ${secretFilePath(config.stateDir)}, mode 0600)`;
  return '(new version added)';
}

/**
 * Reads a secret from stdin or a masked prompt, and checks it. Returns null when the reference
 * points at a store ibflow does not write (env:) or at a value the user said already exists.
 */
async function obtainSecret(opts: { kind: 'password' | 'code'; ref: string; fromStdin: boolean; interactive: boolean; explicitRef: boolean }): Promise<string | null> {
  const scheme = parseSecretRef(opts.ref)?.scheme;
  const what = opts.kind === 'password' ? 'password' : 'activation code';
  const flag = opts.kind === 'password' ? '--password-stdin' : '--code-stdin';
  if (scheme === 'env') {
    if (opts.fromStdin) throw usage(`${flag}: ${opts.ref} is an environment variable; ibflow cannot store into it — set it where the pod worker runs, or use a file: reference`);
    return null;
  }
  if (!opts.fromStdin && opts.explicitRef && !opts.interactive) return null; // an existing secret in that store
  let value: string;
  if (opts.fromStdin) value = await nextStdinLine(what);
  else if (opts.interactive) value = await promptSecret(opts.kind);
  else needFlag(flag, `the ${what}`);
  return checkSecret(opts.kind, value);
}

function checkSecret(kind: 'password' | 'code', value: string): string {
  if (kind === 'password') {
    if (value === '') throw usage('the password is empty');
    return value;
  }
  const code = checkActivationCode(value);
  note('activation code accepted');
  return code;
}

async function promptSecret(kind: 'password' | 'code', confirm = false): Promise<string> {
  const p = ask();
  if (kind === 'password') {
    const first = await p.password({ message: 'IBKR password (not shown)', validate: (v) => (v ? true : 'the password is required') });
    if (confirm) {
      const again = await p.password({ message: 'Password again (not shown)' });
      if (again !== first) throw usage('the two passwords differ; nothing was changed');
    }
    return first;
  }
  const first = await p.password({
    message: 'Activation code (Mobile Authenticator App, A-Z 2-7; spaces are fine; not shown)',
    validate: (v) => {
      try {
        checkActivationCode(v);
        return true;
      } catch (err) {
        return (err as Error).message;
      }
    },
  });
  if (confirm) {
    const again = await p.password({ message: 'Activation code again (not shown)' });
    if (checkActivationCode(again) !== checkActivationCode(first)) throw usage('the two activation codes differ; nothing was changed');
  }
  return first;
}

// --------------------------------------------------------------------------------------------- list

async function listConnections(flags: { config?: string; json?: boolean }): Promise<void> {
  const config = readConfig(flags);
  const admin = new SecretAdmin({ stateDir: config.stateDir });
  const rows = config.connections.map((c) => ({
    id: c.id,
    mode: c.mode,
    username: c.username,
    pod: c.pod,
    gateway: c.gateway,
    account: c.account ?? null,
    competingPolicy: c.competingPolicy,
    instruments: c.instruments,
    sessionWorkflowId: sessionWorkflowId(c.username),
    secrets: {
      password: { ref: c.passwordRef, present: admin.presence(c.passwordRef) },
      ...(c.totpSecretRef ? { activationCode: { ref: c.totpSecretRef, present: admin.presence(c.totpSecretRef) } } : {}),
    },
  }));
  if (flags.json) return printJson(rows);
  if (rows.length === 0) {
    out(`no connections in ${configPathOf(flags)}; add one with: ibflow connection add`);
    return;
  }
  const mark = (s: string) => (s === 'present' ? '✓' : s === 'missing' ? '✗ missing' : s === 'unreadable' ? '✗ unreadable (permissions?)' : '? not checked');
  out(
    table(
      ['ID', 'MODE', 'USERNAME', 'POD', 'GATEWAY', 'INSTRUMENTS', 'PASSWORD', 'ACTIVATION CODE'],
      rows.map((r) => [
        r.id,
        r.mode,
        r.username,
        r.pod,
        `${r.gateway.url}${r.gateway.verifyTls ? '' : ' (self-signed ok)'}`,
        r.instruments.map((i) => i.conid).join(', ') || '—',
        `${r.secrets.password.ref} ${mark(r.secrets.password.present)}`,
        r.secrets.activationCode ? `${r.secrets.activationCode.ref} ${mark(r.secrets.activationCode.present)}` : '— (paper)',
      ]),
    ),
  );
  if (rows.some((r) => r.secrets.password.present === 'unreadable' || r.secrets.activationCode?.present === 'unreadable')) {
    note(`note: ${admin.filePath} is unreadable; it must be mode 0600 (chmod 600 ${admin.filePath})`);
  }
  if (rows.some((r) => Object.values(r.secrets).some((s) => s.ref.startsWith('env:')))) {
    note('note: env: secrets are checked in this shell; the pod worker has its own environment');
  }
}

// ------------------------------------------------------------------------------------------- rotate

async function rotateSecret(id: string, kind: 'password' | 'code', flags: { config?: string; codeStdin?: boolean; relogin?: boolean }): Promise<void> {
  const config = readConfig(flags);
  const c = findConnection(config, id);
  const ref = kind === 'password' ? c.passwordRef : c.totpSecretRef;
  if (!ref) throw usage(`connection "${id}" is a ${c.mode} connection without an activation code; only live connections have one`);
  const scheme = parseSecretRef(ref)?.scheme;
  if (scheme === 'env') {
    throw usage(`${ref} is an environment variable: change ${ref.slice(4)} (or the file named by ${ref.slice(4)}_FILE) where the pod worker runs; the next login reads it`);
  }
  const flag = kind === 'password' ? '--password-stdin' : '--code-stdin';
  let value: string;
  if (flags.codeStdin) value = await nextStdinLine(kind === 'password' ? 'password' : 'activation code');
  else if (isInteractive()) value = await promptSecret(kind, true);
  else needFlag(flag, kind === 'password' ? 'the new password' : 'the new activation code');
  const checked = checkSecret(kind, value);
  await new SecretAdmin({ stateDir: config.stateDir }).write(ref, checked);
  out(`${kind === 'password' ? 'password' : 'activation code'} of "${id}" saved to ${ref}; the next login uses it (no restart needed)`);
  if (flags.relogin) {
    await runRelogin(config, c, { json: false });
  } else {
    out(`force a login now with: ibflow session relogin ${id}`);
  }
}

// ------------------------------------------------------------------------------------------- remove

async function removeConnection(id: string, flags: { config?: string; yes?: boolean; keepSecrets?: boolean }): Promise<void> {
  const path = configPathOf(flags);
  const config = readConfig(flags);
  const c = config.connections.find((x) => x.id === id);
  if (!c) throw notFound(`unknown connection "${id}" in ${path} (configured: ${config.connections.map((x) => x.id).join(', ') || 'none'})`);
  if (!flags.yes) {
    if (!isInteractive()) throw usage(`refusing to remove "${id}" without confirmation: pass --yes`);
    const secretsNote = flags.keepSecrets ? '' : ' and delete its file secrets';
    const ok = await ask().confirm({ message: `Stop the session of ${c.username}, remove "${id}" from ${path}${secretsNote}?`, default: false });
    if (!ok) {
      out('nothing removed');
      return;
    }
  }

  // 1. Stop its workflows (a workflow without its config entry would only ask for a human).
  let stopProblem: string | null = null;
  try {
    await withOperations(config, (ops) =>
      ops.stopConnection(c, { graceMs: 30_000, terminateReason: `connection ${id} removed`, onStopped: (what, workflowId) => out(`stopped the ${what} workflow ${workflowId}`) }),
    );
  } catch (err) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
    const { shortReason } = require('../../src/temporal/temporalRpc') as typeof import('../../src/temporal/temporalRpc');
    stopProblem = err instanceof CliError ? err.message : shortReason(err);
  }

  // 2. Config entry, 3. file secrets.
  const file = new ConfigFile(path);
  if (!file.removeConnection(id)) throw notFound(`connection "${id}" disappeared from ${path} meanwhile`);
  file.save();
  out(`removed "${id}" from ${path}`);
  const admin = new SecretAdmin({ stateDir: config.stateDir });
  for (const ref of [c.passwordRef, c.totpSecretRef].filter((r): r is string => Boolean(r))) {
    const usedElsewhere = config.connections.some((o) => o.id !== id && (o.passwordRef === ref || o.totpSecretRef === ref));
    if (flags.keepSecrets || usedElsewhere) {
      out(`kept ${ref}${usedElsewhere ? ' (another connection uses it)' : ''}`);
    } else if (parseSecretRef(ref)?.scheme === 'file') {
      out(admin.remove(ref) ? `deleted ${ref} from ${resolve(admin.filePath)}` : `${ref} was not stored`);
    } else {
      out(`left ${ref} alone (ibflow only deletes file: secrets; remove it from its store yourself)`);
    }
  }
  if (stopProblem) {
    throw new CliError(`removed, but its workflows could not be stopped: ${stopProblem}\n  stop them when Temporal is back: temporal workflow terminate --workflow-id ${sessionWorkflowId(c.username)}`, EXIT.failure);
  }
}

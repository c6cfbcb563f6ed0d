import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { NoisePattern, NoiseSummary } from '../../sim/noise';
import { CliError, EXIT, usage } from '../support/errors';
import { note, out, printJson, table } from '../support/io';
import { parseDuration } from '../support/time';

const PATTERNS: readonly NoisePattern[] = ['tickle', 'pair', 'mixed', 'burst'];

/** `ibflow sim`: the simulated gateway alone, for rehearsing a setup without IBKR; and `ibflow sim-noise`. */
export function registerSimCommand(program: Command): void {
  registerSimNoiseCommand(program);
  program
    .command('sim')
    .description('Run the simulated Client Portal Gateway')
    .option('--port <port>', 'port to listen on (0 picks a free one; default the conf file\'s listenPort, else 5000)', (v) => parsePort(v, '--port'))
    .option('--control-port <port>', 'port of the control plane (plain HTTP on 127.0.0.1; 0 picks a free one)', (v) => parsePort(v, '--control-port'), 0)
    .option('--conf <file>', 'conf.yaml-like file: listenPort, listenSsl, ips.allow / ips.deny')
    .option('--time-scale <n>', 'simulated time runs n times as fast', (v) => Number(v), 1)
    .option('--no-pacing', 'turn request pacing (429 and penalty box) off, for load tests')
    .requiredOption('--state-dir <dir>', 'where the simulator keeps its certificate and state')
    .option('--users <file>', 'users file (JSON or YAML: {users: [...]}); default <state-dir>/users.json')
    .option('--plain-http', 'serve http:// and ws:// instead of TLS', false)
    .option('--auth-delay-ms <ms>', 'delay before the brokerage session opens by itself', (v) => Number(v), 3000)
    .option('--certificate <kind>', "TLS certificate: expired (like the real gateway's, the default) or fresh (ten years, localhost)", (v) => parseCertificateKind(v), 'expired')
    .option('--rules <file>', 'session rules, pacing and depth settings (JSON or YAML; see docs/simulator.md, "Rules file")')
    .addHelpText('after', '\nCo-tenant traffic against a running gateway: ibflow sim-noise --help\n')
    .addHelpText('after', '\nExamples:\n  ibflow sim --port 5000 --state-dir .ibflow/sim --users users.yaml\n  ibflow sim --port 5000 --state-dir .ibflow/sim --users users.yaml --rules harsh.yaml\n')
    .action(async (opts: { port?: number; controlPort: number; conf?: string; timeScale: number; pacing: boolean; stateDir: string; users?: string; plainHttp: boolean; authDelayMs: number; rules?: string; certificate: 'expired' | 'fresh' }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
      const { loadSimConfFile, loadUsersFile, startSimulator } = require('../../sim') as typeof import('../../sim');
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
      const { loadSimRulesFile } = require('../../sim/rulesFile') as typeof import('../../sim/rulesFile');
      const stateDir = resolve(opts.stateDir);
      const usersFile = resolve(opts.users ?? `${stateDir}/users.json`);
      const conf = opts.conf ? loadSimConfFile(resolve(opts.conf)) : {};
      const rules = opts.rules ? loadSimRulesFile(resolve(opts.rules)) : {};
      const sim = await startSimulator({
        ...rules,
        port: opts.port ?? conf.listenPort ?? 5000,
        controlPort: opts.controlPort,
        stateDir,
        users: loadUsersFile(usersFile),
        tls: opts.plainHttp ? false : (conf.listenSsl ?? true),
        ips: conf.ips,
        timeScale: opts.timeScale,
        pacing: { ...rules.pacing, ...(opts.pacing ? {} : { enabled: false }) },
        authDelayMs: opts.authDelayMs,
        certificate: opts.certificate,
        log: (msg, fields) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`),
      });
      process.stdout.write(`simulated gateway listening on ${sim.url}\n`);
      process.stdout.write(`control plane on ${sim.controlUrl}\n`);
      const stop = () => {
        sim.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

function parseCertificateKind(value: string): 'expired' | 'fresh' {
  if (value !== 'expired' && value !== 'fresh') throw usage(`--certificate must be expired or fresh (got "${value}")`);
  return value;
}

export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(new Error(`${flag} must be a port number 0-65535 (got "${value}")`), { exitCode: 2 });
  }
  return port;
}

/**
 * `ibflow sim-noise`: another program's traffic at a gateway (or an app port). A sibling of `sim`
 * rather than `sim noise`: commander checks the required options of every ancestor, so a
 * subcommand of `sim` would demand `--state-dir`.
 */
function registerSimNoiseCommand(program: Command): void {
  program
    .command('sim-noise')
    .description("Send a co-tenant's REST traffic to a gateway or app port and sum up the answers (429s included)")
    .requiredOption('--target <url>', 'base URL of the gateway or app port, e.g. https://localhost:5000')
    .requiredOption('--rate <n>', 'tickle: tickles/s; pair: pairs/s; mixed: requests/s; burst: requests per one-second burst', (v) => parseRate(v))
    .requiredOption('--pattern <p>', `${PATTERNS.join(' | ')}`, (v) => parsePattern(v))
    .option('--duration <d>', 'how long to run, e.g. 30s, 2m', (v) => parseDuration(v, '--duration'), 30_000)
    .option('--every <d>', 'pair: time between pairs (default 1/rate); burst: time between bursts (default 5s)', (v) => parseDuration(v, '--every'))
    .option('--insecure', "accept the gateway's self-signed certificate (localhost, 127.0.0.1, ::1 only)", false)
    .option('--json', 'print the summary as JSON (progress still goes to stderr)', false)
    .addHelpText(
      'after',
      `
Patterns:
  tickle  N tickles per second
  pair    a tickle and a second one 100 ms later (a tickle, then a health check that tickles), N pairs per second
  mixed   N requests per second over iserver/auth/status, tickle, iserver/accounts, portfolio/accounts, sso/validate
  burst   N mixed requests within one second, then a pause (--every, default 5s between burst starts)

Examples:
  ibflow sim-noise --target https://localhost:5000 --insecure --rate 1 --pattern pair --duration 1m
  ibflow sim-noise --target https://localhost:5000 --insecure --rate 30 --pattern burst --json
`,
    )
    .action(async (opts: { target: string; rate: number; pattern: NoisePattern; duration: number; every?: number; insecure: boolean; json: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
      const { runNoise, validateNoiseOptions } = require('../../sim/noise') as typeof import('../../sim/noise');
      const noiseOpts = { target: opts.target, rate: opts.rate, pattern: opts.pattern, durationMs: opts.duration, everyMs: opts.every, insecure: opts.insecure };
      try {
        validateNoiseOptions(noiseOpts);
      } catch (err) {
        // "target: ..." / "insecure: ..." → the flag's name
        throw usage(`--${(err as Error).message}`);
      }
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      note(`sending ${opts.pattern} traffic to ${new URL(opts.target).origin} for ${opts.duration / 1000} s (Ctrl-C ends early)`);
      let summary: NoiseSummary;
      try {
        // Twice a second, so even a one-second run shows its progress before the summary.
        summary = await runNoise({ ...noiseOpts, signal: stop.signal, progressEveryMs: 500, onProgress: (s) => note(progressLine(s)) });
      } finally {
        process.off('SIGINT', onSignal);
      }
      if (opts.json) printJson(summary);
      else out(summaryTable(summary));
      if (summary.sent > 0 && summary.errors === summary.sent) {
        throw new CliError(`no request was answered (${Object.entries(summary.errorKinds).map(([k, n]) => `${k} ×${n}`).join(', ')})`, EXIT.failure);
      }
    });
}

function parseRate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 10_000) throw usage(`--rate must be a number above 0 and at most 10000 (got "${value}")`);
  return n;
}

function parsePattern(value: string): NoisePattern {
  if (!(PATTERNS as readonly string[]).includes(value)) throw usage(`--pattern must be one of ${PATTERNS.join(', ')} (got "${value}")`);
  return value as NoisePattern;
}

function statusList(byStatus: Record<string, number>): string {
  return Object.entries(byStatus)
    .map(([status, n]) => `${status}: ${n}`)
    .join('  ');
}

function progressLine(s: NoiseSummary): string {
  return `${(s.elapsedMs / 1000).toFixed(1)} s  sent ${s.sent}  ${statusList(s.byStatus)}${s.errors ? `  errors ${s.errors}` : ''}`;
}

function summaryTable(s: NoiseSummary): string {
  const rows: (string | number)[][] = Object.entries(s.byStatus).map(([status, n]) => [`HTTP ${status}`, n]);
  if (s.errors) rows.push(['no answer', `${s.errors} (${Object.entries(s.errorKinds).map(([k, n]) => `${k} ×${n}`).join(', ')})`]);
  rows.push(['sent', s.sent], ['latency p50 / p99', `${s.latencyMs.p50} ms / ${s.latencyMs.p99} ms`], ['elapsed', `${(s.elapsedMs / 1000).toFixed(1)} s`]);
  const paths = Object.entries(s.byPath).map(([path, st]) => [path, statusList(st)] as (string | number)[]);
  return `${table([`${s.pattern} traffic`, 'requests'], rows)}\n${table(['path', 'answers'], paths)}`;
}

import { resolve } from 'node:path';
import type { Command } from 'commander';

/** `ibflow sim`: the simulated gateway alone, for rehearsing a setup without IBKR. */
export function registerSimCommand(program: Command): void {
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
    .option('--rules <file>', 'session rules, pacing and depth settings (JSON or YAML; see docs/simulator.md, "Rules file")')
    .addHelpText('after', '\nExamples:\n  ibflow sim --port 5000 --state-dir .ibflow/sim --users users.yaml\n  ibflow sim --port 5000 --state-dir .ibflow/sim --users users.yaml --rules harsh.yaml\n')
    .action(async (opts: { port?: number; controlPort: number; conf?: string; timeScale: number; pacing: boolean; stateDir: string; users?: string; plainHttp: boolean; authDelayMs: number; rules?: string }) => {
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

export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw Object.assign(new Error(`${flag} must be a port number 0-65535 (got "${value}")`), { exitCode: 2 });
  }
  return port;
}

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadUsersFile, startSimulator } from '../../sim';

/** `ibflow sim`: the simulated gateway alone, for rehearsing a setup without IBKR. */
export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('Run the simulated Client Portal Gateway')
    .requiredOption('--port <port>', 'port to listen on (0 picks a free one)', (v) => parsePort(v, '--port'))
    .requiredOption('--state-dir <dir>', 'where the simulator keeps its certificate and state')
    .option('--users <file>', 'users file (JSON or YAML: {users: [...]}); default <state-dir>/users.json')
    .option('--plain-http', 'serve http:// and ws:// instead of TLS', false)
    .option('--auth-delay-ms <ms>', 'delay before the brokerage session opens by itself', (v) => Number(v), 3000)
    .addHelpText('after', '\nExample:\n  ibflow sim --port 5000 --state-dir .ibflow/sim --users users.yaml\n')
    .action(async (opts: { port: number; stateDir: string; users?: string; plainHttp: boolean; authDelayMs: number }) => {
      const stateDir = resolve(opts.stateDir);
      const usersFile = resolve(opts.users ?? `${stateDir}/users.json`);
      const sim = await startSimulator({
        port: opts.port,
        stateDir,
        users: loadUsersFile(usersFile),
        tls: !opts.plainHttp,
        authDelayMs: opts.authDelayMs,
        log: (msg, fields) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`),
      });
      process.stdout.write(`simulated gateway listening on ${sim.url}\n`);
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

import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultStateDir } from '../../src/config/loadConfig';
import type { EmbeddedStack } from '../../stack/embeddedStack';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { parsePort } from './sim';

interface UpFlags {
  stateDir: string;
  temporalPort: number;
  uiPort: number;
  clickhousePort: number;
  clickhouseTcpPort: number;
  gatewayPort: number;
  appPort?: number;
  readyTimeout: number;
}

/** `ibflow up`: the embedded stack in the foreground until Ctrl-C. */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('Start the embedded stack (Temporal, ClickHouse, simulated gateways, workers) and the demo sessions')
    .option('--state-dir <dir>', 'state directory', defaultStateDir())
    .option('--temporal-port <port>', 'Temporal frontend port', (v) => parsePort(v, '--temporal-port'), 7233)
    .option('--ui-port <port>', 'Temporal Web UI port', (v) => parsePort(v, '--ui-port'), 8233)
    .option('--clickhouse-port <port>', 'ClickHouse HTTP port', (v) => parsePort(v, '--clickhouse-port'), 8123)
    .option('--clickhouse-tcp-port <port>', 'ClickHouse native port', (v) => parsePort(v, '--clickhouse-tcp-port'), 9000)
    .option('--gateway-port <port>', 'first simulated gateway port (one per pod)', (v) => parsePort(v, '--gateway-port'), 5000)
    .option('--app-port <port>', "first pod's app port for your own programs (one per pod; default gateway port + 100)", (v) => parsePort(v, '--app-port'))
    .option('--ready-timeout <seconds>', 'how long to wait for usable sessions and depth rows', (v) => Number(v), 120)
    .addHelpText('after', '\nExample:\n  npm run up                      # same as: npx ibflow up\n  npx ibflow up --state-dir /tmp/ibflow-demo --temporal-port 17233\n')
    .action(async (flags: UpFlags) => {
      await runUp(flags);
    });
}

async function runUp(flags: UpFlags): Promise<void> {
  const stateDir = resolve(flags.stateDir);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`ibflow: starting the embedded stack (state in ${stateDir})`);
  let stack: EmbeddedStack | null = null;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nibflow: stopping…');
    await stack?.stop();
    say('ibflow: stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { startEmbeddedStack } = require('../../stack/embeddedStack') as typeof import('../../stack/embeddedStack');
  stack = await startEmbeddedStack({
    stateDir,
    temporalPort: flags.temporalPort,
    temporalUiPort: flags.uiPort,
    clickhouseHttpPort: flags.clickhousePort,
    clickhouseTcpPort: flags.clickhouseTcpPort,
    gatewayPortBase: flags.gatewayPort,
    appPortBase: flags.appPort,
    progress: say,
  });
  if (stopping) return;

  say('  waiting for sessions to become usable and depth rows to arrive…');
  const ok = await waitUntilStreaming(stack, flags.readyTimeout * 1000, say);
  const ch = stack.config.clickhouse;
  const query = `SELECT conid, connection, count() AS rows, max(received_ns) AS last_ns FROM ${ch.database}.depth GROUP BY conid, connection`;
  say('');
  say(ok ? 'ibflow is up: both sessions are usable and depth is streaming.' : 'ibflow is up, but not everything is ready yet (see above and the logs).');
  say(`  Temporal Web UI  ${stack.temporalUiUrl}/namespaces/default/workflows`);
  say(`  ClickHouse       ${stack.clickhouseUrl}  (database ${ch.database})`);
  say(`  Logs             ${resolve(stateDir, 'logs')}`);
  for (const c of stack.config.connections) {
    if (c.gateway.appPort === false) continue;
    // The port for the user's own programs: the gateway's paths, paced with ibflow's own requests.
    say(`  App port ${c.pod.padEnd(7)} https://127.0.0.1:${c.gateway.appPort}/v1/api  (${c.id}; instead of the gateway ${c.gateway.url} — docs/app-port.md)`);
  }
  say('  Try:');
  say(`    curl '${stack.clickhouseUrl}/' --data-binary "${query} FORMAT PrettyCompact"`);
  const firstApp = stack.config.connections.find((c) => c.gateway.appPort !== false);
  if (firstApp) say(`    curl -k -X POST https://127.0.0.1:${String(firstApp.gateway.appPort)}/v1/api/tickle   # answered by ibflow, paced, never over IBKR's limits`);
  say(`    clickhouse client --port ${flags.clickhouseTcpPort} --query "${query}"`);
  say('  Ctrl-C stops everything; the next `npm run up` resumes the same workflows and data.');
  say('READY');
}

async function waitUntilStreaming(stack: EmbeddedStack, timeoutMs: number, say: (l: string) => void): Promise<boolean> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { createOperations } = require('../../src/operations/operations') as typeof import('../../src/operations/operations');
  const ops = createOperations(stack.config);
  const deadline = Date.now() + timeoutMs;
  let lastLine = '';
  try {
    while (Date.now() < deadline) {
      const statuses = await ops.statusByConnection().catch(() => new Map<string, SessionStatus | null>());
      const sessions = [...statuses.entries()].map(([id, s]) => `${id}: ${s ? s.state : 'starting'}`).join(', ');
      const rows = await ops.streamedRowCounts().catch(() => []);
      const depth = rows.length ? rows.map((r) => `${r.conid}: ${r.rows} rows`).join(', ') : 'no depth rows yet';
      const line = `  sessions [${sessions}] · depth [${depth}]`;
      if (line !== lastLine) say(line);
      lastLine = line;
      const allUsable = statuses.size > 0 && [...statuses.values()].every((s) => s?.state === 'usable');
      if (allUsable && rows.length >= Math.min(2, stack.config.connections.length)) return true;
      await new Promise((r) => setTimeout(r, 2000));
    }
    return false;
  } finally {
    await ops.close();
  }
}

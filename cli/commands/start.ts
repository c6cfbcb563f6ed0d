import type { Command } from 'commander';
import { defaultConfigPath, loadConfig } from '../../src/config/loadConfig';

/**
 * `ibflow start`: the session and depth workflows of every configured connection, the depth
 * coordinator and the retention schedule — idempotently, so it is also how a changed config is applied.
 */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Start the session and depth workflows of every connection, the depth coordinator and the retention schedule (existing ones are kept)')
    .option('--config <file>', 'config file', defaultConfigPath())
    .addHelpText('after', '\nExample:\n  npx ibflow start --config prod.yaml\n')
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
      const { startConnectionWorkflows, startDepthMaintenance } = require('../../src/operations/connectionWorkflows') as typeof import('../../src/operations/connectionWorkflows');
      const print = (line: string) => process.stdout.write(`${line.trim()}\n`);
      await startConnectionWorkflows(config, print);
      await startDepthMaintenance(config, print);
    });
}

import type { Command } from 'commander';
import { startConnectionWorkflows } from '../../infra/embeddedStack';
import { defaultConfigPath, loadConfig } from '../../src/config/loadConfig';

/** `ibflow start`: the session and depth workflows of every configured connection, idempotently. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Start the session and depth workflows of every connection in the config (existing ones are kept)')
    .option('--config <file>', 'config file', defaultConfigPath())
    .addHelpText('after', '\nExample:\n  npx ibflow start --config prod.yaml\n')
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      await startConnectionWorkflows(config, (line) => process.stdout.write(`${line.trim()}\n`));
    });
}

import { Command } from 'commander';
import { registerSimCommand } from './commands/sim';
import { registerStartCommand } from './commands/start';
import { registerUpCommand } from './commands/up';
import { registerWorkerCommand } from './commands/worker';

/** Exit codes: 0 ok, 1 failure, 2 bad usage or config. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('ibflow')
    .description('Keeps IBKR Client Portal Gateway sessions alive and streams L2 depth into ClickHouse')
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
      process.exit(2);
    });
  registerUpCommand(program);
  registerSimCommand(program);
  registerStartCommand(program);
  registerWorkerCommand(program);
  await program.parseAsync(argv);
}

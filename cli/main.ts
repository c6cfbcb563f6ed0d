import { Command } from 'commander';
import { registerConnectionCommand } from './commands/connection';
import { registerDbCommand } from './commands/db';
import { registerDepthCommand } from './commands/depth';
import { registerDoctorCommand } from './commands/doctor';
import { registerSessionCommand } from './commands/session';
import { registerSimCommand } from './commands/sim';
import { registerStartCommand } from './commands/start';
import { registerUpCommand } from './commands/up';
import { registerWorkerCommand } from './commands/worker';
import { exitCodeOf, messageOf } from './support/errors';

/** Exit codes: 0 ok, 1 failure, 2 bad usage or config, 3 not found (docs/cli.md). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('ibflow')
    .description('Keeps IBKR Client Portal Gateway sessions alive and streams L2 depth into ClickHouse')
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failure, 2 bad usage or config, 3 not found.
Config: --config <file>, else $IBFLOW_CONFIG, else .ibflow/ibflow.yaml; IBFLOW_* variables override fields.

Examples:
  ibflow connection add                 # interactive; see \`ibflow connection add --help\` for flags
  ibflow session status
  ibflow session relogin me-live
  ibflow depth tail 265598
  ibflow doctor`,
    );
  registerUpCommand(program);
  registerSimCommand(program);
  registerStartCommand(program);
  registerWorkerCommand(program);
  registerConnectionCommand(program);
  registerSessionCommand(program);
  registerDepthCommand(program);
  registerDoctorCommand(program);
  registerDbCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // bin.js prints the message and exits with exitCode; messages are ibflow's own words (no stack).
    const quiet = Boolean((err as { quiet?: boolean })?.quiet);
    throw Object.assign(new Error(quiet ? '' : messageOf(err)), { exitCode: exitCodeOf(err), quiet });
  }
}

import type { Command } from 'commander';
import { migrate } from '../../src/clickhouse/migrations';
import { configOption, readConfig } from '../support/configFile';
import { withClickHouse } from '../support/clickhouse';
import { CliError, EXIT } from '../support/errors';
import { out } from '../support/io';

/** `ibflow db migrate`: the ClickHouse schema, for a ClickHouse that `up` did not create. */
export function registerDbCommand(program: Command): void {
  const db = program.command('db').description('ClickHouse schema');
  db.command('migrate')
    .description('Create or upgrade the ibflow database and tables (idempotent)')
    .option(...configOption)
    .addHelpText(
      'after',
      '\nWith clickhouse.cluster set, every statement runs ON CLUSTER: replicated <table>_local tables on each\n' +
        'shard and Distributed tables with the public names (docs/deploy.md).\n\nExample:\n  ibflow db migrate --config prod.yaml\n',
    )
    .action(async (flags: { config?: string }) => {
      const config = readConfig(flags);
      await withClickHouse(config, async (ch) => {
        try {
          const { applied, serverVersion } = await migrate(ch, { database: config.clickhouse.database, cluster: config.clickhouse.cluster });
          out(`ClickHouse ${serverVersion} at ${config.clickhouse.url}${config.clickhouse.cluster ? ` (cluster ${config.clickhouse.cluster})` : ''}: ${applied.length ? `applied ${applied.join(', ')}` : 'schema up to date'}`);
        } catch (err) {
          throw new CliError(`migration failed on ${config.clickhouse.url}: ${(err as Error).message.split('\n')[0]}`, EXIT.failure);
        }
      });
    });
}

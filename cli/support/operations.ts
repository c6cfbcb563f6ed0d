import type { Operations } from '../../src/operations/operations';
import {
  ClickHouseQueryError,
  ClickHouseTablesMissingError,
  ClickHouseUnreachableError,
  QuarantineEntryMissingError,
  TemporalUnreachableError,
  UnknownPodError,
  WorkflowMissingError,
  WorkflowNotRunningError,
} from '../../src/operations/errors';
import type { IbflowConfig } from '../../src/config/schema';
import { CliError, EXIT, notFound } from './errors';

/**
 * The operations layer for one command; its typed errors become the CLI's messages and exit codes.
 * Loaded here, not at the top, so that commands which never reach Temporal or ClickHouse (and
 * `--help`) do not pay for their clients.
 */
export async function withOperations<T>(config: IbflowConfig, fn: (ops: Operations) => Promise<T>): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when the command runs, not at startup
  const { createOperations } = require('../../src/operations/operations') as typeof import('../../src/operations/operations');
  const ops = createOperations(config, { temporalConnectTimeoutMs: 5_000 });
  try {
    return await fn(ops);
  } catch (err) {
    throw cliErrorOf(err);
  } finally {
    await ops.close();
  }
}

/** The CLI's wording of an operations error (docs/cli.md: exit 1 failure, 3 not found); others pass through. */
export function cliErrorOf(err: unknown): unknown {
  if (err instanceof TemporalUnreachableError) {
    return new CliError(
      `cannot reach Temporal at ${err.address} (${err.reason}); is it running? ` +
        '(`npm run up` starts one; otherwise set temporal.address or IBFLOW_TEMPORAL_ADDRESS — `ibflow doctor` checks it)',
      EXIT.failure,
    );
  }
  if (err instanceof WorkflowMissingError) return notFound(`no session workflow for "${err.connectionId}" (${err.workflowId}); start it with: ibflow start`);
  if (err instanceof WorkflowNotRunningError) {
    return new CliError(`the session workflow of "${err.connectionId}" (${err.workflowId}) is ${err.status}; start it again with: ibflow start`, EXIT.failure);
  }
  if (err instanceof ClickHouseUnreachableError) {
    return new CliError(`cannot reach ClickHouse at ${err.url} (${err.reason}); is it running? (set clickhouse.url or IBFLOW_CLICKHOUSE_URL — \`ibflow doctor\` checks it)`, EXIT.failure);
  }
  if (err instanceof ClickHouseTablesMissingError) {
    return new CliError(`ClickHouse at ${err.url} has no ibflow tables in database ${err.database}: run \`ibflow db migrate\``, EXIT.failure);
  }
  if (err instanceof ClickHouseQueryError) return new CliError(`ClickHouse query failed: ${err.reason}`, EXIT.failure);
  if (err instanceof QuarantineEntryMissingError || err instanceof UnknownPodError) return notFound(err.message);
  return err;
}

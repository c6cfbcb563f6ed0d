/** The CLI words the operations layer's typed errors as it always has, with the documented exit codes. */
import { cliErrorOf } from '../../cli/support/operations';
import { CliError, EXIT, exitCodeOf } from '../../cli/support/errors';
import {
  ClickHouseQueryError,
  ClickHouseTablesMissingError,
  ClickHouseUnreachableError,
  TemporalUnreachableError,
  WorkflowMissingError,
  WorkflowNotRunningError,
} from '../../src/operations/errors';

test.each([
  [
    new TemporalUnreachableError('127.0.0.1:7233', 'connect ECONNREFUSED'),
    'cannot reach Temporal at 127.0.0.1:7233 (connect ECONNREFUSED); is it running? (`npm run up` starts one; otherwise set temporal.address or IBFLOW_TEMPORAL_ADDRESS — `ibflow doctor` checks it)',
    EXIT.failure,
  ],
  [new WorkflowMissingError('me-live', 'ibkr-session:me'), 'no session workflow for "me-live" (ibkr-session:me); start it with: ibflow start', EXIT.notFound],
  [new WorkflowNotRunningError('me-live', 'ibkr-session:me', 'terminated'), 'the session workflow of "me-live" (ibkr-session:me) is terminated; start it again with: ibflow start', EXIT.failure],
  [
    new ClickHouseUnreachableError('http://127.0.0.1:8123', 'ECONNREFUSED'),
    'cannot reach ClickHouse at http://127.0.0.1:8123 (ECONNREFUSED); is it running? (set clickhouse.url or IBFLOW_CLICKHOUSE_URL — `ibflow doctor` checks it)',
    EXIT.failure,
  ],
  [new ClickHouseTablesMissingError('http://ch:8123', 'ibflow'), 'ClickHouse at http://ch:8123 has no ibflow tables in database ibflow: run `ibflow db migrate`', EXIT.failure],
  [new ClickHouseQueryError('Syntax error'), 'ClickHouse query failed: Syntax error', EXIT.failure],
])('%s', (err, message, exitCode) => {
  const mapped = cliErrorOf(err);
  expect(mapped).toBeInstanceOf(CliError);
  expect([(mapped as CliError).message, exitCodeOf(mapped)]).toEqual([message, exitCode]);
});

test('other errors pass through unchanged', () => {
  const err = new Error('boom');
  expect(cliErrorOf(err)).toBe(err);
});

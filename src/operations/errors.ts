/**
 * Typed failures of the operations layer. Each carries the facts a face needs to word its own
 * message (the CLI keeps its wording and exit codes; a console or MCP server maps them its way).
 * None carries a secret: ids, states, addresses and first lines of server errors only.
 */
export class OperationError extends Error {
  override name = 'OperationError';
}

/** The Temporal frontend did not answer the connect. */
export class TemporalUnreachableError extends OperationError {
  override name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`cannot reach Temporal at ${address} (${reason})`);
  }
}

/** No workflow with this id exists. */
export class WorkflowMissingError extends OperationError {
  override name = 'WorkflowMissingError';
  constructor(
    readonly connectionId: string,
    readonly workflowId: string,
  ) {
    super(`no session workflow for "${connectionId}" (${workflowId})`);
  }
}

/** The workflow exists but has closed (completed, terminated, failed…). */
export class WorkflowNotRunningError extends OperationError {
  override name = 'WorkflowNotRunningError';
  constructor(
    readonly connectionId: string,
    readonly workflowId: string,
    /** Temporal's status name in lower case, e.g. `terminated`. */
    readonly status: string,
  ) {
    super(`the session workflow of "${connectionId}" (${workflowId}) is ${status}`);
  }
}

/** The workflow refused the request (its validator said no, e.g. while paused). */
export class RequestRefusedError extends OperationError {
  override name = 'RequestRefusedError';
  constructor(readonly reason: string) {
    super(`refused: ${reason}`);
  }
}

/** No answer within the caller's timeout; the workflow keeps going. */
export class NoAnswerError extends OperationError {
  override name = 'NoAnswerError';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${Math.round(timeoutMs / 1000)} s`);
  }
}

/** A signal was delivered but the state did not follow within the wait. */
export class StateNotReachedError extends OperationError {
  override name = 'StateNotReachedError';
  constructor(
    readonly wanted: string,
    /** The last state seen, null when the status could not be read. */
    readonly lastState: string | null,
    readonly timeoutMs: number,
  ) {
    super(`still ${lastState ?? 'unknown'} after ${Math.round(timeoutMs / 1000)} s (wanted ${wanted})`);
  }
}

/** ClickHouse did not answer (refused, unknown host, timeout). */
export class ClickHouseUnreachableError extends OperationError {
  override name = 'ClickHouseUnreachableError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach ClickHouse at ${url} (${reason})`);
  }
}

/** The database or its ibflow tables are not there (migrations not run). */
export class ClickHouseTablesMissingError extends OperationError {
  override name = 'ClickHouseTablesMissingError';
  constructor(
    readonly url: string,
    readonly database: string,
  ) {
    super(`ClickHouse at ${url} has no ibflow tables in database ${database}`);
  }
}

/** Any other failed read query. */
export class ClickHouseQueryError extends OperationError {
  override name = 'ClickHouseQueryError';
  constructor(readonly reason: string) {
    super(`ClickHouse query failed: ${reason}`);
  }
}

/** No record with this id in any pod's quarantine on this host (or the id is malformed). */
export class QuarantineEntryMissingError extends OperationError {
  override name = 'QuarantineEntryMissingError';
  constructor(
    readonly id: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** The pod named is neither configured nor has a quarantine folder here. */
export class UnknownPodError extends OperationError {
  override name = 'UnknownPodError';
  constructor(
    readonly pod: string,
    readonly known: string[],
  ) {
    super(`no pod "${pod}" (known: ${known.join(', ') || 'none'})`);
  }
}

/**
 * Sorts a failed insert into what to do with the batch, from the ClickHouse error code or the
 * transport error:
 * - `transient`: the server or the network will get better by itself (connection refused or reset,
 *   timeouts, memory limit, too many parts, a server starting or a replica read-only, Keeper away) —
 *   and the credentials or grants, which are not the batch's fault: fixing them lets the same batch
 *   through with no replay. Retried in order, spilled to disk meanwhile.
 * - `permanent`: the server will never take this batch as it is (unknown table or column, type
 *   mismatch, data it cannot parse, size limits, a row a constraint refuses). Quarantined, so the
 *   rows behind it go on.
 * - `unknown`: a code not listed here. Retried a few times, then treated as permanent: a quarantined
 *   batch can be replayed, a stalled sink loses the stream.
 *
 * Codes are ClickHouse's (src/Common/ErrorCodes.cpp), stable across versions. 18.16 writes
 * `Code: 60, e.displayText() = DB::Exception: …`, current servers `Code: 60. DB::Exception: … (UNKNOWN_TABLE)`;
 * the client parses only the second form into `.code`, so the text is read as well.
 */

export type InsertErrorKind = 'transient' | 'permanent' | 'unknown';

export interface ClassifiedInsertError {
  kind: InsertErrorKind;
  /** ClickHouse error code when the server answered with one. */
  code?: number;
  /** Its name when known (from the server or the table below), else the transport error code. */
  name?: string;
  /** The first line of the error, for logs and the quarantine record. */
  message: string;
}

/** Codes that say "not now". */
const TRANSIENT: Readonly<Record<number, string>> = {
  3: 'UNEXPECTED_END_OF_FILE', // the request body was cut off on the way
  159: 'TIMEOUT_EXCEEDED',
  160: 'TOO_SLOW',
  164: 'READONLY', // a user without write rights: grants, not the batch
  192: 'UNKNOWN_USER',
  193: 'WRONG_PASSWORD',
  194: 'REQUIRED_PASSWORD',
  195: 'IP_ADDRESS_NOT_ALLOWED',
  202: 'TOO_MANY_SIMULTANEOUS_QUERIES',
  203: 'NO_FREE_CONNECTION',
  209: 'SOCKET_TIMEOUT',
  210: 'NETWORK_ERROR',
  225: 'NO_ZOOKEEPER',
  236: 'ABORTED',
  241: 'MEMORY_LIMIT_EXCEEDED',
  242: 'TABLE_IS_READ_ONLY',
  252: 'TOO_MANY_PARTS',
  285: 'TOO_FEW_LIVE_REPLICAS',
  286: 'UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE',
  319: 'UNKNOWN_STATUS_OF_INSERT',
  394: 'QUERY_WAS_CANCELLED',
  425: 'SYSTEM_ERROR',
  439: 'CANNOT_SCHEDULE_TASK',
  497: 'ACCESS_DENIED',
  516: 'AUTHENTICATION_FAILED',
  999: 'KEEPER_EXCEPTION',
};

/** Codes that say "never, as it is". */
const PERMANENT: Readonly<Record<number, string>> = {
  6: 'CANNOT_PARSE_TEXT',
  8: 'THERE_IS_NO_COLUMN',
  10: 'NOT_FOUND_COLUMN_IN_BLOCK',
  16: 'NO_SUCH_COLUMN_IN_TABLE',
  20: 'NUMBER_OF_COLUMNS_DOESNT_MATCH',
  26: 'CANNOT_PARSE_QUOTED_STRING',
  27: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  33: 'CANNOT_READ_ALL_DATA', // RowBinary that does not match the table's columns
  36: 'BAD_ARGUMENTS',
  38: 'CANNOT_PARSE_DATE',
  41: 'CANNOT_PARSE_DATETIME',
  43: 'ILLEGAL_TYPE_OF_ARGUMENT',
  44: 'ILLEGAL_COLUMN',
  47: 'UNKNOWN_IDENTIFIER',
  53: 'TYPE_MISMATCH',
  60: 'UNKNOWN_TABLE',
  62: 'SYNTAX_ERROR',
  69: 'ARGUMENT_OUT_OF_BOUND',
  70: 'CANNOT_CONVERT_TYPE',
  72: 'CANNOT_PARSE_NUMBER',
  81: 'UNKNOWN_DATABASE',
  117: 'INCORRECT_DATA',
  128: 'TOO_LARGE_ARRAY_SIZE',
  131: 'TOO_LARGE_STRING_SIZE',
  158: 'TOO_MANY_ROWS',
  161: 'TOO_MANY_COLUMNS',
  173: 'CANNOT_ALLOCATE_MEMORY', // one allocation too large for the batch, not the server's state
  395: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO', // a MATERIALIZED/DEFAULT expression refused a row
  469: 'VIOLATED_CONSTRAINT',
};

/** Transport errors (Node's `err.code`) that mean the request never got a full answer. */
const TRANSIENT_TRANSPORT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** `Code: 60.` (current) or `Code: 60,` (18.x) at the start of a server error. */
const CODE_IN_TEXT = /^Code:\s*(\d+)[.,]/;
/** `(UNKNOWN_TABLE)` before the version, on current servers. */
const NAME_IN_TEXT = /\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version [^)]*\))?\s*$/;

export function classifyInsertError(err: unknown): ClassifiedInsertError {
  const message = firstLine(err);
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; type?: unknown };
  const fromClient = typeof e.code === 'string' && /^\d+$/.test(e.code) ? Number(e.code) : undefined;
  const fromText = CODE_IN_TEXT.exec(message);
  const code = fromClient ?? (fromText ? Number(fromText[1]) : undefined);
  if (code !== undefined) {
    const serverName = typeof e.type === 'string' && e.type ? e.type : NAME_IN_TEXT.exec(message)?.[1];
    if (TRANSIENT[code] !== undefined) return { kind: 'transient', code, name: serverName ?? TRANSIENT[code], message };
    if (PERMANENT[code]) return { kind: 'permanent', code, name: serverName ?? PERMANENT[code], message };
    return { kind: 'unknown', code, ...(serverName ? { name: serverName } : {}), message };
  }
  const transport = typeof e.code === 'string' ? e.code : undefined;
  if (transport && TRANSIENT_TRANSPORT.has(transport)) return { kind: 'transient', name: transport, message };
  // The client's own request timeout, and sockets closed under it.
  if (/timeout|socket hang up|ECONNRESET|ECONNREFUSED|other side closed/i.test(message)) return { kind: 'transient', ...(transport ? { name: transport } : {}), message };
  return { kind: 'unknown', ...(transport ? { name: transport } : {}), message };
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').slice(0, 500);
}

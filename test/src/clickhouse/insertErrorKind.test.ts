import { classifyInsertError } from '../../../src/clickhouse/insertErrorKind';

const serverError = (text: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(text), extra);

describe('classifyInsertError', () => {
  it('reads 18.16 error text (the client does not parse its code)', () => {
    expect(classifyInsertError(serverError("Code: 60, e.displayText() = DB::Exception: Table p.nope doesn't exist., e.what() = DB::Exception"))).toMatchObject({ kind: 'permanent', code: 60, name: 'UNKNOWN_TABLE' });
    expect(classifyInsertError(serverError("Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero"))).toMatchObject({ kind: 'permanent', code: 395 });
    expect(classifyInsertError(serverError('Code: 252, e.displayText() = DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts.'))).toMatchObject({ kind: 'transient', code: 252, name: 'TOO_MANY_PARTS' });
  });

  it('reads current servers: code and name as the client parsed them, or from the text', () => {
    expect(classifyInsertError(serverError('Unknown table expression identifier', { code: '60', type: 'UNKNOWN_TABLE' }))).toMatchObject({ kind: 'permanent', code: 60, name: 'UNKNOWN_TABLE' });
    expect(classifyInsertError(serverError('Code: 241. DB::Exception: Memory limit (total) exceeded: would use 3.5 GiB. (MEMORY_LIMIT_EXCEEDED) (version 26.9.2.1)'))).toMatchObject({ kind: 'transient', code: 241, name: 'MEMORY_LIMIT_EXCEEDED' });
    expect(classifyInsertError(serverError('Code: 53. DB::Exception: Type mismatch in IN or VALUES section. (TYPE_MISMATCH) (version 26.9.2.1)'))).toMatchObject({ kind: 'permanent', code: 53, name: 'TYPE_MISMATCH' });
  });

  it('credentials and grants are not the batch\'s fault: transient (a fix lets the same batch through)', () => {
    expect(classifyInsertError(serverError('x', { code: '516', type: 'AUTHENTICATION_FAILED' })).kind).toBe('transient');
    expect(classifyInsertError(serverError('Code: 497. DB::Exception: ibflow_ingest: Not enough privileges. (ACCESS_DENIED)')).kind).toBe('transient');
  });

  it('transport errors are transient; anything else is unknown', () => {
    expect(classifyInsertError(serverError('connect ECONNREFUSED 127.0.0.1:8123', { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'transient', name: 'ECONNREFUSED' });
    expect(classifyInsertError(serverError('Timeout error.')).kind).toBe('transient');
    expect(classifyInsertError(serverError('socket hang up')).kind).toBe('transient');
    expect(classifyInsertError(serverError('Code: 12345. DB::Exception: something new. (SOMETHING_NEW)'))).toMatchObject({ kind: 'unknown', code: 12345, name: 'SOMETHING_NEW' });
    expect(classifyInsertError('weird')).toMatchObject({ kind: 'unknown', message: 'weird' });
  });

  it('keeps only the first line of a long message', () => {
    const c = classifyInsertError(serverError(`Code: 60. DB::Exception: gone\n${'stack '.repeat(100)}`));
    expect(c.message).toBe('Code: 60. DB::Exception: gone');
  });
});

/**
 * The problem a depth stream reports while rows of it sit in the quarantine: enough for an operator
 * to know what is missing and why, and the command that puts it back.
 */
import type { QuarantinedStream, QuarantineRecord } from '../../../src/clickhouse/quarantine';
import { quarantineProblem } from '../../../src/depth/quarantineProblem';

const stream = (conid: number, streamId: string, rows: number, fromSeq: number, toSeq: number): QuarantinedStream => ({
  connection: 'paper-1',
  pod: 'pod-a',
  conid,
  streamId,
  rows,
  fromSeq,
  toSeq,
  firstNs: '1767225600000000000',
  lastNs: '1767225601000000000',
});

const record = (error: QuarantineRecord['error']): Pick<QuarantineRecord, 'id' | 'error'> => ({ id: 'q-20260101T120000123Z-0a1b2c', error });

it('names the record, the replay command, the rows over the given streams and each range', () => {
  const text = quarantineProblem(record({ kind: 'permanent', code: 395, name: 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO', message: 'throwIf refused the batch' }), [stream(265598, 's1', 40, 10, 19), stream(8314, 's2', 7, 3, 4)]);
  expect(text).toMatch(/^DepthQuarantined: /);
  expect(text).toContain('refused 47 depth rows');
  expect(text).toContain('set aside as q-20260101T120000123Z-0a1b2c');
  expect(text).toMatch(/ibflow depth quarantine replay q-20260101T120000123Z-0a1b2c$/);
  expect(text).toContain('conid 265598 seq 10–19');
  expect(text).toContain('conid 8314 seq 3–4');
  expect(text).toContain('code 395 FUNCTION_THROW_IF_VALUE_IS_NON_ZERO: throwIf refused the batch');
});

it('counts only the streams it is given (one stream reports its own share)', () => {
  const text = quarantineProblem(record({ kind: 'permanent', code: 53, message: 'type mismatch' }), [stream(8314, 's2', 7, 3, 4)]);
  expect(text).toContain('refused 7 depth rows');
  expect(text).toContain('conid 8314 seq 3–4');
  expect(text).not.toContain('265598');
});

it('shows the code or the name alone when only one is known, and neither when none is', () => {
  const s = [stream(1, 's1', 1, 1, 1)];
  expect(quarantineProblem(record({ kind: 'permanent', code: 27, message: 'cannot parse' }), s)).toContain('(code 27: cannot parse)');
  expect(quarantineProblem(record({ kind: 'unknown', name: 'ECONNRESET', message: 'socket hang up' }), s)).toContain('(ECONNRESET: socket hang up)');
  const bare = quarantineProblem(record({ kind: 'unrecorded', message: 'the server error was not recorded' }), s);
  expect(bare).toContain('(the server error was not recorded)');
  expect(bare).not.toContain('code');
});

it('keeps only the first line of the message, cut to 200 characters', () => {
  const s = [stream(1, 's1', 1, 1, 1)];
  const multi = quarantineProblem(record({ kind: 'permanent', code: 60, message: 'Table ibflow.depth does not exist\nStack trace:\n0. DB::Exception' }), s);
  expect(multi).toContain('code 60: Table ibflow.depth does not exist)');
  expect(multi).not.toContain('Stack trace');
  expect(multi).not.toContain('DB::Exception');

  const long = 'a'.repeat(200) + 'TAIL' + '\nsecond line';
  const cut = quarantineProblem(record({ kind: 'permanent', code: 1, message: long }), s);
  expect(cut).toContain(`code 1: ${'a'.repeat(200)})`);
  expect(cut).not.toContain('TAIL');
  expect(cut).not.toContain('second line');
});

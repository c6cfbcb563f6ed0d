/** The sink pipe against a scripted sink whose pushes the test resolves or refuses one by one. */
import type { DepthRow } from '../../../src/book/depthRow';
import { SinkPipe } from '../../../src/depth/sinkPipe';

function row(conid: number, seq: number, kind: DepthRow['kind'] = 'snapshot'): DepthRow {
  return { receivedNs: 1n, connection: 'c', pod: 'p', conid, streamId: `s${conid}`, seq, kind, side: kind === 'gap' ? 'none' : 'bid', level: 0, price: 1, size: 1 };
}

/** Each push waits until the test settles it; `calls` is what the sink was handed, in order. */
class ScriptedSink {
  calls: DepthRow[][] = [];
  private settlers: { resolve: () => void; reject: (err: Error) => void }[] = [];

  push(rows: readonly DepthRow[]): Promise<void> {
    this.calls.push([...rows]);
    return new Promise((resolve, reject) => this.settlers.push({ resolve, reject }));
  }

  async accept(): Promise<void> {
    this.next().resolve();
    await settle();
  }

  async refuse(err: Error): Promise<void> {
    this.next().reject(err);
    await settle();
  }

  private next() {
    const s = this.settlers.shift();
    if (!s) throw new Error('no push is waiting');
    return s;
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

function pipeWith(sink: ScriptedSink) {
  const flow: string[] = [];
  const failures: string[] = [];
  const pipe = new SinkPipe({
    sink,
    flow: { pause: () => flow.push('pause'), resume: () => flow.push('resume') },
    gapRowFor: (conid, seq) => (conid === 99 ? undefined : row(conid, seq, 'gap')),
    failed: (reason) => failures.push(reason),
  });
  return { pipe, flow, failures };
}

/** A sink that takes rows synchronously while `room` lasts, refuses bad ones at once, and queues the rest. */
class SyncSink extends ScriptedSink {
  taken: DepthRow[][] = [];
  room = Number.POSITIVE_INFINITY;

  tryPush(rows: readonly DepthRow[]): boolean {
    if (rows.some((r) => r.level < 0)) throw new Error('bad row');
    if (this.room < rows.length) return false;
    this.room -= rows.length;
    this.taken.push([...rows]);
    return true;
  }
}

describe('SinkPipe with a sink that can take rows synchronously', () => {
  test('takes rows without a push while the sink has room, and falls back to push (in order) when it has none', async () => {
    const sink = new SyncSink();
    const { pipe, flow } = pipeWith(sink);
    pipe.push([row(1, 1)]);
    pipe.push([row(1, 2)]);
    expect(sink.taken).toEqual([[row(1, 1)], [row(1, 2)]]);
    expect(sink.calls).toEqual([]);
    sink.room = 0;
    pipe.push([row(1, 3)]);
    pipe.push([row(1, 4)]); // behind a waiting push: never taken ahead of it
    sink.room = Number.POSITIVE_INFINITY;
    pipe.push([row(1, 5)]);
    await settle();
    expect(sink.calls).toEqual([[row(1, 3)]]);
    expect(flow).toEqual(['pause']);
    await sink.accept();
    await sink.accept();
    await sink.accept();
    await pipe.drained();
    expect(sink.calls).toEqual([[row(1, 3)], [row(1, 4)], [row(1, 5)]]);
    expect(sink.taken).toHaveLength(2);
    expect(flow).toEqual(['pause', 'resume']);
  });

  test('rows the sink refuses synchronously are marked with a gap row and fail the stream', async () => {
    const sink = new SyncSink();
    const { pipe, failures } = pipeWith(sink);
    pipe.push([{ ...row(1, 7), level: -1 }]);
    await settle();
    expect(sink.calls).toEqual([[row(1, 7, 'gap')]]);
    await sink.accept();
    await pipe.drained();
    expect(pipe.refusedRows).toBe(1);
    expect(failures).toEqual([expect.stringContaining('bad row')]);
  });
});

describe('SinkPipe', () => {
  test('hands pushes to the sink in order, one at a time; an empty push is no push', async () => {
    const sink = new ScriptedSink();
    const { pipe } = pipeWith(sink);
    pipe.push([row(1, 1)]);
    pipe.push([]);
    pipe.push([row(1, 2)]);
    pipe.push([row(1, 3)]);
    await settle();
    expect(sink.calls).toEqual([[row(1, 1)]]); // the next waits for this one
    await sink.accept();
    expect(sink.calls).toEqual([[row(1, 1)], [row(1, 2)]]);
    await sink.accept();
    await sink.accept();
    expect(sink.calls.map((c) => c[0]!.seq)).toEqual([1, 2, 3]);
    await pipe.drained();
  });

  test('pauses the feed once while more than one push is outstanding, resumes when the sink has caught up', async () => {
    const sink = new ScriptedSink();
    const { pipe, flow } = pipeWith(sink);
    pipe.push([row(1, 1)]);
    await settle();
    expect(flow).toEqual([]); // one in flight is the normal case
    pipe.push([row(1, 2)]);
    pipe.push([row(1, 3)]);
    expect(flow).toEqual(['pause']);
    await sink.accept();
    expect(flow).toEqual(['pause']); // still two outstanding
    await sink.accept();
    expect(flow).toEqual(['pause', 'resume']);
    pipe.push([row(1, 4)]);
    expect(flow).toEqual(['pause', 'resume', 'pause']);
    await sink.accept();
    await sink.accept();
    expect(flow).toEqual(['pause', 'resume', 'pause', 'resume']);
  });

  test('refused rows get a gap row at the last refused frame of each ladder, and the stream is reported failed', async () => {
    const sink = new ScriptedSink();
    const { pipe, failures } = pipeWith(sink);
    pipe.push([row(1, 3), row(1, 4), row(2, 7), row(2, 8, 'gap'), row(99, 5)]);
    await settle();
    await sink.refuse(new RangeError('row 3: price is not finite'));
    expect(sink.calls[1]).toEqual([row(1, 4, 'gap'), row(2, 7, 'gap')]); // a gap seq is no frame; conid 99 has no ladder
    expect(failures).toEqual([]); // reported once the markers are handed over
    await sink.accept();
    expect(failures).toEqual(['the ClickHouse sink refused 5 rows: row 3: price is not finite']);
    expect(pipe.refusedRows).toBe(5);
    expect(pipe.error).toBeInstanceOf(RangeError);
    pipe.push([row(1, 5)]); // the pipe itself keeps going until the stream is closed
    await settle();
    expect(sink.calls).toHaveLength(3);
  });

  test('a refused marker push is swallowed: the failure is still reported and the pipe drains', async () => {
    const sink = new ScriptedSink();
    const { pipe, failures } = pipeWith(sink);
    pipe.push([row(1, 1)]);
    await settle();
    await sink.refuse(new Error('boom'));
    await sink.refuse(new Error('boom again'));
    await pipe.drained();
    expect(failures).toEqual(['the ClickHouse sink refused 1 rows: boom']);
    expect(pipe.refusedRows).toBe(1);
  });

  test('drained() waits for every push made so far', async () => {
    const sink = new ScriptedSink();
    const { pipe } = pipeWith(sink);
    pipe.push([row(1, 1)]);
    pipe.push([row(1, 2)]);
    let drained = false;
    void pipe.drained().then(() => (drained = true));
    await settle();
    await sink.accept();
    expect(drained).toBe(false);
    await sink.accept();
    expect(drained).toBe(true);
  });
});

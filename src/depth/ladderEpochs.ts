import { randomUUID } from 'node:crypto';
import { DepthBook } from '../book/depthBook';
import type { DepthRow } from '../book/depthRow';
import { gapMarkerRow } from '../book/normaliseDepthFrame';
import type { DepthInstrument } from '../contract/depthTypes';
import { nowNs } from '../gateway/gatewaySocket';

/** One ladder on one epoch: a stream id, seq from 1 and a fresh book, new at every (re)subscribe. */
export interface LadderEpoch {
  readonly instrument: DepthInstrument;
  readonly streamId: string;
  /** Seq of the last frame taken (0: none yet — the opening gap row's seq). */
  seq: number;
  readonly book: DepthBook;
  /** When the ladder last heard from the gateway (or was subscribed): the watchdog's reference. */
  lastFrameAtMs: number;
  subscribed: boolean;
  /** The gateway refused the subscription: never subscribed again on this stream. */
  refused: boolean;
}

export interface LadderEpochsOptions {
  connection: string;
  pod: string;
  nowMs: () => number;
  /** Default: a random UUID. */
  newStreamId?: () => string;
}

/** The current epoch of every streamed ladder, by conid, and the gap rows that delimit epochs. */
export class LadderEpochs {
  private readonly ladders = new Map<number, LadderEpoch>();
  private readonly newStreamId: () => string;

  constructor(
    private readonly opts: LadderEpochsOptions,
    instruments: readonly DepthInstrument[],
  ) {
    this.newStreamId = opts.newStreamId ?? randomUUID;
    for (const i of instruments) this.ladders.set(i.conid, this.epochOf(i));
  }

  get(conid: number): LadderEpoch | undefined {
    return this.ladders.get(conid);
  }

  all(): IterableIterator<LadderEpoch> {
    return this.ladders.values();
  }

  conids(): number[] {
    return [...this.ladders.keys()];
  }

  /** Replaces a ladder's epoch with a new one (new stream id, seq 0, empty book, not subscribed). */
  renew(ladder: LadderEpoch): LadderEpoch {
    const next = this.epochOf(ladder.instrument);
    this.ladders.set(ladder.instrument.conid, next);
    return next;
  }

  /** A gap row on the ladder's epoch at `seq` (0 opens the epoch; the last frame's seq closes it). */
  gapRow(ladder: LadderEpoch, seq: number): DepthRow {
    return {
      ...gapMarkerRow({ receivedNs: nowNs(), connection: this.opts.connection, pod: this.opts.pod, streamId: ladder.streamId, conid: ladder.instrument.conid }),
      seq,
    };
  }

  /** A gap row at `seq` on the current epoch of `conid`; undefined for a conid not streamed. */
  gapRowFor(conid: number, seq: number): DepthRow | undefined {
    const ladder = this.ladders.get(conid);
    return ladder ? this.gapRow(ladder, seq) : undefined;
  }

  private epochOf(instrument: DepthInstrument): LadderEpoch {
    return {
      instrument,
      streamId: this.newStreamId(),
      seq: 0,
      book: new DepthBook(),
      lastFrameAtMs: this.opts.nowMs(),
      subscribed: false,
      refused: false,
    };
  }
}

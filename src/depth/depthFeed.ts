/**
 * The depth feed of one connection: the gateway websocket's depth protocol turned into rows.
 * It knows nothing of Temporal or ClickHouse: its socket and clock are injected, its output is
 * events (rows, problems, the end of the stream). See docs/depth.md, "Streaming (per pod)".
 *
 * Markers (kind `gap`): seq 0 opens every ladder epoch; an epoch that ends (session lost, socket
 * closed, cancelled, or resubscribed by the watchdog) gets a closing marker with the seq of its
 * last frame, so readers know data after it is not continuous. A frame of a known ladder that is
 * skipped (malformed, oversized) takes its seq as a gap row.
 * Snapshots: every (re)subscribe starts with the gateway's full ladder (kind `snapshot`); for delta
 * streams the maintained book is written as a snapshot every `snapshotEveryMs`.
 * Watchdog: a ladder with no frame for `staleAfterMs` while the session is fine is closed with a
 * marker and resubscribed on a new epoch — but not while the socket is paused for the sink.
 */
import type { DepthRow } from '../book/depthRow';
import { DepthFrameError, parseDepthTopicCached } from '../book/normaliseDepthFrame';
import type { DepthInstrument } from '../contract/depthTypes';
import type { GatewaySocketHandlers } from '../gateway/gatewaySocket';
import { systemClock, type CancelTimer, type FeedClock } from './feedClock';
import type { FeedSocket, FeedSocketFactory } from './feedSocket';
import { LadderEpochs, type LadderEpoch } from './ladderEpochs';
import { creditPause, isStale, watchdogEveryMs } from './streamWatchdog';

/** Subscribe even if the gateway never sends `sts` with authenticated:true. */
export const SUBSCRIBE_FALLBACK_MS = 5_000;

export interface DepthFeedSettings {
  staleAfterMs: number;
  snapshotEveryMs: number;
  maxFrameBytes: number;
}

export interface DepthFeedStats {
  frames: number;
  rows: number;
  malformed: number;
  oversized: number;
  resubscribes: number;
  snapshots: number;
  refused: number[];
}

export function emptyFeedStats(): DepthFeedStats {
  return { frames: 0, rows: 0, malformed: 0, oversized: 0, resubscribes: 0, snapshots: 0, refused: [] };
}

/** Why the feed stopped on its own (cancellation is the caller's: {@link DepthFeed.close}). */
export type DepthFeedEnd = { kind: 'session_lost'; reason: string } | { kind: 'socket_closed'; reason: string };

export interface DepthFeedEvents {
  /** Rows in order: frame rows, gap rows and periodic snapshots. */
  rows(rows: DepthRow[]): void;
  /** An instrument problem to report (a subscription the gateway refused). */
  problem(problem: string): void;
  /** May be called more than once; the first call is the reason. */
  end(end: DepthFeedEnd): void;
}

/** The subset of a pino logger the feed uses. */
export interface DepthFeedLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface DepthFeedOptions {
  connectionId: string;
  pod: string;
  account: string;
  /** The ladders to stream (already within the account's limit). */
  instruments: readonly DepthInstrument[];
  settings: DepthFeedSettings;
  socket: FeedSocketFactory;
  events: DepthFeedEvents;
  log: DepthFeedLogger;
  clock?: FeedClock;
  /** Default: a random UUID per epoch. */
  newStreamId?: () => string;
}

export class DepthFeed {
  readonly stats: DepthFeedStats = emptyFeedStats();
  private readonly ladders: LadderEpochs;
  private readonly clock: FeedClock;
  private socket: FeedSocket | null = null;
  private timers: CancelTimer[] = [];
  /** The gateway said the session is authenticated (or the fallback assumed it). */
  private sessionOk = false;
  /** Set while the socket is paused for the sink's backpressure. */
  private pausedSinceMs: number | null = null;

  constructor(private readonly opts: DepthFeedOptions) {
    this.clock = opts.clock ?? systemClock;
    this.ladders = new LadderEpochs({ connection: opts.connectionId, pod: opts.pod, nowMs: () => this.clock.nowMs(), newStreamId: opts.newStreamId }, opts.instruments);
  }

  /** Conids streamed, in assignment order. */
  get conids(): number[] {
    return this.ladders.conids();
  }

  /**
   * Opens every ladder's epoch (gap row, seq 0), starts the timers and opens the socket; rejects when
   * the socket does not open (call {@link close} either way).
   */
  async open(): Promise<void> {
    for (const l of this.ladders.all()) this.emit([this.ladders.gapRow(l, 0)]);
    const handlers: GatewaySocketHandlers = {
      onMessage: (message, receivedNs, rawBytes) => this.onMessage(message, receivedNs, rawBytes),
      onUndecodable: (reason, rawBytes) => {
        this.stats.malformed++;
        this.opts.log.warn({ reason, rawBytes }, 'skipped undecodable websocket frame');
      },
      onClose: (code) => this.opts.events.end({ kind: 'socket_closed', reason: `websocket closed (${code})` }),
    };
    this.socket = this.opts.socket(handlers);
    const { staleAfterMs, snapshotEveryMs } = this.opts.settings;
    this.timers.push(
      this.clock.after(SUBSCRIBE_FALLBACK_MS, () => {
        this.sessionOk = true;
        this.subscribeAll();
      }),
      this.clock.every(watchdogEveryMs(staleAfterMs), () => this.checkStale()),
      this.clock.every(snapshotEveryMs, () => this.writeSnapshots()),
    );
    await this.socket.open();
    this.opts.log.info({ instruments: this.conids }, 'depth stream open');
  }

  /** Backpressure: stop reading the socket; the watchdog rests until {@link resume}. */
  pause(): void {
    if (this.pausedSinceMs !== null) return;
    this.socket?.pause();
    this.pausedSinceMs = this.clock.nowMs();
  }

  resume(): void {
    if (this.pausedSinceMs === null) return;
    creditPause(this.ladders.all(), this.clock.nowMs() - this.pausedSinceMs);
    this.pausedSinceMs = null;
    this.socket?.resume();
  }

  /** Stops the timers, closes the socket and closes every ladder's epoch with a gap row. */
  close(): void {
    for (const cancel of this.timers) cancel();
    this.timers = [];
    this.socket?.close();
    this.socket = null;
    for (const l of this.ladders.all()) this.closeEpoch(l);
  }

  /** A gap row at `seq` on the current epoch of `conid` (for rows lost downstream). */
  gapRowFor(conid: number, seq: number): DepthRow | undefined {
    return this.ladders.gapRowFor(conid, seq);
  }

  private emit(rows: DepthRow[]): void {
    this.opts.events.rows(rows);
  }

  private onMessage(message: Record<string, unknown>, receivedNs: bigint, rawBytes: number): void {
    const topic = message.topic;
    if (topic === 'sts') {
      this.onSessionStatus((message.args ?? {}) as Record<string, unknown>);
      return;
    }
    if (typeof topic !== 'string' || !topic.startsWith('sbd+')) return;
    const parsedTopic = parseDepthTopicCached(topic);
    const l = parsedTopic ? this.ladders.get(parsedTopic.conid) : undefined;
    if (!l || l.refused) return;
    const { maxFrameBytes } = this.opts.settings;
    if (rawBytes > maxFrameBytes) {
      this.stats.oversized++;
      this.opts.log.warn({ topic, rawBytes, maxFrameBytes }, 'skipped oversized depth frame');
      this.markSkipped(l);
      return;
    }
    if (message.error !== undefined && message.data === undefined) {
      this.onRefused(l, String(message.error));
      return;
    }
    const seq = l.seq + 1;
    try {
      const rows = l.book.apply(message, { receivedNs, connection: this.opts.connectionId, pod: this.opts.pod, streamId: l.streamId, seq });
      l.seq = seq;
      l.lastFrameAtMs = this.clock.nowMs();
      this.stats.frames++;
      this.stats.rows += rows.length;
      this.emit(rows);
    } catch (err) {
      if (!(err instanceof DepthFrameError)) throw err;
      this.stats.malformed++;
      this.opts.log.warn({ topic, error: err.message }, 'skipped malformed depth frame');
      this.markSkipped(l);
    }
  }

  private onSessionStatus(args: Record<string, unknown>): void {
    if (args.competing === true) this.opts.events.end({ kind: 'session_lost', reason: 'competing session' });
    else if (args.authenticated === false) this.opts.events.end({ kind: 'session_lost', reason: 'gateway pushed authenticated:false' });
    else if (args.authenticated === true) {
      this.sessionOk = true;
      this.subscribeAll();
    }
  }

  /** The gateway refused the subscription (over its ladder limit, no bridge, foreign account…). */
  private onRefused(l: LadderEpoch, reason: string): void {
    if (/no bridge/i.test(reason)) return; // the session is not ready: the watchdog resubscribes
    l.refused = true;
    this.stats.refused.push(l.instrument.conid);
    const problem = `DepthRefused: the gateway refused depth for ${l.instrument.conid} on ${this.opts.connectionId}: ${reason} — not retried; fix the assignment or the account's market-data lines`;
    this.opts.log.error({ conid: l.instrument.conid, reason }, problem);
    this.opts.events.problem(problem);
  }

  /** A frame of this ladder that could not be stored takes its seq as a gap row: the window is known to be incomplete. */
  private markSkipped(l: LadderEpoch): void {
    l.seq += 1;
    l.lastFrameAtMs = this.clock.nowMs();
    this.emit([this.ladders.gapRow(l, l.seq)]);
  }

  /** Closes an epoch: a gap row after its last frame (seq of that frame; 0 if none came). */
  private closeEpoch(l: LadderEpoch): void {
    this.emit([this.ladders.gapRow(l, l.seq)]);
  }

  private topicFor(i: DepthInstrument): string {
    return `${this.opts.account}+${i.conid}${i.exchange ? `+${i.exchange}` : ''}`;
  }

  private subscribe(l: LadderEpoch): void {
    l.subscribed = true;
    l.lastFrameAtMs = this.clock.nowMs();
    this.socket?.send(`sbd+${this.topicFor(l.instrument)}`);
  }

  private subscribeAll(): void {
    for (const l of this.ladders.all()) if (!l.subscribed && !l.refused) this.subscribe(l);
  }

  private checkStale(): void {
    if (!this.sessionOk || this.pausedSinceMs !== null) return; // paused by us, not silent
    const now = this.clock.nowMs();
    const { staleAfterMs } = this.opts.settings;
    for (const l of [...this.ladders.all()]) {
      if (!isStale(l, now, staleAfterMs)) continue;
      this.opts.log.warn({ conid: l.instrument.conid, streamId: l.streamId, silentMs: now - l.lastFrameAtMs }, 'depth ladder is stale; marking a gap and resubscribing');
      this.stats.resubscribes++;
      this.closeEpoch(l);
      this.socket?.send(`ubd+${this.topicFor(l.instrument)}`);
      const next = this.ladders.renew(l);
      this.emit([this.ladders.gapRow(next, 0)]);
      this.subscribe(next);
    }
  }

  private writeSnapshots(): void {
    for (const l of this.ladders.all()) {
      if (l.book.lastKind !== 'update') continue;
      const rows = l.book.snapshot();
      l.book.lastKind = 'snapshot'; // the book at this seq is now on record
      this.stats.snapshots++;
      this.emit(rows);
    }
  }
}

import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { DepthBook } from '../src/book/depthBook';
import { DepthFrameError, gapMarkerRow, parseDepthTopic } from '../src/book/normaliseDepthFrame';
import type { DepthRow } from '../src/book/depthRow';
import { depthSettings } from '../src/config/schema';
import { GatewaySocket, nowNs } from '../src/gateway/gatewaySocket';
import { addDepthRows } from '../src/metrics/metrics';
import { FailureType } from '../src/contract/failureTypes';
import type { DepthInstrument } from '../src/contract/depthTypes';
import { gatewayFailure } from './activityFailure';
import { HEARTBEAT_EVERY_MS } from './heartbeatCadence';
import type { PodDependencies } from './podDependencies';

/**
 * IBKR's unsubscribe is per account (`ubd+ACCT`), which suggests one BookTrader ladder per account
 * at a time: the default of `depth.maxLaddersPerAccount`.
 */
export const MAX_LADDERS_PER_ACCOUNT = 1;
/** Subscribe even if the gateway never sends `sts` with authenticated:true. */
const SUBSCRIBE_FALLBACK_MS = 5_000;

export interface StreamDepthOptions {
  sessionWorkflowId: string;
  /** The coordinator's assignment; undefined/null = the connection's instruments from config. */
  instruments?: DepthInstrument[] | null;
  /** Where over-limit and refusal reports are signalled; default: the calling workflow. */
  reportToWorkflowId?: string;
}

export interface StreamDepthStats {
  frames: number;
  rows: number;
  malformed: number;
  oversized: number;
  resubscribes: number;
  snapshots: number;
  refused: number[];
  overLimit: number[];
  /** Rows the sink refused (each loss marked with a gap row; the stream then ends). */
  sinkRefusedRows: number;
}

type StreamEnd = { kind: 'session_lost'; reason: string } | { kind: 'socket_closed'; reason: string } | { kind: 'sink_failed'; reason: string };

/** Per-ladder state; a new epoch (stream id, seq from 1, fresh book) at every (re)subscribe. */
interface Ladder {
  instrument: DepthInstrument;
  streamId: string;
  seq: number;
  book: DepthBook;
  lastFrameAtMs: number;
  lastReceivedNs: bigint;
  subscribed: boolean;
  refused: boolean;
}

/**
 * Long-running, heartbeating: subscribes to depth for the instruments assigned to the connection
 * (at most `depth.maxLaddersPerAccount`; the rest are reported, never retried) and feeds every
 * frame, normalised through a maintained book, into the pod's ClickHouse sink until cancelled or
 * the session is lost.
 *
 * Markers (kind `gap`): seq 0 opens every ladder epoch; an epoch that ends (session lost, socket
 * closed, cancelled, or resubscribed by the watchdog) gets a closing marker with the seq of its
 * last frame, so readers know data after it is not continuous. A process that dies writes no
 * closing marker; the next epoch's opening marker still marks the gap.
 * Snapshots: every (re)subscribe starts with the gateway's full ladder (kind `snapshot`); for delta
 * streams the maintained book is written as a snapshot every `depth.snapshotEveryMs`.
 * Watchdog: a ladder with no frame for `depth.staleAfterMs` while the session is fine is closed
 * with a marker and resubscribed on a new epoch.
 */
export function createStreamDepth(deps: PodDependencies) {
  return async function streamDepth(connectionId: string, opts: StreamDepthOptions): Promise<StreamDepthStats> {
    const ctx = Context.current();
    const settings = depthSettings(deps.config());
    const connection = deps.connection(connectionId);
    const all = opts.instruments ?? connection.instruments;
    const log = deps.log.child({ connectionId });
    const stats: StreamDepthStats = { frames: 0, rows: 0, malformed: 0, oversized: 0, resubscribes: 0, snapshots: 0, refused: [], overLimit: [], sinkRefusedRows: 0 };
    const reportTo = opts.reportToWorkflowId ?? ctx.info.workflowExecution?.workflowId ?? '';
    const report = async (problem: string) => {
      if (!reportTo) return;
      await deps.temporal.workflow
        .getHandle(reportTo)
        .signal('depthProblem', problem)
        .catch((err: Error) => log.warn({ error: err.message }, 'could not report a depth problem to the workflow'));
    };

    const instruments = all.slice(0, settings.maxLaddersPerAccount);
    if (all.length > instruments.length) {
      stats.overLimit = all.slice(instruments.length).map((i) => i.conid);
      const problem =
        `DepthOverLimit: connection ${connectionId} is assigned ${all.length} depth ladders but an account may hold ` +
        `${settings.maxLaddersPerAccount} (depth.maxLaddersPerAccount); streaming ${instruments.map((i) => i.conid).join(', ')}, ` +
        `NOT streaming ${stats.overLimit.join(', ')} — assign them to another connection`;
      log.error({ overLimit: stats.overLimit, limit: settings.maxLaddersPerAccount }, problem);
      await report(problem);
    }
    if (instruments.length === 0) return stats;

    const gateway = deps.gateway(connectionId);
    let session: string;
    let account: string;
    try {
      const tickle = await gateway.tickle();
      if (!tickle.authStatus.authenticated) {
        throw ApplicationFailure.create({ type: FailureType.SessionLost, message: 'session is not authenticated', nonRetryable: true });
      }
      session = tickle.session;
      account = connection.account ?? (await gateway.accounts()).accounts[0] ?? '';
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw gatewayFailure(err);
    }
    if (!account) throw ApplicationFailure.create({ type: FailureType.NoAccount, message: 'gateway lists no account for depth', nonRetryable: true });

    const ladders = new Map<number, Ladder>();
    const newEpoch = (instrument: DepthInstrument): Ladder => ({
      instrument,
      streamId: randomUUID(),
      seq: 0,
      book: new DepthBook(),
      lastFrameAtMs: Date.now(),
      lastReceivedNs: 0n,
      subscribed: false,
      refused: false,
    });
    for (const i of instruments) ladders.set(i.conid, newEpoch(i));

    let chain: Promise<void> = Promise.resolve();
    let outstanding = 0;
    let sinkError: unknown = null;
    let socket: GatewaySocket | null = null;
    let rowsSinceMetric = 0;
    /** Set while the socket is paused for the sink's backpressure. */
    let pausedSince: number | null = null;
    const enqueue = (rows: DepthRow[]): void => {
      if (rows.length === 0) return;
      rowsSinceMetric += rows.length;
      outstanding++;
      if (outstanding > 1 && pausedSince === null) {
        socket?.pause(); // the sink is applying backpressure
        pausedSince = Date.now();
      }
      chain = chain
        .then(() => deps.sink.push(rows))
        .catch(async (err) => {
          // Rows the sink refused are lost: say so in the data (a gap marker at the last refused
          // frame of each ladder) and end the stream, so the next one starts with a snapshot.
          sinkError = err;
          stats.sinkRefusedRows += rows.length;
          const lastSeq = new Map<number, number>();
          for (const r of rows) if (r.kind !== 'gap') lastSeq.set(r.conid, Math.max(lastSeq.get(r.conid) ?? 0, r.seq));
          const markers = [...lastSeq].flatMap(([conid, seq]) => {
            const l = ladders.get(conid);
            return l ? [marker(l, seq)] : [];
          });
          await deps.sink.push(markers).catch(() => undefined);
          finish({ kind: 'sink_failed', reason: `the ClickHouse sink refused ${rows.length} rows: ${err instanceof Error ? err.message : String(err)}` });
        })
        .finally(() => {
          outstanding--;
          if (outstanding <= 1 && pausedSince !== null) {
            // Time spent paused is not silence of the gateway: the watchdog must not count it.
            const paused = Date.now() - pausedSince;
            for (const l of ladders.values()) l.lastFrameAtMs += paused;
            pausedSince = null;
            socket?.resume();
          }
        });
    };
    const marker = (l: Ladder, seq: number): DepthRow => ({
      ...gapMarkerRow({ receivedNs: nowNs(), connection: connectionId, pod: deps.pod, streamId: l.streamId, conid: l.instrument.conid }),
      seq,
    });
    /** A frame of this ladder that could not be stored takes its seq as a gap row: the window is known to be incomplete. */
    const markSkipped = (l: Ladder) => {
      l.seq += 1;
      l.lastFrameAtMs = Date.now();
      enqueue([marker(l, l.seq)]);
    };
    /** Closes an epoch: a gap marker after its last frame (seq of that frame; 0 if none came). */
    const closeEpoch = (l: Ladder) => enqueue([marker(l, l.seq)]);
    for (const l of ladders.values()) enqueue([marker(l, 0)]);

    let finish!: (end: StreamEnd) => void;
    const ended = new Promise<StreamEnd>((resolve) => (finish = resolve));
    let sessionOk = false;
    const topicFor = (i: DepthInstrument) => `${account}+${i.conid}${i.exchange ? `+${i.exchange}` : ''}`;
    const subscribeLadder = (l: Ladder) => {
      l.subscribed = true;
      l.lastFrameAtMs = Date.now();
      socket?.send(`sbd+${topicFor(l.instrument)}`);
    };
    const subscribeAll = () => {
      for (const l of ladders.values()) if (!l.subscribed && !l.refused) subscribeLadder(l);
    };

    socket = new GatewaySocket(
      { baseUrl: connection.gateway.url, verifyTls: connection.gateway.verifyTls, session },
      {
        onMessage(message, receivedNs, rawBytes) {
          const topic = message.topic;
          if (topic === 'sts') {
            const args = (message.args ?? {}) as Record<string, unknown>;
            if (args.competing === true) finish({ kind: 'session_lost', reason: 'competing session' });
            else if (args.authenticated === false) finish({ kind: 'session_lost', reason: 'gateway pushed authenticated:false' });
            else if (args.authenticated === true) {
              sessionOk = true;
              subscribeAll();
            }
            return;
          }
          if (typeof topic !== 'string' || !topic.startsWith('sbd+')) return;
          const parsedTopic = parseDepthTopic(topic);
          const l = parsedTopic ? ladders.get(parsedTopic.conid) : undefined;
          if (!l || l.refused) return;
          if (rawBytes > settings.maxFrameBytes) {
            stats.oversized++;
            log.warn({ topic, rawBytes, maxFrameBytes: settings.maxFrameBytes }, 'skipped oversized depth frame');
            markSkipped(l);
            return;
          }
          if (message.error !== undefined && message.data === undefined) {
            // The gateway refused the subscription (over its ladder limit, no bridge, foreign account…).
            const reason = String(message.error);
            if (/no bridge/i.test(reason)) return; // the session is not ready: the watchdog resubscribes
            l.refused = true;
            stats.refused.push(l.instrument.conid);
            const problem = `DepthRefused: the gateway refused depth for ${l.instrument.conid} on ${connectionId}: ${reason} — not retried; fix the assignment or the account's market-data lines`;
            log.error({ conid: l.instrument.conid, reason }, problem);
            void report(problem);
            return;
          }
          const seq = l.seq + 1;
          try {
            const rows = l.book.apply(message, { receivedNs, connection: connectionId, pod: deps.pod, streamId: l.streamId, seq });
            l.seq = seq;
            l.lastFrameAtMs = Date.now();
            l.lastReceivedNs = receivedNs;
            stats.frames++;
            stats.rows += rows.length;
            enqueue(rows);
          } catch (err) {
            if (!(err instanceof DepthFrameError)) throw err;
            stats.malformed++;
            log.warn({ topic, error: err.message }, 'skipped malformed depth frame');
            markSkipped(l);
          }
        },
        onUndecodable(reason, rawBytes) {
          stats.malformed++;
          log.warn({ reason, rawBytes }, 'skipped undecodable websocket frame');
        },
        onClose(code) {
          finish({ kind: 'socket_closed', reason: `websocket closed (${code})` });
        },
      },
    );

    const heartbeat = setInterval(() => {
      if (rowsSinceMetric > 0) addDepthRows(connectionId, rowsSinceMetric);
      rowsSinceMetric = 0;
      ctx.heartbeat({ ...stats });
    }, HEARTBEAT_EVERY_MS);
    const fallback = setTimeout(() => {
      sessionOk = true;
      subscribeAll();
    }, SUBSCRIBE_FALLBACK_MS);
    const watchdog = setInterval(
      () => {
        if (!sessionOk || pausedSince !== null) return; // paused by us, not silent
        const now = Date.now();
        for (const [conid, l] of ladders) {
          if (!l.subscribed || l.refused || now - l.lastFrameAtMs < settings.staleAfterMs) continue;
          log.warn({ conid, streamId: l.streamId, silentMs: now - l.lastFrameAtMs }, 'depth ladder is stale; marking a gap and resubscribing');
          stats.resubscribes++;
          closeEpoch(l);
          socket?.send(`ubd+${topicFor(l.instrument)}`);
          const next = newEpoch(l.instrument);
          ladders.set(conid, next);
          enqueue([marker(next, 0)]);
          subscribeLadder(next);
        }
      },
      Math.max(250, Math.min(1000, settings.staleAfterMs / 4)),
    );
    const snapshots = setInterval(() => {
      for (const l of ladders.values()) {
        if (l.book.lastKind !== 'update') continue;
        const rows = l.book.snapshot();
        l.book.lastKind = 'snapshot'; // the book at this seq is now on record
        stats.snapshots++;
        enqueue(rows);
      }
    }, settings.snapshotEveryMs);

    let why = 'stream cancelled';
    try {
      try {
        await socket.open();
      } catch (err) {
        why = 'websocket did not open';
        throw ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: `websocket: ${(err as Error).message}` });
      }
      log.info({ instruments: [...ladders.keys()] }, 'depth stream open');
      const end = await Promise.race([ended, ctx.cancelled.then(() => null as never)]);
      why = end.reason;
      if (end.kind === 'session_lost') {
        log.warn({ reason: end.reason }, 'session lost, telling the session workflow');
        await deps.temporal.workflow
          .getHandle(opts.sessionWorkflowId)
          .signal('sessionLost', end.reason)
          .catch((err: Error) => log.warn({ error: err.message }, 'could not signal the session workflow'));
        throw ApplicationFailure.create({ type: FailureType.SessionLost, message: end.reason, nonRetryable: true });
      }
      if (end.kind === 'sink_failed') throw ApplicationFailure.create({ type: FailureType.SinkFailed, message: end.reason });
      throw ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: end.reason });
    } finally {
      clearInterval(heartbeat);
      clearInterval(watchdog);
      clearInterval(snapshots);
      clearTimeout(fallback);
      socket.close();
      socket = null;
      for (const l of ladders.values()) closeEpoch(l);
      await chain;
      if (rowsSinceMetric > 0) addDepthRows(connectionId, rowsSinceMetric);
      // Inserted, or safely in the disk spill (replayed by the sink later) — never lost silently.
      await deps.sink.flush({ durable: true });
      log.info({ ...stats, why }, 'depth stream closed');
      if (sinkError) log.error({ error: String(sinkError) }, 'sink failed while streaming');
    }
  };
}

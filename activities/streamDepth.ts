import { ApplicationFailure, Context } from '@temporalio/activity';
import { depthSettings } from '../src/config/schema';
import type { DepthInstrument } from '../src/contract/depthTypes';
import { FailureType } from '../src/contract/failureTypes';
import { DepthFeed, emptyFeedStats, type DepthFeedEnd, type DepthFeedStats } from '../src/depth/depthFeed';
import { allotLadders } from '../src/depth/ladderLimit';
import { SinkPipe } from '../src/depth/sinkPipe';
import type { GatewayClient } from '../src/gateway/gatewayClient';
import { GatewayError } from '../src/gateway/gatewayError';
import { GatewaySocket } from '../src/gateway/gatewaySocket';
import { addDepthRows } from '../src/metrics/metrics';
import { depthProblemSignal } from '../workflows/depthMessages';
import { sessionLostSignal } from '../workflows/messages';
import { gatewayFailure } from './activityFailure';
import { quarantineProblem } from '../src/depth/quarantineProblem';
import { HEARTBEAT_EVERY_MS } from './heartbeatCadence';
import type { PodDependencies } from './podDependencies';

/**
 * IBKR's unsubscribe is per account (`ubd+ACCT`), which suggests one BookTrader ladder per account
 * at a time: the default of `depth.maxLaddersPerAccount`.
 */
export const MAX_LADDERS_PER_ACCOUNT = 1;

export interface StreamDepthOptions {
  sessionWorkflowId: string;
  /** The coordinator's assignment; undefined/null = the connection's instruments from config. */
  instruments?: DepthInstrument[] | null;
  /** Where over-limit and refusal reports are signalled; default: the calling workflow. */
  reportToWorkflowId?: string;
}

export interface StreamDepthStats extends DepthFeedStats {
  overLimit: number[];
  /** Rows the sink refused (each loss marked with a gap row; the stream then ends). */
  sinkRefusedRows: number;
}

type StreamEnd = DepthFeedEnd | { kind: 'sink_failed'; reason: string };

/**
 * Long-running, heartbeating: streams depth for the instruments assigned to the connection (at
 * most `depth.maxLaddersPerAccount`; the rest are reported, never retried) into the pod's
 * ClickHouse sink until cancelled or the session is lost. The protocol, epochs, watchdog and
 * snapshots are the feed's (src/depth/depthFeed.ts), ordering and backpressure the pipe's
 * (src/depth/sinkPipe.ts); this is the Temporal side: heartbeats, cancellation, typed failures and
 * the signals to the workflows.
 */
export function createStreamDepth(deps: PodDependencies) {
  return async function streamDepth(connectionId: string, opts: StreamDepthOptions): Promise<StreamDepthStats> {
    const ctx = Context.current();
    const settings = depthSettings(deps.config());
    const connection = deps.connection(connectionId);
    const log = deps.log.child({ connectionId });
    const reportTo = opts.reportToWorkflowId ?? ctx.info.workflowExecution?.workflowId ?? '';
    const report = async (problem: string) => {
      if (!reportTo) return;
      await deps.temporal.workflow
        .getHandle(reportTo)
        .signal(depthProblemSignal, problem)
        .catch((err: Error) => log.warn({ error: err.message }, 'could not report a depth problem to the workflow'));
    };

    const { streamed, overLimit, problem } = allotLadders(connectionId, opts.instruments ?? connection.instruments, settings.maxLaddersPerAccount);
    if (problem) {
      log.error({ overLimit, limit: settings.maxLaddersPerAccount }, problem);
      await report(problem);
    }
    if (streamed.length === 0) return { ...emptyFeedStats(), overLimit, sinkRefusedRows: 0 };

    const gateway = deps.gateway(connectionId);
    let session: string;
    let account: string;
    try {
      session = await streamSession(gateway);
      account = connection.account ?? gateway.knowledge.accounts?.[0] ?? (await gateway.accounts()).accounts[0] ?? '';
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw gatewayFailure(err);
    }
    if (!account) throw ApplicationFailure.create({ type: FailureType.NoAccount, message: 'gateway lists no account for depth', nonRetryable: true });

    let finish!: (end: StreamEnd) => void;
    const ended = new Promise<StreamEnd>((resolve) => (finish = resolve));
    let rowsSinceMetric = 0;
    const sink = deps.sink;
    const pipe = new SinkPipe({
      sink,
      flow: { pause: () => feed.pause(), resume: () => feed.resume() },
      gapRowFor: (conid, seq) => feed.gapRowFor(conid, seq),
      failed: (reason) => finish({ kind: 'sink_failed', reason }),
    });
    const feed: DepthFeed = new DepthFeed({
      connectionId,
      pod: deps.pod,
      account,
      instruments: streamed,
      settings,
      socket: (handlers) =>
        new GatewaySocket(
          // The heartbeat carries IBKR's clock to the millisecond: the clock-skew reading where no Date header comes.
          { baseUrl: connection.gateway.url, verifyTls: connection.gateway.verifyTls, session, onServerClock: (ms, at) => gateway.recordServerClock(ms, at) },
          handlers,
        ),
      log,
      events: {
        rows(rows) {
          rowsSinceMetric += rows.length;
          pipe.push(rows);
        },
        problem: (p) => void report(p),
        end: (end) => finish(end),
      },
    });
    const stats = (): StreamDepthStats => ({ ...feed.stats, overLimit, sinkRefusedRows: pipe.refusedRows });
    // The sink is the pod's: a batch it sets aside may hold rows of several connections; each stream reports its own.
    const stopHearingQuarantine = sink.onQuarantine(({ record }) => {
      const mine = record.streams.filter((s) => s.connection === connectionId);
      if (mine.length === 0) return;
      const problem = quarantineProblem(record, mine);
      log.error({ quarantine: record.id, rows: mine.reduce((n, s) => n + s.rows, 0) }, problem);
      void report(problem);
    });

    const heartbeat = setInterval(() => {
      if (rowsSinceMetric > 0) addDepthRows(connectionId, rowsSinceMetric);
      rowsSinceMetric = 0;
      ctx.heartbeat(stats());
    }, HEARTBEAT_EVERY_MS);

    let why = 'stream cancelled';
    try {
      try {
        await feed.open();
      } catch (err) {
        why = 'websocket did not open';
        throw ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: `websocket: ${(err as Error).message}` });
      }
      const end = await Promise.race([ended, ctx.cancelled.then(() => null as never)]);
      why = end.reason;
      if (end.kind === 'session_lost') {
        log.warn({ reason: end.reason }, 'session lost, telling the session workflow');
        await deps.temporal.workflow
          .getHandle(opts.sessionWorkflowId)
          .signal(sessionLostSignal, end.reason)
          .catch((err: Error) => log.warn({ error: err.message }, 'could not signal the session workflow'));
        throw ApplicationFailure.create({ type: FailureType.SessionLost, message: end.reason, nonRetryable: true });
      }
      if (end.kind === 'sink_failed') throw ApplicationFailure.create({ type: FailureType.SinkFailed, message: end.reason });
      throw ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: end.reason });
    } finally {
      clearInterval(heartbeat);
      stopHearingQuarantine();
      feed.close();
      await pipe.drained();
      if (rowsSinceMetric > 0) addDepthRows(connectionId, rowsSinceMetric);
      // Inserted, or safely in the disk spill (replayed by the sink later) — never lost silently.
      await sink.flush({ durable: true });
      log.info({ ...stats(), why }, 'depth stream closed');
      if (pipe.error) log.error({ error: String(pipe.error) }, 'sink failed while streaming');
    }
  };
}

/**
 * The websocket session id: from a tickle, or — while the gateway refuses REST requests from this
 * pod (IBKR's penalty box does not cover websockets) — the one ibflow already knows; the socket's
 * own `sts` then says whether the session lives.
 */
async function streamSession(gateway: GatewayClient): Promise<string> {
  try {
    const tickle = await gateway.tickle();
    if (!tickle.authStatus.authenticated) {
      throw ApplicationFailure.create({ type: FailureType.SessionLost, message: 'session is not authenticated', nonRetryable: true });
    }
    return tickle.session;
  } catch (err) {
    const known = gateway.knowledge.sessionId;
    if (err instanceof GatewayError && err.kind === 'rate_limited' && known) return known;
    throw err;
  }
}

import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { DepthFrameError, gapMarkerRow, normaliseDepthFrame, parseDepthTopic } from '../src/book/normaliseDepthFrame';
import type { DepthRow } from '../src/book/depthRow';
import { GatewaySocket, nowNs } from '../src/gateway/gatewaySocket';
import { FailureType } from '../src/session/sessionStatus';
import { gatewayFailure } from './activityFailure';
import type { PodDependencies } from './podDependencies';

/**
 * IBKR's unsubscribe is per account (`ubd+ACCT`), which suggests one BookTrader ladder per account
 * at a time. Asking for more is reported, not retried.
 */
export const MAX_LADDERS_PER_ACCOUNT = 1;
const HEARTBEAT_EVERY_MS = 5_000;
/** Subscribe even if the gateway never sends `sts` with authenticated:true. */
const SUBSCRIBE_FALLBACK_MS = 5_000;

export interface StreamDepthOptions {
  sessionWorkflowId: string;
}

type StreamEnd = { kind: 'session_lost'; reason: string } | { kind: 'socket_closed'; reason: string };

/**
 * Long-running, heartbeating: subscribes to depth for the connection's instruments and feeds every
 * frame, normalised, into the pod's ClickHouse sink until cancelled or the session is lost. A gap
 * marker row opens every stream so that readers know continuity starts here.
 */
export function createStreamDepth(deps: PodDependencies) {
  return async function streamDepth(connectionId: string, opts: StreamDepthOptions): Promise<void> {
    const ctx = Context.current();
    const connection = deps.connection(connectionId);
    const instruments = connection.instruments;
    if (instruments.length === 0) return;
    if (instruments.length > MAX_LADDERS_PER_ACCOUNT) {
      throw ApplicationFailure.create({
        type: 'DepthOverLimit',
        nonRetryable: true,
        message: `connection ${connectionId} asks for ${instruments.length} depth ladders; IBKR allows ${MAX_LADDERS_PER_ACCOUNT} per account — assign the others to another connection`,
      });
    }
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
    if (!account) throw ApplicationFailure.create({ type: 'NoAccount', message: 'gateway lists no account for depth', nonRetryable: true });

    const streamId = randomUUID();
    const wanted = new Set(instruments.map((i) => i.conid));
    const seqByConid = new Map<number, number>();
    const stats = { frames: 0, rows: 0, malformed: 0 };
    const log = deps.log.child({ connectionId, streamId });

    let chain: Promise<void> = Promise.resolve();
    let outstanding = 0;
    let sinkError: unknown = null;
    let socket: GatewaySocket | null = null;
    const enqueue = (rows: DepthRow[]): void => {
      outstanding++;
      if (outstanding > 1) socket?.pause(); // the sink is applying backpressure
      chain = chain
        .then(() => deps.sink.push(rows))
        .catch((err) => {
          sinkError = err;
        })
        .finally(() => {
          outstanding--;
          if (outstanding <= 1) socket?.resume();
        });
    };
    const ctxRow = (conid: number, seq: number) => ({ receivedNs: nowNs(), connection: connectionId, pod: deps.pod, streamId, seq, conid });
    for (const conid of wanted) enqueue([gapMarkerRow(ctxRow(conid, 0))]);

    let finish!: (end: StreamEnd) => void;
    const ended = new Promise<StreamEnd>((resolve) => (finish = resolve));
    let subscribed = false;
    const subscribe = () => {
      if (subscribed) return;
      subscribed = true;
      for (const i of instruments) socket?.send(`sbd+${account}+${i.conid}${i.exchange ? `+${i.exchange}` : ''}`);
    };

    socket = new GatewaySocket(
      { baseUrl: connection.gateway.url, verifyTls: connection.gateway.verifyTls, session },
      {
        onMessage(message, receivedNs) {
          const topic = message.topic;
          if (topic === 'sts') {
            const args = (message.args ?? {}) as Record<string, unknown>;
            if (args.competing === true) finish({ kind: 'session_lost', reason: 'competing session' });
            else if (args.authenticated === false) finish({ kind: 'session_lost', reason: 'gateway pushed authenticated:false' });
            else if (args.authenticated === true) subscribe();
            return;
          }
          if (typeof topic !== 'string' || !topic.startsWith('sbd+')) return;
          const parsedTopic = parseDepthTopic(topic);
          if (!parsedTopic || !wanted.has(parsedTopic.conid)) return;
          const seq = (seqByConid.get(parsedTopic.conid) ?? 0) + 1;
          try {
            const rows = normaliseDepthFrame(message, { receivedNs, connection: connectionId, pod: deps.pod, streamId, seq });
            seqByConid.set(parsedTopic.conid, seq);
            stats.frames++;
            stats.rows += rows.length;
            enqueue(rows);
          } catch (err) {
            if (!(err instanceof DepthFrameError)) throw err;
            stats.malformed++;
            log.warn({ topic, error: err.message }, 'skipped malformed depth frame');
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

    const heartbeat = setInterval(() => ctx.heartbeat({ ...stats }), HEARTBEAT_EVERY_MS);
    const fallback = setTimeout(subscribe, SUBSCRIBE_FALLBACK_MS);
    try {
      try {
        await socket.open();
      } catch (err) {
        throw ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: `websocket: ${(err as Error).message}` });
      }
      log.info({ instruments: [...wanted] }, 'depth stream open');
      const end = await Promise.race([ended, ctx.cancelled.then(() => null as never)]);
      if (end.kind === 'session_lost') {
        log.warn({ reason: end.reason }, 'session lost, telling the session workflow');
        await deps.temporal.workflow
          .getHandle(opts.sessionWorkflowId)
          .signal('sessionLost', end.reason)
          .catch((err: Error) => log.warn({ error: err.message }, 'could not signal the session workflow'));
        throw ApplicationFailure.create({ type: FailureType.SessionLost, message: end.reason, nonRetryable: true });
      }
      throw ApplicationFailure.create({ type: FailureType.GatewayUnavailable, message: end.reason });
    } finally {
      clearInterval(heartbeat);
      clearTimeout(fallback);
      socket.close();
      socket = null;
      await chain;
      await deps.sink.flush();
      log.info({ ...stats }, 'depth stream closed');
      if (sinkError) log.error({ error: String(sinkError) }, 'sink failed while streaming');
    }
  };
}

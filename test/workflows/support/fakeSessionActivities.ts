/**
 * Typed fake activities for running the session and depth workflows on Temporal's time-skipping
 * test server: a scripted gateway (the pod's session activities), fake pods streaming depth, and
 * the control activities. Shared by the workflow integration tests and the history recorder
 * (test/workflows/histories/recordHistories.ts).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ControlActivities, PodActivities } from '../../../activities';
import { podTaskQueue } from '../../../src/contract/ids';
import type { DepthInstrument } from '../../../src/contract/depthTypes';
import type { CompetingPolicy, GatewaySessionCheck, KeepaliveEnded } from '../../../src/contract/sessionStatus';

/** A scripted gateway: each call takes the next scripted outcome, else the default. */
export class FakeGateway {
  sso = false;
  bridge = false;
  logins = 0;
  checks = 0;
  inits: { compete: boolean }[] = [];
  checkFailures: string[] = [];
  loginFailures: string[] = [];
  checkDetails: unknown[] = [];
  /** Every session dies as soon as it is kept alive: a gateway that drops each new session. */
  dropOnKeepalive = false;
  /** The next this-many ssodh/init calls leave the session without a bridge (NoBridge). */
  failingInits = 0;
  /** Real time a healthy keepalive runs before handing back (longer: a healthy session writes fewer events). */
  keepaliveMs: number;
  /** The next this-many keepalives each see a login elsewhere win the brokerage session (`competing` stays true). */
  competeOnKeepalive = 0;
  competing = false;

  constructor(opts: { keepaliveMs?: number } = {}) {
    this.keepaliveMs = opts.keepaliveMs ?? 5_000;
  }

  activities(): PodActivities {
    return {
      checkSession: async (): Promise<GatewaySessionCheck> => {
        this.checks++;
        const failure = this.checkFailures.shift();
        if (failure) throw ApplicationFailure.create({ type: failure, message: `scripted ${failure}`, details: this.checkDetails });
        if (this.competing) return { kind: 'competing' };
        if (this.sso && this.bridge) return { kind: 'usable', serverName: 'fake' };
        return this.sso ? { kind: 'no_bridge' } : { kind: 'sso_gone' };
      },
      openBrokerageSession: async (_id: string, opts: { compete: boolean }) => {
        this.inits.push(opts);
        if (!this.sso) throw ApplicationFailure.create({ type: 'SessionExpired', message: 'no sso', nonRetryable: true });
        if (this.failingInits > 0) {
          this.failingInits--;
          throw ApplicationFailure.create({ type: 'NoBridge', message: 'brokerage session did not open within 15 s of ssodh/init', nonRetryable: true });
        }
        if (opts.compete) this.competing = false;
        this.bridge = true;
        return { serverName: 'fake' };
      },
      loginWithBrowser: async () => {
        this.logins++;
        const failure = this.loginFailures.shift();
        if (failure) throw ApplicationFailure.create({ type: failure, message: `scripted ${failure}`, nonRetryable: true, details: [{ totpStep: null }] });
        this.sso = true;
        return { totpStep: null };
      },
      // A healthy session: hands back after a moment of real time (no test skips time while usable).
      keepAlive: async (): Promise<KeepaliveEnded> => {
        await new Promise((r) => setTimeout(r, this.dropOnKeepalive || this.competeOnKeepalive > 0 ? 200 : this.keepaliveMs));
        if (this.competeOnKeepalive > 0) {
          this.competeOnKeepalive--;
          this.competing = true;
          this.bridge = false;
          return { reason: 'competing', lastTickleAt: null };
        }
        if (this.dropOnKeepalive) {
          this.sso = false;
          this.bridge = false;
          return { reason: 'sso_gone', lastTickleAt: null };
        }
        return { reason: 'refresh', lastTickleAt: new Date().toISOString() };
      },
      streamDepth: async () => undefined,
    } as unknown as PodActivities;
  }
}

/** Fake pods: which sessions are usable, and every stream started (connection → instruments; null instruments = `defaults`). */
export class FakePods {
  usable: Record<string, boolean>;
  streams: { connectionId: string; instruments: number[] }[] = [];
  /** Streams of a connection running at once, now and at most (a real account allows one ladder). */
  running: Record<string, number> = {};
  maxRunning: Record<string, number> = {};
  /** Real time a cancelled stream takes to finish (closing markers, sink flush). */
  cleanupMs = 0;

  constructor(private readonly defaults: Record<string, DepthInstrument[]>) {
    this.usable = Object.fromEntries(Object.keys(defaults).map((connectionId) => [connectionId, true]));
  }

  activities(): PodActivities {
    return {
      checkSession: async (connectionId: string): Promise<GatewaySessionCheck> =>
        this.usable[connectionId] ? { kind: 'usable', serverName: 'fake' } : { kind: 'sso_gone' },
      // Streams until cancelled (heartbeats carry the cancellation), like the real activity.
      streamDepth: async (connectionId: string, opts: { instruments: DepthInstrument[] | null }) => {
        this.streams.push({ connectionId, instruments: (opts.instruments ?? this.defaults[connectionId]!).map((i) => i.conid) });
        this.running[connectionId] = (this.running[connectionId] ?? 0) + 1;
        this.maxRunning[connectionId] = Math.max(this.maxRunning[connectionId] ?? 0, this.running[connectionId]!);
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(100);
          }
        } finally {
          await new Promise((r) => setTimeout(r, this.cleanupMs));
          this.running[connectionId]!--;
        }
      },
    } as unknown as PodActivities;
  }

  /** The instruments of the newest stream of `connectionId`. */
  latest(connectionId: string): number[] | undefined {
    return [...this.streams].reverse().find((s) => s.connectionId === connectionId)?.instruments;
  }
}

export interface FakeControlOptions {
  pod: string;
  mode: 'live' | 'paper';
  /** The connection's competing policy as each describeConnection reports it (left out without one). */
  competingPolicy?: () => CompetingPolicy;
  /** Whether the connection has depth instruments configured (default: none has). */
  hasInstruments?: (connectionId: string) => boolean;
}

/** The control activities: every connection lives on `pod`; session events are dropped. */
export function fakeControlActivities(opts: FakeControlOptions): ControlActivities {
  return {
    describeConnection: async (connectionId: string) => ({
      ...(opts.competingPolicy ? { competingPolicy: opts.competingPolicy() } : {}),
      connectionId,
      mode: opts.mode,
      pod: opts.pod,
      podTaskQueue: podTaskQueue(opts.pod),
      hasInstruments: opts.hasInstruments?.(connectionId) ?? false,
      sessionWorkflowId: `ibkr-session:${connectionId}`,
    }),
    recordSessionEvent: async () => undefined,
  };
}

/**
 * The safe status of a session: what the `status` query returns and what the Web UI shows.
 * It never holds a secret, a cookie or a raw header; `reason` is written by ibflow, not copied
 * from the gateway.
 */
export type SessionState =
  | 'usable'
  | 'logging_in'
  | 'reconnecting'
  | 'competing'
  | 'manual_action_required'
  | 'unavailable'
  | 'paused'
  | 'stopped';

export interface SessionStatus {
  connectionId: string;
  state: SessionState;
  /** ISO time the session entered `state`. */
  since: string;
  lastTickleAt: string | null;
  lastLoginAt: string | null;
  /** Consecutive failed recovery attempts (reset when usable). */
  failures: number;
  nextAttemptAt: string | null;
  reason: string;
  /** Gateway clock minus the pod's, from its `Date` header, when known (TOTP needs clocks within seconds). */
  clockSkewMs?: number | null;
  /** The gateway is refusing this pod's address (IBKR's penalty box) while the session lives on; absent or null when not. */
  pacing?: PacingPenalty | null;
  /** The gateway is not running, or IBKR cannot be reached through it; absent or null when neither. */
  outage?: GatewayOutage | null;
}

/**
 * An outage ibflow cannot fix: the gateway is not running (connection refused), or it runs but IBKR
 * does not answer what it passes on (an internet outage on the pod, or IBKR down). No login is
 * attempted meanwhile and nothing is charged to the login budget; recovery starts when it ends.
 */
export interface GatewayOutage {
  kind: 'gateway_not_running' | 'ibkr_unreachable';
  /** ISO time the first failed attempt of this outage ended. */
  since: string;
  /** ISO time it was reported as lasting beyond `session.outageReportAfterMs`; null before. */
  reportedAt: string | null;
}

/**
 * IBKR's penalty box on the pod's address: REST requests are refused for a while, websockets are
 * not. Holds times and ibflow's own words only.
 */
export interface PacingPenalty {
  /** ISO time the first refusal of this box arrived. */
  since: string;
  /** ISO time ibflow expects it to end (Retry-After, else IBKR's documented 15 minutes); a probe then tells. */
  until: string;
  /** Who caused it, as far as ibflow can tell. */
  cause: string;
  /** The API path whose refusal showed the box, e.g. `/tickle`. */
  path: string;
}

/** What the `relogin` update answers. */
export interface ReloginResult {
  ok: boolean;
  state: SessionState;
  reason: string;
}

/** Facts about a connection that are safe to put into workflow history. */
export interface ConnectionFacts {
  connectionId: string;
  mode: 'paper' | 'live';
  pod: string;
  podTaskQueue: string;
  hasInstruments: boolean;
  /** Derived from the username: the id of the one session workflow for it. */
  sessionWorkflowId: string;
  /** What to do when a login elsewhere takes the session; absent in facts recorded before it existed. */
  competingPolicy?: CompetingPolicy;
}

/**
 * `reclaim`: wait the cool-down, then take the session back (`compete: true`) — but stop and wait
 * for a human once logins elsewhere keep taking it (a person is using the username).
 * `wait-for-human`: never take it back by itself; a `forceRelogin`, `resume` or `relogin` does.
 */
export type CompetingPolicy = 'reclaim' | 'wait-for-human';

/** Clock skew beyond which authenticator codes start to miss their 30 s window (the Date header has 1 s resolution). */
export const CLOCK_SKEW_WARN_MS = 10_000;

/** What a gateway health check found. */
export type GatewaySessionCheck =
  | { kind: 'usable'; serverName: string; clockSkewMs?: number | null; pacing?: PacingPenalty | null }
  | { kind: 'no_bridge' }
  | { kind: 'sso_gone' }
  | { kind: 'competing' };

/** Why a keepalive stopped tickling and handed control back to the workflow. */
export interface KeepaliveEnded {
  /** `refresh`: the activity ended itself after its maximum run time; nothing is wrong. */
  reason: 'not_authenticated' | 'competing' | 'sso_gone' | 'refresh';
  lastTickleAt: string | null;
}

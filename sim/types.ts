/** Public option and handle types of the simulated Client Portal Gateway. */
import type { DailyResetRule, MaintenanceRule } from './calendarRules';
import type { LadderVariant } from './depthLadder';
import type { IpRules } from './ipFilter';
import type { PacingOptions } from './pacing';
import type { DropKind } from './sessionStore';
import type { SimCertificateKind } from './tlsCert';

export type TickleWithoutSession = 'unauthorized' | 'no-session-200';

export interface SimUser {
  username: string;
  password: string;
  mode: 'paper' | 'live';
  /** base32 TOTP activation code (live users); the "Mobile Authenticator App" factor */
  totpSecret?: string;
  /** factor names shown in "Select Second Factor Device" when more than one, e.g. ['Mobile Authenticator App','IB Key'] */
  secondFactors?: string[];
  accounts: string[]; // e.g. ['DU123456']
}

export interface SimulatorOptions {
  port: number; // 0 = pick a free port
  host?: string; // default 127.0.0.1
  stateDir: string; // cert cache, lock state, session registry
  users: SimUser[];
  tls?: boolean; // default true (self-signed cert generated once, cached in stateDir)
  /** Port of the control plane (plain HTTP on 127.0.0.1); default 0 = a free port. */
  controlPort?: number;
  authDelayMs?: number; // brokerage session opens by itself after SSO login, default 3000
  depth?: {
    /** One frame per subscription every interval (default 100 ms); ignored when framesPerSecond is set. */
    intervalMs?: number;
    /** Frames per second per subscription (overrides intervalMs); up to tens of thousands. */
    framesPerSecond?: number;
    levels?: number; // rows per side, default 5
    /** Price increment (multiples of 0.01), default 0.01 */
    tickSize?: number;
    /** Distinct conids with a ladder per account at a time (default 3). */
    maxLaddersPerAccount?: number;
    /** Frame rendering variants for parser tests; default full ladders, string sizes, topic without exchange. */
    variant?: Partial<LadderVariant>;
  };
  log?: (msg: string, fields?: Record<string, unknown>) => void; // optional, must never receive secrets
  /** SSO session ends after this long without an API request (default 6 min, sim clock). */
  idleTimeoutMs?: number;
  /** Sessions end this long after the login (default 24 h, sim clock). */
  maxSessionAgeMs?: number;
  /** Daily reset: sessions opened before the latest reset end (default 00:00 America/New_York); null = off. */
  dailyReset?: DailyResetRule | null;
  /** Weekly maintenance window, e.g. {start:'Fri 23:00', end:'Sat 03:00', timeZone:'America/New_York'}; default none. */
  maintenance?: MaintenanceRule | null;
  /** Random session drops: expected drops per session per simulated hour (default 0 = none). */
  randomDrop?: { ratePerHour: number; kind?: DropKind };
  /** Failed-login lock: maxFailures in a row (default 5; 0 = never) lock the user for durationMs (default 24 h). */
  lockout?: { maxFailures?: number; durationMs?: number };
  /** Request pacing (default on, lenient: 10 req/s global, per-endpoint limits, 429 per request, 15 min penalty box after sustained violation). */
  pacing?: PacingOptions;
  /** What a tickle without a session answers: 401 (default) or 200 `{"error":"no session"}`, as some real gateways do. */
  tickleWithoutSession?: TickleWithoutSession;
  /** `ips.allow` / `ips.deny` of the gateway's conf.yaml; default allows every address. */
  ips?: IpRules;
  /** Sim clock speed: 60 = a simulated minute per real second (default 1). */
  timeScale?: number;
  /** Period of the websocket `{"topic":"system","hb":...}` heartbeat (default 10 s, real time). */
  heartbeatMs?: number;
  /** Period of `smd` update frames (default 500 ms, real time). */
  smdIntervalMs?: number;
  /** Time between `competing:true` and the loss of the session (default 1 s, sim clock). */
  competingDelayMs?: number;
  /** Send websocket frames as text instead of binary (the real gateway sends binary). */
  wsTextFrames?: boolean;
  /**
   * `expired` (default): self-signed, CN "Client Portal Web API", valid 2018-05-01 to 2019-05-31, like
   * the real gateway's; `fresh`: a ten-year localhost certificate. Cached per kind in stateDir/tls.
   */
  certificate?: SimCertificateKind;
  /** Answers passed on from IBKR carry a `Date` header (default true); the gateway's own answers never do. */
  ibkrDateHeader?: boolean;
  /** IBKR's clock minus the pod's, ms (default 0): shifts passed-on Date headers, websocket `hb` and `tic` `lastAccessed`. */
  ibkrClockOffsetMs?: number;
  /** Whether the pod can reach IBKR at start (default true); see PUT /sim/control/ibkr. */
  ibkrReachable?: boolean;
  /** While IBKR is unreachable, websocket pings are still answered with pongs (default true). */
  wsPongWhileUnreachable?: boolean;
}

export interface SimHandle {
  url: string;
  port: number;
  /** Base URL of the control plane, e.g. http://127.0.0.1:41234 (routes under /sim/control/). */
  controlUrl: string;
  close(): Promise<void>;
}

/** Public option and handle types of the simulated Client Portal Gateway. */

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
  stateDir: string; // cert cache, lock state, etc.
  users: SimUser[];
  tls?: boolean; // default true (self-signed cert generated once, cached in stateDir)
  authDelayMs?: number; // brokerage session opens by itself after SSO login, default 3000
  depth?: { intervalMs?: number; levels?: number }; // default 100 ms, 5 levels per side
  log?: (msg: string, fields?: Record<string, unknown>) => void; // optional, must never receive secrets
  /** SSO session ends after this long without an API request (default 6 min). */
  idleTimeoutMs?: number;
  /** Period of the websocket `{"topic":"system","hb":...}` heartbeat (default 10 s). */
  heartbeatMs?: number;
  /** Time between `competing:true` and the loss of the session for a `competing` drop (default 1 s). */
  competingDelayMs?: number;
  /** Send websocket frames as text instead of binary (the real gateway sends binary). */
  wsTextFrames?: boolean;
}

export interface SimHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

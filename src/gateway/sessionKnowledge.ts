/**
 * What ibflow last learned about the gateway's session by itself: its own tickle and auth-status
 * answers, the accounts, and what the websocket said. It lets the pod keep going without REST
 * while the address is in a penalty box, and lets the app port answer `tickle` and `auth/status`
 * from fresh knowledge instead of spending the gateway's budget. Held in memory only; never logged
 * (the tickle's `session` is the websocket's session id).
 */
import type { FreshAnswer } from '../appPort/appPortGateway';

interface Stamped<T> {
  value: T;
  atMs: number;
}

export class SessionKnowledge {
  private tickle: Stamped<Record<string, unknown>> | null = null;
  private authStatus: Stamped<Record<string, unknown>> | null = null;
  private accountList: Stamped<string[]> | null = null;
  private websocket: Stamped<boolean> | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  recordTickle(body: Record<string, unknown>): void {
    this.tickle = { value: body, atMs: this.now() };
  }

  recordAuthStatus(body: Record<string, unknown>): void {
    this.authStatus = { value: body, atMs: this.now() };
  }

  recordAccounts(accounts: string[]): void {
    this.accountList = { value: accounts, atMs: this.now() };
  }

  /** The websocket said the session is (or is not) authenticated: `sts`, or a `tic` answer. */
  recordWebsocket(authenticated: boolean): void {
    this.websocket = { value: authenticated, atMs: this.now() };
  }

  /** Any sign that the gateway's session is gone forgets what was known of it. */
  forgetSession(): void {
    this.tickle = null;
    this.authStatus = null;
  }

  freshTickle(maxAgeMs: number): FreshAnswer | null {
    return this.fresh(this.tickle, maxAgeMs);
  }

  freshAuthStatus(maxAgeMs: number): FreshAnswer | null {
    return this.fresh(this.authStatus, maxAgeMs);
  }

  /** The websocket session id from the last tickle, however old (it stays the same for the session's life). */
  get sessionId(): string | null {
    const s = this.tickle?.value.session;
    return typeof s === 'string' && s !== '' ? s : null;
  }

  get accounts(): string[] | null {
    return this.accountList?.value ?? null;
  }

  /** What the websocket said last, if within `maxAgeMs`. */
  websocketAuthenticated(maxAgeMs: number): boolean | null {
    if (!this.websocket || this.now() - this.websocket.atMs > maxAgeMs) return null;
    return this.websocket.value;
  }

  private fresh(stamped: Stamped<Record<string, unknown>> | null, maxAgeMs: number): FreshAnswer | null {
    if (!stamped) return null;
    const ageMs = this.now() - stamped.atMs;
    return ageMs <= maxAgeMs ? { body: stamped.value, ageMs } : null;
  }
}

import { inMaintenance, resetPeriod, type DailyResetRule, type MaintenanceRule } from './calendarRules';
import { newSessionId, userIdFor } from './ids';
import type { SessionRegistry } from './sessionRegistry';
import type { SimClock } from './simClock';
import type { SimUser } from './types';

export type DropKind = 'bridge' | 'expire' | 'competing' | 'logout';

/** Why an SSO session ended; pushed to that user's websockets. */
export type SsoEndReason = 'logout' | 'expire' | 'idle' | 'replaced' | 'maxAge' | 'reset' | 'maintenance';

export type SessionEvent =
  | { type: 'bridgeOpened'; username: string }
  | { type: 'bridgeLost'; username: string }
  | { type: 'competing'; username: string }
  | { type: 'ssoEnded'; username: string; reason: SsoEndReason };

/** One SSO session of one username; the brokerage session ("bridge") lives inside it. */
export interface UserSession {
  readonly user: SimUser;
  /** The tickle `session`, also the websocket session id; constant for the session's life. */
  readonly sessionId: string;
  readonly userId: number;
  /** Sim-clock ms of the login. */
  readonly authTime: number;
  /** Daily-reset period the session was opened in (see calendarRules.resetPeriod). */
  readonly resetPeriod: string;
  lastAccessed: number;
  bridge: boolean;
  competing: boolean;
  /** Sim-clock ms at which the bridge opens by itself; undefined when not scheduled. */
  bridgeAt?: number;
  /** Sim-clock ms at which a competing session is lost. */
  competingUntil?: number;
}

export interface RandomDropRule {
  /** Expected drops per session per simulated hour. */
  ratePerHour: number;
  kind: DropKind;
}

export interface SessionStoreOptions {
  clock: SimClock;
  registry: SessionRegistry;
  authDelayMs: number;
  idleTimeoutMs: number;
  competingDelayMs: number;
  maxAgeMs: number;
  dailyReset: DailyResetRule | null;
  maintenance: MaintenanceRule | null;
  randomDrop: RandomDropRule | null;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Real-time period of the rule sweep, and of reading the shared session registry. */
const SWEEP_MS = 25;
const REGISTRY_POLL_MS = 200;

/**
 * All SSO sessions of this simulated gateway, keyed by username. Like the real gateway, which
 * keeps the IBKR cookies itself, the user of the latest browser login is the gateway's
 * "current" user: cookie-less REST and websocket clients act as that user.
 * Every time rule runs on the sim clock in one sweep (every 25 ms real, and at once when the clock
 * is advanced).
 */
export class SessionStore {
  private readonly sessions = new Map<string, UserSession>();
  private readonly listeners: ((e: SessionEvent) => void)[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private lastSweep: number;
  private lastRegistryPoll = 0;
  /** Username of the latest successful login; null until the first one. */
  currentUsername: string | null = null;

  constructor(private readonly opts: SessionStoreOptions) {
    this.lastSweep = opts.clock.now();
    this.sweeper = setInterval(() => this.sweep(false), SWEEP_MS);
    opts.clock.onAdvance(() => this.sweep(true));
  }

  onEvent(listener: (e: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: SessionEvent): void {
    for (const l of this.listeners) l(e);
  }

  now(): number {
    return this.opts.clock.now();
  }

  maintenanceActive(): boolean {
    return this.opts.maintenance !== null && inMaintenance(this.now(), this.opts.maintenance);
  }

  /** A completed browser login: replaces any session of that username, bridge opens after authDelay. */
  login(user: SimUser): UserSession {
    if (this.sessions.has(user.username)) this.end(user.username, 'replaced');
    const now = this.now();
    const session: UserSession = {
      user,
      sessionId: newSessionId(),
      userId: userIdFor(user.username),
      authTime: now,
      resetPeriod: this.opts.dailyReset ? resetPeriod(now, this.opts.dailyReset) : '',
      lastAccessed: now,
      bridge: false,
      competing: false,
    };
    this.sessions.set(user.username, session);
    this.currentUsername = user.username;
    // The login takes the username's brokerage session from wherever else it is open.
    this.opts.registry.claim(user.username, now);
    this.scheduleBridge(session, this.opts.authDelayMs);
    return session;
  }

  get(username: string): UserSession | undefined {
    return this.sessions.get(username);
  }

  all(): UserSession[] {
    return [...this.sessions.values()];
  }

  current(): UserSession | undefined {
    return this.currentUsername === null ? undefined : this.sessions.get(this.currentUsername);
  }

  bySessionId(sessionId: string): UserSession | undefined {
    for (const s of this.sessions.values()) if (s.sessionId === sessionId) return s;
    return undefined;
  }

  /** Any API request keeps the session alive (sliding idle timeout). */
  touch(session: UserSession): void {
    session.lastAccessed = this.now();
  }

  ssoExpiresMs(session: UserSession): number {
    return Math.max(0, this.opts.idleTimeoutMs - (this.now() - session.lastAccessed));
  }

  scheduleBridge(session: UserSession, delayMs: number): void {
    session.bridgeAt = this.now() + delayMs;
  }

  /**
   * Opens the brokerage session now (ssodh/init, or authDelay after login). With `compete`
   * (ssodh/init) it also takes the username back from another simulator or an external login.
   */
  openBridge(session: UserSession, compete = false): void {
    session.bridgeAt = undefined;
    if (this.sessions.get(session.user.username) !== session) return; // ended meanwhile
    const heldElsewhere = session.competing || this.opts.registry.takenOver(session.user.username);
    if (heldElsewhere && !compete) return; // only compete:true disconnects the other session
    if (heldElsewhere) this.opts.registry.claim(session.user.username, this.now());
    // Opening with compete:true takes the brokerage session back, ending a pending competing loss.
    session.competingUntil = undefined;
    session.competing = false;
    if (session.bridge) return;
    session.bridge = true;
    this.opts.log('brokerage session opened', { username: session.user.username });
    this.emit({ type: 'bridgeOpened', username: session.user.username });
  }

  /** Fault injection (control plane, random drops, competing logins). Returns false if the user has no session. */
  drop(username: string, kind: DropKind): boolean {
    const session = this.sessions.get(username);
    if (!session) return false;
    this.opts.log('session drop', { username, kind });
    switch (kind) {
      case 'bridge':
        // SSO stays; the bridge is NOT reopened automatically (ssodh/init or reauthenticate fixes it).
        session.bridgeAt = undefined;
        session.bridge = false;
        this.emit({ type: 'bridgeLost', username });
        return true;
      case 'competing':
        if (session.competing) return true;
        session.competing = true;
        session.competingUntil = this.now() + this.opts.competingDelayMs;
        this.emit({ type: 'competing', username });
        return true;
      case 'expire':
      case 'logout':
        this.end(username, kind);
        return true;
    }
  }

  /**
   * The other login has won the brokerage session: `authenticated:false`, while the read-only portal
   * (SSO) session survives (IBKR-CPAPI.md). `competing` stays true until ssodh/init with
   * `compete:true` takes the username back; whether the real gateway keeps it true is unknown.
   */
  private loseToCompetitor(session: UserSession): void {
    session.competingUntil = undefined;
    session.bridgeAt = undefined;
    if (!session.bridge) return;
    session.bridge = false;
    this.opts.log('brokerage session lost to a competing login', { username: session.user.username });
    this.emit({ type: 'bridgeLost', username: session.user.username });
  }

  /** The daily reset, now: every session ends. Returns the usernames that had one. */
  resetAll(reason: SsoEndReason = 'reset'): string[] {
    const names = [...this.sessions.keys()];
    for (const username of names) this.end(username, reason);
    return names;
  }

  /** Ends the SSO session (and with it the bridge). */
  end(username: string, reason: SsoEndReason): void {
    const session = this.sessions.get(username);
    if (!session) return;
    this.sessions.delete(username);
    // A replaced session hands its claim to the new login; otherwise give the username up.
    if (reason !== 'replaced') this.opts.registry.release(username);
    this.opts.log('session ended', { username, reason });
    this.emit({ type: 'ssoEnded', username, reason });
  }

  /** Applies every time rule at the sim clock's now. */
  sweep(force: boolean): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.lastSweep);
    this.lastSweep = now;
    const realNow = Date.now();
    const pollRegistry = force || realNow - this.lastRegistryPoll >= REGISTRY_POLL_MS;
    if (pollRegistry) this.lastRegistryPoll = realNow;
    const maintenance = this.maintenanceActive();
    const { dailyReset, randomDrop } = this.opts;
    const period = dailyReset ? resetPeriod(now, dailyReset) : '';
    for (const s of [...this.sessions.values()]) {
      const username = s.user.username;
      if (s.competingUntil !== undefined && now >= s.competingUntil) this.loseToCompetitor(s);
      if (now - s.lastAccessed >= this.opts.idleTimeoutMs) this.end(username, 'idle');
      else if (now - s.authTime >= this.opts.maxAgeMs) this.end(username, 'maxAge');
      else if (dailyReset && period !== s.resetPeriod) this.end(username, 'reset');
      else if (maintenance) this.end(username, 'maintenance');
      if (this.sessions.get(username) !== s) continue;
      if (s.bridgeAt !== undefined && now >= s.bridgeAt) this.openBridge(s);
      if (randomDrop && randomDrop.ratePerHour > 0 && elapsed > 0) {
        const p = 1 - Math.exp(-randomDrop.ratePerHour * (elapsed / 3_600_000));
        if (Math.random() < p) this.drop(username, randomDrop.kind);
      }
      if (pollRegistry && this.sessions.get(username) === s && !s.competing && this.opts.registry.takenOver(username)) {
        this.opts.log('competing login elsewhere', { username });
        this.drop(username, 'competing');
      }
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    // The sessions die with this gateway; the usernames are free again for the others.
    for (const username of this.sessions.keys()) this.opts.registry.release(username);
    this.sessions.clear();
  }
}

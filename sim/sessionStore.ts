import { newSessionId, userIdFor } from './ids';
import type { SimUser } from './types';

export type DropKind = 'bridge' | 'expire' | 'competing' | 'logout';

/** Why an SSO session ended; pushed to that user's websockets. */
export type SsoEndReason = 'logout' | 'expire' | 'idle' | 'competing' | 'replaced';

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
  readonly authTime: number;
  lastAccessed: number;
  bridge: boolean;
  competing: boolean;
  bridgeTimer?: NodeJS.Timeout;
  competingTimer?: NodeJS.Timeout;
}

export interface SessionStoreOptions {
  authDelayMs: number;
  idleTimeoutMs: number;
  competingDelayMs: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * All SSO sessions of this simulated gateway, keyed by username. Like the real gateway, which
 * keeps the IBKR cookies itself, the user of the latest browser login is the gateway's
 * "current" user: cookie-less REST and websocket clients act as that user.
 */
export class SessionStore {
  private readonly sessions = new Map<string, UserSession>();
  private readonly listeners: ((e: SessionEvent) => void)[] = [];
  private readonly idleSweeper: NodeJS.Timeout;
  /** Username of the latest successful login; null until the first one. */
  currentUsername: string | null = null;

  constructor(private readonly opts: SessionStoreOptions) {
    const every = Math.max(20, Math.min(1000, Math.floor(opts.idleTimeoutMs / 4)));
    this.idleSweeper = setInterval(() => this.expireIdle(), every);
  }

  onEvent(listener: (e: SessionEvent) => void): void {
    this.listeners.push(listener);
  }

  private emit(e: SessionEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** A completed browser login: replaces any session of that username, bridge opens after authDelay. */
  login(user: SimUser): UserSession {
    if (this.sessions.has(user.username)) this.end(user.username, 'replaced');
    const now = Date.now();
    const session: UserSession = {
      user,
      sessionId: newSessionId(),
      userId: userIdFor(user.username),
      authTime: now,
      lastAccessed: now,
      bridge: false,
      competing: false,
    };
    this.sessions.set(user.username, session);
    this.currentUsername = user.username;
    this.scheduleBridge(session, this.opts.authDelayMs);
    return session;
  }

  get(username: string): UserSession | undefined {
    return this.sessions.get(username);
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
    session.lastAccessed = Date.now();
  }

  ssoExpiresMs(session: UserSession): number {
    return Math.max(0, this.opts.idleTimeoutMs - (Date.now() - session.lastAccessed));
  }

  scheduleBridge(session: UserSession, delayMs: number): void {
    clearTimeout(session.bridgeTimer);
    session.bridgeTimer = setTimeout(() => this.openBridge(session), delayMs);
  }

  /** Opens the brokerage session now (ssodh/init, or authDelay after login). */
  openBridge(session: UserSession): void {
    clearTimeout(session.bridgeTimer);
    session.bridgeTimer = undefined;
    if (this.sessions.get(session.user.username) !== session) return; // ended meanwhile
    // Opening with compete:true takes the brokerage session back, ending a pending competing loss.
    clearTimeout(session.competingTimer);
    session.competingTimer = undefined;
    session.competing = false;
    if (session.bridge) return;
    session.bridge = true;
    this.opts.log('brokerage session opened', { username: session.user.username });
    this.emit({ type: 'bridgeOpened', username: session.user.username });
  }

  /** Fault injection from the control plane. Returns false if the user has no session. */
  drop(username: string, kind: DropKind): boolean {
    const session = this.sessions.get(username);
    if (!session) return false;
    this.opts.log('session drop injected', { username, kind });
    switch (kind) {
      case 'bridge':
        // SSO stays; the bridge is NOT reopened automatically (ssodh/init or reauthenticate fixes it).
        clearTimeout(session.bridgeTimer);
        session.bridgeTimer = undefined;
        session.bridge = false;
        this.emit({ type: 'bridgeLost', username });
        return true;
      case 'competing':
        if (session.competing) return true;
        session.competing = true;
        this.emit({ type: 'competing', username });
        session.competingTimer = setTimeout(() => this.end(username, 'competing'), this.opts.competingDelayMs);
        return true;
      case 'expire':
      case 'logout':
        this.end(username, kind);
        return true;
    }
  }

  /** Ends the SSO session (and with it the bridge). */
  end(username: string, reason: SsoEndReason): void {
    const session = this.sessions.get(username);
    if (!session) return;
    clearTimeout(session.bridgeTimer);
    clearTimeout(session.competingTimer);
    this.sessions.delete(username);
    this.opts.log('session ended', { username, reason });
    this.emit({ type: 'ssoEnded', username, reason });
  }

  private expireIdle(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastAccessed >= this.opts.idleTimeoutMs) this.end(s.user.username, 'idle');
    }
  }

  close(): void {
    clearInterval(this.idleSweeper);
    for (const s of this.sessions.values()) {
      clearTimeout(s.bridgeTimer);
      clearTimeout(s.competingTimer);
    }
    this.sessions.clear();
  }
}

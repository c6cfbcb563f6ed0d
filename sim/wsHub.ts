import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { iserverAccounts, stsArgs } from './apiShapes';
import type { DepthLadders } from './depthLadder';
import { apiCookieSession } from './httpUtil';
import type { SessionEvent, SessionStore, UserSession } from './sessionStore';
import type { SimStats } from './simStats';

export const WS_PATHS = new Set(['/v1/api/ws', '/v1/portal/ws']);

/** A slow reader's socket is skipped (frame not sent, not counted) above this much queued data. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

interface DepthSubscription {
  conid: number;
  topic: string;
}

/** Per-websocket state; subscriptions live and die with the socket. */
interface Client {
  ws: WebSocket;
  /** The user whose session this socket follows; null while "waiting for session". */
  username: string | null;
  /** One BookTrader ladder per account: acctId → subscription. */
  depth: Map<string, DepthSubscription>;
}

export interface WsHubOptions {
  sessions: SessionStore;
  ladders: DepthLadders;
  stats: SimStats;
  depthIntervalMs: number;
  heartbeatMs: number;
  textFrames: boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** The gateway websocket: greeting, heartbeats, `tic`, session pushes, `sbd` depth and `smd` snapshots. */
export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<Client>();
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly depthTimer: NodeJS.Timeout;
  depthPaused = false;

  constructor(private readonly opts: WsHubOptions) {
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    opts.sessions.onEvent((e) => this.onSessionEvent(e));
    this.heartbeatTimer = setInterval(() => this.broadcast({ topic: 'system', hb: Date.now() }), opts.heartbeatMs);
    this.depthTimer = setInterval(() => this.depthTick(), opts.depthIntervalMs);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  private send(client: Client, frame: unknown, onWritten?: () => void): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(frame);
    // The real gateway forwards its JSON as binary frames of UTF-8 text.
    const data = this.opts.textFrames ? text : Buffer.from(text, 'utf8');
    client.ws.send(data, { binary: !this.opts.textFrames }, (err) => {
      if (!err && onWritten) onWritten();
    });
  }

  private broadcast(frame: unknown): void {
    for (const c of this.clients) this.send(c, frame);
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const client: Client = { ws, username: null, depth: new Map() };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => this.clients.delete(client));
    ws.on('message', (data: RawData) => this.onMessage(client, rawToString(data)));
    // Authorisation: the `api` cookie, else whatever session the gateway is logged in with.
    const cookieSession = apiCookieSession(req);
    const session = cookieSession ? this.opts.sessions.bySessionId(cookieSession) : this.opts.sessions.current();
    if (session) this.bind(client, session);
    else this.send(client, { message: 'waiting for session' });
  }

  /** Attaches the socket to a session's user and sends the connect greeting. */
  private bind(client: Client, session: UserSession): void {
    client.username = session.user.username;
    this.send(client, { topic: 'system', success: session.user.username, isFT: false, isPaper: session.user.mode === 'paper' });
    if (session.bridge) this.send(client, { topic: 'act', args: iserverAccounts(session) });
    // Without a bridge yet, sts says connected but not authenticated; act follows when it opens.
    this.send(client, { topic: 'sts', args: stsArgs(session) });
  }

  private sessionOf(client: Client): UserSession | undefined {
    return client.username === null ? undefined : this.opts.sessions.get(client.username);
  }

  private onSessionEvent(e: SessionEvent): void {
    if (e.type === 'bridgeOpened') {
      const session = this.opts.sessions.get(e.username);
      if (!session) return;
      for (const c of this.clients) {
        if (c.username === e.username) {
          this.send(c, { topic: 'act', args: iserverAccounts(session) });
          this.send(c, { topic: 'sts', args: stsArgs(session) });
        } else if (c.username === null && this.opts.sessions.current() === session) {
          this.bind(c, session); // a socket that was waiting for the gateway's login
        }
      }
      return;
    }
    for (const c of this.clients) {
      if (c.username !== e.username) continue;
      c.depth.clear();
      if (e.type === 'competing') this.send(c, { topic: 'sts', args: { competing: true } });
      else this.send(c, { topic: 'sts', args: { authenticated: false } });
    }
  }

  private onMessage(client: Client, raw: string): void {
    const msg = raw.trim();
    if (msg.startsWith('{')) return this.onSessionMessage(client, msg);
    if (msg === 'tic') return this.onTic(client);
    if (msg === 'ech+hb') return this.send(client, { topic: 'system', hb: Date.now() });
    const parts = msg.split('+');
    switch (parts[0]) {
      case 'sbd':
        return this.subscribeDepth(client, parts);
      case 'ubd':
        if (parts[1]) client.depth.delete(parts[1]);
        return;
      case 'smd':
        return this.snapshotMarketData(client, msg);
      default:
        return; // other topics (umd, sor, str, ...) are accepted silently
    }
  }

  /** `{"session":"<tickle session>"}` authorises the socket for that session. */
  private onSessionMessage(client: Client, msg: string): void {
    let sessionId: unknown;
    try {
      sessionId = (JSON.parse(msg) as { session?: unknown }).session;
    } catch {
      return;
    }
    if (typeof sessionId !== 'string') return;
    const session = this.opts.sessions.bySessionId(sessionId);
    if (!session) return this.send(client, { message: 'waiting for session' });
    if (client.username === session.user.username) return; // already following it
    client.depth.clear();
    this.bind(client, session);
  }

  private onTic(client: Client): void {
    const session = this.sessionOf(client);
    if (!session) return this.send(client, { topic: 'tic', alive: false });
    this.opts.sessions.touch(session); // tic is the websocket's keepalive
    this.send(client, { topic: 'tic', alive: true, id: session.sessionId, lastAccessed: session.lastAccessed });
  }

  /**
   * `sbd+ACCT+CONID` or `sbd+ACCT+CONID+EXCHANGE`. Needs the brokerage session and one of the
   * user's accounts; otherwise the socket gets `{"topic":"sbd+ACCT+CONID","error":...}` and no subscription.
   */
  private subscribeDepth(client: Client, parts: string[]): void {
    const [, acct, conidText] = parts;
    const topic = `sbd+${acct ?? ''}+${conidText ?? ''}`;
    if (!acct || !conidText || !/^\d+$/.test(conidText)) return this.send(client, { topic, error: 'invalid subscription' });
    const session = this.sessionOf(client);
    if (!session || !session.bridge) return this.send(client, { topic, error: 'no bridge' });
    if (!session.user.accounts.includes(acct)) return this.send(client, { topic, error: 'account not found' });
    const conid = Number(conidText);
    // One ladder per account: a new conid replaces the old one; the same one is a no-op.
    client.depth.set(acct, { conid, topic });
  }

  /** `smd+CONID+{"fields":[...]}`: one frame with every requested field (no later updates). */
  private snapshotMarketData(client: Client, msg: string): void {
    const match = /^smd\+(\d+)(?:\+(.*))?$/s.exec(msg);
    if (!match) return;
    const session = this.sessionOf(client);
    const conid = Number(match[1]);
    const topic = `smd+${conid}`;
    if (!session || !session.bridge) return this.send(client, { topic, error: 'no bridge' });
    let fields: string[] = ['31', '84', '86'];
    try {
      const parsed = match[2] ? (JSON.parse(match[2]) as { fields?: unknown }) : {};
      if (Array.isArray(parsed.fields)) fields = parsed.fields.map(String);
    } catch {
      // malformed options: fall back to the default fields
    }
    const q = this.opts.ladders.quote(conid);
    const values: Record<string, string | number> = {
      '31': (q.last / 100).toFixed(2),
      '84': (q.bid / 100).toFixed(2),
      '85': '1,200',
      '86': (q.ask / 100).toFixed(2),
      '88': '900',
      '7059': '100',
      '87': '1.25M',
      '83': 0.56,
      '6509': 'R',
    };
    const frame: Record<string, unknown> = { server_id: 'q1', conidEx: String(conid), conid, _updated: Date.now(), '6119': 'q1', topic };
    for (const f of fields) if (f in values) frame[f] = values[f];
    this.send(client, frame);
  }

  /** Sends one full ladder per subscription; each conid's walk advances once per tick. */
  private depthTick(): void {
    if (this.depthPaused) return;
    const ladders = new Map<number, ReturnType<DepthLadders['next']>>();
    for (const client of this.clients) {
      if (client.depth.size === 0) continue;
      if (client.ws.bufferedAmount > MAX_BUFFERED_BYTES) continue;
      for (const sub of client.depth.values()) {
        let ladder = ladders.get(sub.conid);
        if (!ladder) {
          ladder = this.opts.ladders.next(sub.conid);
          ladders.set(sub.conid, ladder);
        }
        const sizeSum = ladder.sizeSum;
        this.send(client, { topic: sub.topic, data: ladder.rows }, () => this.opts.stats.depthFrameSent(sub.topic, sizeSum));
      }
    }
  }

  /** Pause/resume of the control plane. */
  setDepthPaused(paused: boolean): void {
    this.depthPaused = paused;
    this.opts.log(paused ? 'depth paused' : 'depth resumed');
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.depthTimer);
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

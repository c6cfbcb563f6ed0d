import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { iserverAccounts, stsArgs } from './apiShapes';
import type { DepthLadders, LadderStep, LadderVariant } from './depthLadder';
import { apiCookieSession } from './httpUtil';
import type { SessionEvent, SessionStore, UserSession } from './sessionStore';
import type { SimClock } from './simClock';
import type { SimStats } from './simStats';

export const WS_PATHS = new Set(['/v1/api/ws', '/v1/portal/ws']);

/** A slow reader's socket is skipped (frames not generated, not counted) above this much queued data. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** `smd` streams end this long (sim clock) after the subscription. */
export const SMD_STREAM_MS = 15 * 60_000;

interface DepthSubscription {
  /** `_simSub` of its frames and key of the per-subscription stats */
  id: string;
  account: string;
  conid: number;
  topic: string;
  /** `{"topic":"...","data":` */
  prefix: string;
  /** `,"_simSub":"<id>"}` */
  suffix: string;
  /** `_simSeq` of the last frame handed to the socket (first frame has 1) */
  seq: number;
  /** Frames owed by the rate, fractional */
  owed: number;
  /** Rows of the last frame (delta variant) */
  lastRows?: string[];
}

interface MarketDataStream {
  conid: number;
  fields: string[];
  startedAt: number; // sim clock
  sent: Record<string, string | number>;
}

/** Per-websocket state; subscriptions live and die with the socket. */
interface Client {
  ws: WebSocket;
  /** The user whose session this socket follows; null while "waiting for session". */
  username: string | null;
  /** BookTrader ladders: `ACCT+CONID` → subscription. */
  depth: Map<string, DepthSubscription>;
  smd: Map<number, MarketDataStream>;
}

export interface WsHubOptions {
  sessions: SessionStore;
  ladders: DepthLadders;
  stats: SimStats;
  clock: SimClock;
  /** Depth frames per second per subscription. */
  depthFramesPerSecond: number;
  /** Distinct conids with a ladder per account across all sockets. */
  maxLaddersPerAccount: number;
  variant: LadderVariant;
  heartbeatMs: number;
  smdIntervalMs: number;
  textFrames: boolean;
  /** Prefix of subscription ids (unique per simulator instance). */
  instanceTag: string;
  /** IBKR's wall clock (the pod's plus the configured offset): `hb` and `tic` timestamps. */
  ibkrNow: () => number;
  /** Answer websocket pings while stalled (IBKR unreachable); the local relay does, on the real one unknown. */
  pongWhileStalled: boolean;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** The gateway websocket: greeting, heartbeats, `tic`, session pushes, `sbd` depth and `smd` streams. */
export class WsHub {
  // Pongs are sent by onPing, so a stall can withhold them when configured to.
  private readonly wss = new WebSocketServer({ noServer: true, autoPong: false });
  private readonly clients = new Set<Client>();
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly depthTimer: NodeJS.Timeout;
  private readonly smdTimer: NodeJS.Timeout;
  private lastDepthTick = Date.now();
  private nextSubId = 1;
  depthPaused = false;
  /** IBKR unreachable: nothing is sent on established sockets and client frames are ignored. */
  private stalled = false;

  constructor(private readonly opts: WsHubOptions) {
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    opts.sessions.onEvent((e) => this.onSessionEvent(e));
    this.heartbeatTimer = setInterval(() => this.broadcast({ topic: 'system', hb: opts.ibkrNow() }), opts.heartbeatMs);
    // Up to 100 ticks a second; each tick sends every frame the rate owes since the last one.
    const tickMs = Math.max(5, Math.min(50, Math.floor(1000 / opts.depthFramesPerSecond)));
    this.depthTimer = setInterval(() => this.depthTick(), tickMs);
    this.smdTimer = setInterval(() => this.smdTick(), opts.smdIntervalMs);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  private sendText(client: Client, text: string, cb?: (err?: Error) => void): void {
    // The real gateway forwards its JSON as binary frames of UTF-8 text.
    if (this.opts.textFrames) client.ws.send(text, { binary: false }, cb);
    else client.ws.send(Buffer.from(text, 'utf8'), { binary: true }, cb);
  }

  private send(client: Client, frame: unknown): void {
    if (this.stalled || client.ws.readyState !== WebSocket.OPEN) return;
    this.sendText(client, JSON.stringify(frame));
  }

  private broadcast(frame: unknown): void {
    for (const c of this.clients) this.send(c, frame);
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const client: Client = { ws, username: null, depth: new Map(), smd: new Map() };
    this.clients.add(client);
    const gone = () => {
      this.clearSubscriptions(client);
      this.clients.delete(client);
    };
    ws.on('close', gone);
    ws.on('error', gone);
    ws.on('message', (data: RawData) => {
      if (!this.stalled) this.onMessage(client, rawToString(data)); // lost on the way to IBKR
    });
    ws.on('ping', (data: Buffer) => {
      if (!this.stalled || this.opts.pongWhileStalled) ws.pong(data);
    });
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

  private clearSubscriptions(client: Client): void {
    for (const sub of client.depth.values()) this.opts.stats.subscriptionEnded(sub.id);
    client.depth.clear();
    client.smd.clear();
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
      this.clearSubscriptions(c);
      if (e.type === 'competing') this.send(c, { topic: 'sts', args: { competing: true } });
      else this.send(c, { topic: 'sts', args: { authenticated: false } });
    }
  }

  private onMessage(client: Client, raw: string): void {
    const msg = raw.trim();
    if (msg.startsWith('{')) return this.onSessionMessage(client, msg);
    if (msg === 'tic') return this.onTic(client);
    if (msg === 'ech+hb') return this.send(client, { topic: 'system', hb: this.opts.ibkrNow() });
    const parts = msg.split('+');
    switch (parts[0]) {
      case 'sbd':
        return this.subscribeDepth(client, parts);
      case 'ubd':
        return this.unsubscribeDepth(client, parts);
      case 'smd':
        return this.subscribeMarketData(client, msg);
      case 'umd':
        if (/^\d+$/.test(parts[1] ?? '')) client.smd.delete(Number(parts[1]));
        return;
      default:
        return; // other topics (sor, str, ...) are accepted silently
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
    this.clearSubscriptions(client);
    this.bind(client, session);
  }

  private onTic(client: Client): void {
    const session = this.sessionOf(client);
    if (!session) return this.send(client, { topic: 'tic', alive: false });
    this.opts.sessions.touch(session); // tic is the websocket's keepalive
    this.send(client, { topic: 'tic', alive: true, id: session.sessionId, lastAccessed: this.opts.ibkrNow() });
  }

  /** Distinct conids with a ladder on `account`, over every socket. */
  private laddersOf(account: string): Set<number> {
    const conids = new Set<number>();
    for (const c of this.clients) for (const sub of c.depth.values()) if (sub.account === account) conids.add(sub.conid);
    return conids;
  }

  /**
   * `sbd+ACCT+CONID` or `sbd+ACCT+CONID+EXCHANGE`. Needs the brokerage session, one of the user's
   * accounts and a free ladder slot on the account; otherwise the socket gets
   * `{"topic":"sbd+ACCT+CONID","error":...}` and no subscription.
   */
  private subscribeDepth(client: Client, parts: string[]): void {
    const [, acct, conidText, exchange] = parts;
    const plainTopic = `sbd+${acct ?? ''}+${conidText ?? ''}`;
    if (!acct || !conidText || !/^\d+$/.test(conidText)) return this.send(client, { topic: plainTopic, error: 'invalid subscription' });
    const session = this.sessionOf(client);
    if (!session || !session.bridge) return this.send(client, { topic: plainTopic, error: 'no bridge' });
    if (!session.user.accounts.includes(acct)) return this.send(client, { topic: plainTopic, error: 'account not found' });
    const conid = Number(conidText);
    const key = `${acct}+${conid}`;
    if (client.depth.has(key)) return; // repeating a subscription is a no-op
    const ladders = this.laddersOf(acct);
    if (!ladders.has(conid) && ladders.size >= this.opts.maxLaddersPerAccount) {
      return this.send(client, { topic: plainTopic, error: `max number of depth subscriptions reached (${this.opts.maxLaddersPerAccount})` });
    }
    const topic = this.opts.variant.topicExchange ? `${plainTopic}+${exchange && !exchange.startsWith('{') ? exchange : 'SMART'}` : plainTopic;
    const id = `${this.opts.instanceTag}-${this.nextSubId++}`;
    client.depth.set(key, {
      id,
      account: acct,
      conid,
      topic,
      prefix: `{"topic":${JSON.stringify(topic)},"data":`,
      suffix: `,"_simSub":"${id}"}`,
      seq: 0,
      owed: 1, // the first frame goes out on the next tick
    });
    this.opts.stats.subscriptionStarted(id, topic, acct, conid);
  }

  /** `ubd+ACCT` ends every ladder of the account on this socket; `ubd+ACCT+CONID(+{})` just that one. */
  private unsubscribeDepth(client: Client, parts: string[]): void {
    const [, acct, conidText] = parts;
    if (!acct) return;
    for (const [key, sub] of client.depth) {
      if (sub.account !== acct) continue;
      if (conidText && /^\d+$/.test(conidText) && sub.conid !== Number(conidText)) continue;
      client.depth.delete(key);
      this.opts.stats.subscriptionEnded(sub.id);
    }
  }

  /** `smd+CONID+{"fields":[...]}`: a full frame now, then frames with the changed fields until the stream ends. */
  private subscribeMarketData(client: Client, msg: string): void {
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
    // Subscribing again (as clients do before the 15 minutes are up) restarts the stream.
    const stream: MarketDataStream = { conid, fields, startedAt: this.opts.clock.now(), sent: {} };
    client.smd.set(conid, stream);
    this.sendMarketData(client, stream);
  }

  private marketDataValues(conid: number): Record<string, string | number> {
    const q = this.opts.ladders.quote(conid);
    const t = Math.floor(Date.now() / 1000);
    const spread = (n: number) => (100 * (1 + ((conid + t * n) % 37))).toLocaleString('en-US');
    return {
      '31': (q.last / 100).toFixed(2),
      '84': (q.bid / 100).toFixed(2),
      '85': spread(3),
      '86': (q.ask / 100).toFixed(2),
      '88': spread(7),
      '7059': String(100 * (1 + (t % 5))),
      '87': `${(1 + (t % 500) / 100).toFixed(2)}M`,
      '83': Math.round((q.last % 300) - 150) / 100,
      '6509': 'R',
    };
  }

  /** Sends the fields that changed since the last frame (all of them the first time). */
  private sendMarketData(client: Client, stream: MarketDataStream): void {
    const values = this.marketDataValues(stream.conid);
    const frame: Record<string, unknown> = { server_id: 'q1', conidEx: String(stream.conid), conid: stream.conid, _updated: this.opts.ibkrNow(), '6119': 'q1', topic: `smd+${stream.conid}` };
    let changed = 0;
    for (const f of stream.fields) {
      if (!(f in values) || stream.sent[f] === values[f]) continue;
      frame[f] = values[f];
      stream.sent[f] = values[f];
      changed += 1;
    }
    if (changed > 0 || Object.keys(stream.sent).length === 0) this.send(client, frame);
  }

  private smdTick(): void {
    if (this.stalled) return;
    const now = this.opts.clock.now();
    for (const client of this.clients) {
      for (const stream of client.smd.values()) {
        if (now - stream.startedAt >= SMD_STREAM_MS) {
          client.smd.delete(stream.conid); // the stream ends silently
          continue;
        }
        this.opts.ladders.nudge(stream.conid, this.opts.smdIntervalMs);
        this.sendMarketData(client, stream);
      }
    }
  }

  /** Sends every frame the rate owes each subscription; books advance once per frame, shared per conid. */
  private depthTick(): void {
    const now = Date.now();
    const elapsed = now - this.lastDepthTick;
    this.lastDepthTick = now;
    if (this.depthPaused || this.stalled) return;
    const perMs = this.opts.depthFramesPerSecond / 1000;
    // After a stall, catch up at most 100 ms worth (frames are dropped, not queued without bound).
    const maxOwed = Math.max(1, perMs * 100);
    const steps = new Map<number, LadderStep[]>();
    const stepOf = (conid: number, i: number): LadderStep => {
      let list = steps.get(conid);
      if (!list) steps.set(conid, (list = []));
      while (list.length <= i) list.push(this.opts.ladders.next(conid));
      return list[i];
    };
    for (const client of this.clients) {
      if (client.depth.size === 0 || client.ws.readyState !== WebSocket.OPEN) continue;
      const blocked = client.ws.bufferedAmount > MAX_BUFFERED_BYTES;
      // Cork the TCP/TLS socket so a tick's frames leave in few writes.
      const socket = (client.ws as unknown as { _socket?: Socket })._socket;
      socket?.cork();
      try {
        for (const sub of client.depth.values()) {
          sub.owed = Math.min(maxOwed, sub.owed + elapsed * perMs);
          const n = Math.floor(sub.owed);
          if (n === 0) continue;
          sub.owed -= n;
          if (blocked) continue; // a slow reader's frames are not generated
          this.sendDepthBatch(client, sub, n, stepOf);
        }
      } finally {
        socket?.uncork();
      }
    }
  }

  private sendDepthBatch(client: Client, sub: DepthSubscription, n: number, stepOf: (conid: number, i: number) => LadderStep): void {
    const delta = this.opts.variant.frames === 'delta';
    const firstSeq = sub.seq + 1;
    let sizeSum = 0;
    for (let i = 0; i < n; i++) {
      const step = stepOf(sub.conid, i);
      let data = step.json;
      if (delta && sub.lastRows) {
        const changed: string[] = [];
        for (let r = 0; r < step.rows.length; r++) {
          if (step.rows[r] !== sub.lastRows[r]) {
            changed.push(step.rows[r]);
            sizeSum += step.rowSizes[r];
          }
        }
        data = `[${changed.join(',')}]`;
      } else {
        sizeSum += step.sizeSum;
      }
      if (delta) sub.lastRows = step.rows;
      sub.seq += 1;
      const text = `${sub.prefix}${data},"_simSeq":${sub.seq}${sub.suffix}`;
      if (i < n - 1) this.sendText(client, text);
      else {
        const lastSeq = sub.seq;
        const total = sizeSum;
        // Counted once the batch's last frame is written (frames of a socket are written in order).
        this.sendText(client, text, (err) => {
          if (!err) this.opts.stats.depthFramesSent(sub.id, sub.topic, firstSeq, lastSeq, total);
        });
      }
    }
  }

  /**
   * The control plane's new frame rate per subscription (benchmarks step the offered rate without a
   * new login). The tick stays as it was; a tick sends every frame the rate owes, so a rate above
   * the tick's own still holds.
   */
  setDepthFramesPerSecond(framesPerSecond: number): void {
    this.opts.depthFramesPerSecond = framesPerSecond;
    this.opts.log('depth rate changed', { framesPerSecond });
  }

  depthSettings(): { paused: boolean; framesPerSecond: number } {
    return { paused: this.depthPaused, framesPerSecond: this.opts.depthFramesPerSecond };
  }

  /** Pause/resume of the control plane. */
  setDepthPaused(paused: boolean): void {
    this.depthPaused = paused;
    this.opts.log(paused ? 'depth paused' : 'depth resumed');
  }

  /**
   * IBKR unreachable: established sockets stay open but get nothing (no hb, depth, smd, sts or
   * replies) and their client frames are dropped; subscriptions are kept and resume with the link.
   */
  setStalled(stalled: boolean): void {
    this.stalled = stalled;
  }

  /** Drops websockets (all, or one user's) like a network failure. Returns how many. */
  killSockets(username?: string): number {
    let n = 0;
    for (const c of [...this.clients]) {
      if (username !== undefined && c.username !== username) continue;
      c.ws.terminate();
      this.clearSubscriptions(c);
      this.clients.delete(c);
      n += 1;
    }
    this.opts.log('websockets killed', { count: n, ...(username ? { username } : {}) });
    return n;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.depthTimer);
    clearInterval(this.smdTimer);
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

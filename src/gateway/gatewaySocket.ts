import WebSocket from 'ws';

export interface GatewaySocketOptions {
  baseUrl: string;
  verifyTls: boolean;
  /** The tickle `session`, sent as the `api` cookie and as the first message. */
  session: string;
  /** Ping interval; gateways drop idle sockets. */
  pingEveryMs?: number;
  /**
   * Give up opening after this long (default 10 s): with IBKR unreachable the gateway accepts the
   * connection but never answers the upgrade it passes on.
   */
  openWithinMs?: number;
  /** IBKR's clock, read from the `system` heartbeat (ms since the epoch) as it arrives. */
  onServerClock?: (gatewayMs: number, receivedAtMs: number) => void;
}

export interface GatewaySocketHandlers {
  /** Every server message, already decoded from its binary (or text) frame; `receivedNs` is taken first. */
  onMessage(message: Record<string, unknown>, receivedNs: bigint, rawBytes: number): void;
  onUndecodable(reason: string, rawBytes: number): void;
  onClose(code: number, reason: string): void;
}

/** Nanoseconds since the epoch from a monotonic clock anchored once to wall time. */
const anchorWallNs = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();
export function nowNs(): bigint {
  return anchorWallNs + (process.hrtime.bigint() - anchorHr);
}

/**
 * The gateway websocket: frames arrive as binary UTF-8 JSON (text accepted too); client frames
 * are text in the `TOPIC+TARGET+{json}` grammar.
 */
export class GatewaySocket {
  private ws: WebSocket | null = null;
  private pinger: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: GatewaySocketOptions,
    private readonly handlers: GatewaySocketHandlers,
  ) {}

  open(): Promise<void> {
    const url = new URL('/v1/api/ws', this.opts.baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, {
      rejectUnauthorized: this.opts.verifyTls,
      handshakeTimeout: this.opts.openWithinMs ?? 10_000,
      headers: { Cookie: `api=${encodeURIComponent(JSON.stringify({ session: this.opts.session }))}` },
    });
    this.ws = ws;
    ws.on('message', (data: WebSocket.RawData) => {
      const receivedNs = nowNs();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      let parsed: unknown;
      try {
        parsed = JSON.parse(buf.toString('utf8'));
      } catch {
        this.handlers.onUndecodable('frame is not JSON', buf.length);
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        this.handlers.onUndecodable('frame is not a JSON object', buf.length);
        return;
      }
      const message = parsed as Record<string, unknown>;
      if (this.opts.onServerClock && message.topic === 'system' && typeof message.hb === 'number') this.opts.onServerClock(message.hb, Number(receivedNs / 1_000_000n));
      this.handlers.onMessage(message, receivedNs, buf.length);
    });
    ws.on('close', (code, reason) => {
      this.stopPinging();
      this.handlers.onClose(code, reason.toString());
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.send(JSON.stringify({ session: this.opts.session }));
        this.pinger = setInterval(() => ws.ping(), this.opts.pingEveryMs ?? 15_000);
        resolve();
      });
      ws.once('error', (err) => reject(err));
    });
  }

  send(text: string): void {
    this.ws?.send(text);
  }

  /** Stops reading from the socket (TCP backpressure) while the sink catches up. */
  pause(): void {
    this.ws?.pause();
  }

  resume(): void {
    this.ws?.resume();
  }

  close(): void {
    this.stopPinging();
    this.ws?.close();
    this.ws = null;
  }

  private stopPinging(): void {
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
  }
}

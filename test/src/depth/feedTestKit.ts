/** Scripted parts for depth feed tests: a clock driven by the test and a socket the test speaks through. */
import type { DepthRow } from '../../../src/book/depthRow';
import type { DepthFeedEnd, DepthFeedEvents, DepthFeedLogger } from '../../../src/depth/depthFeed';
import type { CancelTimer, FeedClock } from '../../../src/depth/feedClock';
import type { FeedSocket } from '../../../src/depth/feedSocket';
import type { GatewaySocketHandlers } from '../../../src/gateway/gatewaySocket';

interface Timer {
  id: number;
  at: number;
  everyMs: number | null;
  fn: () => void;
}

/** Time stands still until {@link advance}; due timers run in time order, as Node would run them. */
export class ManualClock implements FeedClock {
  private t = 1_000_000;
  private nextId = 1;
  private timers: Timer[] = [];

  nowMs(): number {
    return this.t;
  }

  every(ms: number, fn: () => void): CancelTimer {
    return this.add(ms, ms, fn);
  }

  after(ms: number, fn: () => void): CancelTimer {
    return this.add(ms, null, fn);
  }

  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.t = due.at;
      if (due.everyMs === null) this.timers = this.timers.filter((x) => x !== due);
      else due.at += due.everyMs;
      due.fn();
    }
    this.t = end;
  }

  private add(ms: number, everyMs: number | null, fn: () => void): CancelTimer {
    const timer: Timer = { id: this.nextId++, at: this.t + ms, everyMs, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
}

/** Records what the feed sends; the test delivers server frames through `handlers`. */
export class ScriptedSocket implements FeedSocket {
  sent: string[] = [];
  paused = false;
  pauses = 0;
  closed = false;
  openError: Error | null = null;

  constructor(readonly handlers: GatewaySocketHandlers) {}

  open(): Promise<void> {
    return this.openError ? Promise.reject(this.openError) : Promise.resolve();
  }

  send(text: string): void {
    this.sent.push(text);
  }

  pause(): void {
    this.paused = true;
    this.pauses++;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    this.closed = true;
  }

  /** A server message as the gateway socket would decode it; `rawBytes` defaults to its JSON length. */
  deliver(message: Record<string, unknown>, rawBytes = JSON.stringify(message).length): void {
    this.handlers.onMessage(message, 1_700_000_000_000_000_000n, rawBytes);
  }
}

export interface RecordedEvents {
  rows: DepthRow[];
  problems: string[];
  ends: DepthFeedEnd[];
}

/** Feed events recorded in arrays. */
export function recordEvents(): { rec: RecordedEvents; events: DepthFeedEvents } {
  const rec: RecordedEvents = { rows: [], problems: [], ends: [] };
  const events: DepthFeedEvents = {
    rows: (r) => void rec.rows.push(...r),
    problem: (p) => void rec.problems.push(p),
    end: (e) => void rec.ends.push(e),
  };
  return { rec, events };
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

export function recordingLogger(): DepthFeedLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (obj, msg) => entries.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => entries.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => entries.push({ level: 'error', msg, obj }),
  };
}

/** A full three-row ladder (ask, bid, bid) for `topic`, bid sizes from `bid`. */
export function fullLadder(topic: string, bid = '100'): Record<string, unknown> {
  return {
    topic,
    data: [
      { row: 0, focus: 0, price: '10.01', ask: '100' },
      { row: 1, focus: 0, price: '10.00', bid },
      { row: 2, focus: 0, price: '9.99', bid: '50' },
    ],
  };
}

/** A delta of a three-row ladder: only row 2 changed. */
export function delta(topic: string, size: string): Record<string, unknown> {
  return { topic, data: [{ row: 2, focus: 0, price: '9.99', bid: size }] };
}

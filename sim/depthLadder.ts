import { instrumentByConid } from './instruments';
import { PriceWalk } from './priceWalk';

/** How ladders are rendered; the default is what IBKR's current docs show (see docs/simulator.md). */
export interface LadderVariant {
  /** 'full' (default): every frame is the whole ladder. 'delta': after the first full frame only changed rows. */
  frames: 'full' | 'delta';
  /** 'string' (default) `"ask":"300"`, or 'number' `"ask":300` (2022 docs). */
  sizes: 'string' | 'number';
  /** true: topic `sbd+ACCT+CONID+EXCHANGE` (exchange of the subscription, else SMART). Default false. */
  topicExchange: boolean;
}

export const DEFAULT_VARIANT: LadderVariant = { frames: 'full', sizes: 'string', topicExchange: false };

/** One step of a conid's book, pre-rendered so it can be sent to many subscribers cheaply. */
export interface LadderStep {
  /** JSON text of each row, row 0 first */
  rows: string[];
  /** bid/ask size of each row (0 for the focus row) */
  rowSizes: number[];
  /** JSON text of the whole `data` array */
  json: string;
  /** Sum of every bid and ask size (the focus row's trade size excluded) */
  sizeSum: number;
}

/** A conid's evolving book: a random-walk last trade and per-level sizes that drift between steps. */
class Book {
  readonly walk: PriceWalk;
  private readonly asks: number[];
  private readonly bids: number[];
  lastStepReal = 0;

  constructor(conid: number, private readonly levels: number, private readonly tickCents: number) {
    this.walk = new PriceWalk(conid, instrumentByConid(conid)?.startCents, tickCents);
    this.asks = Array.from({ length: levels }, () => this.freshSize());
    this.bids = Array.from({ length: levels }, () => this.freshSize());
  }

  private freshSize(): number {
    return (1 + Math.floor(this.walk.random() * 50)) * 100;
  }

  /** Lowest allowed last price keeps every bid above zero. */
  private floor(): number {
    return (this.levels + 1) * this.tickCents;
  }

  last(): number {
    return Math.max(this.walk.cents, this.floor());
  }

  step(): void {
    const before = this.last();
    this.walk.step();
    const moved = Math.round((this.last() - before) / this.tickCents);
    // The book follows the trade: levels the price moved through leave one side and join the other.
    if (moved > 0) {
      for (let i = 0; i < moved; i++) {
        this.asks.shift();
        this.asks.push(this.freshSize());
        this.bids.unshift(this.freshSize());
        this.bids.pop();
      }
    } else if (moved < 0) {
      for (let i = 0; i < -moved; i++) {
        this.bids.shift();
        this.bids.push(this.freshSize());
        this.asks.unshift(this.freshSize());
        this.asks.pop();
      }
    }
    // A couple of levels change size (orders added or cancelled), in lots of 100.
    const rnd = this.walk.random;
    for (let k = 0; k < 2; k++) {
      const side = rnd() < 0.5 ? this.asks : this.bids;
      const i = Math.floor(rnd() * this.levels);
      side[i] = Math.max(100, side[i] + (Math.floor(rnd() * 11) - 5) * 100);
    }
  }

  render(sizes: 'string' | 'number', decimals: number): LadderStep {
    const last = this.last();
    const money = (cents: number) => (cents / 100).toFixed(decimals);
    const q = sizes === 'string' ? '"' : '';
    const rows: string[] = [];
    const rowSizes: number[] = [];
    let sizeSum = 0;
    let row = 0;
    // Asks: highest price first, i.e. the farthest level first.
    for (let i = this.levels - 1; i >= 0; i--) {
      const s = this.asks[i];
      sizeSum += s;
      rowSizes.push(s);
      rows.push(`{"row":${row++},"focus":0,"price":"${money(last + (i + 1) * this.tickCents)}","ask":${q}${s}${q}}`);
    }
    const tradeSize = 1 + Math.floor(this.walk.random() * 10);
    rowSizes.push(0);
    rows.push(`{"row":${row++},"focus":1,"price":"${tradeSize} @ ${money(last)}"}`);
    for (let i = 0; i < this.levels; i++) {
      const s = this.bids[i];
      sizeSum += s;
      rowSizes.push(s);
      rows.push(`{"row":${row++},"focus":0,"price":"${money(last - (i + 1) * this.tickCents)}","bid":${q}${s}${q}}`);
    }
    return { rows, rowSizes, json: `[${rows.join(',')}]`, sizeSum };
  }
}

/**
 * BookTrader ladders per conid: `levels` ask rows (highest price first, row 0..), one focus row
 * "size @ last", then `levels` bid rows (highest first). Asks sit strictly above the last price
 * and bids strictly below, one tick apart.
 */
export class DepthLadders {
  private readonly books = new Map<number, Book>();
  private readonly tickCents: number;
  private readonly decimals: number;

  constructor(
    private readonly levels: number,
    tickSize = 0.01,
    private readonly sizes: 'string' | 'number' = 'string',
  ) {
    this.tickCents = Math.max(1, Math.round(tickSize * 100));
    this.decimals = 2;
  }

  private book(conid: number): Book {
    let b = this.books.get(conid);
    if (!b) {
      b = new Book(conid, this.levels, this.tickCents);
      this.books.set(conid, b);
    }
    return b;
  }

  /** Current last/bid/ask in cents without advancing the book (for `smd`). */
  quote(conid: number): { last: number; bid: number; ask: number } {
    const last = this.book(conid).last();
    return { last, bid: last - this.tickCents, ask: last + this.tickCents };
  }

  /** Advances the book unless a ladder step did within `minRealMs` (smd keeps quiet conids moving). */
  nudge(conid: number, minRealMs: number): void {
    const b = this.book(conid);
    const now = Date.now();
    if (now - b.lastStepReal >= minRealMs) {
      b.step();
      b.lastStepReal = now;
    }
  }

  /** Advances the conid's book one step and renders the new ladder. */
  next(conid: number): LadderStep {
    const b = this.book(conid);
    b.step();
    b.lastStepReal = Date.now();
    return b.render(this.sizes, this.decimals);
  }
}

import { PriceWalk } from './priceWalk';

/** One BookTrader row as the gateway sends it: prices and sizes are strings. */
export type LadderRow =
  | { row: number; focus: 0; price: string; ask: string }
  | { row: number; focus: 1; price: string }
  | { row: number; focus: 0; price: string; bid: string };

export interface Ladder {
  rows: LadderRow[];
  /** Sum of every bid and ask size in the ladder (the focus row's trade size excluded). */
  sizeSum: number;
}

function money(cents: number): string {
  return (cents / 100).toFixed(2);
}

/**
 * Full ladders per conid: `levels` ask rows (highest price first, row 0..), one focus row
 * "size @ last", then `levels` bid rows (highest first). Asks sit strictly above the last
 * price and bids strictly below, one tick apart.
 */
export class DepthLadders {
  private readonly walks = new Map<number, PriceWalk>();

  constructor(private readonly levels: number) {}

  /** Current last/bid/ask in cents without advancing the walk (for `smd` snapshots). */
  quote(conid: number): { last: number; bid: number; ask: number } {
    const walk = this.walk(conid);
    const last = Math.max(walk.cents, this.levels + 1);
    return { last, bid: last - 1, ask: last + 1 };
  }

  private walk(conid: number): PriceWalk {
    let walk = this.walks.get(conid);
    if (!walk) {
      walk = new PriceWalk(conid);
      this.walks.set(conid, walk);
    }
    return walk;
  }

  /** Advances the conid's random walk by one step and returns the new ladder. */
  next(conid: number): Ladder {
    const walk = this.walk(conid);
    // Keep the lowest bid above zero however many levels are asked for.
    const last = Math.max(walk.step(), this.levels + 1);
    const rnd = walk.random;
    const size = () => (1 + Math.floor(rnd() * 50)) * 100;
    const rows: LadderRow[] = [];
    let sizeSum = 0;
    let row = 0;
    for (let i = this.levels; i >= 1; i--) {
      const s = size();
      sizeSum += s;
      rows.push({ row: row++, focus: 0, price: money(last + i), ask: String(s) });
    }
    rows.push({ row: row++, focus: 1, price: `${1 + Math.floor(rnd() * 10)} @ ${money(last)}` });
    for (let i = 1; i <= this.levels; i++) {
      const s = size();
      sizeSum += s;
      rows.push({ row: row++, focus: 0, price: money(last - i), bid: String(s) });
    }
    return { rows, sizeSum };
  }
}

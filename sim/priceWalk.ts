/** mulberry32: tiny deterministic PRNG, so a conid's prices repeat from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Last-trade price of one conid as a random walk in whole cents on a tick grid, seeded by the
 * conid. Integer cents keep the ladder arithmetic exact.
 */
export class PriceWalk {
  readonly random: () => number;
  cents: number;

  constructor(conid: number, startCents?: number, private readonly tickCents = 1) {
    this.random = seededRandom(conid * 2654435761);
    // Start at the instrument's price, else somewhere between 20.00 and 520.00, stable per conid.
    const start = startCents ?? 2_000 + Math.floor(this.random() * 50_000);
    this.cents = Math.round(start / tickCents) * tickCents;
  }

  /** Moves the price by -2..+2 ticks (unchanged 40 %, one tick 40 %, two ticks 20 %), never below 1.00. */
  step(): number {
    const r = this.random();
    const move = r < 0.4 ? 0 : r < 0.6 ? 1 : r < 0.8 ? -1 : r < 0.9 ? 2 : -2;
    this.cents = Math.max(100, this.cents + move * this.tickCents);
    return this.cents;
  }
}

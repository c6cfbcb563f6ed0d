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
 * Last-trade price of one conid as a random walk in whole cents (tick 0.01), seeded by the conid.
 * Integer cents keep the ladder arithmetic exact.
 */
export class PriceWalk {
  readonly random: () => number;
  cents: number;

  constructor(conid: number) {
    this.random = seededRandom(conid * 2654435761);
    // Start somewhere between 20.00 and 520.00, stable per conid.
    this.cents = 2_000 + Math.floor(this.random() * 50_000);
  }

  /** Moves the price by -3..+3 ticks, never below 1.00. */
  step(): number {
    const move = Math.floor(this.random() * 7) - 3;
    this.cents = Math.max(100, this.cents + move);
    return this.cents;
  }
}

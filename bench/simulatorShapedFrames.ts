import { LEVELS } from './frameShapedRows';

/**
 * `n` sbd frames shaped as the simulator sends them with `levels: LEVELS` (sim/: LEVELS asks highest first, the focus
 * trade row, LEVELS bids; one bid in ten with a `,` thousands separator), as JSON text. Seeded, so
 * every run parses the same bytes.
 */
export function simulatorShapedFrames(n: number, topic = 'sbd+DU12345+265598'): string[] {
  const frames: string[] = [];
  let last = 171.39;
  let rnd = 12345;
  const next = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let f = 0; f < n; f++) {
    last = Math.max(1, last + (next() - 0.5) * 0.02);
    const data: Record<string, unknown>[] = [];
    let row = 0;
    for (let i = LEVELS; i >= 1; i--) data.push({ row: row++, focus: 0, price: (last + i / 100).toFixed(2), ask: String(Math.floor(next() * 5000) + 100) });
    data.push({ row: row++, focus: 1, price: `${1 + Math.floor(next() * 10)} @ ${last.toFixed(2)}` });
    for (let i = 1; i <= LEVELS; i++) data.push({ row: row++, focus: 0, price: (last - i / 100).toFixed(2), bid: next() < 0.1 ? '1,200' : String(Math.floor(next() * 5000) + 100) });
    frames.push(JSON.stringify({ topic, data }));
  }
  return frames;
}

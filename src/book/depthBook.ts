/**
 * The maintained book of one ladder (one conid on one stream epoch), so that delta frames become
 * `update` rows with correct levels and a full `snapshot` can be rebuilt at any time.
 *
 * The book is kept as the gateway sends it: ladder rows keyed by their `row` number. A frame is
 * taken as a **full ladder** (rows → kind `snapshot`) when it is the first of the epoch, when its
 * items carry no `row` numbers, or when it has at least as many items as the book holds rows;
 * otherwise it is a **delta** (the simulator's `frames:'delta'`: only the rows whose text changed,
 * same row numbers): its items replace those rows of the book and become kind `update` rows whose
 * `level` is the level of their price in the rebuilt ladder. So every row that was sent is stored
 * once, and levels mean the same thing in snapshots and updates.
 *
 * {@link DepthBook.snapshot} normalises the whole maintained ladder as `snapshot` rows carrying the
 * seq of the last frame applied: "the book after frame N". Since an update frame N has no
 * snapshot rows of its own, the two never share an identity.
 */
import type { DepthRow } from './depthRow';
import { normaliseDepthFrame, type DepthFrameContext } from './normaliseDepthFrame';

type Item = Record<string, unknown>;

export class DepthBook {
  /** Ladder rows by `row` number (only when the frames carry row numbers). */
  private rows = new Map<number, Item>();
  /** The last full frame's items when they had no row numbers. */
  private plain: unknown[] | null = null;
  private topic = '';
  private lastCtx: DepthFrameContext | null = null;
  /** Kind of the last frame applied; a periodic snapshot is only needed after an `update`. */
  lastKind: 'snapshot' | 'update' | null = null;

  /**
   * Normalises one frame against the book. Throws `DepthFrameError` (from the normaliser) for a
   * malformed frame, in which case the book is unchanged.
   */
  apply(frame: Record<string, unknown>, ctx: DepthFrameContext): DepthRow[] {
    const data = frame.data;
    if (this.lastKind !== null && Array.isArray(data) && data.length === 0) {
      normaliseDepthFrame(frame, ctx); // still validates topic and context
      return []; // an empty delta: nothing changed
    }
    const isDelta = this.lastKind !== null && Array.isArray(data) && hasRowNumbers(data) && this.plain === null && data.length < this.rows.size;
    if (!isDelta) {
      const rows = normaliseDepthFrame(frame, ctx); // validates everything first
      this.topic = frame.topic as string;
      this.lastCtx = ctx;
      this.lastKind = 'snapshot';
      const items = data as unknown[];
      if (hasRowNumbers(items)) {
        this.plain = null;
        this.rows = new Map();
        for (const item of items) this.rows.set((item as Item).row as number, item as Item);
      } else {
        this.plain = items;
        this.rows.clear();
      }
      return rows;
    }
    // Delta: validate the sent rows on their own, then merge and level them in the whole ladder.
    const sent = normaliseDepthFrame(frame, ctx);
    const merged = new Map(this.rows);
    for (const item of data as Item[]) merged.set(item.row as number, item);
    const full = normaliseDepthFrame({ topic: frame.topic, data: sortedItems(merged) }, ctx);
    const levelOf = new Map<string, number>();
    for (const r of full) levelOf.set(`${r.side}|${r.price}`, r.level);
    const out: DepthRow[] = new Array<DepthRow>(sent.length);
    for (let i = 0; i < sent.length; i++) {
      const r = sent[i]!;
      out[i] = { ...r, kind: 'update', level: levelOf.get(`${r.side}|${r.price}`) ?? r.level };
    }
    this.rows = merged;
    this.topic = frame.topic as string;
    this.lastCtx = ctx;
    this.lastKind = 'update';
    return out;
  }

  /**
   * The whole maintained ladder as `snapshot` rows with the last frame's seq and receipt time
   * (override `receivedNs` to stamp the rebuild time instead); empty before the first frame.
   */
  snapshot(receivedNs?: bigint): DepthRow[] {
    if (this.lastCtx === null) return [];
    const ctx = receivedNs === undefined ? this.lastCtx : { ...this.lastCtx, receivedNs };
    const data = this.plain ?? sortedItems(this.rows);
    return normaliseDepthFrame({ topic: this.topic, data }, ctx);
  }
}

function hasRowNumbers(items: unknown[]): boolean {
  for (const item of items) {
    if (typeof item !== 'object' || item === null) return false;
    const row = (item as Item).row;
    if (typeof row !== 'number' || !Number.isInteger(row) || row < 0) return false;
  }
  return items.length > 0;
}

function sortedItems(rows: Map<number, Item>): Item[] {
  return [...rows.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

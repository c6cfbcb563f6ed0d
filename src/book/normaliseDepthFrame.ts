/**
 * Turns one BookTrader depth (`sbd`) websocket frame into {@link DepthRow}s.
 *
 * Frame shape (see shared/IBKR-CPAPI.md, "BookTrader depth `sbd`"):
 *   {"topic":"sbd+DU12345+265598","data":[
 *     {"row":0,"focus":0,"price":"171.40","ask":"300"},
 *     {"row":1,"focus":1,"price":"2 @ 171.39"},
 *     {"row":2,"focus":0,"price":"171.38","bid":"500"}]}
 *
 * Accepted variants: `price` as a number or numeric string, or `"size @ price"` (the last-trade
 * row, which becomes one `trade` row); `bid`/`ask` sizes as numbers or strings, with or without
 * `,` thousands separators; a row carrying both a bid and an ask; empty, null or missing sizes
 * (ignored); rows with no price and no sizes (blank ladder rows, ignored); a topic with or without
 * the exchange. Asks are levelled by ascending price, bids by descending price, each from 0; trade
 * rows are levelled in frame order from 0 (one per frame in practice). Every row of a frame is a
 * `snapshot` (frames are treated as full ladders for now).
 *
 * Output order: bids (level 0…), asks (level 0…), trades — the table's sort order.
 * Anything malformed throws {@link DepthFrameError} naming the field; no partial result.
 */
import type { BookSide, DepthRow } from './depthRow';

export class DepthFrameError extends Error {
  override readonly name = 'DepthFrameError';
  /** The path of the offending field, e.g. `data[2].price`. */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

export interface DepthFrameContext {
  /** Local receipt time of the frame, ns since the Unix epoch. */
  receivedNs: bigint;
  connection: string;
  pod: string;
  streamId: string;
  /** Frame sequence within the stream epoch, from 1 (0 belongs to the gap marker). */
  seq: number;
}

export interface GapMarkerContext {
  receivedNs: bigint;
  connection: string;
  pod: string;
  streamId: string;
  conid: number;
}

export interface DepthTopic {
  account: string;
  conid: number;
  exchange?: string;
}

const MAX_CONID = 0xffff_ffff;

/**
 * Parses `sbd+ACCOUNT+CONID` or `sbd+ACCOUNT+CONID+EXCHANGE`; null for anything else (another
 * topic, a missing part, a conid that is not a positive 32-bit integer).
 */
export function parseDepthTopic(topic: string): DepthTopic | null {
  if (typeof topic !== 'string') return null;
  const parts = topic.split('+');
  if (parts.length < 3 || parts.length > 4 || parts[0] !== 'sbd') return null;
  const account = parts[1]!;
  const conidText = parts[2]!;
  if (account === '' || !/^[A-Za-z0-9_.-]+$/.test(account)) return null;
  if (!/^[1-9]\d{0,9}$/.test(conidText)) return null;
  const conid = Number(conidText);
  if (conid > MAX_CONID) return null;
  if (parts.length === 3) return { account, conid };
  const exchange = parts[3]!;
  if (exchange === '' || !/^[A-Za-z0-9_.-]+$/.test(exchange)) return null;
  return { account, conid, exchange };
}

/** Shortens a value for an error message. */
function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'bigint' ? `${value}n` : value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

// A decimal number: optional sign, digits with optional `,` thousands groups, optional fraction.
const NUMBER_TEXT = /^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$|^[+-]?\.\d+$/;

/** Parses a numeric field (number or numeric string); throws naming `field`. */
function parseNumber(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DepthFrameError(field, `${show(value)} is not a finite number`);
    return value;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (NUMBER_TEXT.test(text)) {
      const n = Number(text.includes(',') ? text.replace(/,/g, '') : text);
      if (Number.isFinite(n)) return n;
    }
  }
  throw new DepthFrameError(field, `${show(value)} is not a number`);
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** A size: non-negative; null when the field is empty or missing. */
function parseSize(value: unknown, field: string): number | null {
  if (isEmpty(value)) return null;
  const n = parseNumber(value, field);
  if (n < 0) throw new DepthFrameError(field, `${show(value)} is negative`);
  return n;
}

interface Entry {
  price: number;
  size: number;
}

function byPriceAscending(a: Entry, b: Entry): number {
  return a.price - b.price;
}

function byPriceDescending(a: Entry, b: Entry): number {
  return b.price - a.price;
}

function checkContext(ctx: DepthFrameContext | GapMarkerContext): void {
  if (typeof ctx.receivedNs !== 'bigint' || ctx.receivedNs < 0n) throw new DepthFrameError('ctx.receivedNs', `${show(ctx.receivedNs)} is not a non-negative bigint`);
  for (const key of ['connection', 'pod', 'streamId'] as const) {
    if (typeof ctx[key] !== 'string') throw new DepthFrameError(`ctx.${key}`, `${show(ctx[key])} is not a string`);
  }
}

/**
 * Normalises one `sbd` frame (already JSON-parsed). Throws {@link DepthFrameError} naming the
 * field at fault; never returns a partial result.
 */
export function normaliseDepthFrame(frame: unknown, ctx: DepthFrameContext): DepthRow[] {
  checkContext(ctx);
  if (!Number.isSafeInteger(ctx.seq) || ctx.seq < 1) throw new DepthFrameError('ctx.seq', `${show(ctx.seq)} is not a positive integer`);
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw new DepthFrameError('frame', `${show(frame)} is not an object`);
  }
  const f = frame as Record<string, unknown>;
  if (typeof f.topic !== 'string') throw new DepthFrameError('topic', `${show(f.topic)} is not a string`);
  const topic = parseDepthTopic(f.topic);
  if (topic === null) throw new DepthFrameError('topic', `${show(f.topic)} is not sbd+ACCOUNT+CONID[+EXCHANGE]`);
  const data = f.data;
  if (!Array.isArray(data)) throw new DepthFrameError('data', `${show(data)} is not an array`);

  const bids: Entry[] = [];
  const asks: Entry[] = [];
  const trades: Entry[] = [];
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new DepthFrameError(`data[${i}]`, `${show(item)} is not an object`);
    }
    const r = item as Record<string, unknown>;
    if (r.row !== undefined && r.row !== null && !(Number.isInteger(r.row) && (r.row as number) >= 0)) {
      throw new DepthFrameError(`data[${i}].row`, `${show(r.row)} is not a non-negative integer`);
    }
    const bidSize = parseSize(r.bid, `data[${i}].bid`);
    const askSize = parseSize(r.ask, `data[${i}].ask`);
    const rawPrice = r.price;

    if (typeof rawPrice === 'string' && rawPrice.includes('@')) {
      // "size @ price": the last trade.
      const at = rawPrice.indexOf('@');
      const sizeText = rawPrice.slice(0, at);
      const priceText = rawPrice.slice(at + 1);
      if (priceText.includes('@')) throw new DepthFrameError(`data[${i}].price`, `${show(rawPrice)} is not "size @ price"`);
      let tradeSize: number;
      let tradePrice: number;
      try {
        tradeSize = parseNumber(sizeText, `data[${i}].price`);
        tradePrice = parseNumber(priceText, `data[${i}].price`);
      } catch {
        throw new DepthFrameError(`data[${i}].price`, `${show(rawPrice)} is not "size @ price"`);
      }
      if (tradeSize < 0) throw new DepthFrameError(`data[${i}].price`, `${show(rawPrice)} has a negative size`);
      trades.push({ price: tradePrice, size: tradeSize });
      if (bidSize !== null) bids.push({ price: tradePrice, size: bidSize });
      if (askSize !== null) asks.push({ price: tradePrice, size: askSize });
      continue;
    }

    if (isEmpty(rawPrice)) {
      if (bidSize !== null || askSize !== null) throw new DepthFrameError(`data[${i}].price`, `${show(rawPrice)} is missing but the row has a size`);
      continue; // a blank ladder row
    }
    const price = parseNumber(rawPrice, `data[${i}].price`);
    if (bidSize !== null) bids.push({ price, size: bidSize });
    if (askSize !== null) asks.push({ price, size: askSize });
  }

  // Array.prototype.sort is stable: equal prices keep frame order.
  bids.sort(byPriceDescending);
  asks.sort(byPriceAscending);

  for (const [name, entries] of [['bid', bids], ['ask', asks], ['trade', trades]] as const) {
    if (entries.length > 0x10000) throw new DepthFrameError('data', `${entries.length} ${name} entries exceed the 65,536 levels a side can hold`);
  }
  const rows: DepthRow[] = new Array(bids.length + asks.length + trades.length);
  let n = 0;
  const emit = (side: BookSide, entries: Entry[]): void => {
    for (let level = 0; level < entries.length; level++) {
      const e = entries[level]!;
      rows[n++] = {
        receivedNs: ctx.receivedNs,
        connection: ctx.connection,
        pod: ctx.pod,
        conid: topic.conid,
        streamId: ctx.streamId,
        seq: ctx.seq,
        kind: 'snapshot',
        side,
        level,
        price: e.price,
        size: e.size,
      };
    }
  };
  emit('bid', bids);
  emit('ask', asks);
  emit('trade', trades);
  return rows;
}

/**
 * The marker that opens a stream epoch (or records a loss): kind `gap`, side `none`, level 0,
 * price 0, size 0, seq 0. Readers treat data before it on the stream id as not continuous with
 * data after it.
 */
export function gapMarkerRow(ctx: GapMarkerContext): DepthRow {
  checkContext(ctx);
  if (!Number.isInteger(ctx.conid) || ctx.conid < 0 || ctx.conid > MAX_CONID) throw new DepthFrameError('ctx.conid', `${show(ctx.conid)} is not a 32-bit unsigned integer`);
  return {
    receivedNs: ctx.receivedNs,
    connection: ctx.connection,
    pod: ctx.pod,
    conid: ctx.conid,
    streamId: ctx.streamId,
    seq: 0,
    kind: 'gap',
    side: 'none',
    level: 0,
    price: 0,
    size: 0,
  };
}

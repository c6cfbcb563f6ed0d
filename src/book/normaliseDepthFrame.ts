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
    if (typeof value === 'bigint') text = `${value}n`;
    else if (typeof value === 'number' || value === undefined) text = String(value);
    else text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

// A decimal number: optional sign, digits with optional `,` thousands groups, optional fraction.
const NUMBER_TEXT = /^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$|^[+-]?\.\d+$/;

const POWERS_OF_TEN = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Parses decimal text, NaN if it is not one. The fast path scans plain `[+-]digits[.digits]`
 * without allocating and, for up to 15 significant digits, computes mantissa / 10^k, which is
 * exactly the correctly rounded value (both operands are exact doubles). Anything with commas or
 * surrounding blanks goes through the strict regex.
 */
function parseDecimalText(value: string): number {
  const len = value.length;
  let i = 0;
  let negative = false;
  const first = value.charCodeAt(0);
  if (first === 43 /* + */) i = 1;
  else if (first === 45 /* - */) {
    negative = true;
    i = 1;
  }
  let digits = 0;
  let mantissa = 0;
  let fractionDigits = 0;
  let dot = false;
  for (; i < len; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      mantissa = mantissa * 10 + (c - 48);
      if (dot) fractionDigits++;
    } else if (c === 46 && !dot) dot = true;
    else return parseDecimalTextSlow(value);
  }
  if (digits === 0) return Number.NaN;
  if (digits > 15) return +value;
  const n = fractionDigits === 0 ? mantissa : mantissa / POWERS_OF_TEN[fractionDigits]!;
  return negative ? -n : n;
}

function parseDecimalTextSlow(value: string): number {
  if (value.includes('@')) return Number.NaN; // "size @ price": not a plain number, and common enough to skip the regex
  const text = value.trim();
  if (!NUMBER_TEXT.test(text)) return Number.NaN;
  return Number(text.includes(',') ? text.replace(/,/g, '') : text);
}

/** A path like `data[2].price`, built only when an error needs it. */
function fieldPath(index: number, key: string): string {
  return key === '' ? `data[${index}]` : `data[${index}].${key}`;
}

/** Parses a numeric field (number or numeric string); throws naming the field. */
function parseNumber(value: unknown, index: number, key: string): number {
  if (typeof value === 'number') {
    if (value - value === 0) return value; // finite
    throw new DepthFrameError(fieldPath(index, key), `${show(value)} is not a finite number`);
  }
  if (typeof value === 'string') {
    const n = parseDecimalText(value);
    if (n - n === 0) return n;
  }
  throw new DepthFrameError(fieldPath(index, key), `${show(value)} is not a number`);
}

function isBlankString(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && isBlankString(value));
}

/** A size: non-negative; -1 when the field is empty or missing. */
function parseSize(value: unknown, index: number, key: string): number {
  if (value === undefined || value === null) return -1;
  if (typeof value === 'string' && isBlankString(value)) return -1;
  const n = parseNumber(value, index, key);
  if (n < 0) throw new DepthFrameError(fieldPath(index, key), `${show(value)} is negative`);
  return n;
}

/** Most entries one side can hold: `level` is a UInt16. */
const MAX_LEVELS = 0x10000;

/**
 * One side's price/size entries of the frame being normalised, in reusable typed arrays (grown by
 * doubling, never past MAX_LEVELS): no arrays are allocated per frame. `count` goes on counting
 * past the capacity, so an oversized side is reported with its true size.
 */
class LevelList {
  prices = new Float64Array(64);
  sizes = new Float64Array(64);
  count = 0;

  add(price: number, size: number): void {
    const n = this.count++;
    if (n >= this.prices.length) {
      if (n >= MAX_LEVELS) return;
      const prices = new Float64Array(this.prices.length * 2);
      const sizes = new Float64Array(this.sizes.length * 2);
      prices.set(this.prices);
      sizes.set(this.sizes);
      this.prices = prices;
      this.sizes = sizes;
    }
    this.prices[n] = price;
    this.sizes[n] = size;
  }

  /** Sorts by price (stable insertion sort: ladders are short and arrive nearly ordered, one way or the other). */
  sort(descending: boolean): void {
    const { prices, sizes } = this;
    const n = this.count;
    for (let i = 1; i < n; i++) {
      const p = prices[i]!;
      const s = sizes[i]!;
      let j = i - 1;
      if (descending) {
        while (j >= 0 && prices[j]! < p) {
          prices[j + 1] = prices[j]!;
          sizes[j + 1] = sizes[j]!;
          j--;
        }
      } else {
        while (j >= 0 && prices[j]! > p) {
          prices[j + 1] = prices[j]!;
          sizes[j + 1] = sizes[j]!;
          j--;
        }
      }
      prices[j + 1] = p;
      sizes[j + 1] = s;
    }
  }
}

function checkContext(ctx: DepthFrameContext | GapMarkerContext): void {
  if (typeof ctx.receivedNs !== 'bigint' || ctx.receivedNs < 0n) throw new DepthFrameError('ctx.receivedNs', `${show(ctx.receivedNs)} is not a non-negative bigint`);
  if (typeof ctx.connection !== 'string') throw new DepthFrameError('ctx.connection', `${show(ctx.connection)} is not a string`);
  if (typeof ctx.pod !== 'string') throw new DepthFrameError('ctx.pod', `${show(ctx.pod)} is not a string`);
  if (typeof ctx.streamId !== 'string') throw new DepthFrameError('ctx.streamId', `${show(ctx.streamId)} is not a string`);
}

// A stream sends the same few topics (one per ladder) over and over: parse each once. Bounded:
// cleared when full, so a stream of odd topics cannot grow it.
const topicCache = new Map<string, DepthTopic | null>();
const TOPIC_CACHE_LIMIT = 256;

/** parseDepthTopic, remembered per topic string (the feed routes every frame by its topic). */
export function parseDepthTopicCached(topic: string): DepthTopic | null {
  let parsed = topicCache.get(topic);
  if (parsed === undefined) {
    parsed = parseDepthTopic(topic);
    if (topicCache.size >= TOPIC_CACHE_LIMIT) topicCache.clear();
    topicCache.set(topic, parsed);
  }
  return parsed;
}

// Shared by every call: normaliseDepthFrame is synchronous, so one frame uses them at a time.
const bids = new LevelList();
const asks = new LevelList();
const trades = new LevelList();

/** Writes one side's rows into `out` from index `at`; returns the index after them. */
function appendRows(
  out: DepthRow[],
  at: number,
  ctx: DepthFrameContext,
  conid: number,
  side: BookSide,
  list: LevelList,
): number {
  const { receivedNs, connection, pod, streamId, seq } = ctx;
  const { prices, sizes, count } = list;
  for (let level = 0; level < count; level++) {
    out[at++] = {
      receivedNs,
      connection,
      pod,
      conid,
      streamId,
      seq,
      kind: 'snapshot',
      side,
      level,
      price: prices[level]!,
      size: sizes[level]!,
    };
  }
  return at;
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
  if (f.error !== undefined) throw new DepthFrameError('error', `the gateway sent an error frame: ${show(f.error)}`);
  if (typeof f.topic !== 'string') throw new DepthFrameError('topic', `${show(f.topic)} is not a string`);
  const topic = parseDepthTopicCached(f.topic);
  if (topic === null) throw new DepthFrameError('topic', `${show(f.topic)} is not sbd+ACCOUNT+CONID[+EXCHANGE]`);
  const data = f.data;
  if (!Array.isArray(data)) throw new DepthFrameError('data', `${show(data)} is not an array`);

  bids.count = asks.count = trades.count = 0;
  for (let i = 0; i < data.length; i++) {
    const item: unknown = data[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new DepthFrameError(fieldPath(i, ''), `${show(item)} is not an object`);
    }
    const r = item as Record<string, unknown>;
    const rowIndex = r.row;
    if (rowIndex !== undefined && rowIndex !== null && !(Number.isInteger(rowIndex) && (rowIndex as number) >= 0)) {
      throw new DepthFrameError(fieldPath(i, 'row'), `${show(rowIndex)} is not a non-negative integer`);
    }
    const bidSize = parseSize(r.bid, i, 'bid');
    const askSize = parseSize(r.ask, i, 'ask');
    const rawPrice = r.price;

    let price: number;
    // A plain decimal string is the common case: try it before looking for "size @ price".
    const text = typeof rawPrice === 'string' ? rawPrice : null;
    const plain = text === null ? Number.NaN : parseDecimalText(text);
    const at = text === null || plain - plain === 0 ? -1 : text.indexOf('@');
    if (plain - plain === 0) {
      price = plain;
    } else if (text !== null && at >= 0) {
      // "size @ price": the last trade.
      const tradeSize = parseDecimalText(text.slice(0, at).trim());
      price = parseDecimalText(text.slice(at + 1).trim());
      if (!(tradeSize - tradeSize === 0) || !(price - price === 0)) {
        throw new DepthFrameError(fieldPath(i, 'price'), `${show(rawPrice)} is not "size @ price"`);
      }
      if (tradeSize < 0) throw new DepthFrameError(fieldPath(i, 'price'), `${show(rawPrice)} has a negative size`);
      trades.add(price, tradeSize);
    } else if (isEmpty(rawPrice)) {
      if (bidSize >= 0 || askSize >= 0) {
        throw new DepthFrameError(fieldPath(i, 'price'), `${show(rawPrice)} is missing but the row has a size`);
      }
      continue; // a blank ladder row
    } else {
      price = parseNumber(rawPrice, i, 'price');
    }
    if (bidSize >= 0) {
      bids.add(price, bidSize);
    }
    if (askSize >= 0) {
      asks.add(price, askSize);
    }
  }

  if (bids.count > MAX_LEVELS) throw new DepthFrameError('data', `${bids.count} bid entries exceed the 65,536 levels a side can hold`);
  if (asks.count > MAX_LEVELS) throw new DepthFrameError('data', `${asks.count} ask entries exceed the 65,536 levels a side can hold`);
  if (trades.count > MAX_LEVELS) throw new DepthFrameError('data', `${trades.count} trade entries exceed the 65,536 levels a side can hold`);
  bids.sort(true);
  asks.sort(false);

  const rows: DepthRow[] = new Array<DepthRow>(bids.count + asks.count + trades.count);
  let n = appendRows(rows, 0, ctx, topic.conid, 'bid', bids);
  n = appendRows(rows, n, ctx, topic.conid, 'ask', asks);
  appendRows(rows, n, ctx, topic.conid, 'trade', trades);
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

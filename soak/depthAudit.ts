/**
 * Depth audit: what the simulator says it wrote to each depth subscription (frames, `_simSeq`
 * range, size sum) against what ClickHouse holds per stream (`stream_id`, `seq` from 1, a `gap`
 * marker row first). The rules are in docs/reliability.md; this file is pure so they are unit-tested.
 */

/** One simulator subscription (GET /sim/control/stats → subscriptions). */
export interface SubStat {
  id: string;
  /** Creation order within its simulator (the numeric suffix of the id). */
  order: number;
  frames: number;
  lastSeq: number | null;
  sizeSum: number;
  active: boolean;
}

/** One stored stream of a connection and conid (ClickHouse, read with FINAL). */
export interface StreamStat {
  streamId: string;
  /** min(received_ns): when the stream opened (its gap marker). */
  startNs: bigint;
  gapRows: number;
  /** Distinct frame seqs (snapshot or update rows; gap markers excluded). */
  frames: number;
  minSeq: number;
  maxSeq: number;
  /** Size sum of bid and ask snapshot rows; negative when not comparable (delta frames). */
  sizeSum: number;
  /** Rows read with FINAL and without it: the difference is re-sent rows that collapsed by key. */
  rows: number;
  rawRows: number;
}

export interface AuditRules {
  /**
   * Frames the simulator may have written to a socket that the client never read, when that
   * socket or session ended: at most this many per ended subscription count as "in flight at a
   * marked disconnect" (not loss). Beyond it, they are lost.
   */
  inFlightAllowance: number;
  /**
   * The simulator counts a batch of frames in the write callback of its last frame; a socket
   * killed mid-batch may have delivered frames it never counted. Stored frames beyond the counted
   * lastSeq up to this many are "delivered but unconfirmed", beyond it duplicates.
   */
  unconfirmedSlack: number;
}

export interface Pairing {
  sub: string | null;
  stream: string | null;
  sent: number;
  stored: number;
  note: string;
}

export interface DepthAudit {
  connection: string;
  topic: string;
  subscriptions: number;
  streams: number;
  sent: number;
  stored: number;
  /** Sent, never stored, not explainable as in flight: a failure. */
  lost: number;
  /** Sent just before a marked disconnect and never read (within the allowance). */
  inFlight: number;
  /** Stored frames that no subscription sent (or more than it sent, beyond the slack): a failure. */
  duplicated: number;
  /** Stored beyond the simulator's confirmed count, within the slack (not a failure). */
  unconfirmed: number;
  /** Holes in stored seq inside one stream, in frames: a failure. */
  unmarkedGapFrames: number;
  /** Frames of a subscription that match no stored stream, beyond the allowance: a failure. */
  unmatchedFrames: number;
  /** Streams with frames but no gap marker row: a failure. */
  streamsWithoutGapMarker: number;
  /** Complete streams whose size sum differs from what was sent (wrong frames stored): a failure. */
  contentMismatches: number;
  /** Re-sent rows collapsed by the table key (at-least-once retries); informational. */
  collapsedRows: number;
  pairs: Pairing[];
}

export function auditFailures(a: DepthAudit): string[] {
  const out: string[] = [];
  if (a.lost) out.push(`${a.connection}: ${a.lost} frames lost`);
  if (a.duplicated) out.push(`${a.connection}: ${a.duplicated} frames duplicated or stored without a subscription`);
  if (a.unmarkedGapFrames) out.push(`${a.connection}: ${a.unmarkedGapFrames} frames missing inside streams (unmarked gaps)`);
  if (a.unmatchedFrames) out.push(`${a.connection}: ${a.unmatchedFrames} frames sent on subscriptions that match no stream`);
  if (a.streamsWithoutGapMarker) out.push(`${a.connection}: ${a.streamsWithoutGapMarker} streams without a gap marker`);
  if (a.contentMismatches) out.push(`${a.connection}: ${a.contentMismatches} complete streams whose sizes differ from what was sent`);
  return out;
}

/**
 * Pairs subscriptions (in creation order) with streams (in start order) by an alignment that
 * minimises unexplained frames: each stream opens one socket and subscribes once, but a stream may
 * have no subscription (refused: no bridge yet) and a subscription may have no stored stream (the
 * pod died before its first insert).
 */
export function auditConnection(connection: string, topic: string, subsIn: readonly SubStat[], streamsIn: readonly StreamStat[], rules: AuditRules): DepthAudit {
  const subs = [...subsIn].sort((a, b) => a.order - b.order);
  const streams = [...streamsIn].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const sentOf = (s: SubStat) => s.lastSeq ?? 0;
  const holesOf = (t: StreamStat) => (t.frames === 0 ? 0 : t.maxSeq - t.frames);
  const canPair = (s: SubStat, t: StreamStat) => t.maxSeq <= sentOf(s) + rules.unconfirmedSlack;
  // A pair costs its unexplained frames; an exact pair (same frames and size sum) is preferred on ties.
  const exact = (s: SubStat, t: StreamStat) => t.frames === s.frames && t.maxSeq === sentOf(s) && Math.abs(t.sizeSum - s.sizeSum) <= 1e-6 * Math.max(1, s.sizeSum);
  const pairCost = (s: SubStat, t: StreamStat) => 2 * (Math.max(0, sentOf(s) - t.maxSeq) + holesOf(t)) - (exact(s, t) ? 3 : 1);

  const S = subs.length;
  const T = streams.length;
  // cost[i][j]: best cost for subs[i..] and streams[j..]
  const cost: number[][] = Array.from({ length: S + 1 }, () => new Array<number>(T + 1).fill(0));
  const move: number[][] = Array.from({ length: S + 1 }, () => new Array<number>(T + 1).fill(0));
  for (let i = S; i >= 0; i--) {
    for (let j = T; j >= 0; j--) {
      if (i === S && j === T) continue;
      let best = Infinity;
      let m = 0;
      if (i < S) {
        const c = 2 * sentOf(subs[i]) + cost[i + 1][j];
        if (c < best) [best, m] = [c, 1];
      }
      if (j < T) {
        const c = 2 * streams[j].frames + cost[i][j + 1];
        if (c < best) [best, m] = [c, 2];
      }
      if (i < S && j < T && canPair(subs[i], streams[j])) {
        const c = pairCost(subs[i], streams[j]) + cost[i + 1][j + 1];
        if (c <= best) [best, m] = [c, 3];
      }
      cost[i][j] = best;
      move[i][j] = m;
    }
  }

  const a: DepthAudit = {
    connection,
    topic,
    subscriptions: S,
    streams: T,
    sent: subs.reduce((n, s) => n + sentOf(s), 0),
    stored: streams.reduce((n, t) => n + t.frames, 0),
    lost: 0,
    inFlight: 0,
    duplicated: 0,
    unconfirmed: 0,
    unmarkedGapFrames: 0,
    unmatchedFrames: 0,
    streamsWithoutGapMarker: 0,
    contentMismatches: 0,
    collapsedRows: streams.reduce((n, t) => n + Math.max(0, t.rawRows - t.rows), 0),
    pairs: [],
  };
  const checkStream = (t: StreamStat, notes: string[]) => {
    const holes = holesOf(t);
    if (holes > 0) {
      a.unmarkedGapFrames += holes;
      notes.push(`${holes} seq missing inside the stream`);
    }
    if (t.frames > 0 && t.minSeq !== 1) notes.push(`starts at seq ${t.minSeq}`);
    if (t.frames > 0 && t.gapRows === 0) {
      a.streamsWithoutGapMarker++;
      notes.push('no gap marker');
    }
  };

  let i = 0;
  let j = 0;
  while (i < S || j < T) {
    const m = move[i][j];
    const notes: string[] = [];
    if (m === 3) {
      const s = subs[i];
      const t = streams[j];
      checkStream(t, notes);
      const sent = sentOf(s);
      const tail = sent - t.maxSeq;
      if (tail > 0) {
        if (!s.active && tail <= rules.inFlightAllowance) {
          a.inFlight += tail;
          notes.push(`${tail} in flight at a marked disconnect`);
        } else {
          a.lost += tail;
          notes.push(`${tail} LOST after seq ${t.maxSeq}${s.active ? ' (subscription still active)' : ''}`);
        }
      } else if (tail < 0) {
        a.unconfirmed += -tail;
        notes.push(`${-tail} stored beyond the simulator's confirmed count`);
      }
      if (tail === 0 && holesOf(t) === 0 && t.frames === s.frames && t.sizeSum >= 0 && Math.abs(t.sizeSum - s.sizeSum) > 1e-6 * Math.max(1, s.sizeSum)) {
        a.contentMismatches++;
        notes.push(`size sum ${t.sizeSum} ≠ sent ${s.sizeSum}`);
      }
      a.pairs.push({ sub: s.id, stream: t.streamId, sent, stored: t.frames, note: notes.join('; ') || 'complete' });
      i++;
      j++;
    } else if (m === 1) {
      const s = subs[i];
      const sent = sentOf(s);
      if (sent > 0) {
        if (!s.active && sent <= rules.inFlightAllowance) {
          a.inFlight += sent;
          notes.push(`${sent} in flight at a marked disconnect (nothing stored)`);
        } else {
          a.unmatchedFrames += sent;
          notes.push(`${sent} frames match no stream`);
        }
      }
      a.pairs.push({ sub: s.id, stream: null, sent, stored: 0, note: notes.join('; ') || 'no frames' });
      i++;
    } else {
      const t = streams[j];
      checkStream(t, notes);
      if (t.frames > 0) {
        a.duplicated += t.frames;
        notes.push(`${t.frames} stored frames match no subscription`);
      }
      a.pairs.push({ sub: null, stream: t.streamId, sent: 0, stored: t.frames, note: notes.join('; ') || 'no subscription (refused or never subscribed)' });
      j++;
    }
  }
  return a;
}

import type { DepthInstrument, DepthPlan } from '../src/contract/depthTypes';

export interface ConnectionHealth {
  usable: boolean;
  /** When the connection last changed between usable and unusable (workflow time, ms). */
  sinceMs: number;
}

/**
 * The coordinator's rule, pure and deterministic: start from the default assignment (config);
 * a connection reported unusable for at least `moveAfterMs` is failed, and each of its instruments
 * goes to the first connection, in config order, that is reported usable, is not failed, and holds
 * fewer than `maxLaddersPerAccount` instruments. Instruments that fit nowhere stay unplaced (and
 * are reported). A connection never reported is neither failed nor a target. When a failed
 * connection recovers, the plan is simply the default again for it: its instruments move back.
 */
export function planDepthAssignment(
  defaults: { connectionId: string; instruments: DepthInstrument[] }[],
  health: Record<string, ConnectionHealth | undefined>,
  nowMs: number,
  opts: { maxLaddersPerAccount: number; moveAfterMs: number },
): DepthPlan {
  const failed = defaults
    .map((d) => d.connectionId)
    .filter((id) => {
      const h = health[id];
      return h !== undefined && !h.usable && nowMs - h.sinceMs >= opts.moveAfterMs;
    });
  const failedSet = new Set(failed);
  const assignment: Record<string, DepthInstrument[]> = {};
  for (const d of defaults) assignment[d.connectionId] = failedSet.has(d.connectionId) ? [] : [...d.instruments];
  const moved: DepthPlan['moved'] = [];
  const unplaced: DepthPlan['unplaced'] = [];
  for (const d of defaults) {
    if (!failedSet.has(d.connectionId)) continue;
    for (const instrument of d.instruments) {
      const target = defaults.find(
        (t) => !failedSet.has(t.connectionId) && health[t.connectionId]?.usable === true && assignment[t.connectionId]!.length < opts.maxLaddersPerAccount,
      );
      if (target) {
        assignment[target.connectionId]!.push(instrument);
        moved.push({ conid: instrument.conid, from: d.connectionId, to: target.connectionId });
      } else {
        unplaced.push({ conid: instrument.conid, from: d.connectionId });
      }
    }
  }
  return { assignment, moved, unplaced, failed };
}

/** When the next connection crosses the failure threshold (ms from now), or undefined. */
export function nextThresholdInMs(health: Record<string, ConnectionHealth | undefined>, nowMs: number, moveAfterMs: number): number | undefined {
  let next: number | undefined;
  for (const h of Object.values(health)) {
    if (!h || h.usable) continue;
    const due = h.sinceMs + moveAfterMs - nowMs;
    if (due > 0 && (next === undefined || due < next)) next = due;
  }
  return next;
}

/** A stable text key of an instrument list, to tell whether an assignment changed. */
export function instrumentsKey(list: DepthInstrument[] | null | undefined): string {
  if (list === null || list === undefined) return 'default';
  return list.map((i) => `${i.conid}${i.exchange ? `@${i.exchange}` : ''}`).join(',');
}

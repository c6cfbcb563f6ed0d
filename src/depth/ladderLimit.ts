import type { DepthInstrument } from '../contract/depthTypes';

export interface LadderAllotment {
  /** The instruments that are streamed: the first `maxLadders` assigned. */
  streamed: DepthInstrument[];
  /** Conids over the limit: reported, never subscribed. */
  overLimit: number[];
  /** The `DepthOverLimit` report, or null when everything fits. */
  problem: string | null;
}

/** Splits a connection's assignment at the account's ladder limit (`depth.maxLaddersPerAccount`). */
export function allotLadders(connectionId: string, assigned: readonly DepthInstrument[], maxLadders: number): LadderAllotment {
  const streamed = assigned.slice(0, maxLadders);
  if (assigned.length === streamed.length) return { streamed, overLimit: [], problem: null };
  const overLimit = assigned.slice(streamed.length).map((i) => i.conid);
  const problem =
    `DepthOverLimit: connection ${connectionId} is assigned ${assigned.length} depth ladders but an account may hold ` +
    `${maxLadders} (depth.maxLaddersPerAccount); streaming ${streamed.map((i) => i.conid).join(', ')}, ` +
    `NOT streaming ${overLimit.join(', ')} — assign them to another connection`;
  return { streamed, overLimit, problem };
}

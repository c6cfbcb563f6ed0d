/** Depth shapes shared by the depth workflows, the stream activity and every face that shows depth health. */

/** One depth subscription: an IBKR contract id and, optionally, the exchange of its ladder. */
export interface DepthInstrument {
  conid: number;
  exchange?: string;
}

/** Safe status of one connection's depth supervisor (query `depthStatus`). */
export interface DepthStatus {
  connectionId: string;
  state: 'waiting_for_session' | 'streaming' | 'backing_off' | 'idle' | 'config_problem' | 'stopped';
  /** What the stream runs with: the coordinator's assignment, or null = the config's instruments. */
  assignment: DepthInstrument[] | null;
  /** Over-limit or refused instruments and config problems, newest last (at most 10). */
  problems: string[];
  failures: number;
  streamsStarted: number;
}

/** What the depth coordinator works from (sent by the operations layer with signalWithStart). */
export interface DepthCoordinatorConfig {
  /** The default assignment (the config), in config order. */
  connections: { connectionId: string; instruments: DepthInstrument[] }[];
  /** Ladders one connection (one account) may hold. */
  maxLaddersPerAccount: number;
  /** A connection unusable this long has its instruments moved to healthy ones. */
  moveAfterMs: number;
}

export interface DepthPlan {
  /** Instruments per connection id. */
  assignment: Record<string, DepthInstrument[]>;
  /** Instruments moved away from their default connection: `conid` from → to. */
  moved: { conid: number; from: string; to: string }[];
  /** Instruments of failed connections that no healthy connection had room for. */
  unplaced: { conid: number; from: string }[];
  /** Connections considered failed (unusable longer than moveAfterMs). */
  failed: string[];
}

import { defineQuery, defineSignal } from '@temporalio/workflow';

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

/** Coordinator → depth workflow: instruments to stream now (null = the config's default). */
export const assignDepthSignal = defineSignal<[instruments: DepthInstrument[] | null]>('assignDepth');
/** Stream activity → depth workflow: an instrument over the ladder limit or refused by the gateway. */
export const depthProblemSignal = defineSignal<[problem: string]>('depthProblem');
export const depthStatusQuery = defineQuery<DepthStatus>('depthStatus');

/** Depth workflow → coordinator: the connection's session became usable / unusable. */
export const connectionHealthSignal = defineSignal<[connectionId: string, usable: boolean]>('connectionHealth');

export interface DepthCoordinatorConfig {
  /** The default assignment (the config), in config order. */
  connections: { connectionId: string; instruments: DepthInstrument[] }[];
  /** Ladders one connection (one account) may hold. */
  maxLaddersPerAccount: number;
  /** A connection unusable this long has its instruments moved to healthy ones. */
  moveAfterMs: number;
}

/** Embedded stack → coordinator (with signalWithStart): the current config. */
export const configureDepthSignal = defineSignal<[config: DepthCoordinatorConfig]>('configureDepth');
export const depthAssignmentQuery = defineQuery<DepthPlan>('depthAssignment');

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

import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DepthCoordinatorConfig, DepthInstrument, DepthPlan, DepthStatus } from '../src/contract/depthTypes';

/** Coordinator → depth workflow: instruments to stream now (null = the config's default). */
export const assignDepthSignal = defineSignal<[instruments: DepthInstrument[] | null]>('assignDepth');
/** Stream activity → depth workflow: an instrument over the ladder limit or refused by the gateway. */
export const depthProblemSignal = defineSignal<[problem: string]>('depthProblem');
export const depthStatusQuery = defineQuery<DepthStatus>('depthStatus');

/** Depth workflow → coordinator: the connection's session became usable / unusable. */
export const connectionHealthSignal = defineSignal<[connectionId: string, usable: boolean]>('connectionHealth');

/** Embedded stack → coordinator (with signalWithStart): the current config. */
export const configureDepthSignal = defineSignal<[config: DepthCoordinatorConfig]>('configureDepth');
export const depthAssignmentQuery = defineQuery<DepthPlan>('depthAssignment');


import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PacingPenalty, ReloginResult, SessionStatus } from '../src/contract/sessionStatus';

/** Session workflow messages, shared by the workflow and its clients (CLI, depth stream). */
export const statusQuery = defineQuery<SessionStatus>('status');
export const forceReloginSignal = defineSignal('forceRelogin');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
/** A fresh browser login now; returns once the session is usable again or has failed, with the reason. */
export const reloginUpdate = defineUpdate<ReloginResult>('relogin');
/** Sent by the depth stream when the gateway pushes `sts` unauthenticated: faster than the next tickle. */
export const sessionLostSignal = defineSignal<[reason: string]>('sessionLost');

/** Depth workflow messages. */
export const sessionChangedSignal = defineSignal<[usable: boolean]>('sessionChanged');
export const stopDepthSignal = defineSignal('stop');

/** Sent by the pod's keepalive when IBKR's penalty box on the pod's address starts, is extended or ends (null). */
export const pacingSignal = defineSignal<[penalty: PacingPenalty | null]>('pacing');

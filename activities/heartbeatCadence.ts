/**
 * How often long-running activities (keepalive, depth stream) heartbeat. Heartbeats carry
 * cancellation to them, and a Temporal server that restarts times an activity out 30 s (their
 * heartbeat timeout) after the last heartbeat it holds: every 3 s (with the pod worker's throttle
 * at 3 s) rides out a restart of about 25 s.
 */
export const HEARTBEAT_EVERY_MS = 3_000;

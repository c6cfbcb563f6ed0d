import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * ibflow's Prometheus metrics, in one registry per process (not prom-client's global one, so
 * tests and embedded processes do not collide). Labels are ids and states only — connection ids,
 * pod names, session states, failure types — never a secret, username-derived cookie or code.
 *
 * Call the helpers below from activities and workers, e.g. `metrics.depthRows.inc({ connection }, n)`
 * or `recordSessionState('demo-live', 'usable')`; the endpoint is served by `src/health/opsServer.ts`.
 */
export const registry = new Registry();

let defaultsCollected = false;
/** Node process metrics (CPU, memory, event-loop lag) under `ibflow_`; once per process. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: registry, prefix: 'ibflow_' });
}

export const SESSION_STATES = ['usable', 'logging_in', 'reconnecting', 'competing', 'manual_action_required', 'unavailable', 'paused', 'stopped'] as const;

export const metrics = {
  /** 1 for the state a connection's session is in, 0 for the others. */
  sessionState: new Gauge({ name: 'ibflow_session_state', help: 'Session state per connection (1 = current state)', labelNames: ['connection', 'state'] as const, registers: [registry] }),
  /** Transitions back to usable after the session had been usable and was lost. */
  recoveries: new Counter({ name: 'ibflow_session_recoveries_total', help: 'Sessions that became usable again after a loss', labelNames: ['connection'] as const, registers: [registry] }),
  loginFailures: new Counter({ name: 'ibflow_login_failures_total', help: 'Failed browser logins by failure type', labelNames: ['connection', 'type'] as const, registers: [registry] }),
  logins: new Counter({ name: 'ibflow_logins_total', help: 'Successful browser logins', labelNames: ['connection'] as const, registers: [registry] }),
  tickleLatency: new Histogram({
    name: 'ibflow_tickle_latency_seconds',
    help: 'Gateway /tickle round trip',
    labelNames: ['connection'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  /** Rows handed to the ClickHouse sink; rows/s is `rate(ibflow_depth_rows_total[1m])`. */
  depthRows: new Counter({ name: 'ibflow_depth_rows_total', help: 'Depth rows received and queued for ClickHouse', labelNames: ['connection'] as const, registers: [registry] }),
  depthRowsInserted: new Counter({ name: 'ibflow_depth_rows_inserted_total', help: 'Depth rows inserted into ClickHouse', labelNames: ['pod'] as const, registers: [registry] }),
  /** Age of the oldest row not yet inserted (0 when the sink is idle). */
  sinkLag: new Gauge({ name: 'ibflow_sink_lag_seconds', help: 'Age of the oldest depth row not yet in ClickHouse', labelNames: ['pod'] as const, registers: [registry] }),
  sinkBufferedRows: new Gauge({ name: 'ibflow_sink_buffered_rows', help: 'Depth rows held in memory by the sink', labelNames: ['pod'] as const, registers: [registry] }),
  spillBytes: new Gauge({ name: 'ibflow_spill_bytes', help: 'Bytes of depth batches spilled to local disk while ClickHouse is away', labelNames: ['pod'] as const, registers: [registry] }),
  /** Batches ClickHouse refused for good, set aside on disk (`ibflow depth quarantine`); each leaves a gap row per stream. */
  depthQuarantinedBatches: new Counter({ name: 'ibflow_depth_quarantined_batches_total', help: 'Depth batches ClickHouse refused for good and the sink set aside in the quarantine', labelNames: ['pod'] as const, registers: [registry] }),
  depthQuarantinedRows: new Counter({ name: 'ibflow_depth_quarantined_rows_total', help: 'Depth rows in batches set aside in the quarantine', labelNames: ['pod'] as const, registers: [registry] }),
  depthQuarantinePending: new Gauge({ name: 'ibflow_depth_quarantine_pending_records', help: 'Quarantine records waiting for a replay or drop', labelNames: ['pod'] as const, registers: [registry] }),
  depthQuarantineBytes: new Gauge({ name: 'ibflow_depth_quarantine_bytes', help: 'Bytes on disk of the quarantine records waiting for a replay or drop', labelNames: ['pod'] as const, registers: [registry] }),
  workerUp: new Gauge({ name: 'ibflow_worker_up', help: '1 while the Temporal worker is running', labelNames: ['worker'] as const, registers: [registry] }),
  /** The app port (src/appPort/): `path` is normalised (ids → `:id`), so its label values stay few. */
  appPortForwarded: new Counter({ name: 'ibflow_app_port_forwarded_total', help: 'App port requests and websockets forwarded to the gateway', labelNames: ['pod', 'path'] as const, registers: [registry] }),
  appPortQueued: new Counter({ name: 'ibflow_app_port_queued_total', help: 'App port requests that waited for the pacer', labelNames: ['pod', 'path'] as const, registers: [registry] }),
  appPortAnsweredLocally: new Counter({ name: 'ibflow_app_port_answered_locally_total', help: "App port requests answered from ibflow's own fresh knowledge", labelNames: ['pod', 'path'] as const, registers: [registry] }),
  appPortRefused: new Counter({ name: 'ibflow_app_port_refused_total', help: 'App port requests refused locally (429, 403, 503, 404)', labelNames: ['pod', 'path', 'status'] as const, registers: [registry] }),
  appPortUpstreamErrors: new Counter({ name: 'ibflow_app_port_upstream_errors_total', help: 'App port requests the gateway did not answer (502)', labelNames: ['pod', 'path'] as const, registers: [registry] }),
};

const lastState = new Map<string, string>();
const everUsable = new Set<string>();

/** Sets the state gauge of a connection; counts a recovery when it becomes usable again after a loss. */
export function recordSessionState(connection: string, state: string): void {
  const previous = lastState.get(connection);
  for (const s of SESSION_STATES) metrics.sessionState.set({ connection, state: s }, s === state ? 1 : 0);
  if (state === 'usable' && previous !== undefined && previous !== 'usable' && everUsable.has(connection)) metrics.recoveries.inc({ connection });
  if (state === 'usable') everUsable.add(connection);
  lastState.set(connection, state);
}

export function recordLoginFailure(connection: string, failureType: string): void {
  metrics.loginFailures.inc({ connection, type: failureType });
}

export function observeTickle(connection: string, seconds: number): void {
  metrics.tickleLatency.observe({ connection }, seconds);
}

export function addDepthRows(connection: string, rows: number): void {
  metrics.depthRows.inc({ connection }, rows);
}

/** For a sink's periodic stats: lag in seconds, rows held, bytes spilled. */
export function recordSinkStats(pod: string, stats: { lagSeconds?: number; bufferedRows?: number; spillBytes?: number }): void {
  if (stats.lagSeconds !== undefined) metrics.sinkLag.set({ pod }, stats.lagSeconds);
  if (stats.bufferedRows !== undefined) metrics.sinkBufferedRows.set({ pod }, stats.bufferedRows);
  if (stats.spillBytes !== undefined) metrics.spillBytes.set({ pod }, stats.spillBytes);
}

/** A batch set aside in the quarantine. */
export function recordQuarantinedBatch(pod: string, rows: number): void {
  metrics.depthQuarantinedBatches.inc({ pod });
  metrics.depthQuarantinedRows.inc({ pod }, rows);
}

/** What the quarantine holds now. */
export function recordQuarantinePending(pod: string, pending: { records: number; bytes: number }): void {
  metrics.depthQuarantinePending.set({ pod }, pending.records);
  metrics.depthQuarantineBytes.set({ pod }, pending.bytes);
}

/** Forgets per-connection memory (tests). */
export function resetMetrics(): void {
  registry.resetMetrics();
  lastState.clear();
  everUsable.clear();
}

import type { ClickHouseClient } from '@clickhouse/client';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createPodActivities } from '../activities';
import { connectClickHouse } from './clickhouseClient';
import { runWorker, type RunningWorker } from './runningWorker';

export type { RunningWorker };
import { DepthSink } from '../src/clickhouse/depthSink';
import { join } from 'node:path';
import { depthSettings, type ConnectionConfig, type IbflowConfig } from '../src/config/schema';
import { nowNs } from '../src/gateway/gatewaySocket';
import { metrics, recordQuarantinedBatch, recordQuarantinePending, recordSinkStats } from '../src/metrics/metrics';
import { quarantineDirFor } from '../src/clickhouse/quarantineDirs';
import { startAppPort, type AppPortHandle as StartedAppPort } from '../src/appPort/appPortServer';
import { PodGateway } from '../src/gateway/podGateway';
import { querySessionStatus } from '../src/operations/sessionControl';
import { startWorkerOps } from '../src/health/workerOps';
import { installTemporalRuntimeLogging } from '../src/logging/temporalRuntime';
import { createLogger, type Logger } from '../src/logging/logger';
import { SecretResolver } from '../src/secrets/secretResolver';
import { podTaskQueue } from '../src/contract/ids';

type AppPortHandle = StartedAppPort & { gatewayUrl: string };

export interface PodWorkerOptions {
  pod: string;
  /** Called on every activity, so config edits (a rotated secret ref, a new instrument) apply at once. */
  config: () => IbflowConfig;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Serve /metrics, /healthz and /readyz on this port (0 = any free port); off when undefined. */
  metricsPort?: number;
}

/**
 * The pod worker polls its pod's own task queue: its gateway is on its localhost, so only it may
 * run gateway activities and the depth stream for the connections of this pod.
 */
export async function startPodWorker(opts: PodWorkerOptions): Promise<RunningWorker> {
  const initial = opts.config();
  const log = opts.log ?? createLogger(`pod-worker:${opts.pod}`);
  installTemporalRuntimeLogging(log);
  const nativeConnection = await NativeConnection.connect({ address: initial.temporal.address });
  const clientConnection = await Connection.connect({ address: initial.temporal.address });
  const temporal = new Client({ connection: clientConnection, namespace: initial.temporal.namespace });
  const clickhouse: ClickHouseClient = await connectClickHouse(initial, opts.env, log);
  const depth = depthSettings(initial);
  const sink = new DepthSink({
    client: clickhouse,
    database: initial.clickhouse.database,
    maxRows: depth.batchRows,
    maxDelayMs: depth.batchDelayMs,
    maxBufferedRows: Math.max(depth.maxBufferedRows, depth.batchRows),
    // While ClickHouse is away, sealed batches go to disk here and are replayed in order (also after a restart).
    spill: { dir: depth.spillDir ?? join(initial.stateDir, 'spill', opts.pod), maxBytes: depth.spillMaxBytes },
    // A batch ClickHouse refuses for good is set aside here, its hole marked, and the stream goes on.
    quarantine: { dir: quarantineDirFor(initial, opts.pod), maxBytes: depth.quarantineMaxBytes, pod: opts.pod },
    log,
  });
  const stopCountingQuarantine = sink.onQuarantine(({ record }) => recordQuarantinedBatch(opts.pod, record.rows));
  let insertedSeen = 0;
  const sinkMetrics = setInterval(() => {
    const st = sink.stats();
    const sp = sink.spillStats();
    metrics.depthRowsInserted.inc({ pod: opts.pod }, st.rowsInserted - insertedSeen);
    insertedSeen = st.rowsInserted;
    const lagSeconds = sp.oldestPendingNs === null ? 0 : Math.max(0, Number(nowNs() - sp.oldestPendingNs) / 1e9);
    recordSinkStats(opts.pod, { lagSeconds, bufferedRows: st.bufferedRows, spillBytes: sp.spillBytes });
    try {
      const q = sink.quarantineStats();
      if (q) recordQuarantinePending(opts.pod, q);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read the depth quarantine folder for its metrics');
    }
  }, 5_000);
  sinkMetrics.unref();

  const gateways = new Map<string, PodGateway>();
  const connection = (id: string) => {
    const found = opts.config().connections.find((c) => c.id === id);
    if (!found) throw new Error(`unknown connection "${id}"`);
    if (found.pod !== opts.pod) throw new Error(`connection "${id}" belongs to pod "${found.pod}", not "${opts.pod}"`);
    return found;
  };
  /** One per gateway of this pod: ibflow's client, the app port and the pacing they share. */
  const podGateway = (c: ConnectionConfig): PodGateway => {
    const key = `${c.gateway.url}|${c.gateway.verifyTls}`;
    let g = gateways.get(key);
    if (!g) {
      g = new PodGateway({
        pod: opts.pod,
        baseUrl: c.gateway.url,
        verifyTls: c.gateway.verifyTls,
        penaltyBoxMs: initial.session.penaltyBoxMs,
        sessionStatus: () => querySessionStatus(temporal, c.username, 2_000),
      });
      gateways.set(key, g);
    }
    return g;
  };
  const appPorts: AppPortHandle[] = [];
  for (const c of initial.connections.filter((x) => x.pod === opts.pod)) {
    const g = podGateway(c);
    if (c.gateway.appPort === false || appPorts.some((a) => a.gatewayUrl === c.gateway.url)) continue;
    try {
      const handle = await startAppPort({ pod: opts.pod, gateway: g, port: c.gateway.appPort, certDir: join(initial.stateDir, 'app-port', opts.pod), log: log.child({ appPort: true }) });
      appPorts.push(Object.assign(handle, { gatewayUrl: c.gateway.url }));
      log.info({ appPort: handle.url, gateway: c.gateway.url }, "app port listening: point your own programs here instead of the gateway (docs/app-port.md)");
    } catch (err) {
      // The keepalive and depth do not need it: a taken port costs the apps their safe way in, not the session.
      log.error({ port: c.gateway.appPort, error: (err as Error).message }, 'app port did not start; programs on this pod must use the gateway directly');
    }
  }
  const activities = createPodActivities({
    pod: opts.pod,
    config: opts.config,
    connection,
    gateway: (id) => podGateway(connection(id)).client,
    secrets: new SecretResolver(initial.stateDir, opts.env),
    log,
    temporal,
    sink,
  });

  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: initial.temporal.namespace,
    taskQueue: podTaskQueue(opts.pod),
    activities,
    // Browsers are heavy: a few logins at once per pod is plenty.
    maxConcurrentActivityTaskExecutions: 50,
    shutdownGraceTime: '5 seconds',
    // The SDK would otherwise send heartbeats only every 24 s (80% of the 30 s heartbeat timeout),
    // so a Temporal restart of a few seconds times out a healthy keepalive or depth stream.
    maxHeartbeatThrottleInterval: '3 seconds',
  });
  const ops = opts.metricsPort === undefined ? null : await startWorkerOps({ port: opts.metricsPort, workerName: `pod-${opts.pod}`, worker });
  if (ops) log.info({ metrics: `${ops.url}/metrics` }, 'metrics, /healthz and /readyz listening');
  log.info({ taskQueue: podTaskQueue(opts.pod) }, 'pod worker polling');
  return runWorker(worker, async () => {
    ops?.markStopping();
    await ops?.close();
    clearInterval(sinkMetrics);
    stopCountingQuarantine();
    await sink.close().catch((err: Error) => log.error({ error: err.message }, 'sink close failed'));
    for (const a of appPorts) await a.close().catch(() => undefined);
    await Promise.all([...gateways.values()].map((g) => g.close()));
    await clickhouse.close();
    await clientConnection.close();
    await nativeConnection.close();
  });
}

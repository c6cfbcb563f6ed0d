import { Gauge } from 'prom-client';
import { GATEWAY_REACHES, type GatewayReach } from '../gateway/gatewayReach';
import { registry } from './metrics';

/**
 * How far the pod's requests to its gateway get: answered (IBKR behind it too), the gateway not
 * running, IBKR unreachable through it, or the gateway unresponsive — and since when, so an
 * outage's length is `time() - ibflow_gateway_reach_since_seconds`. Labels: pod and reach only.
 */
const reachGauge = new Gauge({
  name: 'ibflow_gateway_reach',
  help: "1 for how far this pod's last gateway request got (answering, not_running, ibkr_unreachable, unresponsive), 0 for the others",
  labelNames: ['pod', 'reach'] as const,
  registers: [registry],
});
const reachSince = new Gauge({
  name: 'ibflow_gateway_reach_since_seconds',
  help: 'Unix time the gateway reach last changed',
  labelNames: ['pod'] as const,
  registers: [registry],
});

export function recordReach(pod: string, reach: GatewayReach, sinceMs: number): void {
  for (const r of GATEWAY_REACHES) reachGauge.set({ pod, reach: r }, r === reach ? 1 : 0);
  reachSince.set({ pod }, Math.round(sinceMs / 1000));
}

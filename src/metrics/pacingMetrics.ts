import { Counter, Gauge } from 'prom-client';
import { registry } from './metrics';

/**
 * IBKR's pacing as the pod sees it: each 429 the gateway answered (read as one refused path or
 * as the address's penalty box) and whether the box is on. Labels: pod and API path only.
 */
const refusals = new Counter({
  name: 'ibflow_gateway_refusals_total',
  help: "429 answers from the gateway to this pod's requests (ibflow's and the app port's), by how they were read",
  labelNames: ['pod', 'scope', 'path'] as const,
  registers: [registry],
});
const penaltyBox = new Gauge({
  name: 'ibflow_gateway_penalty_box',
  help: "1 while the gateway refuses REST requests from this pod's address (IBKR's penalty box)",
  labelNames: ['pod'] as const,
  registers: [registry],
});
const penaltyBoxes = new Counter({ name: 'ibflow_gateway_penalty_boxes_total', help: "Penalty boxes this pod's address was put in", labelNames: ['pod'] as const, registers: [registry] });

export function recordRefusal(pod: string, scope: 'path' | 'box', path: string): void {
  refusals.inc({ pod, scope, path: boundedPath(path) });
}

const boxed = new Map<string, boolean>();
export function recordPenalty(pod: string, on: boolean): void {
  if (on && !boxed.get(pod)) penaltyBoxes.inc({ pod });
  boxed.set(pod, on);
  penaltyBox.set({ pod }, on ? 1 : 0);
}

/** Numeric ids out of paths, so a label never grows per contract or order. */
function boundedPath(path: string): string {
  return path.replace(/\/\d+(?=\/|$)/g, '/:id');
}

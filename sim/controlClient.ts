import { request as httpRequest } from 'node:http';
import type { IbkrLinkChange, IbkrLinkView } from './ibkrLink';
import type { PacingSettings } from './pacing';
import type { SimHandle } from './types';

/**
 * Calls a simulator's control plane (plain HTTP on its own port; not part of IBKR's API). Used by
 * tests, the soak and anyone scripting rehearsals. Errors carry the HTTP status.
 */
export function simControl<T = unknown>(sim: Pick<SimHandle, 'controlUrl'>, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = httpRequest(
      new URL(path, sim.controlUrl),
      { method, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 400) reject(Object.assign(new Error(`${method} ${path}: ${res.statusCode} ${text}`), { status: res.statusCode }));
          else resolve((text ? JSON.parse(text) : null) as T);
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** What `GET /sim/control/pacing` answers. */
export interface SimPacingView extends PacingSettings {
  rejected: number;
  boxes: number;
  /** ip → ms left in the penalty box */
  penaltyBox: Record<string, number>;
  /** ip → refused requests within the violation window (lenient mode) */
  violations: Record<string, number>;
}

export function simPacing(sim: Pick<SimHandle, 'controlUrl'>): Promise<SimPacingView> {
  return simControl<SimPacingView>(sim, 'GET', '/sim/control/pacing');
}

/** Changes pacing at runtime, e.g. `{mode:'strict'}` to rehearse the worst case on a running stack. */
export function setSimPacing(sim: Pick<SimHandle, 'controlUrl'>, changes: Partial<PacingSettings>): Promise<SimPacingView> {
  return simControl<SimPacingView>(sim, 'PUT', '/sim/control/pacing', changes);
}

/** Empties the penalty box, the windows and the violation counts. */
export function clearSimPacing(sim: Pick<SimHandle, 'controlUrl'>): Promise<{ cleared: true }> {
  return simControl<{ cleared: true }>(sim, 'DELETE', '/sim/control/pacing');
}

/** A simulator handle or its control plane's base URL. */
type ControlTarget = Pick<SimHandle, 'controlUrl'> | string;

function controlOf(target: ControlTarget): Pick<SimHandle, 'controlUrl'> {
  return typeof target === 'string' ? { controlUrl: target } : target;
}

/** `GET /sim/control/ibkr`: whether the pod reaches IBKR, since/until when, held requests, IBKR's clock offset. */
export function ibkrReachability(sim: ControlTarget): Promise<IbkrLinkView> {
  return simControl<IbkrLinkView>(controlOf(sim), 'GET', '/sim/control/ibkr');
}

/**
 * Cuts the pod off from IBKR (`{reachable:false, forMs?}`: passed-on requests hang, websockets
 * stall), restores it (`{reachable:true}`) and/or sets IBKR's clock offset (`{clockOffsetMs}`).
 */
export function setIbkrReachability(sim: ControlTarget, change: IbkrLinkChange): Promise<IbkrLinkView> {
  return simControl<IbkrLinkView>(controlOf(sim), 'PUT', '/sim/control/ibkr', change);
}

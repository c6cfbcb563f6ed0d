/**
 * Outages ibflow cannot fix — the gateway not running, or IBKR unreachable behind it — as the
 * session workflow tracks them: when one starts, when it has lasted long enough to be reported as
 * an outage, and when it ends. Pure and deterministic (time comes in as `nowMs`).
 */
import { FailureType } from '../src/contract/failureTypes';
import type { GatewayOutage } from '../src/contract/sessionStatus';

/** The longest wait between checks during an outage. */
export const OUTAGE_RECHECK_MAX_MS = 30_000;
/** An outage lasting longer than this is reported as such (config `session.outageReportAfterMs`). */
export const DEFAULT_OUTAGE_REPORT_AFTER_MS = 5 * 60_000;

export function outageKindOf(failureType: string): GatewayOutage['kind'] | null {
  if (failureType === FailureType.GatewayNotRunning) return 'gateway_not_running';
  if (failureType === FailureType.IbkrUnreachable) return 'ibkr_unreachable';
  return null;
}

const OUTAGE_WORDS: Record<GatewayOutage['kind'], string> = {
  gateway_not_running: 'the gateway not running',
  ibkr_unreachable: 'IBKR unreachable through the gateway',
};

function minutes(ms: number): string {
  return ms < 90_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;
}

/**
 * The outage after a failed attempt: started (or changed kind), going on, or over (the gateway and
 * IBKR answered, even with an error). `report` is the event to record when it has just lasted
 * beyond `reportAfterMs` — once per outage.
 */
export function outageAfterFailure(
  current: GatewayOutage | null,
  failureType: string,
  nowMs: number,
  reportAfterMs: number,
): { outage: GatewayOutage | null; report: string | null } {
  const kind = outageKindOf(failureType);
  if (kind === null) return { outage: null, report: null };
  if (current === null || current.kind !== kind) return { outage: { kind, since: new Date(nowMs).toISOString(), reportedAt: null }, report: null };
  const lastedMs = nowMs - Date.parse(current.since);
  if (current.reportedAt !== null || lastedMs < reportAfterMs) return { outage: current, report: null };
  return {
    outage: { ...current, reportedAt: new Date(nowMs).toISOString() },
    report: `outage: ${OUTAGE_WORDS[kind]} for more than ${minutes(reportAfterMs)} (since ${current.since}); ibflow cannot fix this — no login is attempted and nothing is charged to the login budget; the session recovers by itself once it ends`,
  };
}

/** What the status reason adds while an outage lasts. */
export function outageNote(outage: GatewayOutage | null | undefined, nowMs: number): string {
  if (!outage) return '';
  return `; ${OUTAGE_WORDS[outage.kind]} for ${minutes(nowMs - Date.parse(outage.since))} (since ${outage.since}), no login attempted meanwhile`;
}

/** The event for the end of an outage that had been reported. */
export function outageOverReason(outage: GatewayOutage, nowMs: number): string {
  return `outage over: ${outage.kind === 'ibkr_unreachable' ? 'IBKR answers again' : 'the gateway runs again'} after ${minutes(nowMs - Date.parse(outage.since))} (since ${outage.since})`;
}

/**
 * The audit of "IBKR unreachable" (the pod's gateway runs, nothing it passes on comes back): the
 * session names the outage as such, starts no login and charges nothing to the login budget while
 * cut off, never asks a human, and becomes usable again by itself, depth flowing, once IBKR answers.
 * Pure, so the rules are unit-tested; the evidence comes from ibkrUnreachable.ts.
 */

/** A cut this long gives ibflow time to find out (a hung tickle, then its own probe) and say so. */
export const NAMED_IF_CUT_AT_LEAST_MS = 40_000;
/** After the restore: usable again within this long (an idle session ended by IBKR needs a fresh login). */
export const BACK_WITHIN_MS = 180_000;

export interface ReachSample {
  t: number;
  /** null: the status query failed (Temporal away, or slow). */
  state: string | null;
  reason: string;
  /** `status.outage.kind`, null when none. */
  outageKind: string | null;
}

export interface IbkrUnreachableTarget {
  connection: string;
  /** Status every second from the cut until the end of the watch (after the recovery). */
  samples: ReachSample[];
  /** The simulator's login counts of the user before the cut and after the recovery. */
  loginsBefore: { ok: number; failed: number };
  loginsAfter: { ok: number; failed: number };
  /** ms from the restore until the status read `usable`; null when not within BACK_WITHIN_MS. */
  usableAfterRestoreMs: number | null;
  /** Depth seen flowing again after it was usable (false when it never became usable). */
  depthFlowingAfter: boolean;
  /** Other faults that may take this connection down: overlapping the cut, and overlapping the whole watch. */
  explainedDuringCut: readonly string[];
  explainedDuringWatch: readonly string[];
}

export interface IbkrUnreachableEvidence {
  pod: string;
  cutFromMs: number;
  /** When the soak restored the link. */
  cutToMs: number;
  targets: IbkrUnreachableTarget[];
}

export interface IbkrUnreachableVerdict {
  ok: boolean;
  problems: string[];
  excused: string[];
  /** A short account per target, for the fault's detail line. */
  seen: string;
}

const named = (s: ReachSample) => s.state === 'unavailable' && s.outageKind === 'ibkr_unreachable' && /ibkr ?unreachable/i.test(s.reason);
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export function judgeIbkrUnreachable(e: IbkrUnreachableEvidence): IbkrUnreachableVerdict {
  const problems: string[] = [];
  const excused: string[] = [];
  const cutMs = e.cutToMs - e.cutFromMs;
  const seen: string[] = [];
  if (e.targets.length === 0) problems.push(`no connection on ${e.pod} to watch`);
  for (const t of e.targets) {
    /** Something another fault on this connection at the same time may explain. */
    const flag = (problem: string, explainedBy: readonly string[]) => {
      if (explainedBy.length > 0) excused.push(`${t.connection}: ${problem} (during ${explainedBy.join(', ')})`);
      else problems.push(`${t.connection}: ${problem}`);
    };
    const firstNamed = t.samples.find(named);
    if (cutMs >= NAMED_IF_CUT_AT_LEAST_MS && !firstNamed) {
      const states = [...new Set(t.samples.filter((s) => s.t < e.cutToMs && s.state !== null).map((s) => s.state))].join('/') || 'no status read';
      problems.push(`${t.connection}: the outage was never named (no sample unavailable with status.outage ibkr_unreachable; seen while cut off: ${states})`);
    }
    const loggingIn = t.samples.filter((s) => s.t >= e.cutFromMs && s.t < e.cutToMs && s.state === 'logging_in');
    if (loggingIn.length > 0) flag(`logging_in in ${loggingIn.length} sample(s) while cut off (first ${seconds(loggingIn[0].t - e.cutFromMs)} in: ${loggingIn[0].reason})`, t.explainedDuringCut);
    const charged = t.loginsAfter.failed - t.loginsBefore.failed;
    if (charged !== 0) flag(`${charged} failed login(s) charged to the budget`, t.explainedDuringWatch);
    const manual = t.samples.find((s) => s.state === 'manual_action_required');
    // Only an injected failed login on the same connection asks a human legitimately.
    if (manual) flag(`manual_action_required (${manual.reason})`, t.explainedDuringWatch.filter((k) => k === 'failed-login'));
    if (t.usableAfterRestoreMs === null) problems.push(`${t.connection}: not usable within ${seconds(BACK_WITHIN_MS)} after IBKR answered again`);
    else if (!t.depthFlowingAfter) problems.push(`${t.connection}: usable again but depth not flowing`);

    const namedAt = firstNamed ? `outage named ibkr_unreachable after ${seconds(firstNamed.t - e.cutFromMs)}` : 'outage not named';
    const back = t.usableAfterRestoreMs === null ? 'not back' : `usable ${seconds(t.usableAfterRestoreMs)} after the restore, depth ${t.depthFlowingAfter ? 'flowing' : 'NOT flowing'}`;
    seen.push(`${t.connection}: ${namedAt}, logging_in while cut ${loggingIn.length}, logins ok +${t.loginsAfter.ok - t.loginsBefore.ok} failed +${charged}, ${back}`);
  }
  return { ok: problems.length === 0, problems, excused, seen: seen.join('; ') };
}

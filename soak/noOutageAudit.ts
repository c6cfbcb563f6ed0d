/**
 * The audit of a fault that must cost nothing (a 429, a noisy co-tenant): the session stayed
 * usable, no login happened, depth kept arriving, and a penalty box — where one is allowed — ended
 * by itself. Pure, so the rules are unit-tested; the evidence comes from noOutageWatch.ts.
 */

/** Depth may pause this long (a loaded 2-core box) before it counts as silence. */
export const DEPTH_SILENCE_LIMIT_MS = 5_000;

export interface StatusSample {
  t: number;
  /** null: the status query failed (Temporal away, or slow). */
  state: string | null;
  pacing: boolean;
  reason: string;
}

export interface NoOutageEvidence {
  fromMs: number;
  toMs: number;
  samples: StatusSample[];
  /** The simulator's login counts of the user (ok + failed) before and after. */
  loginsBefore: number;
  loginsAfter: number;
  /** Depth was flowing when the fault began; otherwise silence is not judged. */
  depthFlowingBefore: boolean;
  /** Longest stretch without a stored depth row; null when the rows could not be read. */
  longestSilenceMs: number | null;
  /** The status still showed a penalty when the soak stopped waiting for its end. */
  pacingOpenAtEnd: boolean;
}

export interface NoOutageRules {
  /** A penalty in the status is expected (a co-tenant flood) rather than a finding (one 429). */
  pacingAllowed: boolean;
}

export interface NoOutageVerdict {
  ok: boolean;
  /** What went wrong, and what was excused by other faults at the same time. */
  problems: string[];
  excused: string[];
  /** A short account of what was seen, for the fault's detail line. */
  seen: string;
}

/**
 * `explainedBy`: other faults overlapping the window that may take this connection down (a
 * Temporal restart, a ClickHouse restart): a blip, a login or a silence is then excused, not failed.
 * A rate-limited state is never excused: nothing else makes one.
 */
export function judgeNoOutage(e: NoOutageEvidence, rules: NoOutageRules, explainedBy: readonly string[]): NoOutageVerdict {
  const problems: string[] = [];
  const excused: string[] = [];
  /** Something another fault at the same time may explain. */
  const flag = (problem: string) => {
    if (explainedBy.length > 0) excused.push(`${problem} (during ${explainedBy.join(', ')})`);
    else problems.push(problem);
  };

  const known = e.samples.filter((s) => s.state !== null);
  const notUsable = known.filter((s) => s.state !== 'usable');
  if (known.length === 0) flag('no session status could be read');
  if (notUsable.length > 0) {
    const states = [...new Set(notUsable.map((s) => s.state))].join('/');
    flag(`not usable in ${notUsable.length} of ${known.length} samples (${states})`);
  }
  if (known.some((s) => /RateLimited/.test(s.reason) || (s.state === 'unavailable' && /429|rate limit/i.test(s.reason)))) problems.push('the status turned a refusal into a rate-limited outage');
  const pacingSeen = known.some((s) => s.pacing);
  if (pacingSeen && !rules.pacingAllowed) problems.push('a single refusal was shown as a penalty box');
  if (e.pacingOpenAtEnd) problems.push('the penalty did not end by itself in time');
  const logins = e.loginsAfter - e.loginsBefore;
  if (logins !== 0) flag(`${logins} login(s) meanwhile`);
  if (e.depthFlowingBefore) {
    if (e.longestSilenceMs === null) flag('depth rows of the window could not be read');
    else if (e.longestSilenceMs > DEPTH_SILENCE_LIMIT_MS) flag(`depth silent for ${(e.longestSilenceMs / 1000).toFixed(1)} s`);
  }

  const windowS = ((e.toMs - e.fromMs) / 1000).toFixed(0);
  const depth = !e.depthFlowingBefore ? 'depth not flowing before (not judged)' : e.longestSilenceMs === null ? 'depth unread' : `longest depth silence ${(e.longestSilenceMs / 1000).toFixed(1)} s`;
  const seen = `${windowS} s watched: usable ${known.length - notUsable.length}/${known.length}, penalty ${pacingSeen ? (e.pacingOpenAtEnd ? 'shown, still open' : 'shown and ended') : 'not shown'}, logins +${logins}, ${depth}`;
  return { ok: problems.length === 0, problems, excused, seen };
}

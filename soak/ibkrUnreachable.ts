/**
 * The fault "IBKR unreachable": the pod's gateway keeps running but nothing it passes on to IBKR
 * comes back, for minutes (an internet outage on the pod, or IBKR down). Cuts the link, watches
 * every connection of the pod while cut off and until it is usable again, restores the link, and
 * judges the evidence with ibkrUnreachableAudit.ts.
 */
import type { SimStatsSnapshot } from '../sim';
import { setIbkrReachability, simControl } from '../sim/controlClient';
import { querySessionStatus } from '../src/operations/sessionControl';
import { depthFlowing } from './depthWatch';
import { BACK_WITHIN_MS, judgeIbkrUnreachable, type IbkrUnreachableTarget, type ReachSample } from './ibkrUnreachableAudit';
import { sleep, type SoakConnection, type SoakStack } from './soakStack';

/** The simulator restores the link by itself this long after the planned end, should the soak die mid-fault. */
const SAFETY_NET_MS = 60_000;
const DEPTH_BACK_WAIT_MS = 90_000;

export interface IbkrUnreachableResult {
  detail: string;
  /** Every connection on the pod. */
  targets: string[];
  expected: string;
  ok: boolean;
}

type Logins = { ok: number; failed: number };

async function loginsOf(stack: SoakStack, c: SoakConnection): Promise<Logins> {
  const stats = await simControl<SimStatsSnapshot>(stack.sims.get(c.pod)!, 'GET', '/sim/control/stats');
  const l = stats.logins[c.username];
  return { ok: l?.ok ?? 0, failed: l?.failed ?? 0 };
}

/** Status every second until `stop()`. */
function sampleStatus(stack: SoakStack, c: SoakConnection): { samples: ReachSample[]; stop: () => Promise<void> } {
  const samples: ReachSample[] = [];
  let on = true;
  const loop = (async () => {
    while (on) {
      const t = Date.now();
      const s = await querySessionStatus(stack.client(), c.username, 5_000).catch(() => null);
      samples.push({ t, state: s?.state ?? null, reason: s?.reason ?? '', outageKind: s?.outage?.kind ?? null });
      await sleep(Math.max(0, 1_000 - (Date.now() - t)));
    }
  })();
  return {
    samples,
    stop: async () => {
      on = false;
      await loop;
    },
  };
}

/**
 * Cuts `pod` off from IBKR for `durationMs`. `explainedBy(c, fromMs, toMs)`: other faults
 * overlapping the window that may take connection `c` down (they excuse a login or a charge).
 */
export async function ibkrUnreachable(
  stack: SoakStack,
  pod: string,
  durationMs: number,
  explainedBy: (c: SoakConnection, fromMs: number, toMs: number) => string[],
): Promise<IbkrUnreachableResult> {
  if (!Number.isInteger(durationMs) || durationMs <= 0) throw new Error(`ibkrUnreachableMs must be a positive whole number of ms, got ${durationMs}`);
  const sim = stack.sims.get(pod);
  if (!sim) throw new Error(`pod ${pod}: no simulator`);
  const targets = stack.connections.filter((x) => x.pod === pod);
  const before = await Promise.all(targets.map((t) => loginsOf(stack, t)));
  const watches = targets.map((t) => sampleStatus(stack, t));
  const cutFromMs = Date.now();
  let cutToMs = cutFromMs;
  try {
    await setIbkrReachability(sim, { reachable: false, forMs: durationMs + SAFETY_NET_MS });
    await sleep(durationMs);
  } finally {
    await setIbkrReachability(sim, { reachable: true }).catch(() => undefined);
    cutToMs = Date.now();
  }
  const back = await Promise.all(
    targets.map(async (t) => {
      const s = await waitUsableQuietly(stack, t, BACK_WITHIN_MS);
      const usableAfterRestoreMs = s === null ? null : s - cutToMs;
      const depthFlowingAfter = usableAfterRestoreMs !== null && (await depthFlowing(stack, t, DEPTH_BACK_WAIT_MS));
      return { usableAfterRestoreMs, depthFlowingAfter };
    }),
  );
  for (const w of watches) await w.stop();
  const watchEndMs = Date.now();
  const after = await Promise.all(targets.map((t) => loginsOf(stack, t)));
  const evidence = {
    pod,
    cutFromMs,
    cutToMs,
    targets: targets.map(
      (t, i): IbkrUnreachableTarget => ({
        connection: t.id,
        samples: watches[i].samples,
        loginsBefore: before[i],
        loginsAfter: after[i],
        ...back[i],
        explainedDuringCut: explainedBy(t, cutFromMs, cutToMs),
        explainedDuringWatch: explainedBy(t, cutFromMs, watchEndMs),
      }),
    ),
  };
  const v = judgeIbkrUnreachable(evidence);
  const cutS = Math.round((cutToMs - cutFromMs) / 1000);
  const detail = `IBKR unreachable from ${pod} for ${cutS} s: ${v.seen}${v.excused.length ? `; excused: ${v.excused.join('; ')}` : ''}${v.problems.length ? `; PROBLEMS: ${v.problems.join('; ')}` : ''}`;
  return {
    detail,
    targets: targets.map((t) => t.id),
    expected: `IBKR unreachable for ${cutS} s: named as such (status.outage ibkr_unreachable), no login started while cut off, no failed login charged, never manual_action_required, usable again by itself and depth flowing again`,
    ok: v.ok,
  };
}

/**
 * When the status first read `usable` (ms), null after `timeoutMs`. Unlike faults.ts's waitUsable it
 * never plays the human: the session must come back by itself.
 */
async function waitUsableQuietly(stack: SoakStack, c: SoakConnection, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const t = Date.now();
    const s = await querySessionStatus(stack.client(), c.username, 5_000).catch(() => null);
    if (s?.state === 'usable') return t;
    await sleep(1_000);
  }
  return null;
}

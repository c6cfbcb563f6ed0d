/**
 * Gathers the evidence for noOutageAudit.ts while a fault that must cost nothing runs: the
 * session's status every second, the simulator's login counts before and after, and the stored
 * depth rows over the window.
 */
import type { SimStatsSnapshot } from '../sim';
import { simControl } from '../sim/controlClient';
import type { SessionStatus } from '../src/contract/sessionStatus';
import { querySessionStatus } from '../src/operations/sessionControl';
import { depthFlowing, longestDepthSilenceMs } from './depthWatch';
import type { NoOutageEvidence, StatusSample } from './noOutageAudit';
import { sleep, type SoakConnection, type SoakStack } from './soakStack';

export interface NoOutageWatch {
  /** The latest status read (null until one succeeded). */
  latest(): SessionStatus | null;
  /** Ends the watch at now; `pacingOpenAtEnd`: the caller gave up waiting for a penalty's end. */
  stop(pacingOpenAtEnd: boolean): Promise<NoOutageEvidence>;
}

async function loginCount(stack: SoakStack, c: SoakConnection): Promise<number> {
  const stats = await simControl<SimStatsSnapshot>(stack.sims.get(c.pod)!, 'GET', '/sim/control/stats');
  const l = stats.logins[c.username];
  return (l?.ok ?? 0) + (l?.failed ?? 0);
}

/** Waits (at most `flowWaitMs`) for the connection's depth to flow — a fault just before may still be settling — then starts watching. */
export async function startNoOutageWatch(stack: SoakStack, c: SoakConnection, flowWaitMs = 60_000): Promise<NoOutageWatch> {
  const depthFlowingBefore = await depthFlowing(stack, c, flowWaitMs);
  const loginsBefore = await loginCount(stack, c);
  const fromMs = Date.now();
  const samples: StatusSample[] = [];
  let latest: SessionStatus | null = null;
  let on = true;
  const loop = (async () => {
    while (on) {
      const t = Date.now();
      const s = await querySessionStatus(stack.client(), c.username, 5_000).catch(() => null);
      if (s) latest = s;
      samples.push({ t, state: s?.state ?? null, pacing: Boolean(s?.pacing), reason: s?.reason ?? '' });
      await sleep(Math.max(0, 1_000 - (Date.now() - t)));
    }
  })();
  return {
    latest: () => latest,
    async stop(pacingOpenAtEnd) {
      on = false;
      await loop;
      const toMs = Date.now();
      const loginsAfter = await loginCount(stack, c);
      const longestSilenceMs = depthFlowingBefore ? await longestDepthSilenceMs(stack, c, fromMs, toMs, 90_000) : null;
      return { fromMs, toMs, samples, loginsBefore, loginsAfter, depthFlowingBefore, longestSilenceMs, pacingOpenAtEnd };
    },
  };
}

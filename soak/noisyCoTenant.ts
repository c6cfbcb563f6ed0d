/**
 * The `noisy-co-tenant` fault: another program on the pod overdoes IBKR's pacing (sim/noise.ts),
 * straight at the gateway or through the pod's app port. ibflow must lose nothing: the session
 * stays usable (a penalty may show and must end by itself), no login, depth keeps arriving; through
 * the app port the gateway never sees an over-limit request.
 */
import { runNoise, type NoiseSummary } from '../sim/noise';
import { setSimPacing, simPacing, type SimPacingView } from '../sim/controlClient';
import type { Rng } from './rng';
import { judgeNoOutage } from './noOutageAudit';
import { startNoOutageWatch } from './noOutageWatch';
import { SOAK_PENALTY_BOX_MS, sleep, type SoakConnection, type SoakStack } from './soakStack';

/**
 * `direct-pair`: a tickle and a second one 100 ms later, for 1–3 s (lenient: refused on its own).
 * `direct-flood`: mixed requests at 15–25/s, or 30-request bursts, for a few seconds (lenient boxes
 * the address after 10 refusals). `direct-pair-strict`: one pair with the simulator in strict mode
 * (one-strike box of 60–90 s). `app-port`: 10 tickles/s plus 30-request bursts through the app
 * port, sometimes with the simulator strict.
 */
export const CO_TENANT_VARIANTS = ['direct-pair', 'direct-flood', 'direct-pair-strict', 'app-port'] as const;
export type CoTenantVariant = (typeof CO_TENANT_VARIANTS)[number];

export interface CoTenantResult {
  variant: CoTenantVariant;
  detail: string;
  expected: string;
  ok: boolean;
  /** Penalty boxes and refusals on the simulator while this co-tenant ran (its own doing when direct). */
  boxes: number;
  rejected: number;
}

/** A keepalive (10 s in the soak) must pass after the noise before the session's calm is believed. */
const AFTER_NOISE_MS = 12_000;
const MARGIN_MS = 30_000;

const answered = (n: NoiseSummary) => Object.values(n.byStatus).reduce((a, b) => a + b, 0);
const boxLeftMs = (p: SimPacingView) => Math.max(0, ...Object.values(p.penaltyBox));

export async function noisyCoTenant(stack: SoakStack, rng: Rng, c: SoakConnection, explainedBy: (fromMs: number, toMs: number) => string[], forced?: CoTenantVariant): Promise<CoTenantResult> {
  const sim = stack.sims.get(c.pod)!;
  const variant = forced ?? rng.pick(CO_TENANT_VARIANTS);
  const strict = variant === 'direct-pair-strict' || (variant === 'app-port' && rng.next() < 0.5);
  const strictBoxMs = forced ? SOAK_PENALTY_BOX_MS : rng.pick([60_000, 90_000]);
  const direct = variant !== 'app-port';
  const target = direct ? sim.url : `https://127.0.0.1:${c.appPort}`;

  const watch = await startNoOutageWatch(stack, c);
  const before = await simPacing(sim);
  let noise: NoiseSummary[] = [];
  let what = '';
  let pacingOpenAtEnd = false;
  let final: SimPacingView;
  if (strict) await setSimPacing(sim, { mode: 'strict', penaltyMs: strictBoxMs });
  try {
    const base = { target, insecure: true } as const;
    if (variant === 'direct-pair' || variant === 'direct-pair-strict') {
      const durationMs = variant === 'direct-pair' ? rng.int(1, 3) * 1000 : 1000;
      what = `tickle pairs for ${durationMs / 1000} s`;
      noise = [await runNoise({ ...base, pattern: 'pair', rate: 1, durationMs })];
    } else if (variant === 'direct-flood') {
      const durationMs = rng.int(3, 6) * 1000;
      if (rng.next() < 0.5) {
        const rate = rng.int(15, 25);
        what = `${rate} mixed requests/s for ${durationMs / 1000} s`;
        noise = [await runNoise({ ...base, pattern: 'mixed', rate, durationMs })];
      } else {
        what = `30-request bursts every second for ${durationMs / 1000} s`;
        noise = [await runNoise({ ...base, pattern: 'burst', rate: 30, everyMs: 1000, durationMs })];
      }
    } else {
      const durationMs = rng.int(5, 10) * 1000;
      what = `10 tickles/s plus 30-request bursts every second for ${durationMs / 1000} s`;
      noise = await Promise.all([runNoise({ ...base, pattern: 'tickle', rate: 10, durationMs }), runNoise({ ...base, pattern: 'burst', rate: 30, everyMs: 1000, durationMs })]);
    }
    const noiseEnd = Date.now();
    const afterNoise = await simPacing(sim);
    // A box ends when the simulator's time is up; ibflow sees it at its probe, which a refused probe
    // puts off by another penaltyBoxMs.
    const deadline = noiseEnd + boxLeftMs(afterNoise) + SOAK_PENALTY_BOX_MS + MARGIN_MS;
    for (;;) {
      const calm = Date.now() - noiseEnd >= AFTER_NOISE_MS;
      const boxed = boxLeftMs(await simPacing(sim)) > 0;
      const shown = Boolean(watch.latest()?.pacing);
      if (calm && !boxed && !shown) break;
      if (Date.now() > deadline) {
        pacingOpenAtEnd = shown;
        break;
      }
      await sleep(1_000);
    }
  } finally {
    if (strict) await setSimPacing(sim, { mode: 'lenient', penaltyMs: SOAK_PENALTY_BOX_MS }).catch(() => undefined);
    final = await simPacing(sim).catch(() => before);
  }
  const evidence = await watch.stop(pacingOpenAtEnd);
  const verdict = judgeNoOutage(evidence, { pacingAllowed: true }, explainedBy(evidence.fromMs, evidence.toMs));
  const boxes = final.boxes - before.boxes;
  const rejected = final.rejected - before.rejected;
  const problems = [...verdict.problems];
  if (!direct) {
    if (rejected > 0) problems.push(`the gateway refused ${rejected} request(s) behind the app port`);
    if (boxes > 0) problems.push('the gateway boxed the address behind the app port');
    for (const n of noise) if (n.errors > 0 || answered(n) !== n.sent) problems.push(`${n.sent - answered(n)} of ${n.sent} requests through the app port unanswered (${Object.keys(n.errorKinds).join(', ')})`);
  }
  const statuses = noise.map((n) => Object.entries(n.byStatus).map(([s, k]) => `${k}×${s}`).join(' ')).join(' + ');
  const detail =
    `noisy co-tenant (${variant}${strict ? `, simulator strict, box ${strictBoxMs / 1000} s` : ''}) on ${c.pod} for ${c.id}: ${what}, answers ${statuses || 'none'}; ` +
    `simulator boxes +${boxes}, refusals +${rejected}; ${verdict.seen}` +
    (verdict.excused.length ? `; excused: ${verdict.excused.join('; ')}` : '') +
    (problems.length ? `; PROBLEMS: ${problems.join('; ')}` : '');
  const expected = direct
    ? 'no outage: usable throughout (a penalty may show and ends by itself), no login, depth kept arriving'
    : 'no outage and the gateway saw no over-limit request (simulator refusals and boxes unchanged), every request answered';
  return { variant, detail, expected, ok: problems.length === 0, boxes, rejected };
}

import { simControl } from '../sim/controlClient';
import type { SessionStatus } from '../src/contract/sessionStatus';
import { forceRelogin, querySessionStatus, signalPaused } from '../src/operations/sessionControl';
import type { SimHandle } from '../sim';
import { ibkrUnreachable } from './ibkrUnreachable';
import { judgeNoOutage } from './noOutageAudit';
import { startNoOutageWatch } from './noOutageWatch';
import { noisyCoTenant, type CoTenantVariant } from './noisyCoTenant';
import { POISON_EXPECTED, poisonBatch } from './poisonBatch';
import type { Rng } from './rng';
import { sleep, type SoakConnection, type SoakStack } from './soakStack';

export const FAULT_KINDS = ['session-drop', 'ws-kill', 'competing-login', 'failed-login', 'http-5xx', 'http-429', 'http-latency', 'noisy-co-tenant', 'ibkr-unreachable', 'clickhouse-restart', 'pod-kill', 'temporal-restart', 'poison-batch'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One injected fault: the connections it may take down, and until when (plus a recovery grace). */
export interface Outage {
  kind: FaultKind;
  detail: string;
  /** Connection ids it excuses; every connection for Temporal. */
  targets: string[];
  startMs: number;
  endMs: number;
  graceMs: number;
  /** What the system was expected to do, and whether it did (e.g. "stopped in manual_action_required"). */
  check?: { expected: string; ok: boolean };
}

export interface FaultContext {
  stack: SoakStack;
  rng: Rng;
  log: (line: string) => void;
  /** Login faults still allowed per connection (kept under the login budget). */
  loginFaultsLeft: Map<string, number>;
}


export async function sessionStatus(stack: SoakStack, c: SoakConnection): Promise<SessionStatus | null> {
  try {
    return await querySessionStatus(stack.client(), c.username, 5_000);
  } catch {
    return null;
  }
}

/** True once the simulator's injected path faults have all been used up, false after `timeoutMs`. */
async function waitPathFaultsTaken(sim: SimHandle, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const f = await simControl<{ paths: unknown[] }>(sim, 'GET', '/sim/control/faults');
    if (f.paths.length === 0) return true;
    await sleep(500);
  }
  return false;
}

export async function waitState(stack: SoakStack, c: SoakConnection, ok: (s: SessionStatus) => boolean, timeoutMs: number): Promise<SessionStatus | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = await sessionStatus(stack, c);
    if (s && ok(s)) return s;
    await sleep(1_000);
  }
  return null;
}

async function signal(stack: SoakStack, c: SoakConnection, which: 'pause' | 'resume'): Promise<void> {
  await signalPaused(stack.client(), c.username, which === 'pause');
}

/**
 * The operator's "go on", sent again until the session leaves manual_action_required: a signal sent
 * just as the Temporal server restarts can fail, and a person would look and try again.
 */
async function resumeUntilHeard(stack: SoakStack, c: SoakConnection, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await signal(stack, c, 'resume').catch(() => undefined);
    if (await waitState(stack, c, (s) => s.state !== 'manual_action_required', 10_000)) return true;
  }
  return false;
}

/** A session that stopped fighting logins elsewhere waits for a human: the soak's operator says "take it back". */
export const humanReclaims: { connection: string; atMs: number }[] = [];

function waitsForHumanAfterCompeting(s: SessionStatus): boolean {
  return s.state === 'competing' && /send forceRelogin/.test(s.reason);
}

async function reclaimAsHuman(stack: SoakStack, c: SoakConnection): Promise<void> {
  humanReclaims.push({ connection: c.id, atMs: Date.now() });
  await forceRelogin(stack.client(), c.username);
}

/** Sessions seen `unavailable` for a rate limit: ibflow no longer does that for a 429, so each one is a finding. */
export const rateLimitedOutages: { connection: string; atMs: number; reason: string }[] = [];

/** Waits for `usable`, taking the username back as the human when a session waits for one after competing logins. */
export async function waitUsable(stack: SoakStack, c: SoakConnection, timeoutMs: number): Promise<SessionStatus | null> {
  const deadline = Date.now() + timeoutMs;
  let rateLimitedSeen = false;
  while (Date.now() < deadline) {
    const s = await sessionStatus(stack, c);
    if (s?.state === 'usable') return s;
    if (s && waitsForHumanAfterCompeting(s)) await reclaimAsHuman(stack, c).catch(() => undefined);
    if (s && s.state === 'unavailable' && /RateLimited/.test(s.reason) && !rateLimitedSeen) {
      rateLimitedSeen = true;
      rateLimitedOutages.push({ connection: c.id, atMs: Date.now(), reason: s.reason });
    }
    await sleep(1_000);
  }
  return null;
}

/** Every fault while it runs and after (its grace): another fault at the same time may excuse a blip. */
interface FaultSpan {
  kind: FaultKind;
  targets: string[];
  startMs: number;
  /** null while running. */
  endMs: number | null;
  graceMs: number;
}
const spans: FaultSpan[] = [];

/** Server restarts shake every connection (ClickHouse: the depth sink catches up afterwards). */
const SERVER_FAULTS: readonly FaultKind[] = ['temporal-restart', 'clickhouse-restart'];
const SERVER_AFTERMATH_MS = 30_000;

/** The kinds of other faults that overlap [fromMs, toMs] and may take connection `c` down. */
function otherFaultsDuring(self: FaultSpan, c: SoakConnection, fromMs: number, toMs: number): string[] {
  return spans
    .filter((f) => f !== self && (f.targets.includes(c.id) || SERVER_FAULTS.includes(f.kind)))
    .filter((f) => f.startMs <= toMs && (f.endMs === null || f.endMs + Math.max(f.graceMs, SERVER_FAULTS.includes(f.kind) ? SERVER_AFTERMATH_MS : 0) >= fromMs))
    .map((f) => f.kind);
}

/** Options of single fault kinds (the fixed plan pins them). */
export interface FaultOptions {
  coTenant?: CoTenantVariant;
  /** How long the pod is cut off from IBKR (default: 2–5 min at random). */
  ibkrUnreachableMs?: number;
}

/** The connections a fault may take down, known before it runs (other faults' audits consult them meanwhile). */
function targetsOf(stack: SoakStack, kind: FaultKind, c: SoakConnection): string[] {
  if (kind === 'temporal-restart') return stack.connections.map((x) => x.id);
  if (kind === 'clickhouse-restart') return [];
  if (kind === 'ibkr-unreachable') return stack.connections.filter((x) => x.pod === c.pod).map((x) => x.id);
  return [c.id];
}

/** Penalty boxes and refusals the noisy co-tenants caused on purpose (straight at the gateway), by pod. */
export const coTenantPacing = new Map<string, { boxes: number; rejected: number }>();

/** Injects one fault and returns once its own action is over (servers back, the operator's step done, or its audit done). */
export async function injectFault(ctx: FaultContext, kind: FaultKind, c: SoakConnection, opts: FaultOptions = {}): Promise<Outage> {
  const span: FaultSpan = { kind, targets: targetsOf(ctx.stack, kind, c), startMs: Date.now(), endMs: null, graceMs: 0 };
  spans.push(span);
  try {
    const o = await injectOne(ctx, kind, c, opts, span);
    span.targets = o.targets;
    span.graceMs = o.graceMs;
    return o;
  } finally {
    span.endMs = Date.now();
  }
}

async function injectOne(ctx: FaultContext, kind: FaultKind, c: SoakConnection, opts: FaultOptions, span: FaultSpan): Promise<Outage> {
  const { stack, rng } = ctx;
  const sim = stack.sims.get(c.pod)!;
  const startMs = Date.now();
  const outage = (detail: string, targets: string[], graceMs: number, check?: Outage['check']): Outage => ({ kind, detail, targets, startMs, endMs: Date.now(), graceMs, ...(check ? { check } : {}) });
  switch (kind) {
    case 'session-drop': {
      const dropKind = rng.pick(['bridge', 'expire', 'logout', 'competing'] as const);
      try {
        await simControl(sim, 'POST', '/sim/control/drop', { username: c.username, kind: dropKind });
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
        return outage(`drop ${dropKind} of ${c.id}: no session to drop`, [c.id], 0);
      }
      return outage(`drop ${dropKind} of ${c.id}`, [c.id], 60_000);
    }
    case 'ws-kill': {
      const r = await simControl<{ killed: number }>(sim, 'POST', '/sim/control/ws/kill', { username: c.username });
      return outage(`killed ${r.killed} websocket(s) of ${c.id}`, [c.id], 30_000);
    }
    case 'competing-login': {
      try {
        await simControl(sim, 'POST', '/sim/control/compete', { username: c.username });
      } catch (err) {
        if ((err as { status?: number }).status !== 409) throw err;
        return outage(`competing login of ${c.id}: no session`, [c.id], 0);
      }
      // Logins elsewhere again and again within an hour: the session stops fighting and asks a human.
      const asked = await waitState(stack, c, (s) => s.state === 'competing', 30_000);
      if (asked && waitsForHumanAfterCompeting(asked)) {
        await reclaimAsHuman(stack, c);
        return outage(`competing login elsewhere for ${c.id}; it had lost the session repeatedly, waited for a human; operator sent forceRelogin`, [c.id], 60_000);
      }
      return outage(`competing login elsewhere for ${c.id}`, [c.id], 60_000);
    }
    case 'failed-login': {
      const left = ctx.loginFaultsLeft.get(c.id) ?? 0;
      if (left <= 0) return injectOne(ctx, 'session-drop', c, opts, span);
      ctx.loginFaultsLeft.set(c.id, left - 1);
      const faultKind = rng.pick(['wrong-password', 'timeout', 'page-change'] as const);
      await simControl(sim, 'POST', '/sim/control/login-faults', { kind: faultKind, count: 1 });
      // Make the next login happen now: end the session (SSO gone).
      await simControl(sim, 'POST', '/sim/control/drop', { username: c.username, kind: 'expire' }).catch(() => undefined);
      if (faultKind === 'timeout') {
        // Transient: the workflow retries by itself once the login times out.
        const back = await waitUsable(stack, c, 180_000);
        return outage(`next login of ${c.id} hangs (timeout)`, [c.id], 60_000, { expected: 'retried after the hanging login and became usable', ok: back !== null });
      }
      // Permanent for the workflow: it must stop and ask a human after this one failure.
      const loginBefore = (await sessionStatus(stack, c))?.lastLoginAt ?? null;
      const settled = await waitState(stack, c, (s) => s.state === 'manual_action_required' || (s.state === 'usable' && s.lastLoginAt !== loginBefore), 120_000);
      const manual = settled?.state === 'manual_action_required' ? settled : null;
      let heard = false;
      if (manual) {
        await sleep(rng.int(2_000, 5_000)); // nobody retries meanwhile; the budget check counts attempts
        heard = await resumeUntilHeard(stack, c); // the human: "the password is fine, go on"
      } else {
        await simControl(sim, 'DELETE', '/sim/control/faults').catch(() => undefined);
      }
      // A failure reported just as the Temporal server restarts (or its pod worker dies) can be lost:
      // the workflow then sees the attempt time out, and the next login (the fault used up) succeeds.
      const lostBy = manual ? [] : otherFaultsDuring(span, c, startMs, Date.now()).filter((k) => k === 'temporal-restart' || k === 'pod-kill');
      const excused = settled !== null && !manual && lostBy.length > 0;
      return outage(`next login of ${c.id} fails (${faultKind}); ${manual ? 'operator resumed' : excused ? `the failure was lost in a ${lostBy.join(', ')} (excused): the next login succeeded` : 'no manual_action_required'}`, [c.id], 90_000, {
        expected: `${faultKind}: one failed attempt, then manual_action_required until resumed`,
        ok: (manual !== null && heard) || excused,
      });
    }
    case 'http-5xx': {
      const status = rng.pick([500, 502, 503] as const);
      const count = rng.int(1, 3);
      await simControl(sim, 'POST', '/sim/control/faults', { path: '/v1/api/tickle', status, count });
      return outage(`${count}× ${status} on /tickle of ${c.pod}`, [c.id], 60_000);
    }
    case 'http-latency': {
      const path = rng.pick(['/v1/api/iserver/auth/status', '/v1/api/tickle'] as const);
      const latencyMs = rng.int(1_000, 6_000);
      await simControl(sim, 'POST', '/sim/control/faults', { path, latencyMs, count: 3 });
      return outage(`3× ${latencyMs} ms latency on ${path} of ${c.pod}`, [c.id], 60_000);
    }
    case 'http-429': {
      // One refused request is not a lost session: ibflow holds back only that path and keeps the
      // session alive over the websocket meanwhile. The refusal goes to whoever tickles next (the
      // keepalive, or a depth stream starting); either way nothing may be seen to stop.
      const watch = await startNoOutageWatch(stack, c);
      await simControl(sim, 'POST', '/sim/control/faults', { path: '/v1/api/tickle', status: 429, count: 1 });
      const taken = await waitPathFaultsTaken(sim, 25_000); // keepalive tickles every 10 s
      if (!taken) await simControl(sim, 'DELETE', '/sim/control/faults').catch(() => undefined);
      await sleep(12_000); // the next keepalive after the refusal
      const evidence = await watch.stop(false);
      const verdict = judgeNoOutage(evidence, { pacingAllowed: false }, otherFaultsDuring(span, c, evidence.fromMs, evidence.toMs));
      const detail = `429 on /tickle of ${c.pod} (${taken ? 'taken' : 'NOT requested within 25 s'}): ${verdict.seen}${verdict.excused.length ? `; excused: ${verdict.excused.join('; ')}` : ''}${verdict.problems.length ? `; PROBLEMS: ${verdict.problems.join('; ')}` : ''}`;
      return outage(detail, [], 0, { expected: 'no outage: usable throughout, no rate-limited state or penalty, no login, depth kept arriving', ok: taken && verdict.ok });
    }
    case 'noisy-co-tenant': {
      const r = await noisyCoTenant(stack, rng, c, (from, to) => otherFaultsDuring(span, c, from, to), opts.coTenant);
      if (r.variant !== 'app-port') {
        const mine = coTenantPacing.get(c.pod) ?? { boxes: 0, rejected: 0 };
        coTenantPacing.set(c.pod, { boxes: mine.boxes + r.boxes, rejected: mine.rejected + r.rejected });
      }
      return outage(r.detail, [], 0, { expected: r.expected, ok: r.ok });
    }
    case 'ibkr-unreachable': {
      const r = await ibkrUnreachable(stack, c.pod, opts.ibkrUnreachableMs ?? rng.int(120_000, 300_000), (t, from, to) => otherFaultsDuring(span, t, from, to));
      // The grace covers the recovery: a fresh login when IBKR ended the idle session meanwhile, a new depth stream.
      return outage(r.detail, r.targets, 120_000, { expected: r.expected, ok: r.ok });
    }
    case 'clickhouse-restart': {
      const downMs = rng.int(3_000, 15_000);
      await stack.restartClickHouse(downMs);
      return outage(`ClickHouse down ${(downMs / 1000).toFixed(1)} s`, [], 0);
    }
    case 'pod-kill': {
      const killed = stack.killPodWorker(c.pod);
      return outage(`SIGKILL pod worker ${c.pod}${killed ? '' : ' (was not running)'}`, [c.id], 90_000);
    }
    case 'poison-batch': {
      // No session outage: the session and the stream go on; the refused rows are back after the replay.
      const r = await poisonBatch(stack, c, { otherFaults: (from, to) => otherFaultsDuring(span, c, from, to) });
      return outage(r.detail, [], 0, { expected: POISON_EXPECTED, ok: r.ok });
    }
    case 'temporal-restart': {
      const downMs = rng.int(2_000, 8_000);
      await stack.restartTemporal(downMs);
      return outage(`Temporal down ${(downMs / 1000).toFixed(1)} s`, stack.connections.map((x) => x.id), 90_000);
    }
  }
}

export { simControl };

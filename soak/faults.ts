import { simControl } from '../sim/controlClient';
import type { SessionStatus } from '../src/contract/sessionStatus';
import { forceRelogin, querySessionStatus, signalPaused } from '../src/operations/sessionControl';
import type { Rng } from './rng';
import { sleep, type SoakConnection, type SoakStack } from './soakStack';

export const FAULT_KINDS = ['session-drop', 'ws-kill', 'competing-login', 'failed-login', 'http-5xx', 'http-429', 'http-latency', 'clickhouse-restart', 'pod-kill', 'temporal-restart'] as const;
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

/** A session that stopped fighting logins elsewhere waits for a human: the soak's operator says "take it back". */
export const humanReclaims: { connection: string; atMs: number }[] = [];

function waitsForHumanAfterCompeting(s: SessionStatus): boolean {
  return s.state === 'competing' && /send forceRelogin/.test(s.reason);
}

async function reclaimAsHuman(stack: SoakStack, c: SoakConnection): Promise<void> {
  humanReclaims.push({ connection: c.id, atMs: Date.now() });
  await forceRelogin(stack.client(), c.username);
}

/** Connections with an injected 429 in progress (their penalty box is expected). */
const injected429 = new Set<string>();

/** 429s the soak did not inject (the simulator's real pacing): recorded and reported. */
export const selfInflicted429s: { connection: string; atMs: number; reason: string }[] = [];

/**
 * Waits for `usable`. A session waiting out a 429 the soak did not inject is what an operator
 * sees as "we got ourselves into IBKR's penalty box": it is recorded (and reported), the
 * simulator's box is emptied, and the session woken with pause + resume so the soak can go on.
 */
export async function waitUsable(stack: SoakStack, c: SoakConnection, timeoutMs: number): Promise<SessionStatus | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = await sessionStatus(stack, c);
    if (s?.state === 'usable') return s;
    if (s && waitsForHumanAfterCompeting(s)) await reclaimAsHuman(stack, c).catch(() => undefined);
    if (s && s.state === 'unavailable' && /RateLimited/.test(s.reason) && !injected429.has(c.id)) {
      selfInflicted429s.push({ connection: c.id, atMs: Date.now(), reason: s.reason });
      await simControl(stack.sims.get(c.pod)!, 'DELETE', '/sim/control/pacing').catch(() => undefined);
      await signal(stack, c, 'pause').catch(() => undefined);
      await waitState(stack, c, (x) => x.state === 'paused', 30_000);
      await signal(stack, c, 'resume').catch(() => undefined);
    }
    await sleep(1_000);
  }
  return null;
}

/** Injects one fault and returns once its own action is over (servers back, the operator's step done). */
export async function injectFault(ctx: FaultContext, kind: FaultKind, c: SoakConnection): Promise<Outage> {
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
      if (left <= 0) return injectFault(ctx, 'session-drop', c);
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
      const manual = await waitState(stack, c, (s) => s.state === 'manual_action_required', 120_000);
      if (manual) {
        await sleep(rng.int(2_000, 5_000)); // nobody retries meanwhile; the budget check counts attempts
        await signal(stack, c, 'resume'); // the human: "the password is fine, go on"
      } else {
        await simControl(sim, 'DELETE', '/sim/control/faults').catch(() => undefined);
      }
      return outage(`next login of ${c.id} fails (${faultKind}); operator resumed`, [c.id], 90_000, {
        expected: `${faultKind}: one failed attempt, then manual_action_required until resumed`,
        ok: manual !== null,
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
      injected429.add(c.id);
      await simControl(sim, 'POST', '/sim/control/faults', { path: '/v1/api/tickle', status: 429, count: 1 });
      // IBKR's penalty box: the workflow must back off for ~15 minutes, not hammer the gateway.
      const boxed = await waitState(stack, c, (s) => s.state === 'unavailable' && /RateLimited/.test(s.reason), 25_000); // keepalive tickles every 10 s
      const honoured = boxed !== null && boxed.nextAttemptAt !== null && Date.parse(boxed.nextAttemptAt) - Date.now() > 10 * 60_000;
      await simControl(sim, 'DELETE', '/sim/control/faults').catch(() => undefined);
      if (boxed) {
        // The operator knows the box is over (the 429 was injected): pause + resume wakes the session.
        await signal(stack, c, 'pause');
        await waitState(stack, c, (s) => s.state === 'paused', 30_000);
        await signal(stack, c, 'resume');
      }
      // The one 429 may be taken by the depth stream's own /tickle (it starts with one) instead of
      // the keepalive; then the depth workflow backs off and the session must not be boxed. Other
      // faults running at the same time (a Temporal restart) may still make it blink: it has to be
      // usable again, not waiting out a penalty box it never got.
      const unboxed = boxed ? null : await waitState(stack, c, (s) => s.state === 'usable' || (s.state === 'unavailable' && /RateLimited/.test(s.reason)), 60_000);
      injected429.delete(c.id);
      return outage(`429 on /tickle of ${c.pod}${boxed ? `; saw ${boxed.state} next attempt ${boxed.nextAttemptAt ?? 'none'} ("${boxed.reason.slice(0, 80)}"); operator pause+resume` : ' (taken by the depth stream, not the keepalive)'}`, [c.id], 60_000, {
        expected: boxed ? 'unavailable (RateLimited) with the next attempt ≥ 10 min away' : 'the session is usable, not boxed',
        ok: boxed ? honoured : unboxed?.state === 'usable',
      });
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
    case 'temporal-restart': {
      const downMs = rng.int(2_000, 8_000);
      await stack.restartTemporal(downMs);
      return outage(`Temporal down ${(downMs / 1000).toFixed(1)} s`, stack.connections.map((x) => x.id), 90_000);
    }
  }
}

export { simControl };

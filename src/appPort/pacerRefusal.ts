/**
 * Recognises the pacer's refusal (`PacerRefusal` in src/gateway/gatewayPacer.ts: it cannot serve a
 * request within its wait limit, or its queue is full) by its shape, so the port does not depend on
 * the class identity of whichever pacer implementation stands behind the gateway.
 */
export interface PacerRefusalLike {
  why: 'queue_full' | 'too_long';
  retryAfterMs: number;
}

export function isPacerRefusal(err: unknown): err is PacerRefusalLike {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Record<string, unknown>;
  return (e.why === 'queue_full' || e.why === 'too_long') && typeof e.retryAfterMs === 'number' && Number.isFinite(e.retryAfterMs);
}

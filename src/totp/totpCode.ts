import { createGuardrails, generateSync } from 'otplib';

// A 16-character activation code is 10 bytes, below otplib's default 16-byte minimum.
const guardrails = createGuardrails({ MIN_SECRET_BYTES: 10 });

export const TOTP_PERIOD_S = 30;
/** A code typed with less than this left in its window may expire in flight. */
export const MIN_SECONDS_LEFT = 8;

export class InvalidActivationCodeError extends Error {
  override name = 'InvalidActivationCodeError';
}

/** Spaces removed and upper-cased, as the Mobile Authenticator App shows it in groups. */
export function normaliseActivationCode(raw: string): string {
  return raw.replace(/[\s-]/g, '').toUpperCase();
}

export function validateActivationCode(raw: string): string {
  const code = normaliseActivationCode(raw);
  if (!/^[A-Z2-7]+=*$/.test(code)) {
    throw new InvalidActivationCodeError('activation code must be base32 (letters A-Z and digits 2-7)');
  }
  const len = code.replace(/=+$/, '').length;
  if (len < 16 || len > 32) {
    throw new InvalidActivationCodeError(`activation code must have 16 to 32 characters (has ${len})`);
  }
  return code;
}

export interface TotpPlan {
  /** The 30-second step the code belongs to. */
  step: number;
  /** How long to wait before computing the code, so that it has ≥ MIN_SECONDS_LEFT and is unused. */
  waitMs: number;
}

/**
 * Picks the step to answer with: never one already used (`lastUsedStep`), and never one with
 * fewer than MIN_SECONDS_LEFT seconds left. Pure, so the timing rules are unit-testable.
 */
export function planTotpStep(nowMs: number, lastUsedStep: number | null): TotpPlan {
  const nowS = nowMs / 1000;
  let step = Math.floor(nowS / TOTP_PERIOD_S);
  const secondsLeft = (step + 1) * TOTP_PERIOD_S - nowS;
  if (secondsLeft < MIN_SECONDS_LEFT) step += 1;
  if (lastUsedStep !== null && step <= lastUsedStep) step = lastUsedStep + 1;
  const stepStartMs = step * TOTP_PERIOD_S * 1000;
  return { step, waitMs: Math.max(0, Math.ceil(stepStartMs - nowMs)) };
}

/** The 6-digit RFC 6238 code of `step` for a (normalised) activation code. */
export function totpCodeForStep(activationCode: string, step: number): string {
  return generateSync({ secret: validateActivationCode(activationCode), epoch: step * TOTP_PERIOD_S, period: TOTP_PERIOD_S, guardrails });
}

/** RFC 6238 TOTP through otplib (30 s steps, 6 digits, SHA-1), as the Mobile Authenticator App computes it. */
import { createGuardrails, generateSync, verify } from 'otplib';

// IBKR activation codes can be 16 base32 chars (10 bytes), below otplib's default 16-byte minimum.
const guardrails = createGuardrails({ MIN_SECRET_BYTES: 10 });

export const TOTP_PERIOD_S = 30;

/** The 6-digit code of the step containing `epochS` (Unix seconds). */
export function totpCodeAt(secret: string, epochS: number): string {
  return generateSync({ secret: secret.replace(/\s/g, '').toUpperCase(), epoch: epochS, guardrails });
}

/** Verifies a code against now ±1 step; returns the matched step, or null. */
export async function totpMatchStep(secret: string, code: string, nowMs: number): Promise<number | null> {
  try {
    const result = await verify({
      secret: secret.replace(/\s/g, '').toUpperCase(),
      token: code,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: TOTP_PERIOD_S,
      guardrails,
    });
    return result.valid ? ((result as { timeStep?: number }).timeStep ?? null) : null;
  } catch {
    return null; // malformed secret or token: same answer as a wrong code
  }
}

import { InvalidActivationCodeError, TOTP_PERIOD_S, totpCodeForStep, validateActivationCode } from '../totp/totpCode';

export { InvalidActivationCodeError };

/**
 * Checks an authenticator-app activation code the way a login will use it: normalised (spaces and
 * dashes removed, upper-cased), base32 A–Z/2–7, 16–32 characters, and a 6-digit code can actually
 * be computed from it. Returns the normalised code; the computed code is thrown away, never shown.
 * Errors say what is wrong, never the value.
 */
export function checkActivationCode(raw: string, nowMs = Date.now()): string {
  if (raw.trim() === '') throw new InvalidActivationCodeError('activation code is empty');
  const code = validateActivationCode(raw);
  let computed: string;
  try {
    computed = totpCodeForStep(code, Math.floor(nowMs / 1000 / TOTP_PERIOD_S));
  } catch {
    throw new InvalidActivationCodeError('no authenticator code can be computed from this activation code; copy it again from IBKR');
  }
  if (!/^\d{6}$/.test(computed)) throw new InvalidActivationCodeError('no 6-digit authenticator code can be computed from this activation code');
  return code;
}

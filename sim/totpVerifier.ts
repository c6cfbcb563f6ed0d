import { TOTP_PERIOD_S, totpMatchStep } from './totpEngine';

/**
 * RFC 6238 check (30 s, 6 digits, SHA1) accepting the current step ±1, with replay protection:
 * a code whose step was already used by that user is rejected like a wrong code.
 */
export class TotpVerifier {
  private readonly usedSteps = new Map<string, Set<number>>();

  constructor(private readonly now: () => number = Date.now) {}

  async check(username: string, secret: string | undefined, code: string): Promise<boolean> {
    if (!secret || !/^\d{6}$/.test(code)) return false;
    const step = await totpMatchStep(secret, code, this.now());
    if (step === null) return false;
    const used = this.usedSteps.get(username) ?? new Set<number>();
    if (used.has(step)) return false;
    used.add(step);
    // Only steps near "now" can ever match again, so older ones can be forgotten.
    const current = Math.floor(this.now() / 1000 / TOTP_PERIOD_S);
    for (const s of used) if (s < current - 2) used.delete(s);
    this.usedSteps.set(username, used);
    return true;
  }
}

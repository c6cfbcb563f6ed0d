import { join } from 'node:path';
import { StateFiles } from './stateFiles';
import { TOTP_PERIOD_S, totpMatchStep } from './totpEngine';

/**
 * RFC 6238 check (30 s, 6 digits, SHA1) accepting the current step ±1, with replay protection:
 * a code whose step was already used by that user is rejected like a wrong code. With a state
 * dir, the used steps live in `<stateDir>/totp-used/`, so a restarted simulator, and every other
 * simulator on that state dir, refuses the replay too (like IBKR, which is one service).
 */
export class TotpVerifier {
  private readonly usedSteps = new Map<string, number[]>();
  private readonly files: StateFiles | null;

  constructor(
    private readonly now: () => number = Date.now,
    stateDir?: string,
  ) {
    this.files = stateDir ? new StateFiles(join(stateDir, 'totp-used')) : null;
  }

  async check(username: string, secret: string | undefined, code: string): Promise<boolean> {
    if (!secret || !/^\d{6}$/.test(code)) return false;
    const step = await totpMatchStep(secret, code, this.now());
    if (step === null) return false;
    const used = this.files ? (this.files.read<number[]>(username) ?? []) : (this.usedSteps.get(username) ?? []);
    if (used.includes(step)) return false;
    // Only steps near "now" can ever match again, so older ones can be forgotten.
    const current = Math.floor(this.now() / 1000 / TOTP_PERIOD_S);
    const kept = [...used.filter((s) => s >= current - 2), step];
    if (this.files) this.files.write(username, kept);
    else this.usedSteps.set(username, kept);
    return true;
  }
}

import { join } from 'node:path';
import { StateFiles } from './stateFiles';

interface LockState {
  /** Consecutive failed logins since the last success or lock. */
  failures: number;
  /** Sim-clock ms until which logins are refused; 0 when not locked. */
  lockedUntil: number;
}

export interface LockoutOptions {
  /** Failed logins (wrong password or second-factor code) in a row that lock the user; 0 disables. */
  maxFailures: number;
  /** How long the lock lasts (sim clock). */
  durationMs: number;
}

/**
 * Per-user failed-login counter and lock, kept in `<stateDir>/lockouts/` so it survives restarts
 * and is shared by every simulator on that stateDir.
 */
export class LockoutStore {
  private readonly files: StateFiles;

  constructor(stateDir: string, private readonly opts: LockoutOptions, private readonly now: () => number) {
    this.files = new StateFiles(join(stateDir, 'lockouts'));
  }

  private state(username: string): LockState {
    return this.files.read<LockState>(username) ?? { failures: 0, lockedUntil: 0 };
  }

  isLocked(username: string): boolean {
    return this.state(username).lockedUntil > this.now();
  }

  /** Counts one failure; returns true when this failure started a lock. */
  recordFailure(username: string): boolean {
    if (this.opts.maxFailures <= 0) return false;
    const s = this.state(username);
    const failures = (s.lockedUntil > 0 && s.lockedUntil <= this.now() ? 0 : s.failures) + 1;
    if (failures >= this.opts.maxFailures) {
      this.files.write(username, { failures: 0, lockedUntil: this.now() + this.opts.durationMs });
      return true;
    }
    this.files.write(username, { failures, lockedUntil: 0 });
    return false;
  }

  recordSuccess(username: string): void {
    const s = this.state(username);
    if (s.failures !== 0 || s.lockedUntil !== 0) this.files.remove(username);
  }

  unlock(username: string): void {
    this.files.remove(username);
  }
}

import { join } from 'node:path';
import { StateFiles } from './stateFiles';

/** Who holds a username's brokerage session: one file per username in `<stateDir>/sessions/`. */
export interface SessionClaim {
  /** Simulator instance id, or `external` for a competing login injected by the control plane. */
  instance: string;
  at: number;
}

/**
 * IBKR allows one brokerage session per username across all platforms. Every simulator sharing a
 * stateDir claims the username on login (and on `ssodh/init`, which competes); a simulator whose
 * session's claim now names another instance treats that as a competing login elsewhere.
 */
export class SessionRegistry {
  private readonly files: StateFiles;

  constructor(stateDir: string, readonly instanceId: string) {
    this.files = new StateFiles(join(stateDir, 'sessions'));
  }

  claim(username: string, at: number, instance = this.instanceId): void {
    this.files.write(username, { instance, at } satisfies SessionClaim);
  }

  /** true when another instance (or an external login) took the username over. */
  takenOver(username: string): boolean {
    const claim = this.files.read<SessionClaim>(username);
    return claim !== undefined && claim.instance !== this.instanceId;
  }

  /** Gives the username up if this instance still holds it. */
  release(username: string): void {
    const claim = this.files.read<SessionClaim>(username);
    if (claim && claim.instance === this.instanceId) this.files.remove(username);
  }
}

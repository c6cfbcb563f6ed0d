import { newOpaqueToken } from './ids';
import type { SimUser } from './types';

/** A browser login in progress: credentials checked, maybe waiting for the second factor. */
export interface LoginTransaction {
  readonly token: string;
  readonly user: SimUser;
  readonly createdAt: number;
  /** true once password (and second factor, if required) were accepted; Dispatcher then completes it. */
  complete: boolean;
}

const TTL_MS = 5 * 60_000;

/** Server-side map of login transactions keyed by an opaque token (cookie and hidden field). */
export class LoginTransactions {
  private readonly byToken = new Map<string, LoginTransaction>();

  /** `now` is the sim clock. */
  constructor(private readonly now: () => number = Date.now) {}

  create(user: SimUser, complete: boolean): LoginTransaction {
    this.prune();
    const tx: LoginTransaction = { token: newOpaqueToken(), user, createdAt: this.now(), complete };
    this.byToken.set(tx.token, tx);
    return tx;
  }

  get(token: string | undefined): LoginTransaction | undefined {
    if (!token) return undefined;
    const tx = this.byToken.get(token);
    if (tx && this.now() - tx.createdAt > TTL_MS) {
      this.byToken.delete(token);
      return undefined;
    }
    return tx;
  }

  /** A transaction is used once: Dispatcher consumes it. */
  consume(token: string): void {
    this.byToken.delete(token);
  }

  private prune(): void {
    const now = this.now();
    for (const [token, tx] of this.byToken) if (now - tx.createdAt > TTL_MS) this.byToken.delete(token);
  }
}

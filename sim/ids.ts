import { createHash, randomBytes } from 'node:crypto';

/** 32 hex characters, like the gateway's tickle `session`. */
export function newSessionId(): string {
  return randomBytes(16).toString('hex');
}

/** Opaque token for login transactions. */
export function newOpaqueToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Stable 9-digit numeric IBKR-style user id derived from the username. */
export function userIdFor(username: string): number {
  const h = createHash('sha256').update(username).digest();
  return 100_000_000 + (h.readUInt32BE(0) % 900_000_000);
}

import type { GatewayReach } from './gatewayReach';

/** Why a gateway call failed, as far as a caller needs to decide what to do next. */
export type GatewayErrorKind =
  | 'unavailable' // connection refused/reset/timeout or 5xx: the gateway is down or restarting
  | 'unauthorized' // 401: no SSO session at all, a browser login is needed
  | 'no_bridge' // 400 "no bridge": SSO is fine, the brokerage session is not open
  | 'rate_limited' // 429: pacing exceeded; back off for at least retryAfterMs
  | 'bad_response'; // anything we do not understand

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    /** True when ibflow held the request back itself (nothing was sent to the gateway). */
    readonly heldBack = false,
    /** For `unavailable`: how far the request got, when ibflow could tell (see gatewayReach.ts). */
    readonly reach?: Exclude<GatewayReach, 'answering'>,
  ) {
    super(message);
  }
}

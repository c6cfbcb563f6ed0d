import type { GatewaySocketHandlers } from '../gateway/gatewaySocket';

/**
 * What the depth feed needs of the gateway websocket (`GatewaySocket` is the real one), so the
 * feed can be driven by a scripted socket in tests.
 */
export interface FeedSocket {
  open(): Promise<void>;
  send(text: string): void;
  /** Stops reading (TCP backpressure) while the sink catches up. */
  pause(): void;
  resume(): void;
  close(): void;
}

/** Builds the feed's socket around the feed's handlers. */
export type FeedSocketFactory = (handlers: GatewaySocketHandlers) => FeedSocket;

/**
 * Every failure type ibflow names: thrown by activities as ApplicationFailure types, matched by
 * workflows. A failure carries its meaning in its type, never in its message.
 */
export const FailureType = {
  GatewayUnavailable: 'GatewayUnavailable',
  /** Nothing listens at the gateway's address (connection refused): the gateway is not running. */
  GatewayNotRunning: 'GatewayNotRunning',
  /** The gateway answers its own pages, but what it passes on to IBKR gets no answer (internet or IBKR down). */
  IbkrUnreachable: 'IbkrUnreachable',
  NoBridge: 'NoBridge',
  SessionExpired: 'SessionExpired',
  CompetingSession: 'CompetingSession',
  RateLimited: 'RateLimited',
  InvalidCredentials: 'InvalidCredentials',
  InvalidTotpSecret: 'InvalidTotpSecret',
  TotpRejected: 'TotpRejected',
  AccountLocked: 'AccountLocked',
  LoginPageChanged: 'LoginPageChanged',
  LoginFailed: 'LoginFailed',
  SecretMissing: 'SecretMissing',
  ConfigInvalid: 'ConfigInvalid',
  SessionLost: 'SessionLost',
  /** The gateway lists no account to stream depth for (a config or entitlement problem). */
  NoAccount: 'NoAccount',
  /** ClickHouse refused a batch of depth rows; the stream ends and restarts with a fresh snapshot. */
  SinkFailed: 'SinkFailed',
  /** An activity timed out (mapped in the workflow from Temporal's TimeoutFailure): is the pod worker running? */
  Timeout: 'Timeout',
} as const;
export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Failures that retrying cannot fix and that could lock the account if retried. */
export const PERMANENT_FAILURES: readonly string[] = [
  FailureType.InvalidCredentials,
  FailureType.InvalidTotpSecret,
  FailureType.AccountLocked,
  FailureType.LoginPageChanged,
  FailureType.SecretMissing,
  FailureType.ConfigInvalid,
];

/** The simulated IBKR Client Portal Gateway (see docs/simulator.md). */
export type { SimHandle, SimulatorOptions, SimUser } from './types';
export type { SimStatsSnapshot, SubscriptionStats, LoginStats } from './simStats';
export type { SimConf } from './confFile';
export { startSimulator } from './startSimulator';
export { loadUsersFile } from './usersFile';
export { loadSimConfFile } from './confFile';
export { simControl, simPacing, setSimPacing, clearSimPacing, ibkrReachability, setIbkrReachability, type SimPacingView } from './controlClient';
export type { IbkrLinkChange, IbkrLinkView } from './ibkrLink';
export type { SimCertificateKind } from './tlsCert';
export type { PacingMode, PacingOptions, PacingSettings, RetryAfterPolicy } from './pacing';
export type { TickleWithoutSession } from './types';
export { runNoise, NOISE_PATTERNS, type NoiseOptions, type NoisePattern, type NoiseSummary } from './noise';
